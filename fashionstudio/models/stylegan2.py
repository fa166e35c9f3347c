"""StyleGAN2 (Karras et al. 2020) in plain PyTorch: no custom CUDA/C++ ops, so nothing needs a compiler.

It replaces the thesis's StyleGAN v1 (which never trained well) with StyleGAN2. Networks:

- ``G`` (:class:`Generator`), the API the Generate tab edits live:

  - ``G.mapping(z: [N, z_dim], update_w_avg=False) -> w [N, w_dim]``; with ``update_w_avg=True`` (training) the
    tracked mean ``G.w_avg`` (a buffer, saved in the model file) moves toward the batch mean.
  - ``G.truncate(w, psi, cutoff=None) -> w``: ``w_avg + psi * (w - w_avg)`` on ``[N, w_dim]`` or
    ``[N, num_ws, w_dim]`` (only the first ``cutoff`` ws when given).
  - ``G.synthesis(ws: [N, num_ws, w_dim], noise_mode="const"|"random"|"none", noise_strength=1.0)
    -> img [N, 3, R, R]`` (unbounded; about [-1, 1] once trained). ``"const"`` uses fixed per-layer noise
    buffers saved in the model file, so the same ws give the same image.
  - ``G(z, truncation_psi=1, truncation_cutoff=None, noise_mode=None, noise_strength=1, z_mix=None,
    mix_cutoff=None, update_w_avg=False) -> img``: mapping, optional style mixing (ws from ``mix_cutoff`` on
    come from ``z_mix``; an int or one int per sample), truncation, synthesis. ``noise_mode=None`` means
    "random" in train mode and "const" in eval mode.
  - ``G.num_ws``, ``G.w_dim``, ``G.z_dim``, ``G.resolution``; ``G.style_affines()`` lists every style affine
    layer with the ws index it reads (for SeFa use ``layer.effective_weight()``, shape [in_channels, w_dim]).
  - :class:`~fashionstudio.models.stylegan2_fast.FastSynthesis` draws the same images faster for interactive
    use, from the layers' ``effective_weight()``, ``effective_bias()`` and ``convolve()``.

- ``D`` (:class:`Discriminator`): residual discriminator, ``D(img) -> [N, 1]`` raw logits (non-saturating loss),
  minibatch standard deviation before the last conv.

Implementation notes:

- Equalised learning rate everywhere (weights ~ N(0, 1), scaled at run time by 1/sqrt(fan_in)); the mapping
  network uses a 0.01 learning-rate multiplier.
- Modulated conv uses the "modulate activations" form (scale the input by the style, convolve with the shared
  weight, multiply the output by the demodulation coefficients). It equals weight modulation exactly and runs as
  one ordinary batched conv, which is the fast path on CPUs.
- Upsampling convs are stride-2 transposed convs followed by a [1,3,3,1] blur; the D downsamples with a blur then
  a stride-2 conv, as in the paper. The toRGB skip images are upsampled bilinearly, which is the same [1,3,3,1]
  filter up to the border handling.
- Widths follow ``min(channel_base // res, channel_max)`` for G and D.
- The thesis's StyleGAN v1 parameter counts (G 58.5M, D 11.3M) are neither reproducible from its listings nor
  meaningful for StyleGAN2; the ``thesis`` preset keeps the thesis's 128 px, 512-d z/w and 4-layer mapping and
  uses the paper's config-F widths at 128 px.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fashionstudio.models.blocks import resolve_config, select_networks

NETWORKS = ("G", "D")
INFERENCE_NETWORKS = ("G",)

_SQRT2 = math.sqrt(2.0)
_NOISE_MODES = ("const", "random", "none")

_COMMON = {"family": "stylegan2", "image_channels": 3, "mapping_lr_mul": 0.01, "w_avg_beta": 0.995,
           "mbstd_group": 4}
PRESETS: dict[str, dict] = {
    # Thesis resolution, z/w size and 4-layer mapping; StyleGAN2 config-F widths (512 up to 64 px, 256 at 128).
    "thesis": {**_COMMON, "preset": "thesis", "resolution": 128, "z_dim": 512, "w_dim": 512, "mapping_layers": 4,
               "channel_base": 32768, "channel_max": 512},
    # Desktop GPU trains it in about a day; a laptop CPU renders a 128 px image interactively.
    "studio": {**_COMMON, "preset": "studio", "resolution": 128, "z_dim": 256, "w_dim": 256, "mapping_layers": 8,
               "channel_base": 8192, "channel_max": 256},
    # 2-core-CPU trainable at 64 px.
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "z_dim": 128, "w_dim": 128, "mapping_layers": 4,
             "channel_base": 2048, "channel_max": 128},
}


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    # sqrt(2) gain keeps the activations' second moment constant through the network (He et al.).
    return F.leaky_relu(x, 0.2) * _SQRT2


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate: ``y = x @ (W * lr_mul / sqrt(in)).T + b * lr_mul``."""

    def __init__(self, in_features: int, out_features: int, bias_init: float = 0.0, lr_mul: float = 1.0,
                 activation: str | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def effective_weight(self) -> torch.Tensor:
        """The weight the layer actually applies, [out_features, in_features]."""
        return self.weight * self.weight_gain

    def effective_bias(self) -> torch.Tensor:
        """The bias the layer actually adds, [out_features]."""
        return self.bias * self.lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.effective_weight(), self.effective_bias())
        return _lrelu(x) if self.activation == "lrelu" else x


class Blur(nn.Module):
    """Depthwise [1,3,3,1] x [1,3,3,1] FIR filter with explicit padding (``gain`` 4 after 2x zero-insertion)."""

    def __init__(self, pad: tuple[int, int], gain: float = 1.0) -> None:
        super().__init__()
        k = torch.tensor([1.0, 3.0, 3.0, 1.0])
        k = torch.outer(k, k)
        self.register_buffer("kernel", (k / k.sum() * gain)[None, None], persistent=False)
        self.pad = (pad[0], pad[1], pad[0], pad[1])

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """``kernel``: a copy of :attr:`kernel` to use instead (a renderer's own, outside inference mode)."""
        c = x.shape[1]
        weight = (self.kernel if kernel is None else kernel).to(dtype=x.dtype).expand(c, 1, 4, 4)
        return F.conv2d(F.pad(x, self.pad), weight, groups=c)


class EqualConv2d(nn.Module):
    """Conv with equalised learning rate; ``down=True`` blurs then convolves with stride 2 (halves H, W)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool = True, activation: str | None = None,
                 down: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(c_in * kernel * kernel)
        self.activation = activation
        self.down = down
        if down:
            p = 2 + (kernel - 1)  # (blur taps - factor) + (kernel - 1)
            self.blur = Blur(((p + 1) // 2, p // 2))
            self.stride, self.padding = 2, 0
        else:
            self.stride, self.padding = 1, kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = self.blur(x)
        x = F.conv2d(x, self.weight * self.weight_gain, self.bias, stride=self.stride, padding=self.padding)
        return _lrelu(x) if self.activation == "lrelu" else x


class ModulatedConv2d(nn.Module):
    """Style-modulated conv with optional demodulation and 2x upsampling (StyleGAN2 §2.2).

    ``forward(x [N,C_in,H,W], w [N,w_dim]) -> [N,C_out,H',W']``. The per-sample style ``s = affine(w)`` scales the
    input channels, one shared conv follows, and demodulation rescales each output channel by
    ``1/sqrt(sum_{i,k} (W_oik * s_i)^2)``: identical to modulating the weights per sample.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, w_dim: int, demodulate: bool = True,
                 up: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(c_out, c_in, kernel, kernel))
        self.weight_gain = 1.0 / math.sqrt(c_in * kernel * kernel)
        self.affine = EqualLinear(w_dim, c_in, bias_init=1.0)  # styles start at 1: an unmodulated conv
        self.demodulate, self.up, self.padding = demodulate, up, kernel // 2
        if up:
            p = (4 - 2) - (kernel - 1)
            self.blur = Blur(((p + 1) // 2 + 1, p // 2 + 1), gain=4.0)

    def effective_weight(self) -> torch.Tensor:
        """The shared weight the layer applies before modulation, [C_out, C_in, k, k]."""
        return self.weight * self.weight_gain

    def convolve(self, x: torch.Tensor, weight: torch.Tensor, blur_kernel: torch.Tensor | None = None) -> torch.Tensor:
        """The layer's conv with a given (already scaled, possibly modulated) ``weight``: with ``up`` a stride-2
        transposed conv then the blur (``blur_kernel`` replaces the blur's own); both synthesis paths use it."""
        if self.up:
            return self.blur(F.conv_transpose2d(x, weight.transpose(0, 1), stride=2), blur_kernel)
        return F.conv2d(x, weight, padding=self.padding)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)
        weight = self.effective_weight()
        x = self.convolve(x * styles[:, :, None, None].to(x.dtype), weight.to(x.dtype))
        if self.demodulate:
            # [N, C_in] @ [C_in, C_out]: sum over input channels and taps of (w * s)^2, without a per-sample weight.
            demod = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + 1e-8)
            x = x * demod[:, :, None, None].to(x.dtype)
        return x


class StyledConv(nn.Module):
    """Modulated conv -> per-pixel noise (learned strength, fixed buffer for "const") -> bias -> lrelu."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, resolution: int, up: bool = False) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(c_in, c_out, 3, w_dim, up=up)
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.resolution = resolution

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                noise_strength: float = 1.0) -> torch.Tensor:
        x = self.conv(x, w)
        if noise_mode != "none" and noise_strength != 0:
            if noise_mode == "random":
                noise = torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device, dtype=x.dtype)
            else:
                noise = self.noise_const.to(x.dtype)
            x = x + noise * (self.noise_strength * noise_strength).to(x.dtype)
        return _lrelu(x + self.bias[None, :, None, None].to(x.dtype))


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB without demodulation (StyleGAN2's skip-generator outputs)."""

    def __init__(self, c_in: int, w_dim: int, channels: int = 3) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(c_in, channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None].to(x.dtype)


def channels_for(resolution: int, channel_base: int, channel_max: int) -> int:
    return min(channel_base // resolution, channel_max)


def _check_resolution(resolution: int) -> int:
    log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
    if resolution < 8 or 2**log2 != resolution:
        raise ValueError(f"StyleGAN2 resolution must be a power of two of at least 8, got {resolution}")
    return log2


class MappingNetwork(nn.Module):
    """z -> w: normalise z to unit second moment, then ``n_layers`` equalised FC + lrelu at lr multiplier 0.01."""

    def __init__(self, z_dim: int, w_dim: int, n_layers: int, lr_mul: float = 0.01) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * n_layers
        self.layers = nn.ModuleList(
            EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, activation="lrelu") for i in range(n_layers)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        for layer in self.layers:
            x = layer(x)
        return x


@dataclass(frozen=True)
class StyleAffine:
    """One style affine layer of the synthesis network and the ws index it reads."""

    name: str
    ws_index: int
    resolution: int
    kind: str  # "conv" (demodulated 3x3) or "torgb"
    layer: EqualLinear


class SynthesisNetwork(nn.Module):
    """Constant 4x4 input -> styled convs with skip toRGB outputs up to ``resolution``."""

    def __init__(self, w_dim: int, resolution: int, channel_base: int, channel_max: int, channels: int = 3) -> None:
        super().__init__()
        log2 = _check_resolution(resolution)
        ch = {2**i: channels_for(2**i, channel_base, channel_max) for i in range(2, log2 + 1)}
        self.const = nn.Parameter(torch.randn(1, ch[4], 4, 4))
        self.conv = StyledConv(ch[4], ch[4], w_dim, 4)
        self.torgb = ToRGB(ch[4], w_dim, channels)
        self.blocks = nn.ModuleList()
        for i in range(3, log2 + 1):
            res = 2**i
            block = nn.Module()
            block.conv_up = StyledConv(ch[res // 2], ch[res], w_dim, res, up=True)
            block.conv = StyledConv(ch[res], ch[res], w_dim, res)
            block.torgb = ToRGB(ch[res], w_dim, channels)
            self.blocks.append(block)
        self.num_ws = 2 * log2 - 2
        self.channels = ch

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", noise_strength: float = 1.0) -> torch.Tensor:
        if noise_mode not in _NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {_NOISE_MODES}, got {noise_mode!r}")
        if ws.dim() != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must be [N, {self.num_ws}, w_dim], got {list(ws.shape)}")
        x = self.const.expand(ws.shape[0], -1, -1, -1)
        x = self.conv(x, ws[:, 0], noise_mode, noise_strength)
        img = self.torgb(x, ws[:, 1])
        for j, block in enumerate(self.blocks):
            # A block's toRGB shares its ws index with the next block's first conv, as in the paper.
            x = block.conv_up(x, ws[:, 1 + 2 * j], noise_mode, noise_strength)
            x = block.conv(x, ws[:, 2 + 2 * j], noise_mode, noise_strength)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            img = img + block.torgb(x, ws[:, 3 + 2 * j])
        return img

    def style_affines(self) -> list[StyleAffine]:
        out = [StyleAffine("conv", 0, 4, "conv", self.conv.conv.affine),
               StyleAffine("torgb", 1, 4, "torgb", self.torgb.conv.affine)]
        for j, block in enumerate(self.blocks):
            res = 2 ** (j + 3)
            out += [StyleAffine(f"blocks.{j}.conv_up", 1 + 2 * j, res, "conv", block.conv_up.conv.affine),
                    StyleAffine(f"blocks.{j}.conv", 2 + 2 * j, res, "conv", block.conv.conv.affine),
                    StyleAffine(f"blocks.{j}.torgb", 3 + 2 * j, res, "torgb", block.torgb.conv.affine)]
        return out


class Generator(nn.Module):
    """StyleGAN2 generator: mapping network + skip synthesis network + tracked mean w (``w_avg``)."""

    def __init__(self, resolution: int, z_dim: int = 512, w_dim: int = 512, mapping_layers: int = 8,
                 channel_base: int = 32768, channel_max: int = 512, channels: int = 3, mapping_lr_mul: float = 0.01,
                 w_avg_beta: float = 0.995) -> None:
        super().__init__()
        self.z_dim, self.w_dim, self.resolution = z_dim, w_dim, resolution
        self.mapping_network = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_mul)
        self.synthesis_network = SynthesisNetwork(w_dim, resolution, channel_base, channel_max, channels)
        self.num_ws = self.synthesis_network.num_ws
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def mapping(self, z: torch.Tensor, update_w_avg: bool = False) -> torch.Tensor:
        """z [N, z_dim] -> w [N, w_dim]; ``update_w_avg`` (training only) moves ``w_avg`` toward the batch mean."""
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must be [N, {self.z_dim}], got {list(z.shape)}")
        w = self.mapping_network(z)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
        return w

    def truncate(self, w: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """Pull w toward ``w_avg`` (psi=0: the average image; psi=1: unchanged); only ws < ``cutoff`` if given."""
        if psi == 1:
            return w
        avg = self.w_avg.to(w.dtype)
        if w.dim() == 2 or cutoff is None:
            return avg.lerp(w, psi)
        w = w.clone()
        w[:, :cutoff] = avg.lerp(w[:, :cutoff], psi)
        return w

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """[N, w_dim] -> [N, num_ws, w_dim] (the same w for every layer)."""
        return w[:, None, :].expand(-1, self.num_ws, -1)

    @staticmethod
    def mix(ws_a: torch.Tensor, ws_b: torch.Tensor, layers: Iterable[int]) -> torch.Tensor:
        """Style mixing: ``ws_a`` with the ws indices in ``layers`` taken from ``ws_b`` (both [N, num_ws, w_dim])."""
        out = ws_a.clone()
        idx = list(layers)
        out[:, idx] = ws_b[:, idx]
        return out

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const", noise_strength: float = 1.0) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> image [N, 3, R, R]."""
        return self.synthesis_network(ws, noise_mode, noise_strength)

    def style_affines(self) -> list[StyleAffine]:
        """Every style affine layer with the ws index it reads, in synthesis order."""
        return self.synthesis_network.style_affines()

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str | None = None, noise_strength: float = 1.0, z_mix: torch.Tensor | None = None,
                mix_cutoff: int | torch.Tensor | None = None, update_w_avg: bool = False) -> torch.Tensor:
        ws = self.broadcast(self.mapping(z, update_w_avg))
        if z_mix is not None:
            ws_mix = self.broadcast(self.mapping(z_mix))
            cutoff = self.num_ws // 2 if mix_cutoff is None else mix_cutoff
            cutoff = torch.as_tensor(cutoff, device=ws.device).reshape(-1, 1)
            take_mix = torch.arange(self.num_ws, device=ws.device)[None, :] >= cutoff  # [N or 1, num_ws]
            ws = torch.where(take_mix[:, :, None], ws_mix, ws)
        ws = self.truncate(ws, truncation_psi, truncation_cutoff)
        if noise_mode is None:
            noise_mode = "random" if self.training else "const"
        return self.synthesis(ws, noise_mode, noise_strength)


class DiscriminatorBlock(nn.Module):
    """Residual D block: conv3 -> blur+conv3 s2, plus a blurred 1x1 s2 skip; sum scaled by 1/sqrt(2)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = EqualConv2d(c_in, c_in, 3, activation="lrelu")
        self.conv_down = EqualConv2d(c_in, c_out, 3, activation="lrelu", down=True)
        self.skip = EqualConv2d(c_in, c_out, 1, bias=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.skip(x) + self.conv_down(self.conv(x))) / _SQRT2


class MinibatchStd(nn.Module):
    """Append the average (over channels and pixels) of the per-group standard deviation as one extra channel.

    Groups are of ``group_size`` samples, or of the largest divisor of the batch below it. The input is not
    modified (the original code's in-place version centred the features that continued).
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = max(d for d in range(1, min(self.group_size, n) + 1) if n % d == 0)
        y = x.reshape(g, n // g, c, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # [n/g, c, h, w]
        y = y.mean(dim=(1, 2, 3)).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # sample i is in group i % (n/g)
        return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    """StyleGAN2 residual discriminator: fromRGB -> residual blocks down to 4x4 -> mbstd -> conv -> FC -> FC."""

    def __init__(self, resolution: int, channel_base: int = 32768, channel_max: int = 512, channels: int = 3,
                 mbstd_group: int = 4) -> None:
        super().__init__()
        log2 = _check_resolution(resolution)
        ch = {2**i: channels_for(2**i, channel_base, channel_max) for i in range(2, log2 + 1)}
        self.fromrgb = EqualConv2d(channels, ch[resolution], 1, activation="lrelu")
        self.blocks = nn.Sequential(*[DiscriminatorBlock(ch[2**i], ch[2 ** (i - 1)]) for i in range(log2, 2, -1)])
        self.mbstd = MinibatchStd(mbstd_group)
        self.conv = EqualConv2d(ch[4] + 1, ch[4], 3, activation="lrelu")
        self.fc = EqualLinear(ch[4] * 16, ch[4], activation="lrelu")
        self.out = EqualLinear(ch[4], 1)
        self.resolution = resolution

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if tuple(img.shape[-2:]) != (self.resolution, self.resolution):
            raise ValueError(f"this discriminator takes {self.resolution} px images, got {tuple(img.shape[-2:])}")
        x = self.blocks(self.fromrgb(img))
        x = self.conv(self.mbstd(x))
        return self.out(self.fc(x.flatten(1)))


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "studio", config)
    names = select_networks(NETWORKS, which)
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name == "G":
            nets[name] = Generator(cfg["resolution"], cfg["z_dim"], cfg["w_dim"], cfg["mapping_layers"],
                                   cfg["channel_base"], cfg["channel_max"], cfg["image_channels"],
                                   cfg["mapping_lr_mul"], cfg["w_avg_beta"])
        else:
            nets[name] = Discriminator(cfg["resolution"], cfg["channel_base"], cfg["channel_max"],
                                       cfg["image_channels"], cfg["mbstd_group"])
    return nets
