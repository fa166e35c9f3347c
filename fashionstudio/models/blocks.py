"""Building blocks shared by the four GAN families.

The pix2pix/CycleGAN-style families (PGPG, PixelDTGAN, CycleGAN) use :class:`ConvNormAct`,
:class:`ResidualBlock` and :class:`PatchGAN`; PixelDTGAN and StyleGAN2 use :class:`PixelNorm`; StyleGAN2 adds
its equalised-learning-rate layers and FIR blur in its own module because nothing else uses them.

Conventions: NCHW float tensors; images in [-1, 1]; "norm" is one of ``"batch"``, ``"instance"``, ``"pixel"``
or ``None``; "act" is one of ``"relu"``, ``"lrelu"`` (slope 0.2), ``"tanh"`` or ``None``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

_NORMS = ("batch", "instance", "pixel", None)
_ACTS = ("relu", "lrelu", "tanh", None)


class PixelNorm(nn.Module):
    """Normalise each pixel's feature vector to unit RMS over channels (Karras et al., PGGAN)."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


def make_norm(kind: str | None, channels: int) -> nn.Module:
    """The normalisation layer named ``kind`` for ``channels`` channels (identity for None)."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        # affine=False like pix2pix/CycleGAN: IN adds no parameters, which the thesis parameter counts assume.
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "pixel":
        return PixelNorm()
    if kind is None:
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}; expected one of {_NORMS}")


def make_act(kind: str | None) -> nn.Module:
    """The activation named ``kind`` (identity for None)."""
    if kind == "relu":
        return nn.ReLU(inplace=True)
    if kind == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if kind == "tanh":
        return nn.Tanh()
    if kind is None:
        return nn.Identity()
    raise ValueError(f"unknown activation {kind!r}; expected one of {_ACTS}")


class ConvNormAct(nn.Sequential):
    """Conv2d -> norm -> [Dropout2d] -> activation, the unit every pix2pix-style network is made of.

    ``padding=None`` means "same" padding for odd kernels (k // 2).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int = 3,
        stride: int = 1,
        padding: int | None = None,
        norm: str | None = "batch",
        act: str | None = "lrelu",
        padding_mode: str = "zeros",
        dropout: float = 0.0,
    ) -> None:
        padding = kernel // 2 if padding is None else padding
        layers: list[nn.Module] = [
            # A following BatchNorm makes the conv bias redundant, but the thesis parameter counts include it.
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, padding_mode=padding_mode),
            make_norm(norm, c_out),
        ]
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
        layers.append(make_act(act))
        super().__init__(*[m for m in layers if not isinstance(m, nn.Identity)])


class TConvNormAct(nn.Sequential):
    """ConvTranspose2d -> norm -> activation; with stride 2 and ``output_padding=1`` it doubles H and W."""

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel: int,
        stride: int = 2,
        padding: int | None = None,
        output_padding: int = 1,
        norm: str | None = "batch",
        act: str | None = "relu",
    ) -> None:
        padding = kernel // 2 if padding is None else padding
        layers = [
            nn.ConvTranspose2d(c_in, c_out, kernel, stride=stride, padding=padding, output_padding=output_padding),
            make_norm(norm, c_out),
            make_act(act),
        ]
        super().__init__(*[m for m in layers if not isinstance(m, nn.Identity)])


class ResidualBlock(nn.Module):
    """CycleGAN residual block: conv3-IN-ReLU-conv3-IN, added to the input (no activation after the sum)."""

    def __init__(self, channels: int, norm: str | None = "instance", padding_mode: str = "reflect") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(channels, channels, 3, norm=norm, act="relu", padding_mode=padding_mode),
            ConvNormAct(channels, channels, 3, norm=norm, act=None, padding_mode=padding_mode),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpConv(nn.Module):
    """Bilinear 2x upsampling followed by a conv (used instead of a transposed conv: no checkerboard artefacts).

    For an even kernel (the thesis's CONV2) the "same" padding is one pixel on the right/bottom, or on the
    left/top when ``shift="before"``, so that two consecutive 2x2 convs with opposite shifts stay centred.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int = 3, shift: str = "after") -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.conv = SameConv(c_in, c_out, kernel, shift=shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.up(x))


class SameConv(nn.Module):
    """Stride-1 conv whose output has the input's size for any kernel size (asymmetric pad for even kernels)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, shift: str = "after", padding_mode: str = "zeros") -> None:
        super().__init__()
        total = kernel - 1
        lo = total // 2 if shift == "after" else total - total // 2
        hi = total - lo
        self.pad = (lo, hi, lo, hi)  # F.pad order: left, right, top, bottom
        self.padding_mode = "constant" if padding_mode == "zeros" else padding_mode
        self.conv = nn.Conv2d(c_in, c_out, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = nn.functional.pad(x, self.pad, mode=self.padding_mode)
        return self.conv(x)


class PatchGAN(nn.Module):
    """PatchGAN discriminator as the thesis uses it everywhere but StyleGAN.

    ``[UF 1x1 c_in->base] -> conv3 s2 (no norm) -> [conv3 s2 C->2C -> IN -> ReLU] x (n_blocks-1) -> SN 1x1 -> 1``.

    Spectral norm sits only on the final 1x1 projection. The output is an unbounded (LSGAN) score map of
    ``resolution / 2**n_blocks`` cells. With ``conditional=True`` the network takes ``(condition, image)`` and
    scores ``cat(condition, image)``; otherwise it takes one image.
    """

    def __init__(
        self,
        c_in: int,
        base: int,
        n_blocks: int,
        *,
        upfeature: bool = False,
        conditional: bool = False,
        spectral_norm_last: bool = True,
        act: str = "relu",
        padding_mode: str = "reflect",
    ) -> None:
        super().__init__()
        self.conditional = conditional
        layers: list[nn.Module] = []
        c = c_in
        if upfeature:
            layers.append(nn.Conv2d(c_in, base, 1))
            c = base
        widths = [base * 2 ** (i + (1 if upfeature else 0)) for i in range(n_blocks)]
        for i, w in enumerate(widths):
            layers.append(
                ConvNormAct(c, w, 3, stride=2, padding=1, norm=None if i == 0 else "instance", act=act,
                            padding_mode=padding_mode)
            )
            c = w
        self.features = nn.Sequential(*layers)
        head = nn.Conv2d(c, 1, 1)
        self.head = spectral_norm(head) if spectral_norm_last else head
        self.n_blocks = n_blocks

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.conditional:
            if len(inputs) != 2:
                raise TypeError("a conditional PatchGAN takes (condition, image)")
            x = torch.cat(inputs, dim=1)
        else:
            if len(inputs) != 1:
                raise TypeError("an unconditional PatchGAN takes one image")
            x = inputs[0]
        return self.head(self.features(x))


def init_gan_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """pix2pix/DCGAN initialisation: conv weights ~ N(0, std), biases 0, norm scales ~ N(1, std).

    Linear layers keep PyTorch's fan-in-scaled default: N(0, 0.02) on PGPG's 16384-wide FC would amplify its
    input 2.5x. Spectral-normalised layers are left alone (their parametrisation normalises the weight anyway).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if hasattr(m, "parametrizations"):
                continue
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (buffers such as spectral-norm vectors and BN statistics excluded)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def select_networks(all_names: tuple[str, ...], which) -> tuple[str, ...]:
    """Validate a ``which`` argument of a family ``build``: None means all; unknown names get a clear error."""
    if which is None:
        return all_names
    if isinstance(which, str):
        which = (which,)
    names = tuple(which)
    unknown = [n for n in names if n not in all_names]
    if unknown:
        raise KeyError(f"unknown network {unknown[0]!r}; this family has {', '.join(all_names)}")
    return names


def resolve_config(presets: dict, defaults_preset: str, config: dict) -> dict:
    """Fill a config from its named preset: ``{"preset": "demo", "resolution": 128}`` overrides the demo preset.

    A config without ``"preset"`` must be complete except for keys the ``defaults_preset`` supplies.
    """
    if not isinstance(config, dict):
        raise TypeError(f"a model config must be a dict, not {type(config).__name__}")
    name = config.get("preset", defaults_preset)
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; expected one of {', '.join(presets)}")
    unknown = sorted(set(config) - set(presets[name]) - {"preset"})
    if unknown:
        raise ValueError(f"unknown architecture setting {unknown[0]!r}; known: {', '.join(sorted(presets[name]))}")
    merged = dict(presets[name])
    merged.update(config)
    merged["preset"] = name
    return merged


def require_power_of_two_multiple(resolution: int, factor: int, what: str) -> None:
    """Raise a readable error unless ``resolution`` is divisible by ``factor`` (``2**n_downsamplings``)."""
    if resolution % factor:
        raise ValueError(f"{what}: resolution {resolution} must be a multiple of {factor}")
