"""Upscale: a small clean-and-upscale autoencoder (denoising super-resolution) behind every tool.

The tools' generators make 64 px pictures with a GAN speckle; this network takes such a picture and returns it
``scale`` times larger (x4: 64 -> 256 px; x2 as a preset) with the speckle removed. Design (EDSR-like, shrunk
for a CPU):

1. a head conv and ``n_blocks`` residual blocks (conv-ReLU-conv, no normalisation, residual scaling) working at
   the *input* resolution, where convolutions are cheap;
2. one sub-pixel stage per factor of two but the last (conv to 4x channels, ``PixelShuffle(2)``, ReLU), each
   halving the width so the expensive high-resolution layers stay thin;
3. the last stage convolves straight to 4 x RGB and shuffles to the output size (ESPCN's tail: no convolution
   runs at the output resolution, where it would cost most); the result is added to the bilinear upsampling of
   the input, so the network learns only the detail and the correction of the artefacts.

Inference API: ``G(x: [N,3,R,R]) -> [N,3,scale*R,scale*R]``, images in [-1, 1]. ``R`` may be any size (the
network is fully convolutional); ``resolution`` in the config is the input size it was trained at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from fashionstudio.models.blocks import resolve_config, select_networks

NETWORKS = ("G",)
INFERENCE_NETWORKS = ("G",)

_COMMON = {"family": "upscale", "image_channels": 3, "scale": 4}
PRESETS: dict[str, dict] = {
    "studio": {**_COMMON, "preset": "studio", "resolution": 64, "width": 48, "n_blocks": 8},
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "width": 32, "n_blocks": 4},
    "x2": {**_COMMON, "preset": "x2", "resolution": 128, "width": 32, "n_blocks": 4, "scale": 2},
}
MAX_SCALE = 8


class _ResBlock(nn.Module):
    """conv-ReLU-conv with the output scaled before the skip (keeps a deep plain stack stable without norms)."""

    def __init__(self, width: int, res_scale: float = 0.2) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


class Upscaler(nn.Module):
    """Residual trunk at input resolution, then ``log2(scale)`` pixel-shuffle x2 stages and an RGB tail."""

    def __init__(self, scale: int = 4, width: int = 32, n_blocks: int = 4, image_channels: int = 3) -> None:
        super().__init__()
        if scale < 2 or scale > MAX_SCALE or scale & (scale - 1):
            raise ValueError(f"the upscaler's scale must be 2, 4 or 8 (got {scale})")
        if width < 4 or n_blocks < 0:
            raise ValueError(f"the upscaler needs width >= 4 and n_blocks >= 0 (got {width}, {n_blocks})")
        self.scale, self.image_channels = int(scale), int(image_channels)
        self.head = nn.Conv2d(image_channels, width, 3, padding=1)
        self.body = nn.Sequential(*[_ResBlock(width) for _ in range(n_blocks)],
                                  nn.Conv2d(width, width, 3, padding=1))
        ups: list[nn.Module] = []
        c = width
        for _ in range(int(math.log2(scale)) - 1):
            c_out = max(8, c // 2)
            ups += [nn.Conv2d(c, 4 * c_out, 3, padding=1), nn.PixelShuffle(2), nn.ReLU(inplace=True)]
            c = c_out
        self.up = nn.Sequential(*ups)
        self.tail = nn.Sequential(nn.Conv2d(c, 4 * image_channels, 3, padding=1), nn.PixelShuffle(2))
        nn.init.zeros_(self.tail[0].weight)  # starts as plain bilinear upsampling
        nn.init.zeros_(self.tail[0].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.image_channels or min(x.shape[-2:]) < 4:
            raise ValueError(f"the upscaler takes a [N, {self.image_channels}, H, W] image batch (H, W >= 4), "
                             f"got {list(x.shape)}")
        base = F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        feats = self.head(x)
        feats = feats + self.body(feats)
        return base + self.tail(self.up(feats))


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (just ``G``) from an architecture config."""
    cfg = resolve_config(PRESETS, "demo", config)
    names = select_networks(NETWORKS, which)
    return {name: Upscaler(int(cfg["scale"]), int(cfg["width"]), int(cfg["n_blocks"]), int(cfg["image_channels"]))
            for name in names}
