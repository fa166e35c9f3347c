"""Adversarial losses shared by the trainers. ``kind`` is the config's ``[loss] adversarial``.

- ``lsgan``: least squares (Mao et al.): D pushes real scores to 1 and fake to 0, G pushes fake to 1. The thesis's
  choice for PGPG, PixelDTGAN and CycleGAN; the D output is unbounded (no sigmoid).
- ``nonsaturating``: the logistic loss of Goodfellow et al. in its non-saturating form (softplus), StyleGAN2's.

Besides them: the colour/texture consistency terms and :class:`AtelierFeatureLoss`, the perceptual loss on the
offline atelier network that the warping and upscaling trainers use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fashionstudio.models.fabric import fabric_colour, fabric_texture, item_colour

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


def domain_transfer_d_losses(D_R, D_A, person: torch.Tensor, flat: torch.Tensor, fake: torch.Tensor,
                             other: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """PixelDTGAN's two discriminator losses: D_R tells real flats from generated ones; D_A tells the person's own
    flat from a generated one and from another person's flat (half weight each). ``fake`` is detached here."""
    fake = fake.detach()
    l_dr = d_real(D_R(flat), kind) + d_fake(D_R(fake), kind)
    l_da = d_real(D_A(person, flat), kind) + 0.5 * (d_fake(D_A(person, fake), kind) + d_fake(D_A(person, other), kind))
    return l_dr, l_da


def domain_transfer_g_adv(D_R, D_A, person: torch.Tensor, fake: torch.Tensor,
                          kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The generator's side of :func:`domain_transfer_d_losses`: fool D_R (real-looking) and D_A (associated)."""
    return g_adv(D_R(fake), kind), g_adv(D_A(person, fake), kind)


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """PGPG's pose-masked L1: |x - y| weighted by (1 + M), so the body counts twice as much as the background."""
    return ((x.float() - y.float()).abs() * (1 + mask.float())).mean()


COLOUR_REGIONS = ("item", "fabric")


def check_colour_region(region: str) -> str:
    if region not in COLOUR_REGIONS:
        raise ValueError(f"config.toml [loss] colour_region must be one of {', '.join(COLOUR_REGIONS)}, "
                         f"not {region!r}.")
    return region


def colour_consistency(out: torch.Tensor, src: torch.Tensor, region: str = "item") -> torch.Tensor:
    """L1 between the colours of a translation and its source: a matching bag keeps the shoe's colour.

    ``region`` "item" compares :func:`item_colour` (everything that is not background), "fabric" compares
    :func:`fabric_colour` (the main material only)."""
    measure = item_colour if check_colour_region(region) == "item" else fabric_colour
    return (measure(out) - measure(src)).abs().mean()


def texture_consistency(out: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """L1 between the fabric textures of a translation and its source: a matching bag keeps the shoe's pattern
    (stripes stay stripes, a solid shoe gives a solid bag)."""
    return (fabric_texture(out) - fabric_texture(src)).abs().mean()


FEATURE_LAYERS = (0, 1, 3, 5)  # trunk outputs at 64, 32, 16 and 8 px: texture to parts, not class decisions


class AtelierFeatureLoss(nn.Module):
    """Mean L1 between the frozen atelier trunk's activations of two image batches (a perceptual loss)."""

    def __init__(self, device: torch.device, layers: tuple[int, ...] = FEATURE_LAYERS) -> None:
        super().__init__()
        from training.metrics.atelier_features import load_atelier

        net, _ = load_atelier()
        self.trunk = net.trunk[: max(layers) + 1].to(device).eval().requires_grad_(False)
        self.layers = set(layers)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(self.trunk):
            x = layer(x)
            if i in self.layers:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self._features(y.float())
        return sum((a - b).abs().mean() for a, b in zip(self._features(x.float()), target)) / len(target)
