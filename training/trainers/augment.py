"""DiffAugment (Zhao et al. 2020): differentiable augmentation of real *and* generated images for small datasets.

Policy names: ``color`` (brightness, saturation, contrast), ``translation`` (shift by up to 1/8 of the side, zero
fill), ``cutout`` (a zeroed square of half the side). Every image D sees, real or fake, in D's and in G's step, goes
through the same random family of transforms, so D cannot learn the augmentations and G is not pushed to
reproduce them ("leak"); the ops are plain differentiable tensor ops, so G's gradients flow through them.

Why DiffAugment rather than ADA (Karras et al. 2020): ADA's benefit comes from its controller raising the
augmentation probability p as D overfits, measured over hundreds of thousands of images, with a long pipeline of
geometric and colour transforms whose non-leaking needs p < ~0.8 and whose speed relies on custom upfirdn2d/grid
kernels. Our runs are short (the demo presets see ~50k images on a CPU), where the controller has barely moved p
when training ends, while a fixed DiffAugment policy helps from the first step, costs almost nothing on a CPU and is
a few readable lines of PyTorch. For long GPU runs on a designer's collection ADA may do better; it would slot in here
behind the same ``augment`` option.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ValueError(f"config.toml [loss] augment has unknown transform '{unknown[0]}' "
                         f"(known: {', '.join(POLICIES)}; separate them with commas, or \"\" for none).")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    for name in policy:
        x = _OPS[name](x)
    return x


def _color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    yy = torch.clamp(gy[None] + dy + 1, 0, h + 1)
    xx = torch.clamp(gx[None] + dx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # the border of zeros is what shifted-in pixels read
    idx = (yy * (w + 2) + xx).reshape(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.reshape(n, x.shape[1], -1).gather(2, idx).reshape_as(x)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    top, left = cy - ch // 2, cx - cw // 2
    inside = (gy[None] >= top) & (gy[None] < top + ch) & (gx[None] >= left) & (gx[None] < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_OPS = {"color": _color, "translation": _translation, "cutout": _cutout}
