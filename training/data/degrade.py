"""How the tools' generators spoil a picture, as a seeded function: the inputs of the upscaler's training pairs.

A GAN output at 64 px differs from a clean 256 px render in four ways, each drawn here with a random strength:

- it is small: the target is downsampled by ``scale`` (area averaging or antialiased bicubic, at random);
- it is soft: a Gaussian blur of random width at the small size (many generators never learn sharp edges);
- it carries a high-frequency speckle: white noise with its low frequencies removed (a difference of Gaussians),
  plus now and then the checkerboard of a transposed convolution, in luminance and per channel;
- its colours drift: low-frequency chroma noise and a small global colour cast.

A share of the pairs (``clean_share``) is only downsampled, so the network also learns plain super-resolution and
leaves an already clean picture alone. Everything is a function of the generator passed in: the same seed gives
the same pair, which keeps a resumed run identical to a straight one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms.v2.functional import gaussian_blur


def _uniform(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g))


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0.05:
        return x
    k = 2 * int(3 * sigma + 0.5) + 1
    return gaussian_blur(x, [k, k], [sigma, sigma])


def downsample(x: torch.Tensor, scale: int, mode: str = "area") -> torch.Tensor:
    """``x`` [N,3,H,W] made ``scale`` times smaller ("area" or antialiased "bicubic")."""
    size = (x.shape[-2] // scale, x.shape[-1] // scale)
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def speckle(shape: tuple[int, ...], g: torch.Generator, amount: float) -> torch.Tensor:
    """High-pass noise of RMS about ``amount``: fine grain in luminance and a little per channel."""
    n, _, h, w = shape
    lum = torch.randn((n, 1, h, w), generator=g)
    chan = torch.randn((n, 3, h, w), generator=g) * 0.5
    noise = lum + chan
    noise = noise - _blur(noise, 1.5)  # keep only what a 64 px generator's last layers add
    if float(torch.rand((), generator=g)) < 0.3:  # transposed-convolution checkerboard
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        board = ((yy + xx) % 2).float().mul(2).sub(1)[None, None]
        noise = noise + board * _uniform(g, 0.3, 1.0)
    return noise * amount


def degrade(target: torch.Tensor, scale: int, g: torch.Generator, clean_share: float = 0.25) -> torch.Tensor:
    """A GAN-like small version of ``target`` ([N,3,H,W] in [-1, 1]), drawn from ``g``; same N, H/scale x W/scale."""
    mode = "area" if float(torch.rand((), generator=g)) < 0.5 else "bicubic"
    x = downsample(target, scale, mode)
    if float(torch.rand((), generator=g)) < clean_share:
        return x.clamp(-1, 1)
    x = _blur(x, _uniform(g, 0.0, 0.9))
    x = x + speckle(tuple(x.shape), g, _uniform(g, 0.02, 0.12))
    n, c, h, w = x.shape
    chroma = torch.randn((n, c, max(1, h // 8), max(1, w // 8)), generator=g) * _uniform(g, 0.0, 0.05)
    x = x + F.interpolate(chroma, size=(h, w), mode="bilinear", align_corners=False)
    x = x + torch.randn((n, c, 1, 1), generator=g) * _uniform(g, 0.0, 0.03)
    return x.clamp(-1, 1)
