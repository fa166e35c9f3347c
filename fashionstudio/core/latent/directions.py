"""Semantic directions of a StyleGAN2 generator and the direction-set files that save them.

SeFa (Shen & Zhou 2021): the eigenvectors of ``A^T A`` for the style affine weights A of a layer range.
GANSpace (Härkönen et al. 2020): PCA of sampled w. A :class:`Direction` is applied as
``ws[start:stop] += value * sigma * v`` where ``sigma`` is the standard deviation of sampled w along ``v``, so one
slider unit means the same amount of change for every direction.

torch is imported inside the functions that use it (the GUI builds its tab before torch loads).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionstudio.core.atomic import atomic_write
from fashionstudio.core.latent.encoding import (
    JSON_DAMAGE, ModelMismatchError, StateError, decode_array, encode_array, layer_range, parse_json,
)
from fashionstudio.core.latent.seeds import clamp_range

if TYPE_CHECKING:
    import torch

DIRECTIONS_KIND = "fashionstudio-directions"


@dataclass
class Direction:
    """One semantic slider: unit vector ``vector`` (w_dim) applied to ws ``layers`` = [start, stop)."""

    name: str
    vector: np.ndarray
    layers: tuple[int, int]
    sigma: float = 1.0
    source: str = "custom"
    value: float = 0.0

    def offset(self) -> np.ndarray:
        return (self.value * self.sigma) * self.vector

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layers": list(self.layers), "sigma": float(self.sigma), "source": self.source,
                "value": float(self.value), "vector": encode_array(self.vector.astype(np.float32))}

    @classmethod
    def from_dict(cls, data: Any, w_dim: int | None = None) -> Direction:
        if not isinstance(data, dict):
            raise StateError("a direction entry is not a JSON object")
        try:
            vector = decode_array(data["vector"], np.float32)
            if vector.ndim != 1:
                raise ValueError(f"its vector has {vector.ndim} dimensions instead of 1")
            name, source = data.get("name", "direction"), data.get("source", "custom")
            if not isinstance(name, str) or not isinstance(source, str):
                raise ValueError("its name is not text")
            out = cls(name=name, vector=vector, layers=layer_range(data["layers"]),
                      sigma=float(data.get("sigma", 1.0)), source=source, value=float(data.get("value", 0.0)))
        except JSON_DAMAGE as exc:
            raise StateError(f"a direction entry is incomplete or damaged ({exc})") from None
        if w_dim is not None and out.vector.shape[0] != w_dim:
            raise ModelMismatchError(f"a direction has {out.vector.shape[0]} numbers but this generator's w has "
                                     f"{w_dim}: it was made with a different model")
        if not np.all(np.isfinite(out.vector)) or not math.isfinite(out.sigma) or not math.isfinite(out.value):
            raise StateError("a direction holds numbers that are not finite")
        if out.sigma <= 0:
            raise StateError("a direction's strength unit (sigma) is not positive")
        return out



def directions_to_json(directions: list[Direction], *, method: str = "", model_sha256: str | None = None,
                       w_dim: int | None = None) -> str:
    """A named direction set as JSON text (what Save set writes)."""
    return json.dumps({"kind": DIRECTIONS_KIND, "version": 1, "method": method, "model_sha256": model_sha256,
                       "w_dim": w_dim, "directions": [d.to_dict() for d in directions]}, indent=1)


def directions_from_json(text: str, w_dim: int | None = None) -> tuple[list[Direction], dict[str, Any]]:
    """Parse a direction set; returns (directions, header). Raises :class:`StateError` with a readable reason."""
    data = parse_json(text)
    if not isinstance(data, dict) or data.get("kind") != DIRECTIONS_KIND:
        raise StateError("it is not a FashionStudio direction set")
    items = data.get("directions")
    if not isinstance(items, list) or not items:
        raise StateError("it holds no directions")
    directions = [Direction.from_dict(item, w_dim) for item in items]
    header = {k: v for k, v in data.items() if k != "directions"}
    # Header fields of the wrong type are dropped rather than trusted (the GUI shows "method").
    for key in ("method", "model_sha256"):
        if not isinstance(header.get(key), str):
            header[key] = "" if key == "method" else None
    return directions, header


def save_directions(path: str | os.PathLike, directions: list[Direction], **header: Any) -> Path:
    """Write a direction set to ``path`` atomically."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(directions_to_json(directions, **header), encoding="utf-8")
    return path


def load_directions(path: str | os.PathLike, w_dim: int | None = None) -> tuple[list[Direction], dict[str, Any]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"'{path.name}' cannot be read as a direction set ({exc})") from None
    try:
        return directions_from_json(text, w_dim)
    except StateError as exc:
        raise StateError(f"'{path.name}' cannot be used as a direction set: {exc}.") from None


def sefa_directions(G: Any, layers: tuple[int, int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """SeFa: the top-``k`` eigenvectors (rows, unit length, orthogonal) of ``A^T A`` and their eigenvalues.

    ``A`` stacks the style affine weights (each [channels, w_dim]) of the demodulated convs reading the ws in
    ``layers``; each layer's block is scaled to unit Frobenius norm so that wide layers do not drown narrow ones.
    """
    import torch

    start, stop = clamp_range(layers, G.num_ws)
    blocks = [a.layer.effective_weight().detach().double().cpu()
              for a in G.style_affines() if a.kind == "conv" and start <= a.ws_index < stop]
    if not blocks:  # a range with only a toRGB layer: fall back to all affines in range
        blocks = [a.layer.effective_weight().detach().double().cpu()
                  for a in G.style_affines() if start <= a.ws_index < stop]
    if not blocks:
        raise ValueError(f"the layer range {start}-{stop} is empty")
    A = torch.cat([b / b.norm().clamp_min(1e-12) for b in blocks], dim=0)
    evals, evecs = torch.linalg.eigh(A.T @ A)
    order = torch.argsort(evals, descending=True)[:k]
    return evecs[:, order].T.float().numpy(), evals[order].float().numpy()


def ganspace_directions(w_samples: torch.Tensor, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """GANSpace: the top-``k`` principal axes (rows, orthonormal) of sampled w and their standard deviations."""
    import torch

    w = w_samples.detach().double().cpu()
    w = w - w.mean(0, keepdim=True)
    cov = w.T @ w / max(1, w.shape[0] - 1)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)[:k]
    return evecs[:, order].T.float().numpy(), evals[order].clamp_min(0).sqrt().float().numpy()

