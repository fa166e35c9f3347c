"""DiscoGAN / "CycleGAN GT": unpaired style matching between shoes (domain A) and handbags (domain B).

Spec: the thesis's style-matching model. Two ResNet generators and two PatchGAN discriminators:

- ``G_AB``: shoe -> handbag, ``G_BA``: handbag -> shoe. Both are
  ``UF 7x7 3->base (IN, ReLU) -> [conv3 s2 C->2C, IN, ReLU] x n_down -> ResidualBlock x n_res
  -> [TCONV3 s2 C->C/2, IN, ReLU] x n_down -> conv 7x7 base->3 -> tanh``. ``G(x: [N,3,R,R]) -> [N,3,R,R]``.
- ``D_A`` (real/fake shoes), ``D_B`` (real/fake handbags): unconditional PatchGAN, ``D(x) -> [N,1,R/16,R/16]``
  with 4 stride-2 convs, IN + ReLU, spectral norm only on the final 1x1 projection.

Choices where the spec is open or inconsistent (each marked [!] or unstated there):

- The thesis decoder line "TCONV3 Cin->2*Cin" must halve the channels (256->128->64), so it does.
- The UF kernel is not stated: 7x7 with reflect padding, as CycleGAN and the original code. The output layer is a
  7x7 reflect-padded conv too (the original code; a 1x1 "PJ" would change the count by only 9K).
- D: "PJ 1024->1" is a copy-paste error; base 64 with 4 stride-2 convs ends at 512, so the projection is 512->1.
- Thesis-preset counts: G 11,378,179 (stated 11.4M); D 1,551,489 (stated 1.6M: the stated figure is rounded to
  0.1M, the thesis's [D] arithmetic gives the same 1.55M).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fashionstudio.models.blocks import (
    ConvNormAct,
    PatchGAN,
    ResidualBlock,
    TConvNormAct,
    init_gan_weights,
    require_power_of_two_multiple,
    resolve_config,
    select_networks,
)

NETWORKS = ("G_AB", "G_BA", "D_A", "D_B")
INFERENCE_NETWORKS = ("G_AB", "G_BA")

# g_upsample: "transpose" (the thesis's TCONV3 stride 2) or "resize" (nearest-neighbour 2x then a 3x3 conv, Odena et
# al. 2016): a 3x3 kernel at stride 2 overlaps unevenly and prints a checkerboard, which the atelier classifier reads
# as a dotted or printed fabric on a plain item.
_COMMON = {"family": "cyclegan", "domain_a": "shoes", "domain_b": "handbags", "image_channels": 3,
           "g_upsample": "transpose"}
PRESETS: dict[str, dict] = {
    # The thesis's sizes (Table 12): 9 residual blocks at 256 channels on 16x16.
    "thesis": {**_COMMON, "preset": "thesis", "resolution": 64, "g_base": 64, "g_down": 2, "g_res_blocks": 9,
               "d_base": 64, "d_blocks": 4},
    # A desktop GPU trains it in hours; a laptop CPU translates an image in a few milliseconds.
    "studio": {**_COMMON, "preset": "studio", "resolution": 64, "g_base": 32, "g_down": 2, "g_res_blocks": 6,
               "d_base": 64, "d_blocks": 4},
    # CPU-trainable on the synthetic atelier (its wall time is in the Match card).
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "g_base": 16, "g_down": 2, "g_res_blocks": 4,
             "d_base": 32, "d_blocks": 4},
}


class ResnetGenerator(nn.Module):
    """Encoder - residual transformer - decoder generator (Johnson et al. / CycleGAN). ``G(x) -> y``, same size."""

    def __init__(self, channels: int = 3, base: int = 64, n_down: int = 2, n_res_blocks: int = 9,
                 upsample: str = "transpose") -> None:
        super().__init__()
        if upsample not in ("transpose", "resize"):
            raise ValueError(f"g_upsample must be 'transpose' or 'resize', not {upsample!r}")
        layers: list[nn.Module] = [
            ConvNormAct(channels, base, 7, norm="instance", act="relu", padding_mode="reflect")
        ]
        c = base
        for _ in range(n_down):
            layers.append(ConvNormAct(c, 2 * c, 3, stride=2, norm="instance", act="relu", padding_mode="reflect"))
            c *= 2
        layers += [ResidualBlock(c, norm="instance") for _ in range(n_res_blocks)]
        for _ in range(n_down):
            if upsample == "transpose":
                layers.append(TConvNormAct(c, c // 2, 3, stride=2, padding=1, output_padding=1, norm="instance"))
            else:
                layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                           ConvNormAct(c, c // 2, 3, norm="instance", act="relu", padding_mode="reflect")]
            c //= 2
        layers += [nn.Conv2d(c, channels, 7, padding=3, padding_mode="reflect"), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.downsampling = 2**n_down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.downsampling or x.shape[-2] % self.downsampling:
            raise ValueError(f"image sides must be multiples of {self.downsampling}, got {tuple(x.shape[-2:])}")
        return self.net(x)


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "studio", config)
    names = select_networks(NETWORKS, which)
    require_power_of_two_multiple(cfg["resolution"], 2 ** cfg["d_blocks"], "CycleGAN discriminator")
    require_power_of_two_multiple(cfg["resolution"], 2 ** cfg["g_down"], "CycleGAN generator")
    ch = cfg["image_channels"]
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name.startswith("G"):
            net = ResnetGenerator(ch, cfg["g_base"], cfg["g_down"], cfg["g_res_blocks"], cfg["g_upsample"])
        else:
            net = PatchGAN(ch, cfg["d_base"], cfg["d_blocks"], upfeature=False, conditional=False)
        nets[name] = init_gan_weights(net)
    return nets
