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
