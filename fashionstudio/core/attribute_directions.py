"""Named attribute sliders for a StyleGAN2 generator (InterFaceGAN-style, Shen et al. 2020), without Qt.

1. Sample w, render each one and read it with an attribute classifier (the offline atelier network: garment
   type, colour family, pattern, pose).
2. Fit one linear boundary per attribute value in W: one-vs-rest logistic regression on standardised w, with
   the positives weighted up so rare values (a jacket in 1 % of samples) still get a boundary. Its normal is the
   "more <value>" direction.
3. Conditional manipulation: each normal has the boundaries of the *other* attributes projected out, so moving
   "more red" along it does not cross (to first order) the garment-type, pattern or pose boundaries.

A boundary becomes a :class:`~fashionstudio.core.latent.Direction` (source ``"attributes"``) like a SeFa slider:
layer range, rename, save and restore. One unit of an attribute slider is ``UNIT_STD`` standard deviations of
sampled w along it (SeFa's unit is one): on the demo generator a reading changes after a median 3-7 standard
deviations (``benchmarks/attribute_edits.py``), which a +-3 slider of one-deviation units never reaches.

torch is imported inside the functions (the GUI builds its tab before torch loads).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from fashionstudio.core.latent import Direction, clamp_range

if TYPE_CHECKING:
    import torch

METHOD = "attributes"
# Heads of the atelier classifier that describe a picture of a dressed person (item, accessory kind and
# formality describe shoes and bags, which this generator does not draw).
PERSON_HEADS = ("garment_type", "colour", "pattern", "pose")
HEAD_LABELS = {"garment_type": "garment", "colour": "colour", "pattern": "pattern", "pose": "pose"}
DEFAULT_SAMPLES = 2000
MIN_POSITIVES = 12   # fewer samples of a value than this give a boundary that is mostly noise: no slider
BATCH = 100
UNIT_STD = 2.0       # standard deviations of w per slider unit: the slider's +-3 spans +-6


class AttributeSliderError(ValueError):
    """Attribute sliders that cannot be computed; the message is meant for a designer."""


class AttributeReader(Protocol):
    """Reads attributes of images in [-1, 1]: ``classes`` head -> value names, ``__call__`` head -> indices."""

    classes: dict[str, list[str]]

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]: ...


@dataclass
class Boundary:
    """One attribute value's linear boundary in W: unit ``normal`` pointing to "more", and how well it separates."""

    head: str
    value: str
    normal: np.ndarray
    positives: int
    accuracy: float  # balanced accuracy on the samples it was fitted on

    @property
    def name(self) -> str:
        return f"less / more {self.value.replace('_', ' ')} ({HEAD_LABELS.get(self.head, self.head)})"


class AtelierReader:
    """The shipped atelier classifier as an :class:`AttributeReader` (weights from safetensors; no pickle)."""

    def __init__(self, path: str | Path | None = None, device: Any = "cpu") -> None:
        import torch

        from fashionstudio.models.atelier_features import load_atelier

        if path is None:
            from fashionstudio.core.resources import resource_path

            path = resource_path("features", "atelier_features.safetensors")
        self.net, self.meta = load_atelier(path)
        self.device = torch.device(device)
        self.net.to(self.device)
        self.classes = {h: list(c) for h, c in self.net.head_classes.items() if h in PERSON_HEADS}

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        import torch

        with torch.inference_mode():
            logits = self.net(images.to(self.device))[1]
        return {h: logits[h].argmax(1).cpu() for h in self.classes}


def read_samples(w: torch.Tensor, render: Callable[[torch.Tensor], torch.Tensor], reader: AttributeReader,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> dict[str, np.ndarray]:
    """Render every w [N, w_dim] (``render`` takes [B, w_dim]) and read it: head -> class index per sample.

    Returns early with ``{}`` when ``cancel`` is set between two batches."""
    import torch

    out: dict[str, list[np.ndarray]] = {h: [] for h in reader.classes}
    n = int(w.shape[0])
    for start in range(0, n, BATCH):
        if cancel is not None and cancel.is_set():
            return {}
        with torch.inference_mode():
            labels = reader(render(w[start:start + BATCH]))
        for h in out:
            out[h].append(labels[h].numpy().astype(np.int64))
        if progress is not None:
            progress(min(n, start + BATCH), n)
    return {h: np.concatenate(v) for h, v in out.items()}


def fit_boundaries(w: torch.Tensor, readings: dict[str, np.ndarray], classes: dict[str, list[str]],
                   min_positives: int = MIN_POSITIVES, l2: float = 1e-2, iterations: int = 25) -> list[Boundary]:
    """One-vs-rest logistic regression per attribute value on w [N, w_dim]; values seen fewer than
    ``min_positives`` times (or in all but that many samples) get none."""
    import torch

    x = w.detach().double().cpu()
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    xs = torch.cat([(x - mean) / std, torch.ones(x.shape[0], 1, dtype=torch.float64)], 1)  # last column: bias
    keys: list[tuple[str, int]] = []
    targets = []
    n = x.shape[0]
    for head, names in classes.items():
        labels = readings[head]
        for k in range(len(names)):
            pos = int((labels == k).sum())
            if min_positives <= pos <= n - min_positives:
                keys.append((head, k))
                targets.append(torch.from_numpy(labels == k))
    if not keys:
        return []
    y = torch.stack(targets, 1).double()                      # [N, B]
    pos = y.sum(0)
    sample_w = torch.where(y > 0, (n - pos) / pos, 1.0) / n  # balanced: rare values weigh as much as common ones
    beta = _newton_logistic(xs, y, sample_w, l2, iterations)  # [d + 1, B]
    weight, bias = beta[:-1], beta[-1]
    normals = (weight / std[:, None]).T                       # the boundary's gradient in w (not standardised)
    normals = normals / normals.norm(dim=1, keepdim=True).clamp_min(1e-12)
    pred = (xs @ beta) > 0
    yb = y.bool()
    tpr = (pred & yb).sum(0) / yb.sum(0)
    tnr = (~pred & ~yb).sum(0) / (~yb).sum(0)
    out = []
    for i, (head, k) in enumerate(keys):
        out.append(Boundary(head=head, value=classes[head][k], normal=normals[i].float().numpy(),
                            positives=int(pos[i]), accuracy=float((tpr[i] + tnr[i]) / 2)))
    return out


def _newton_logistic(xs: torch.Tensor, y: torch.Tensor, sample_w: torch.Tensor, l2: float,
                     iterations: int) -> torch.Tensor:
    """Weighted, L2-regularised logistic regression of every column of ``y`` on ``xs`` by Newton's method.

    Newton needs no step size and converges in a handful of steps; the L2 term (not on the bias, the last
    column) keeps the optimum finite when a value is linearly separable. torch.optim is avoided on purpose: its
    first use imports the compiler stack, seconds the designer would wait for."""
    import torch

    d, b = xs.shape[1], y.shape[1]
    reg = torch.full((d,), float(l2), dtype=torch.float64)
    reg[-1] = 0.0
    beta = torch.zeros(d, b, dtype=torch.float64)
    xs32 = xs.float()
    for _ in range(iterations):
        p = torch.sigmoid(xs @ beta)                                          # [N, B]
        grad = xs.T @ (sample_w * (p - y)) + reg[:, None] * beta            # [d, B]
        curv = sample_w * p * (1 - p)                                        # [N, B]
        # float32 curvature: Newton only needs it roughly, and it is the costly part (B products of N x d x d)
        hess = torch.bmm(xs32.T.unsqueeze(0) * curv.T.float().unsqueeze(1), xs32.expand(b, -1, -1)).double()
        hess = hess + torch.diag(reg)                                        # [B, d, d]
        hess.diagonal(dim1=1, dim2=2).add_(1e-9)                             # a value read everywhere alike
        step = torch.linalg.solve(hess, grad.T.unsqueeze(-1)).squeeze(-1).T  # [d, B]
        beta = beta - step
        if float(step.abs().max()) < 1e-6:
            break
    return beta


def conditional_normals(boundaries: list[Boundary], rank_tol: float = 1e-6) -> list[np.ndarray]:
    """Each boundary's normal with the other attributes' normals projected out (InterFaceGAN's conditional
    manipulation), unit length. Falls back to the plain normal when nothing of it is left."""
    out = []
    for b in boundaries:
        others = np.stack([o.normal for o in boundaries if o.head != b.head]) if \
            any(o.head != b.head for o in boundaries) else np.zeros((0, b.normal.shape[0]), np.float32)
        n = b.normal.astype(np.float64)
        if others.shape[0]:
            u, s, _ = np.linalg.svd(others.T.astype(np.float64), full_matrices=False)
            basis = u[:, s > rank_tol * max(1.0, float(s.max()))]
            n = n - basis @ (basis.T @ n)
        norm = float(np.linalg.norm(n))
        out.append((n / norm).astype(np.float32) if norm > 1e-3 else b.normal.astype(np.float32))
    return out


def boundaries_to_directions(boundaries: list[Boundary], w: torch.Tensor, layers: tuple[int, int],
                             num_ws: int, conditional: bool = True) -> list[Direction]:
    """Sliders from boundaries: conditional normals (by default); ``sigma`` (one slider unit) is ``UNIT_STD``
    standard deviations of the sampled w along each."""
    vectors = conditional_normals(boundaries) if conditional else [b.normal for b in boundaries]
    centred = (w - w.mean(0, keepdim=True)).detach().cpu().numpy()
    layers = clamp_range(layers, num_ws)
    out = []
    for b, v in zip(boundaries, vectors):
        sigma = UNIT_STD * float(max((centred @ v).std(), 1e-6))
        out.append(Direction(name=b.name, vector=v, layers=layers, sigma=sigma, source=METHOD))
    return out


def compute_attribute_directions(space: Any, render: Callable[[torch.Tensor], torch.Tensor],
                                 reader: AttributeReader, layers: tuple[int, int] | None = None,
                                 n_samples: int = DEFAULT_SAMPLES,
                                 progress: Callable[[int, int], None] | None = None,
                                 cancel: threading.Event | None = None) -> list[Direction] | None:
    """All attribute sliders of ``space``'s generator (a :class:`~fashionstudio.core.latent.LatentSpace`);
    ``render`` draws w [B, w_dim] to images in [-1, 1]. None when cancelled.

    Raises :class:`AttributeSliderError` when the classifier reads no value often enough to fit a boundary."""
    w = space.w_samples(n_samples)[:n_samples]
    readings = read_samples(w, render, reader, progress, cancel)
    if not readings:
        return None
    boundaries = fit_boundaries(w, readings, reader.classes)
    if not boundaries:
        raise AttributeSliderError("The attribute classifier reads every generated sample the same way, so there is "
                              "no attribute to make a slider for: this generator's pictures may not be dressed "
                              "figures like the atelier's.")
    return boundaries_to_directions(boundaries, w, layers or (0, space.num_ws), space.num_ws)


def w_renderer(synth: Any, num_ws: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """A ``render`` for :func:`compute_attribute_directions`: w [B, w_dim] broadcast to all layers, noise as
    stored, through a :class:`~fashionstudio.models.stylegan2_fast.FastSynthesis` (stateless: safe on any thread)."""

    def render(w: torch.Tensor) -> torch.Tensor:
        ws = w[:, None, :].expand(-1, num_ws, -1).contiguous()
        return synth.render(ws, 1.0, stateless=True)

    return render


__all__ = [
    "AtelierReader", "AttributeSliderError", "AttributeReader", "Boundary", "METHOD", "PERSON_HEADS",
    "boundaries_to_directions", "compute_attribute_directions", "conditional_normals", "fit_boundaries",
    "read_samples", "w_renderer",
]
