"""Improved precision and recall (Kynkäänniemi et al. 2019), with density and coverage (Naeem et al. 2020).

Each feature set approximates its manifold by balls centred on its samples, of radius the distance to the sample's
k-th nearest neighbour in the same set (the sample itself not counted; k = 3 as in the thesis and NVIDIA's pr50k3).
A point lies on a manifold when it falls inside at least one ball (distance ≤ radius).

- precision: share of generated samples inside the real manifold (quality);
- recall: share of real samples inside the generated manifold (diversity);
- F1 = 2PR / (P + R);
- density: mean number of real balls containing a generated sample, divided by k;
- coverage: share of real samples whose ball contains at least one generated sample.

Distances are computed in row chunks so that memory stays bounded (about ``max_block`` floats per chunk).
"""

from __future__ import annotations

import numpy as np
import torch


def _as_tensor(x: np.ndarray | torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    return t.to(dtype=dtype, device="cpu")


def _row_chunks(n_rows: int, n_cols: int, max_block: int) -> list[slice]:
    """Row slices of at most ``max_block`` distance entries each."""
    step = max(1, max_block // max(1, n_cols))
    return [slice(start, min(start + step, n_rows)) for start in range(0, n_rows, step)]


def knn_radii(features: torch.Tensor, k: int = 3, max_block: int = 1 << 24) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row of the same set."""
    n = features.shape[0]
    if n <= k:
        raise ValueError(f"k-nearest-neighbour radii with k={k} need more than {k} samples, got {n}.")
    radii = torch.empty(n, dtype=features.dtype)
    for rows in _row_chunks(n, n, max_block):
        dist = torch.cdist(features[rows], features)
        # k + 1 smallest because the sample's distance to itself (0) is among them.
        radii[rows] = dist.topk(k + 1, dim=1, largest=False).values[:, -1]
    return radii


def _ball_membership(
    queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, max_block: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each query: is it in any ball, and in how many; for each centre: does its ball hold any query."""
    nq, nc = queries.shape[0], centres.shape[0]
    inside_any = torch.zeros(nq, dtype=torch.bool)
    inside_count = torch.zeros(nq, dtype=torch.long)
    ball_hit = torch.zeros(nc, dtype=torch.bool)
    for rows in _row_chunks(nq, nc, max_block):
        inside = torch.cdist(queries[rows], centres) <= radii[None, :]
        inside_any[rows] = inside.any(dim=1)
        inside_count[rows] = inside.sum(dim=1)
        ball_hit |= inside.any(dim=0)
    return inside_any, inside_count, ball_hit


def precision_recall(
    real: np.ndarray | torch.Tensor,
    fake: np.ndarray | torch.Tensor,
    k: int = 3,
    max_block: int = 1 << 24,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Precision, recall, F1, density and coverage of ``fake`` against ``real`` (both (N, D) feature sets)."""
    r = _as_tensor(real, dtype)
    f = _as_tensor(fake, dtype)
    if r.ndim != 2 or f.ndim != 2 or r.shape[1] != f.shape[1]:
        raise ValueError(
            f"precision/recall needs two 2-D feature sets of the same dimension, got {tuple(r.shape)} and "
            f"{tuple(f.shape)}."
        )
    real_radii = knn_radii(r, k, max_block)
    fake_radii = knn_radii(f, k, max_block)
    fake_in_real, fake_count, real_ball_hit = _ball_membership(f, r, real_radii, max_block)
    real_in_fake, _, _ = _ball_membership(r, f, fake_radii, max_block)
    precision = float(fake_in_real.double().mean())
    recall = float(real_in_fake.double().mean())
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "density": float(fake_count.double().sum() / (k * f.shape[0])),
        "coverage": float(real_ball_hit.double().mean()),
        "k": k,
    }
