"""PixelDTGAN: garment extraction, a dressed person -> the garment alone as a flat catalogue image.

Spec: Yoo et al. 2016 with the thesis's changes. Networks:

- ``G(person: [N,3,R,R]) -> garment [N,3,R,R]`` in [-1, 1]: an encoder-decoder **without skips**.
  Encoder ``conv5 s2 3->base, LReLU -> [conv5 s2 C->2C, BN, LReLU] x (n_down-1) -> conv (R/2**n_down) valid
  C->z_dim -> PixelNorm``; decoder ``TCONV (R/2**n_down) z_dim->C, PixelNorm, ReLU -> [TCONV5 s2 C->C/2, BN, ReLU]
  x (n_down-1) -> TCONV5 s2 base->3 -> tanh``. ``G.encode(person) -> code [N,z_dim,1,1]`` and
  ``G.decode(code) -> garment`` are exposed for inspection.
- ``D_R(garment) -> [N,1,R/16,R/16]``: real/fake on the garment alone (unconditional PatchGAN).
- ``D_A(person, garment) -> [N,1,R/16,R/16]``: association, scores ``cat(person, garment)``; the trainer also
  feeds it real-but-unassociated garments as negatives.

Both discriminators: 4 stride-2 3x3 convs ``c_in->base->2base->4base->8base`` (first without norm, then IN,
ReLU), spectral norm only on the final 1x1 projection.

Choices where the spec is inconsistent ([!] there):

- Encoder kernel 5x5, not the listing's 3x3: 5x5 reproduces the stated 37.7M and matches the paper.
- All encoder/decoder spatial layers have stride 2 (64 -> 32 -> 16 -> 8 -> 4 -> 1x1x100 and back).
- D: "128*2^4 = 2048 != 1024": the initial conv counts as the first of 4 stride-2 convs (128->256->512->1024).
- The thesis's trainable lambda_recon is not part of the network: the loss weight is a fixed trainer setting.
- Thesis-preset counts: G 37,711,719; D_R 6,199,553; D_A 6,203,009 (stated 37.7M / 6.2M / 6.2M).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fashionstudio.models.blocks import (
    ConvNormAct,
    PatchGAN,
    PixelNorm,
    TConvNormAct,
    init_gan_weights,
    require_power_of_two_multiple,
    resolve_config,
    select_networks,
)

NETWORKS = ("G", "D_R", "D_A")
INFERENCE_NETWORKS = ("G",)

_COMMON = {"family": "pixeldtgan", "image_channels": 3}
PRESETS: dict[str, dict] = {
    # Table 9: G 37.7M, D_R 6.2M, D_A 6.2M at 64 px with a 100-d bottleneck.
    "thesis": {**_COMMON, "preset": "thesis", "resolution": 64, "g_base": 128, "g_down": 4, "z_dim": 100,
               "d_base": 128, "d_blocks": 4},
    "studio": {**_COMMON, "preset": "studio", "resolution": 64, "g_base": 64, "g_down": 4, "z_dim": 100,
               "d_base": 64, "d_blocks": 4},
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "g_base": 32, "g_down": 4, "z_dim": 100,
             "d_base": 32, "d_blocks": 4},
}


class PixelDTGenerator(nn.Module):
    """Encoder-decoder generator without skip connections and a PixelNorm'd ``z_dim`` bottleneck."""

    def __init__(self, resolution: int = 64, channels: int = 3, base: int = 128, n_down: int = 4,
                 z_dim: int = 100) -> None:
        super().__init__()
        require_power_of_two_multiple(resolution, 2**n_down, "PixelDTGAN generator")
        k = resolution // 2**n_down  # the bottleneck conv sees the whole remaining map
        enc: list[nn.Module] = [ConvNormAct(channels, base, 5, stride=2, norm=None, act="lrelu",
                                            padding_mode="reflect")]
        c = base
        for _ in range(n_down - 1):
            enc.append(ConvNormAct(c, 2 * c, 5, stride=2, norm="batch", act="lrelu", padding_mode="reflect"))
            c *= 2
        enc += [nn.Conv2d(c, z_dim, k), PixelNorm()]
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = [nn.ConvTranspose2d(z_dim, c, k), PixelNorm(), nn.ReLU(inplace=True)]
        for _ in range(n_down - 1):
            dec.append(TConvNormAct(c, c // 2, 5, stride=2, padding=2, output_padding=1, norm="batch", act="relu"))
            c //= 2
        dec += [nn.ConvTranspose2d(c, channels, 5, stride=2, padding=2, output_padding=1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)
        self.resolution = resolution

    def encode(self, person: torch.Tensor) -> torch.Tensor:
        """Person image [N,3,R,R] -> unit-RMS code [N,z_dim,1,1]."""
        if tuple(person.shape[-2:]) != (self.resolution, self.resolution):
            raise ValueError(
                f"this garment extractor works on {self.resolution}x{self.resolution} images, "
                f"got {tuple(person.shape[-2:])}"
            )
        return self.encoder(person)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Code [N,z_dim,1,1] -> garment image [N,3,R,R] in [-1, 1]."""
        return self.decoder(code)

    def forward(self, person: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(person))


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "studio", config)
    names = select_networks(NETWORKS, which)
    require_power_of_two_multiple(cfg["resolution"], 2 ** cfg["d_blocks"], "PixelDTGAN discriminator")
    ch = cfg["image_channels"]
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name == "G":
            net = PixelDTGenerator(cfg["resolution"], ch, cfg["g_base"], cfg["g_down"], cfg["z_dim"])
        elif name == "D_R":
            net = PatchGAN(ch, cfg["d_base"], cfg["d_blocks"], conditional=False)
        else:
            net = PatchGAN(2 * ch, cfg["d_base"], cfg["d_blocks"], conditional=True)
        nets[name] = init_gan_weights(net)
    return nets
