"""Upscale trainer: a clean-and-upscale autoencoder on (degraded small, clean large) atelier pairs.

One step on a batch ``{"lr", "hr"}`` (see :mod:`training.data.upscale_pairs`):
``L = l1 * ‖G(lr) − hr‖₁ + feature * Σ_k ‖φ_k(↓G(lr)) − φ_k(↓hr)‖₁``, φ the frozen atelier trunk (the same
perceptual loss as PoseWarp's) and ↓ an area downsampling to the trunk's own scale (``feature_scale``: the trunk
was trained on 64 px pictures, and at full size its backward pass would cost more than the upscaler's). No
adversarial term: the task's pictures are flat-coloured, the L1 + feature result is already sharp at their edges,
and a discriminator would add back the very speckle this model removes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from training.data import DatasetError
from training.trainers import losses
from training.trainers.trainer import Trainer

# The atelier kinds whose pictures the tools make (person photos, flats, shoes and bags, catalogue images).
ATELIER_KINDS = ("inshop", "lookbook", "shoes_bags", "images")


def upscale_dataset(cfg: Any, run_dir: Path, split: str, arch: dict[str, Any], dist: Any = None) -> Any:
    """The pairs of ``split``: the four atelier kinds rendered at the output size, or the pictures of [data] path
    (a folder or .zip of images; ``kind = "shoes_bags"`` reads the HDF5 pair)."""
    from training.data.upscale_pairs import UpscalePairs
    from training.trainers.data_adapter import ensure_atelier

    res, scale = int(arch["resolution"]), int(arch["scale"])
    out = res * scale
    if cfg.data.kind == "atelier":
        is_main = dist is None or dist.is_main
        sources = [(kind, ensure_atelier(cfg, run_dir, kind, out, is_main)) for kind in ATELIER_KINDS]
        if dist is not None and dist.enabled:
            import torch.distributed

            torch.distributed.barrier()
    else:
        if not cfg.data.path:
            raise DatasetError(f"config.toml [data] kind = \"{cfg.data.kind}\" needs a path: set [data] path to "
                               "the folder of clean pictures.")
        if cfg.data.kind not in ("images", "inshop", "lookbook", "shoes_bags"):
            raise DatasetError(f"The upscaler trains on pictures (kind images, inshop, lookbook or shoes_bags), "
                               f"not '{cfg.data.kind}'.")
        sources = [(cfg.data.kind, Path(cfg.data.path))]
    try:
        return UpscalePairs(sources, split, res, scale, seed=cfg.seed,
                            clean_share=float(cfg.data.options.get("clean_share", 0.25)),
                            crop=int(cfg.data.options.get("crop", 0)))
    except ValueError as exc:  # UpscalePairs' own checks of the pictures are data errors too
        raise DatasetError(str(exc)) from None


class UpscaleTrainer(Trainer):
    DEFAULT_LR = {"G": 5e-4}
    DEFAULT_LOSS = {"l1": 1.0, "feature": 0.5, "feature_scale": 0.25}
    MONITOR = "l1"
    BEST_METRIC = "l1"
    PLATEAU_LOSS = {"G": "G"}

    def build_dataset(self, run_dir: Path, split: str) -> Any:
        return upscale_dataset(self.cfg, run_dir, split, self.arch, self.dist)

    def make_optimizers(self):
        self.feature_loss = losses.AtelierFeatureLoss(self.device) if float(self.cfg.loss["feature"]) > 0 else None
        return {"G": self.adam("G", self.nets["G"].parameters())}

    def train_step(self, batch):
        with self.autocast():
            out = self.nets["G"](batch["lr"])
        l_l1 = (out.float() - batch["hr"]).abs().mean()
        l_feat = torch.zeros(())
        if self.feature_loss is not None:
            f = float(self.cfg.loss["feature_scale"])
            shrink = (lambda x: F.interpolate(x, scale_factor=f, mode="area")) if f != 1 else (lambda x: x)
            l_feat = self.feature_loss(shrink(out), shrink(batch["hr"]))
        loss = self.weight("l1") * l_l1 + self.weight("feature") * l_feat
        values = self.check_finite({"l1": l_l1, "feature": l_feat, "G": loss})
        self.update("G", loss)
        return values

    def _bilinear(self, lr: torch.Tensor) -> torch.Tensor:
        return F.interpolate(lr, scale_factor=int(self.arch["scale"]), mode="bilinear", align_corners=False)

    @torch.no_grad()
    def sample_rows(self, fixed):
        lr = fixed["lr"]
        nearest = F.interpolate(lr, scale_factor=int(self.arch["scale"]), mode="nearest")
        out = self.inference_net("G")(lr).clamp(-1, 1)
        return [("input", nearest), ("bilinear", self._bilinear(lr).clamp(-1, 1)), ("upscaled", out),
                ("target", fixed["hr"])]

    @torch.no_grad()
    def evaluate(self, fixed):
        out = self.inference_net("G")(fixed["lr"]).clamp(-1, 1)
        return {"l1": float((out - fixed["hr"]).abs().mean()),
                "l1_bilinear": float((self._bilinear(fixed["lr"]).clamp(-1, 1) - fixed["hr"]).abs().mean())}
