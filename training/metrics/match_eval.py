"""Match evaluation: colour, pattern and formality kept, category right, shape copied and candidate diversity.

Baselines: a random real item of the other domain (chance-level agreement) and the input returned unchanged
(category 0, however well it keeps colour and pattern).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor

from training.metrics.sampling import FamilySpec, Labels, Sampled, SamplingContext, as_output, base_dataset


def _accessory_labels(dataset: Any, side: str, indices: Any) -> dict[str, list[str | None]] | None:
    table = getattr(base_dataset(dataset), f"labels_{side}", None)
    if table is None or indices is None:
        return None
    rows = [table[int(i)] for i in indices]
    return {"colour": [r["colour_family"] for r in rows], "pattern": [r["pattern"] for r in rows],
            "formality": [r["formality"] for r in rows]}


MATCH_CANDIDATES = 4  # candidates per input for the diversity rows, as the Match tab offers by default


def _match_labels(ctx: SamplingContext, batch: dict[str, Any], n: int) -> Labels:
    labels: Labels = {}
    for name, side in (("shoe", "A"), ("bag", "B")):
        found = _accessory_labels(ctx.dataset, side, batch.get(f"{side}_index"))
        labels[name] = {**(found or {}), "item": [name] * n}  # the category each real set truly is
    return labels


def _app_candidates(ctx: SamplingContext, batch: dict[str, Any], images: Tensor, direction: str) -> Tensor:
    """N×K×3×H×W: the Match pipeline's K best candidates for each input, as the app ranks them (CycleGAN: the
    test-time variations; content/style: seeded content codes, the seed being the item's dataset index)."""
    from types import SimpleNamespace

    from fashionstudio.core.images import tensor_to_pil
    from fashionstudio.core.match import make_matcher
    from fashionstudio.core.match_scores import pil_batch

    res = images.shape[-1]
    model = SimpleNamespace(family=ctx.family, resolution=res, networks=ctx.networks, name=ctx.family,
                            path=SimpleNamespace(name=ctx.family))
    matcher = make_matcher(model)
    index = batch.get("A_index" if direction == "shoe2bag" else "B_index")
    out = []
    for i in range(images.shape[0]):
        photo = tensor_to_pil(images[i].clamp(-1, 1))
        if matcher.seeded:
            seed = int(index[i]) if index is not None else ctx.seed * 100_003 + i
            result = matcher.run(photo, direction, MATCH_CANDIDATES, seed=seed)
        else:
            result = matcher.run(photo, direction, MATCH_CANDIDATES)
        out.append(pil_batch([c.output for c in result.candidates]))
    return torch.stack(out)


def _sample_match(ctx: SamplingContext, batch: dict[str, Any], direct: bool) -> Sampled:
    """Both directions: the plain translation rows (``direct``, CycleGAN: G on the input as given; content/style:
    the app's best candidate) and the app's candidates for the diversity rows."""
    shoes, bags = batch["A"].to(ctx.device), batch["B"].to(ctx.device)
    cands = {"shoe_to_bag": _app_candidates(ctx, batch, shoes.cpu(), "shoe2bag"),
             "bag_to_shoe": _app_candidates(ctx, batch, bags.cpu(), "bag2shoe")}
    if direct:
        s2b, b2s = ctx.networks["G_AB"](shoes), ctx.networks["G_BA"](bags)
    else:
        s2b, b2s = cands["shoe_to_bag"][:, 0], cands["bag_to_shoe"][:, 0]
    return Sampled({"shoe": as_output(shoes), "bag": as_output(bags), "shoe_to_bag": as_output(s2b),
                    "bag_to_shoe": as_output(b2s)},
                   _match_labels(ctx, batch, shoes.shape[0]), candidates=cands)


def _pairwise(features: Tensor) -> Tensor:
    """N: mean distance over the K(K-1)/2 pairs of each input's K feature rows (N×K×D)."""
    d = torch.cdist(features, features)
    k = features.shape[1]
    return d.sum(dim=(1, 2)) / (k * (k - 1))


def match_scores(sampled: Sampled, extractor: Any) -> dict[str, list[float]]:
    """Shape copied and candidate diversity, per direction, with their real-item references.

    - ``shape_iou/<direction>``: silhouette IoU of output vs input; ``shape_iou/random_real_pair_<kind>``: the same
      for a real item of the target kind against an unrelated input (what an item drawn from scratch overlaps).
    - ``diversity/<direction>``: mean pairwise feature distance among an input's K app candidates;
      ``diversity/real_<kind>s``: among K random real items of the target kind (groups of K of the batch).
    - ``duplicates/<direction>``: share of inputs whose two closest candidates differ by < 2/255 (mean abs).
    """
    from fashionstudio.core.match_scores import silhouette_iou

    im = sampled.images
    out: dict[str, list[float]] = {}
    for direction, src, tgt, kind in (("shoe_to_bag", "shoe", "bag", "bag"), ("bag_to_shoe", "bag", "shoe", "shoe")):
        out[f"shape_iou/{direction}"] = silhouette_iou(im[direction], im[src]).tolist()
        out[f"shape_iou/random_real_pair_{kind}"] = silhouette_iou(im[tgt], im[src].roll(1, dims=0)).tolist()
        cands = sampled.candidates.get(direction)
        if cands is None or cands.shape[1] < 2:
            continue
        n, k = cands.shape[:2]
        feats = extractor(cands.flatten(0, 1))[0].float().view(n, k, -1)
        out[f"diversity/{direction}"] = _pairwise(feats).tolist()
        diffs = (cands[:, :, None] - cands[:, None]).abs().mean(dim=(3, 4, 5)) / 2  # 0..1 scale
        diffs = diffs + torch.eye(k)[None] * 10
        out[f"duplicates/{direction}"] = (diffs.flatten(1).amin(1) < 2 / 255).float().tolist()
        real = im[tgt]
        groups = real.shape[0] // k
        if groups:
            rf = extractor(real[: groups * k])[0].float().view(groups, k, -1)
            out[f"diversity/real_{kind}s"] = _pairwise(rf).tolist()
    return out


_MATCH_HEADS = ("colour", "pattern", "formality")
_MATCH_AGREEMENTS = {
    "shoe_to_bag": ("shoe_to_bag", "shoe", _MATCH_HEADS),
    "bag_to_shoe": ("bag_to_shoe", "bag", _MATCH_HEADS),
    "baseline_random_bag": ("bag", "shoe", _MATCH_HEADS),
    "baseline_random_shoe": ("shoe", "bag", _MATCH_HEADS),
    "ceiling_real_bag": ("bag", "bag", _MATCH_HEADS),
    "ceiling_real_shoe": ("shoe", "shoe", _MATCH_HEADS),
    # Category right: the classifier's item head reads the output as the target kind. The input returned
    # unchanged (recoloured or not) scores 0 here, however well it keeps colour and pattern.
    "category_shoe_to_bag": ("shoe_to_bag", "bag", ("item",)),
    "category_bag_to_shoe": ("bag_to_shoe", "shoe", ("item",)),
    "category_baseline_input_unchanged_shoe": ("shoe", "bag", ("item",)),
    "category_baseline_input_unchanged_bag": ("bag", "shoe", ("item",)),
    "category_ceiling_real_bag": ("bag", "bag", ("item",)),
    "category_ceiling_real_shoe": ("shoe", "shoe", ("item",)),
}
_MATCH_BASELINES = (
    "baseline_random_bag/shoe: a random real item of the other domain (chance-level agreement). "
    "ceiling_real_bag/shoe: the classifier reading real held-out items against their own labels, the score of a "
    "translation indistinguishable from a real item with the input's attributes. category_*: share of outputs the "
    "item head reads as the target kind (category_baseline_input_unchanged_*: the input itself as the answer). "
    "scores: shape_iou (output vs input silhouette, against random real pairs), diversity (mean pairwise feature "
    f"distance among the app's {MATCH_CANDIDATES} candidates per input, against {MATCH_CANDIDATES} random real "
    "items), duplicates (share of inputs with two candidates within 2/255).")


def _match_spec(note: str, direct: bool) -> FamilySpec:
    return FamilySpec(sample=partial(_sample_match, direct=direct),
                      sets={"shoe_to_bag": ("shoe_to_bag", "bag"), "bag_to_shoe": ("bag_to_shoe", "shoe")},
                      agreements=dict(_MATCH_AGREEMENTS), baselines=f"{_MATCH_BASELINES} {note}",
                      scores=match_scores)


CYCLEGAN = _match_spec("Translation rows: G on the input as given; candidates: the app's test-time "
                       "variations ranked by round trip.", direct=True)
MUNIT = _match_spec("Translation rows: the app's best candidate (seeded shape codes ranked by how well "
                    "the style survives); candidates: the app's first four.", direct=False)
