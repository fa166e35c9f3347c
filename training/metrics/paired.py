"""Metrics for paired tools (Pose, Extract), where each output has a true target: L1 and SSIM."""

from __future__ import annotations

import torch

from training.metrics.ssim import ssim


def l1_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of each image pair in NCHW batches (per image), in the images' own units."""
    if x.shape != y.shape:
        raise ValueError(f"L1 needs two batches of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}.")
    return (x.detach().double() - y.detach().double()).abs().flatten(1).mean(dim=1)


class PairedAccumulator:
    """Running mean of L1 and SSIM over batches of (output, target) pairs in [−1, 1]."""

    def __init__(self, data_range: float = 2.0) -> None:
        self.data_range = data_range
        self.l1: list[torch.Tensor] = []
        self.ssim: list[torch.Tensor] = []

    def update(self, output: torch.Tensor, target: torch.Tensor) -> None:
        self.l1.append(l1_distance(output, target))
        self.ssim.append(ssim(output, target, data_range=self.data_range))

    @property
    def count(self) -> int:
        return sum(t.numel() for t in self.l1)

    def result(self) -> dict[str, float]:
        if not self.l1:
            raise ValueError("no image pairs were given, so L1 and SSIM are undefined.")
        l1 = torch.cat(self.l1)
        s = torch.cat(self.ssim)
        return {"l1": float(l1.mean()), "ssim": float(s.mean()), "ssim_std": float(s.std()) if s.numel() > 1 else 0.0,
                "n": int(l1.numel())}
