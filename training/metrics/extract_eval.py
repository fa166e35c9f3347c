"""Evaluation of every Extract family (PixelDTGAN, FlatWarp): one sample function and one set of rows.

Rows (``sets``, ``pairs``, ``agreements`` as in :mod:`training.metrics.sampling`, plus ``scores``):

- ``model``: the extracted flat; ``baseline_centre_crop``: the central half of the person photo, resized;
  ``ceiling_true_flat``: the true flat itself (what the classifier and the mask reading get right at best).
- agreements: colour family, pattern and garment type of the output against the garment's true labels.
- scores, per row: ``mask_iou/<row>``, the IoU of the row's garment mask with the true flat's mask (a model that
  predicts its mask, FlatWarp, is scored on that mask; any other image on the mask the app reads off it,
  :func:`fashionstudio.core.extract.garment_mask`); ``sleeve/<row>`` (tops: none / short / long, from the
  classifier's garment type) and ``length/<row>`` (top or dress) right, over the garments that have one;
  ``speckle/<row>``: high-pass energy inside the eroded true mask of garments whose true pattern is solid.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from training.metrics.sampling import FamilySpec, Sampled, SamplingContext, as_output, atelier_labels, centre_crop

ROWS = ("model", "baseline_centre_crop", "ceiling_true_flat")
IMAGE_OF_ROW = {"model": "output", "baseline_centre_crop": "centre_crop", "ceiling_true_flat": "target"}
HEADS = ("colour", "pattern", "garment_type")
SLEEVE = {"tank": "none", "tshirt": "short", "longsleeve": "long", "jacket": "long"}
LENGTH = {"tank": "top", "tshirt": "top", "longsleeve": "top", "jacket": "top", "dress": "dress"}
SPECKLE_SIGMA = 1.0  # px at 64 px: the pixel-level noise, not the pattern's repeat
_classifier: dict[str, Any] = {}


def _garment_rows(item: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """A LookBook product id ('id_00000012') and its catalogue garment's labels."""
    g = item.get("garment") or {}
    yield f"id_{int(item['pid']):08d}", {"colour": g.get("colour_family"), "pattern": g.get("pattern"),
                                         "garment_type": g.get("type")}


def read_mask(images: Tensor) -> Tensor:
    """The garment mask [N,1,H,W] in {0, 1} the Extract tool reads off images on a near-white backdrop."""
    from fashionstudio.core.extract import garment_mask

    out = []
    for img in images:
        arr = ((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        out.append(torch.from_numpy(np.asarray(garment_mask(Image.fromarray(arr))) >= 128))
    return torch.stack(out)[:, None].float()


def mask_iou(pred: Tensor, true: Tensor) -> Tensor:
    """Per-image IoU of two {0, 1} masks [N,1,H,W] (1 when both are empty)."""
    inter = (pred * true).flatten(1).sum(1)
    union = ((pred + true) > 0).float().flatten(1).sum(1)
    return torch.where(union > 0, inter / union.clamp_min(1), torch.ones_like(union))


def _blur(x: Tensor, sigma: float) -> Tensor:
    r = max(1, int(round(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(x.device)
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def speckle_per_image(x: Tensor, mask: Tensor, sigma: float = SPECKLE_SIGMA) -> Tensor:
    """Mean high-pass energy (x - blur(x))² of each image [N,3,H,W] inside ``mask`` [N,1,H,W] (x in [-1, 1])."""
    high = ((x - _blur(x, sigma)) ** 2).mean(dim=1, keepdim=True)
    return (high * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1)


def erode(mask: Tensor, px: int = 2) -> Tensor:
    return -F.max_pool2d(-mask, 2 * px + 1, stride=1, padding=px)


def _sample_extract(ctx: SamplingContext, batch: dict[str, Any]) -> Sampled:
    person = batch["person"].to(ctx.device)
    g = ctx.networks["G"]
    masks: dict[str, Tensor] = {}
    if hasattr(g, "parts"):  # a family that predicts the flat's mask is scored on it
        parts = g.parts(person)
        output = parts["output"]
        masks["output"] = (parts["mask"].detach().float().cpu() > 0.5).float()
    else:
        output = g(person)
    labels: dict[str, dict[str, list[str | None]]] = {}
    table = atelier_labels(ctx.dataset, _garment_rows)
    products = batch.get("product")
    if table and products is not None:
        rows = [table.get(str(p), {}) for p in products]
        labels["target"] = {h: [r.get(h) for r in rows] for h in HEADS}
    images = {"source": as_output(person), "target": as_output(batch["flat"]), "output": as_output(output),
              "centre_crop": as_output(centre_crop(person))}
    true = batch.get("flat_mask")
    true = read_mask(images["target"]) if true is None else true.float().cpu()
    # "target": the true flat's mask (mask-L1/SSIM of the pairs too); "output": the mask the model predicted
    return Sampled(images, labels, masks={"target": true, **masks})


def _classify(images: Tensor) -> list[str] | None:
    """The atelier classifier's garment type per image (None when no classifier ships)."""
    from training.metrics.atelier_features import AtelierClassifier, AtelierFileError

    if "net" not in _classifier:
        try:
            _classifier["net"] = AtelierClassifier()
        except AtelierFileError:
            _classifier["net"] = None
    clf = _classifier["net"]
    return None if clf is None else clf.predict_names(images, "garment_type")


def extract_scores(sampled: Sampled, extractor: Any) -> dict[str, list[float]]:
    """Mask IoU, sleeve / length right and speckle energy per row (module docstring)."""
    im, true = sampled.images, sampled.masks["target"]
    own = {k: v for k, v in sampled.masks.items() if k != "target"}
    truth = sampled.labels.get("target", {})
    types, patterns = truth.get("garment_type"), truth.get("pattern")
    solid = [p == "solid" for p in patterns] if patterns else [False] * true.shape[0]
    inner = erode(true, 3)  # the blur reaches 3 px: the outline itself is not speckle
    out: dict[str, list[float]] = {}
    for row in ROWS:
        x = im[IMAGE_OF_ROW[row]]
        pred_mask = own.get(IMAGE_OF_ROW[row])
        pred_mask = read_mask(x) if pred_mask is None else pred_mask
        out[f"mask_iou/{row}"] = mask_iou(pred_mask, true).tolist()
        energies = speckle_per_image(x, inner)
        out[f"speckle/{row}"] = [float(e) for e, s in zip(energies, solid) if s]
        read = _classify(x) if types else None
        if read is not None:
            for name, table in (("sleeve", SLEEVE), ("length", LENGTH)):
                out[f"{name}/{row}"] = [float(table.get(p) == table[t]) for p, t in zip(read, types)
                                        if t in table]
    return out


def _spec(baselines: str) -> FamilySpec:
    agree = {row: (IMAGE_OF_ROW[row], "target", HEADS) for row in ROWS}
    return FamilySpec(
        sample=_sample_extract,
        sets={"model": ("output", "target"), "baseline_centre_crop": ("centre_crop", "target")},
        pairs={"model": ("output", "target"), "baseline_centre_crop": ("centre_crop", "target")},
        agreements=agree, baselines=baselines, scores=extract_scores)


_BASELINES = ("baseline_centre_crop answers with the central half of the person photo, resized; "
              "ceiling_true_flat is the true flat itself (classifier and mask reading at their best).")
PIXELDTGAN = _spec(_BASELINES + " PixelDTGAN's mask is the one the app reads off its output.")
FLATWARP = _spec(_BASELINES + " FlatWarp's mask is the one it predicts.")
