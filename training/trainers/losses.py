"""Adversarial losses shared by the trainers. ``kind`` is the config's ``[loss] adversarial``.

- ``lsgan``: least squares (Mao et al.): D pushes real scores to 1 and fake to 0, G pushes fake to 1. The thesis's
  choice for PGPG, PixelDTGAN and CycleGAN; the D output is unbounded (no sigmoid).
- ``nonsaturating``: the logistic loss of Goodfellow et al. in its non-saturating form (softplus), StyleGAN2's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ADVERSARIAL = ("lsgan", "nonsaturating")


def check_kind(kind: str) -> str:
    if kind not in ADVERSARIAL:
        raise ValueError(f"config.toml [loss] adversarial must be one of {', '.join(ADVERSARIAL)}, not {kind!r}.")
    return kind


def d_real(score: torch.Tensor, kind: str) -> torch.Tensor:
    """D's loss on scores of real (or associated) inputs."""
    if kind == "lsgan":
        return (score.float() - 1).square().mean()
    return F.softplus(-score.float()).mean()


def d_fake(score: torch.Tensor, kind: str) -> torch.Tensor:
    """D's loss on scores of generated (or unassociated) inputs."""
    if kind == "lsgan":
        return score.float().square().mean()
    return F.softplus(score.float()).mean()


def g_adv(score: torch.Tensor, kind: str) -> torch.Tensor:
    """G's loss on D's scores of its outputs (it wants them judged real)."""
    return d_real(score, kind)


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PGPG's pose-masked L1: |x - y| weighted by (1 + M), so the body counts twice as much as the background."""
    return ((x.float() - y.float()).abs() * (1 + mask.float())).mean()


def item_colour(x: torch.Tensor, sharpness: float = 4.0) -> torch.Tensor:
    """The mean colour of the item in each image of ``x`` ([N,3,H,W] in [-1,1]) -> [N,3].

    Pixels are weighted by how far they are from a white studio background (1 - the smallest channel, sharpened
    and clipped), so a yellow shoe counts as yellow and the white around it counts for almost nothing. The weights
    are detached: the loss moves the item's colour, not the mask.
    """
    x = x.float()
    x01 = (x + 1) / 2
    w = ((1 - x01.amin(dim=1, keepdim=True)) * sharpness).clamp(0, 1).detach()
    return (x * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1e-3)


def colour_consistency(out: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """L1 between the item colours of a translation and its source: a matching bag keeps the shoe's colour."""
    return (item_colour(out) - item_colour(src)).abs().mean()
