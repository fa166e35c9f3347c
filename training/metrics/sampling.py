"""What each model family produces for evaluation: the per-family "sample generators".

A :class:`FamilySpec` says, for one family, how to turn a loaded model and one dataset batch into named image
batches (:meth:`FamilySpec.sample`), and which of those names the evaluation compares:

- ``sets``: report name -> (generated images, real images): distribution metrics (FID, KID, precision/recall, IS);
- ``pairs``: report name -> (output, true target): L1 and SSIM, paired tools only; when the sample carries a mask
  for the target (Pose: the target's body), also mask-L1 and mask-SSIM;
- ``agreements``: report name -> (images, reference, heads): share of images whose atelier-classifier attribute
  (colour family, pattern, ...) equals the reference's true label (or, without labels, the classifier's reading of
  the reference).

Each spec also produces the obvious baselines next to the model's own images, so that every report can say
whether the model beats them:

- Pose (pgpg, posewarp): the source returned unchanged, the real target read by the classifier (ceiling), and
  the first stage (G1's coarse result; the plain warp) next to the result;
- Extract (pixeldtgan, flatwarp; :mod:`training.metrics.extract_eval`): a centred crop of the source photo
  instead of the generated flat garment, and the true flat as the ceiling;
- Match (cyclegan): a random real item of the other domain (chance-level colour/pattern agreement);
- Generate (stylegan2): the same architecture after 0 training steps (seeded initial weights).

Images are NCHW float in [−1, 1]; generated images are clamped to that range, as the app displays them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
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


def _out(x: Tensor) -> Tensor:
    return x.detach().float().clamp(-1, 1).cpu()


def centre_crop(images: Tensor, fraction: float = 0.5) -> Tensor:
    """The central ``fraction`` of each image (a square), resized back to the full size."""
    n, c, h, w = images.shape
    sh, sw = max(1, round(h * fraction)), max(1, round(w * fraction))
    top, left = (h - sh) // 2, (w - sw) // 2
    crop = images[:, :, top : top + sh, left : left + sw]
    return F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False).clamp(-1, 1)


# ------------------------------------------------------------------------------------------------- Pose (PGPG)

def _inshop_labels(dataset: Any) -> dict[str, dict[str, str]]:
    """Photo path (relative to the in-shop root) -> its outfit's main garment and its pose kind, from the
    atelier's ``atelier.json`` (empty for real data, whose outfits are then read off the source by the classifier)."""
    import json
    from pathlib import Path

    base = _base_dataset(dataset)
    cached = getattr(base, "_fs_photo_labels", None)
    if cached is not None:
        return cached
    table: dict[str, dict[str, str]] = {}
    root = getattr(base, "root", None)
    meta_path = Path(root) / "atelier.json" if root is not None else None
    if meta_path is not None and meta_path.is_file():
        for item in json.loads(meta_path.read_text()).get("items", []):
            folder = f"{item.get('gender')}/{item.get('category')}/{item.get('item_id')}"
            for key, image in (item.get("images") or {}).items():
                group = (item.get("groups") or {}).get(key.split("/")[0], {})
                main = group.get("dress") or group.get("top") or {}
                table[f"Img/{folder}/{key.split('/')[-1]}"] = {
                    "garment_type": main.get("type"), "colour": main.get("colour_family"),
                    "pattern": main.get("pattern"), "pose": image.get("pose_kind")}
    try:
        base._fs_photo_labels = table
    except AttributeError:
        pass
    return table


def _pose_labels(ctx: SamplingContext, batch: dict[str, Any]) -> Labels:
    """The target photo's labels: the outfit (the same as the source's: one item and group) and its pose kind."""
    table = _inshop_labels(ctx.dataset)
    names = batch.get("tgt_name")
    if not table or names is None:
        return {}
    rows = [table.get(str(n), {}) for n in names]
    return {"target": {h: [r.get(h) for r in rows] for h in _POSE_HEADS}}


def _pose_sampled(ctx: SamplingContext, batch: dict[str, Any], images: dict[str, Tensor]) -> Sampled:
    masks = {"target": batch["tgt_mask"].float().cpu()} if "tgt_mask" in batch else {}
    return Sampled({"source": _out(batch["src"]), "target": _out(batch["tgt"]),
                    **{k: _out(v) for k, v in images.items()}}, _pose_labels(ctx, batch), masks)


def _sample_pgpg(ctx: SamplingContext, batch: dict[str, Any]) -> Sampled:
    g1, g2 = ctx.networks["G1"], ctx.networks["G2"]
    src = batch["src"].to(ctx.device)
    coarse = g1(src, batch["tgt_pose"].to(ctx.device))
    return _pose_sampled(ctx, batch, {"coarse": coarse, "refined": g2(src, coarse)})


def _sample_posewarp(ctx: SamplingContext, batch: dict[str, Any]) -> Sampled:
    parts = ctx.networks["G"].parts(batch["src"].to(ctx.device), batch["src_pose"].to(ctx.device),
                                    batch["tgt_pose"].to(ctx.device))
    return _pose_sampled(ctx, batch, {"coarse": parts["warped"], "refined": parts["output"]})


# Outfit kept (garment type, colour family, pattern of the source's main garment) and pose followed (pose kind of
# the target), all read by the atelier classifier against the target photo's labels.
_POSE_HEADS = ("garment_type", "colour", "pattern", "pose")
_POSE_BASELINES = ("baseline_source_unchanged returns the source photo as the answer; ceiling_real_target is the "
                   "classifier reading the real target photos (the score of a result indistinguishable from them).")


def _pose_spec(sample: Callable[[SamplingContext, dict[str, Any]], Sampled], coarse_name: str,
              coarse_note: str) -> FamilySpec:
    rows = {"model": ("refined", "target"), coarse_name: ("coarse", "target"),
            "baseline_source_unchanged": ("source", "target")}
    agreements = {name: (img, ref, _POSE_HEADS) for name, (img, ref) in rows.items()}
    agreements["ceiling_real_target"] = ("target", "target", _POSE_HEADS)
    return FamilySpec(sample=sample, sets=rows, pairs=rows, agreements=agreements,
                      baselines=f"{_POSE_BASELINES} {coarse_note}")


PGPG = _pose_spec(_sample_pgpg, "g1_coarse", "g1_coarse is stage 1 alone.")
POSEWARP = _pose_spec(_sample_posewarp, "warp_only",
                      "warp_only is the part-affine warp of the source alone, before the decoder.")


# ------------------------------------------------------------------------------------------ Extract (PixelDTGAN)

def _lookbook_labels(dataset: Any) -> dict[str, dict[str, str]]:
    """Product id ('id_00000012') -> the catalogue garment's labels, from the atelier's ``atelier.json``."""
    import json
    from pathlib import Path

    cached = getattr(dataset, "_fs_garment_labels", None)
    if cached is not None:
        return cached
    table: dict[str, dict[str, str]] = {}
    root = getattr(dataset, "root", None)
    meta_path = Path(root) / "atelier.json" if root is not None else None
    if meta_path is not None and meta_path.is_file():
        for item in json.loads(meta_path.read_text()).get("items", []):
            g = item.get("garment") or {}
            table[f"id_{int(item['pid']):08d}"] = {"colour": g.get("colour_family"), "pattern": g.get("pattern"),
                                                   "garment_type": g.get("type")}
    try:
        dataset._fs_garment_labels = table
    except AttributeError:
        pass
    return table


# The Extract families' sample function and rows live in training.metrics.extract_eval.


# ---------------------------------------------------------------------------------------------- Match (CycleGAN)

def _base_dataset(dataset: Any) -> Any:
    """The reader under any Subset wrappers."""
    while hasattr(dataset, "dataset") and not hasattr(dataset, "labels_A") and not hasattr(dataset, "root"):
        dataset = dataset.dataset
    return dataset


def _accessory_labels(dataset: Any, side: str, indices: Any) -> dict[str, list[str | None]] | None:
    table = getattr(_base_dataset(dataset), f"labels_{side}", None)
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
    return Sampled({"shoe": _out(shoes), "bag": _out(bags), "shoe_to_bag": _out(s2b), "bag_to_shoe": _out(b2s)},
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


# ------------------------------------------------------------------------------------------ Generate (StyleGAN2)

def _real_images(batch: dict[str, Any]) -> Tensor:
    for key in ("image", "img", "real"):
        if key in batch:
            return batch[key]
    tensors = [v for v in batch.values() if isinstance(v, Tensor) and v.dim() == 4]
    if not tensors:
        raise ValueError("the image dataset's batches hold no image tensor.")
    return tensors[0]


def _sample_stylegan2(ctx: SamplingContext, batch: dict[str, Any]) -> Sampled:
    real = _real_images(batch)
    g = ctx.networks["G"]
    z = torch.randn(real.shape[0], g.z_dim, generator=ctx.generator).to(ctx.device)
    g0 = ctx.untrained(("G",))["G"]
    return Sampled({"real": _out(real), "output": _out(g(z, noise_mode="const")),
                    "untrained": _out(g0(z, noise_mode="const"))})


STYLEGAN2 = FamilySpec(
    sample=_sample_stylegan2,
    sets={"model": ("output", "real"), "untrained_0_steps": ("untrained", "real")},
    real_split="train",
    baselines="untrained_0_steps: the same architecture with its seeded initial weights (0 training steps); "
              "real images come from the training split, as FID for unconditional generators does.",
)

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
