"""DiscoGAN / "CycleGAN GT": unpaired style matching between shoes (domain A) and handbags (domain B).

Spec: thesis-system-spec.md §2.3. Two ResNet generators and two PatchGAN discriminators:

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

FashionStudio addition (``g_style_dim > 0``, off in every preset): a global style code, as MUNIT's (Huang et al.
2018) style encoder and AdaIN. A shoe and its matching bag share nothing spatially, only their colour and fabric;
the thesis generator has to carry a print from the shoe's upper to the bag's body through local convolutions
whose instance norms also remove how strong that print is. A small normalisation-free encoder pools the input
into a vector, and every residual block and upsampling layer scales and shifts its instance-normalised features
by it (FiLM, zero-initialised, so training starts from the thesis generator). Measured on the atelier demo it does
not help: one run with ``g_style_dim = 64`` (texture weight 5) had 96.2% / 87.0% colour and 32.8% / 60.0% pattern
agreement on the validation set after 3500 steps, and kept only 29% of plain shoes plain; runs without it had
55.5% / 68.3% pattern at 3750 steps (texture weight 10). Its bags still carry the shoe's outline, which is what
the classifier reads as a print, so the missing global view was not the bottleneck there.
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
           "g_upsample": "transpose", "g_style_dim": 0}
PRESETS: dict[str, dict] = {
    # The thesis's sizes (Table 12): 9 residual blocks at 256 channels on 16x16.
    "thesis": {**_COMMON, "preset": "thesis", "resolution": 64, "g_base": 64, "g_down": 2, "g_res_blocks": 9,
               "d_base": 64, "d_blocks": 4},
    # A desktop GPU trains it in hours; a laptop CPU translates an image in a few milliseconds.
    "studio": {**_COMMON, "preset": "studio", "resolution": 64, "g_base": 32, "g_down": 2, "g_res_blocks": 6,
               "d_base": 64, "d_blocks": 4},
    # Trainable on a 2-core CPU in minutes on the synthetic atelier.
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "g_base": 16, "g_down": 2, "g_res_blocks": 4,
             "d_base": 32, "d_blocks": 4},
}


def _check_upsample(upsample: str) -> None:
    if upsample not in ("transpose", "resize"):
        raise ValueError(f"g_upsample must be 'transpose' or 'resize', not {upsample!r}")


def _encoder(channels: int, base: int, n_down: int) -> list[nn.Module]:
    """The generators' 7x7 stem and ``n_down`` stride-2 convolutions (base -> base * 2**n_down channels)."""
    layers: list[nn.Module] = [
        ConvNormAct(channels, base, 7, norm="instance", act="relu", padding_mode="reflect")
    ]
    c = base
    for _ in range(n_down):
        layers.append(ConvNormAct(c, 2 * c, 3, stride=2, norm="instance", act="relu", padding_mode="reflect"))
        c *= 2
    return layers


def _upsampling_conv(c_in: int, c_out: int, upsample: str) -> list[nn.Module]:
    """2x upsampling to ``c_out`` channels, before any norm: a stride-2 TCONV3 or nearest 2x + conv3."""
    if upsample == "transpose":
        return [nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)]
    return [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect")]


def _check_size(x: torch.Tensor, factor: int) -> None:
    if x.shape[-1] % factor or x.shape[-2] % factor:
        raise ValueError(f"image sides must be multiples of {factor}, got {tuple(x.shape[-2:])}")


class ResnetGenerator(nn.Module):
    """Encoder - residual transformer - decoder generator (Johnson et al. / CycleGAN). ``G(x) -> y``, same size."""

    def __init__(self, channels: int = 3, base: int = 64, n_down: int = 2, n_res_blocks: int = 9,
                 upsample: str = "transpose") -> None:
        super().__init__()
        _check_upsample(upsample)
        layers = _encoder(channels, base, n_down)
        c = base * 2**n_down
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
        _check_size(x, self.downsampling)
        return self.net(x)


class StyleEncoder(nn.Module):
    """Image -> global style vector: four convolutions without normalisation (which would erase how strong a print
    is), then each channel's spatial mean and standard deviation (a print is variance, a colour is a mean), then
    a two-layer MLP. ``S(x: [N,C,H,W]) -> [N,dim]``."""

    def __init__(self, channels: int, base: int, dim: int) -> None:
        super().__init__()
        widths = [channels, base, 2 * base, 4 * base, 4 * base]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            stride = 2 if i < 3 else 1
            layers += [nn.Conv2d(a, b, 4 if stride == 2 else 3, stride=stride, padding=1), nn.LeakyReLU(0.2)]
        self.convs = nn.Sequential(*layers)
        self.mlp = nn.Sequential(nn.Linear(2 * widths[-1], dim), nn.LeakyReLU(0.2), nn.Linear(dim, dim))

    def reset_parameters(self) -> None:
        """Kaiming initialisation: the DCGAN N(0, 0.02) of :func:`init_gan_weights` would shrink each
        unnormalised layer's output about tenfold and leave the style code near zero."""
        for m in self.convs:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x).flatten(2)
        return self.mlp(torch.cat([h.mean(dim=2), h.std(dim=2)], dim=1))


class FiLM(nn.Module):
    """``h * (1 + gamma(s)) + beta(s)`` per channel; zero-initialised, so it starts as the identity."""

    def __init__(self, style_dim: int, channels: int) -> None:
        super().__init__()
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(s)[:, :, None, None].chunk(2, dim=1)
        return h * (1 + gamma) + beta


class StyledResidualBlock(nn.Module):
    """The CycleGAN residual block with each instance norm followed by a :class:`FiLM` of the style code."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, padding_mode="reflect")
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.film1, self.film2 = FiLM(style_dim, channels), FiLM(style_dim, channels)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.film1(self.norm(self.conv1(x)), s))
        return x + self.film2(self.norm(self.conv2(h)), s)


class StyledUp(nn.Module):
    """2x upsampling -> IN -> :class:`FiLM` -> ReLU."""

    def __init__(self, c_in: int, c_out: int, style_dim: int, upsample: str) -> None:
        super().__init__()
        self.up = nn.Sequential(*_upsampling_conv(c_in, c_out, upsample))
        self.norm = nn.InstanceNorm2d(c_out, affine=False)
        self.film = FiLM(style_dim, c_out)

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.film(self.norm(self.up(x)), s))


class StyledResnetGenerator(nn.Module):
    """:class:`ResnetGenerator` whose residual blocks and upsampling layers are modulated by a global style code
    of the input (:class:`StyleEncoder`). Same interface: ``G(x) -> y``, same size."""

    def __init__(self, channels: int, base: int, n_down: int, n_res_blocks: int, upsample: str,
                 style_dim: int) -> None:
        super().__init__()
        _check_upsample(upsample)
        self.encoder = nn.Sequential(*_encoder(channels, base, n_down))
        self.style = StyleEncoder(channels, base, style_dim)
        c = base * 2**n_down
        self.blocks = nn.ModuleList(StyledResidualBlock(c, style_dim) for _ in range(n_res_blocks))
        self.ups = nn.ModuleList(StyledUp(c // 2**i, c // 2 ** (i + 1), style_dim, upsample) for i in range(n_down))
        self.head = nn.Sequential(nn.Conv2d(base, channels, 7, padding=3, padding_mode="reflect"), nn.Tanh())
        self.downsampling = 2**n_down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_size(x, self.downsampling)
        s = self.style(x)
        h = self.encoder(x)
        for block in self.blocks:
            h = block(h, s)
        for up in self.ups:
            h = up(h, s)
        return self.head(h)


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "studio", config)
    names = select_networks(NETWORKS, which)
    require_power_of_two_multiple(cfg["resolution"], 2 ** cfg["d_blocks"], "CycleGAN discriminator")
    require_power_of_two_multiple(cfg["resolution"], 2 ** cfg["g_down"], "CycleGAN generator")
    style = cfg["g_style_dim"]
    if isinstance(style, bool) or not isinstance(style, int) or style < 0:
        raise ValueError(f"g_style_dim must be a whole number >= 0 (0: no style code), not {style!r}")
    ch = cfg["image_channels"]
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name.startswith("G") and cfg["g_style_dim"] > 0:
            net = init_gan_weights(StyledResnetGenerator(ch, cfg["g_base"], cfg["g_down"], cfg["g_res_blocks"],
                                                         cfg["g_upsample"], cfg["g_style_dim"]))
            net.style.reset_parameters()
        elif name.startswith("G"):
            net = init_gan_weights(ResnetGenerator(ch, cfg["g_base"], cfg["g_down"], cfg["g_res_blocks"],
                                                   cfg["g_upsample"]))
        else:
            net = init_gan_weights(PatchGAN(ch, cfg["d_base"], cfg["d_blocks"], upfeature=False, conditional=False))
        nets[name] = net
    return nets
