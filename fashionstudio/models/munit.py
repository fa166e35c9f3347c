"""Content/style matching between shoes (domain A) and handbags (domain B), in the MUNIT / DRIT++ line.

CycleGAN's generators map a shoe's pixels to a bag's pixels, so the bag inherits the shoe's outline. Here each
picture is split into two codes (Huang et al. 2018, MUNIT; Lee et al. 2020, DRIT++):

- a **content code** ``c`` (the item's shape: its kind, silhouette, handles or heel), one per domain: a shoe's
  content code only means something to the shoe decoder;
- a **style code** ``s`` (colour and fabric), in one space **shared** by both domains: the bag decoder draws a
  bag in a shoe's style code.

How the style code is made is the ``style`` setting. ``"learned"`` is MUNIT's: a style encoder per domain, whose
codes are tied across domains only through the losses. ``"measured"`` (the presets) reads it from the pixels with
:mod:`fashionstudio.models.fabric`: the fabric's colour and its texture statistics, the same function for a shoe
and a bag, so a code means the same colour and pattern in both decoders by construction. With learned codes the
bag decoder read a shoe's code as another colour (colour family kept in under a third of translations, see the
Match card).

So shoe -> bag is ``G_B.decode(c, G_A.style(shoe))`` with ``c`` any bag content code: sampled from the content
prior N(0, I) (the content encoders are trained as VAEs towards it, DRIT++'s choice), or encoded from a real bag.
Different content codes give different bags in the same style; nearby codes give similar bags ("more like this").

Content codes are vectors (``content_dim``), not MUNIT's spatial maps: a vector has a prior to sample from, and the
atelier's items vary in a few shape parameters. The decoder starts from the content vector at 4x4, upsamples to the
full size and takes the style through AdaIN at every scale. Convolutions are translation-equivariant and a
smooth upsampled layout gives them no phase to draw stripes or dots from, so the last two scales also see fixed
sine/cosine coordinate maps (periods 2 to 8 px): the style then selects and colours a periodic fabric.

Inference API (per domain network ``G_A`` shoes, ``G_B`` bags, a :class:`DomainCoder`):

- ``G.content(x: [N,3,R,R]) -> (mu, logvar)`` each ``[N, content_dim]``;
- ``G.style(x) -> [N, style_dim]`` (``style_dim`` is the preset's for learned codes, :data:`MEASURED_STYLE_DIM`
  for measured ones);
- ``G.decode(c: [N, content_dim], s: [N, style_dim]) -> [N,3,R,R]`` in [-1, 1];
- ``G(x)`` reconstructs ``x`` from its own codes (content mean), so generic callers can run it.

Discriminators ``D_A``/``D_B``: unconditional PatchGANs, as CycleGAN's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import nn

from fashionstudio.models.blocks import (
    PatchGAN,
    init_gan_weights,
    require_power_of_two_multiple,
    resolve_config,
    select_networks,
)
from fashionstudio.models.fabric import COLOUR_DIM, TEXTURE_DIM, fabric_colour, fabric_texture

NETWORKS = ("G_A", "G_B", "D_A", "D_B")
INFERENCE_NETWORKS = ("G_A", "G_B")

_COMMON = {"family": "munit", "domain_a": "shoes", "domain_b": "handbags", "image_channels": 3, "style": "measured"}
PRESETS: dict[str, dict] = {
    "studio": {**_COMMON, "preset": "studio", "resolution": 64, "enc_base": 32, "dec_base": 128,
               "content_dim": 16, "style_dim": 16, "d_base": 64, "d_blocks": 4},
    # CPU-trainable on the synthetic atelier (its wall time is in the Match card).
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "enc_base": 16, "dec_base": 64,
             "content_dim": 16, "style_dim": 16, "d_base": 32, "d_blocks": 4},
}
FOURIER_PERIODS = (2.0, 3.0, 4.0, 6.0, 8.0)  # px: the fabric motifs of a 64 px item
FOURIER_FROM = 32  # px: scales at or above this get the coordinate maps
STYLES = ("learned", "measured")
TEXTURE_GAIN = 3.0  # puts the texture statistics on about the colour's spread, so AdaIN sees both from the start
MEASURED_STYLE_DIM = COLOUR_DIM + TEXTURE_DIM


def measured_style(x: torch.Tensor) -> torch.Tensor:
    """The fabric's colour and (scaled) texture statistics, ``[N, MEASURED_STYLE_DIM]``: a shared style code."""
    return torch.cat([fabric_colour(x), TEXTURE_GAIN * fabric_texture(x)], dim=1)


def fourier_maps(size: int, device: torch.device | None = None) -> torch.Tensor:
    """``[1, 4*len(FOURIER_PERIODS), size, size]`` sines and cosines along x and along y."""
    r = torch.arange(size, dtype=torch.float32, device=device)
    maps = []
    for p in FOURIER_PERIODS:
        w = 2 * math.pi / p
        for coord in (r[None, :].expand(size, size), r[:, None].expand(size, size)):
            maps += [torch.sin(w * coord), torch.cos(w * coord)]
    return torch.stack(maps)[None]


class AdaIN(nn.Module):
    """Instance norm whose per-channel scale and shift come from the style code."""

    def __init__(self, channels: int, style_dim: int) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.affine = nn.Linear(style_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)  # start as plain IN (scale 1, shift 0)
        with torch.no_grad():
            self.affine.bias.copy_(torch.cat([torch.ones(channels), torch.zeros(channels)]))

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.affine(s).chunk(2, dim=1)
        return self.norm(x) * gamma[:, :, None, None] + beta[:, :, None, None]


class StyledUp(nn.Module):
    """2x nearest upsampling, then ``n_convs`` 3x3 convs each followed by AdaIN and ReLU; ``extra`` > 0 feeds the
    coordinate maps into each conv."""

    def __init__(self, c_in: int, c_out: int, style_dim: int, extra: int = 0, n_convs: int = 2) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d((c_in if i == 0 else c_out) + extra, c_out, 3, padding=1)
                                   for i in range(n_convs))
        self.adas = nn.ModuleList(AdaIN(c_out, style_dim) for _ in range(n_convs))
        self.extra = extra

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        grid = fourier_maps(x.shape[-1], x.device).expand(x.shape[0], -1, -1, -1) if self.extra else None
        for conv, ada in zip(self.convs, self.adas):
            x = F.relu(ada(conv(x if grid is None else torch.cat([x, grid], 1)), s))
        return x


class DomainCoder(nn.Module):
    """One domain's encoder (content: a VAE towards N(0, I); style) and AdaIN decoder.

    Content and style share one convolutional trunk (half the encoding cost, which matters on a CPU): the style
    head averages the trunk's last map over space (what is everywhere: colour, fabric); the content head instance-
    normalises the 4x4 map first (removing per-channel level and contrast, MUNIT's way of stripping style) and reads
    it flattened, so the code knows where things are. A ``"measured"`` style has no head: :func:`measured_style`
    reads it from the pixels."""

    def __init__(self, resolution: int, channels: int, enc_base: int, dec_base: int, content_dim: int,
                 style_dim: int, style: str = "learned") -> None:
        super().__init__()
        if style not in STYLES:
            raise ValueError(f"content/style model: style must be one of {', '.join(STYLES)}, not {style!r}")
        n_down = int(math.log2(resolution // 4))
        self.measured = style == "measured"
        if self.measured:
            style_dim = MEASURED_STYLE_DIM
        self.resolution, self.content_dim, self.style_dim = resolution, content_dim, style_dim
        layers: list[nn.Module] = []
        c = channels
        for i in range(n_down):
            w = min(enc_base * 2**i, 8 * enc_base)
            layers += [nn.Conv2d(c, w, 4, stride=2, padding=1, padding_mode="reflect"), nn.LeakyReLU(0.2)]
            c = w
        self.trunk = nn.Sequential(*layers)
        self.content_norm = nn.InstanceNorm2d(c, affine=False)
        self.content_head = nn.Linear(c * 16, 2 * content_dim)
        self.style_head = None if self.measured else nn.Sequential(nn.Linear(c, c), nn.LeakyReLU(0.2),
                                                                   nn.Linear(c, style_dim))

        self.dec_in = nn.Linear(content_dim, dec_base * 16)
        self.dec_ada = AdaIN(dec_base, style_dim)
        ups = []
        c, size = dec_base, 4
        for _ in range(n_down):
            size *= 2
            w = max(dec_base >> len(ups), 16)  # halve the width per scale after 8 px, 16 at least
            extra = 4 * len(FOURIER_PERIODS) if size >= FOURIER_FROM else 0
            ups.append(StyledUp(c, w, style_dim, extra, n_convs=1 if size == resolution else 2))
            c = w
        self.ups = nn.ModuleList(ups)
        self.to_rgb = nn.Conv2d(c, channels, 3, padding=1, padding_mode="reflect")

    def _check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[-2:]) != (self.resolution, self.resolution):
            raise ValueError(f"this model reads {self.resolution}x{self.resolution} images, got {tuple(x.shape[-2:])}")

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(content mean, content log-variance, style code) of ``x`` from one pass of the trunk."""
        self._check(x)
        h = self.trunk(x)
        mu, logvar = self.content_head(self.content_norm(h).flatten(1)).chunk(2, dim=1)
        s = measured_style(x) if self.measured else self.style_head(h.mean(dim=(2, 3)))
        return mu, logvar.clamp(-8.0, 4.0), s.to(mu.dtype)

    def content(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The content code's mean and log-variance."""
        mu, logvar, _ = self.encode(x)
        return mu, logvar

    def style(self, x: torch.Tensor) -> torch.Tensor:
        if self.measured:
            self._check(x)
            return measured_style(x)
        return self.encode(x)[2]

    def decode(self, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        x = self.dec_in(c).view(c.shape[0], -1, 4, 4)
        x = F.relu(self.dec_ada(x, s))
        for up in self.ups:
            x = up(x, s)
        return torch.tanh(self.to_rgb(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, _, s = self.encode(x)
        return self.decode(mu, s)


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "demo", config)
    names = select_networks(NETWORKS, which)
    res = cfg["resolution"]
    require_power_of_two_multiple(res, 2 ** cfg["d_blocks"], "content/style discriminator")
    if res < 8 or res & (res - 1):
        raise ValueError(f"content/style model: resolution must be a power of two of at least 8, not {res}")
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name.startswith("G"):
            nets[name] = DomainCoder(res, cfg["image_channels"], cfg["enc_base"], cfg["dec_base"],
                                     cfg["content_dim"], cfg["style_dim"], cfg["style"])
        else:
            nets[name] = init_gan_weights(PatchGAN(cfg["image_channels"], cfg["d_base"], cfg["d_blocks"]))
    return nets
