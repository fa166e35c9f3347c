"""The evaluation's common parts: what a family's spec produces (:class:`Sampled`), what it may use
(:class:`SamplingContext`), the spec itself (:class:`FamilySpec`) and :func:`spec_for`.

A :class:`FamilySpec` says, for one family, how to turn a loaded model and one dataset batch into named image
batches (:meth:`FamilySpec.sample`), and which of those names the evaluation compares:

- ``sets``: report name -> (generated images, real images): distribution metrics (FID, KID, precision/recall, IS);
- ``pairs``: report name -> (output, true target): L1 and SSIM, paired tools only; when the sample carries a mask
  for the target (Pose: the target's body), also mask-L1 and mask-SSIM;
- ``agreements``: report name -> (images, reference, heads): share of images whose atelier-classifier attribute
  (colour family, pattern, ...) equals the reference's true label (or, without labels, the classifier's reading of
  the reference).

Each spec also produces the obvious baselines next to the model's own images, so that every report can say
whether the model beats them. The specs live with their tool: :mod:`training.metrics.pose_eval`,
:mod:`training.metrics.extract_eval`, :mod:`training.metrics.match_eval`, :mod:`training.metrics.generate_eval`;
a family's declaration names its spec.

Images are NCHW float in [-1, 1]; generated images are clamped to that range, as the app displays them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

Labels = dict[str, dict[str, list[str | None]]]  # image name -> head -> true class name per image (None: unknown)


@dataclass
class Sampled:
    images: dict[str, Tensor]
    labels: Labels = field(default_factory=dict)
    masks: dict[str, Tensor] = field(default_factory=dict)  # image name -> N×1×H×W {0, 1} mask of what matters
    candidates: dict[str, Tensor] = field(default_factory=dict)  # name -> N×K×3×H×W: K candidates per input


@dataclass
class SamplingContext:
    """What a sample function may use besides the batch: the model's networks, a seeded generator for latent codes,
    the dataset (for its label tables) and, built on first use, the family's untrained networks."""

    networks: dict[str, Any]
    config: dict[str, Any]
    family: str
    generator: torch.Generator
    dataset: Any = None
    seed: int = 0
    device: torch.device = torch.device("cpu")
    _untrained: dict[str, Any] | None = None

    def untrained(self, which: tuple[str, ...]) -> dict[str, Any]:
        """The family's networks with their seeded initial weights (a generator "after 0 steps")."""
        if self._untrained is None:
            from fashionstudio.core import registry

            state = torch.random.get_rng_state()
            torch.manual_seed(self.seed)
            try:
                nets = registry.build_networks(self.family, self.config, which=which)
            finally:
                torch.random.set_rng_state(state)
            self._untrained = {k: v.to(self.device).eval().requires_grad_(False) for k, v in nets.items()}
        return self._untrained


@dataclass
class FamilySpec:
    """One family's evaluation; the family's declaration (``fashionstudio/families``) names it."""

    sample: Callable[[SamplingContext, dict[str, Any]], Sampled]
    sets: dict[str, tuple[str, str]]
    pairs: dict[str, tuple[str, str]] = field(default_factory=dict)
    agreements: dict[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    real_split: str = "test"
    baselines: str = ""
    # (sampled, feature extractor) -> score name -> per-image values, averaged over the evaluation set
    scores: Callable[[Sampled, Any], dict[str, list[float]]] | None = None


def as_output(x: Tensor) -> Tensor:
    """A batch as the evaluation compares it: detached, float, clamped to [-1, 1], on the CPU."""
    return x.detach().float().clamp(-1, 1).cpu()


def centre_crop(images: Tensor, fraction: float = 0.5) -> Tensor:
    """The central ``fraction`` of each image (a square), resized back to the full size."""
    n, c, h, w = images.shape
    sh, sw = max(1, round(h * fraction)), max(1, round(w * fraction))
    top, left = (h - sh) // 2, (w - sw) // 2
    crop = images[:, :, top : top + sh, left : left + sw]
    return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False).clamp(-1, 1)


def base_dataset(dataset: Any) -> Any:
    """The reader under any Subset wrappers."""
    while hasattr(dataset, "dataset") and not hasattr(dataset, "labels_A") and not hasattr(dataset, "root"):
        dataset = dataset.dataset
    return dataset


def atelier_labels(dataset: Any, rows: Callable[[dict[str, Any]], Iterable[tuple[str, dict[str, Any]]]]
                   ) -> dict[str, dict[str, Any]]:
    """Key -> labels from the ``atelier.json`` of the atelier data under ``dataset``, built once per dataset from
    ``rows(item)`` (key, labels) pairs; empty for real data, which has no such file."""
    import json
    from pathlib import Path

    base = base_dataset(dataset)
    cache = getattr(base, "_fs_atelier_labels", None)
    if cache is None:
        cache = {}
        try:
            base._fs_atelier_labels = cache
        except AttributeError:
            pass
    if rows not in cache:
        root = getattr(base, "root", None)
        meta_path = Path(root) / "atelier.json" if root is not None else None
        items = json.loads(meta_path.read_text()).get("items", []) if meta_path and meta_path.is_file() else []
        cache[rows] = {key: labels for item in items for key, labels in rows(item)}
    return cache[rows]


def spec_for(family: str) -> FamilySpec:
    """The evaluation spec the family's declaration names (``evaluation``)."""
    from fashionstudio.core import registry
    from fashionstudio.families import resolve

    declared = registry.family(family) if family in registry.known_families() else None
    if declared is None or declared.evaluation is None:
        known = ", ".join(sorted(f.name for f in registry.families() if f.evaluation is not None))
        raise ValueError(f"FashionStudio does not know how to evaluate a '{family}' model (it evaluates: {known}).")
    spec = resolve(declared.evaluation)
    if not isinstance(spec, FamilySpec):
        raise TypeError(f"The evaluation spec of '{family}' ({declared.evaluation}) is not a FamilySpec.")
    return spec
