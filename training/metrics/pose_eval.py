"""Pose evaluation: outfit kept and pose followed, against the source returned unchanged and the real target.

Besides the model's result, a spec reports its first stage (the two-stage U-Net's coarse result; the warping
family's plain warp), the source photo returned as the answer, and the classifier reading the real target (ceiling).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import Tensor

from training.metrics.sampling import FamilySpec, Labels, Sampled, SamplingContext, as_output, atelier_labels


def _photo_rows(item: dict[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
    """Each in-shop photo path of an atelier item and its outfit's main garment and pose kind (real data has no
    such labels: its outfits are then read off the source by the classifier)."""
    folder = f"{item.get('gender')}/{item.get('category')}/{item.get('item_id')}"
    for key, image in (item.get("images") or {}).items():
        group = (item.get("groups") or {}).get(key.split("/")[0], {})
        main = group.get("dress") or group.get("top") or {}
        yield f"Img/{folder}/{key.split('/')[-1]}", {
            "garment_type": main.get("type"), "colour": main.get("colour_family"), "pattern": main.get("pattern"),
            "pose": image.get("pose_kind")}


def _pose_labels(ctx: SamplingContext, batch: dict[str, Any]) -> Labels:
    """The target photo's labels: the outfit (the same as the source's: one item and group) and its pose kind."""
    table = atelier_labels(ctx.dataset, _photo_rows)
    names = batch.get("tgt_name")
    if not table or names is None:
        return {}
    rows = [table.get(str(n), {}) for n in names]
    return {"target": {h: [r.get(h) for r in rows] for h in _POSE_HEADS}}


def _pose_sampled(ctx: SamplingContext, batch: dict[str, Any], images: dict[str, Tensor]) -> Sampled:
    masks = {"target": batch["tgt_mask"].float().cpu()} if "tgt_mask" in batch else {}
    return Sampled({"source": as_output(batch["src"]), "target": as_output(batch["tgt"]),
                    **{k: as_output(v) for k, v in images.items()}}, _pose_labels(ctx, batch), masks)


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
