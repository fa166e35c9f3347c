"""Metrics for paired tools (Pose, Extract), where each output has a true target: L1 and SSIM.

With a mask of the part that matters (Pose: the target's body), also the pose-transfer literature's masked
forms (Ma et al., PG2, NeurIPS 2017): ``mask_l1`` is the mean absolute difference over the masked pixels only, and
``mask_ssim`` is SSIM after setting both images' unmasked pixels to the same constant (0, mid-grey), so a
background the model cannot know (another backdrop in the target photo) does not decide the score.
"""

from __future__ import annotations

import torch

from training.metrics.ssim import ssim


def l1_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of each image pair in NCHW batches (per image), in the images' own units."""
    if x.shape != y.shape:
        raise ValueError(f"L1 needs two batches of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}.")
    return (x.detach().double() - y.detach().double()).abs().flatten(1).mean(dim=1)


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image, the mean absolute difference over the pixels where ``mask`` (N×1×H×W in {0, 1}) is set; NaN
    for an image whose mask is empty."""
    if x.shape != y.shape or mask.shape[0] != x.shape[0] or mask.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"masked L1 needs images and an N×1×H×W mask of one size, got {tuple(x.shape)}, "
                         f"{tuple(y.shape)} and {tuple(mask.shape)}.")
    m = mask.detach().double().expand_as(x)
    diff = (x.detach().double() - y.detach().double()).abs() * m
    area = m.flatten(1).sum(dim=1)
    return diff.flatten(1).sum(dim=1) / area.where(area > 0, torch.full_like(area, float("nan")))


def masked_ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """PG2's mask-SSIM: SSIM of the two images with everything outside ``mask`` set to 0 in both."""
    m = mask.detach().to(x.dtype)
    return ssim(x * m, y * m, data_range=data_range)


class PairedAccumulator:
    """Running mean of L1 and SSIM over batches of (output, target) pairs in [−1, 1], and of their masked forms
    when :meth:`update` is given masks."""

    def __init__(self, data_range: float = 2.0) -> None:
        self.data_range = data_range
        self.l1: list[torch.Tensor] = []
        self.ssim: list[torch.Tensor] = []
        self.mask_l1: list[torch.Tensor] = []
        self.mask_ssim: list[torch.Tensor] = []

    def update(self, output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        self.l1.append(l1_distance(output, target))
        self.ssim.append(ssim(output, target, data_range=self.data_range))
        if mask is not None:
            self.mask_l1.append(masked_l1(output, target, mask))
            self.mask_ssim.append(masked_ssim(output, target, mask, data_range=self.data_range))

    @property
    def count(self) -> int:
        return sum(t.numel() for t in self.l1)

    def result(self) -> dict[str, float]:
        if not self.l1:
            raise ValueError("no image pairs were given, so L1 and SSIM are undefined.")
        l1 = torch.cat(self.l1)
        s = torch.cat(self.ssim)
        out = {"l1": float(l1.mean()), "ssim": float(s.mean()), "ssim_std": float(s.std()) if s.numel() > 1 else 0.0,
               "n": int(l1.numel())}
        if self.mask_l1:
            ml1 = torch.cat(self.mask_l1)
            known = ~ml1.isnan()  # an empty mask scores nothing (its mask-SSIM would be a free 1.0)
            ms = torch.cat(self.mask_ssim)
            out.update({"mask_l1": float(ml1[known].mean()) if known.any() else None,
                        "mask_ssim": float(ms[known].mean()) if known.any() else None, "mask_n": int(known.sum())})
        return out
