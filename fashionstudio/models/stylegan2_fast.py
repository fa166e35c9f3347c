"""A faster StyleGAN2 synthesis for interactive use (the Generate tab's live image, projection, attribute sliders).

:class:`FastSynthesis` renders ws to an image with a :class:`~fashionstudio.models.stylegan2.Generator`'s own
weights, copied once through the layers' public methods (``effective_weight``, ``effective_bias``, ``convolve``):

- styles modulate the (small) weights instead of the (large) activations at batch 1 where that is cheaper;
- a 1x1 toRGB at batch 1 is a matrix product;
- the lrelu's sqrt(2) gain is folded into the next layer's style;
- noise and bias are one cached tensor per layer;
- the activations of unchanged leading layers are reused between frames.

It equals ``G.synthesis(ws, "const", noise_strength)`` up to float rounding (``tests/test_models_stylegan2_fast.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from fashionstudio.models.stylegan2 import Generator, ModulatedConv2d, StyledConv

_SQRT2 = math.sqrt(2.0)


class _NoiseKey:
    """Cache key for a noise setting: the strength and the very noise tensors (held, so compared by identity
    without an id of a freed tensor ever matching a new one)."""

    def __init__(self, strength: float, noise: list[Any] | None) -> None:
        self.strength, self.noise = float(strength), None if noise is None else tuple(noise)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _NoiseKey) or other.strength != self.strength:
            return False
        if self.noise is None or other.noise is None:
            return self.noise is other.noise
        return len(self.noise) == len(other.noise) and all(a is b for a, b in zip(self.noise, other.noise))

    __hash__ = None  # type: ignore[assignment]


@dataclass
class _ModConv:
    layer: ModulatedConv2d          # its ``convolve`` does the conv (and the upsampling)
    affine_w: torch.Tensor          # [C_in, w_dim]
    affine_b: torch.Tensor          # [C_in]
    weight: torch.Tensor            # [C_out, C_in, k, k], the equalised-lr gain applied
    wsq: torch.Tensor | None        # [C_out, C_in] squared weight summed over taps (demodulation), None for toRGB
    in_gain: float                  # sqrt(2) of the previous lrelu, folded into the style
    blur_kernel: torch.Tensor | None  # the upsampling blur's kernel, copied


@dataclass
class _Styled:
    conv: _ModConv
    noise: torch.Tensor         # [1, 1, R, R] the "const" noise map
    noise_gain: torch.Tensor    # learned per-layer noise strength (scalar)
    bias: torch.Tensor          # [C_out]


class FastSynthesis:
    """Renders ws with a generator's weights, precomputed once (see the module docstring).

    ``render(ws, noise_strength, noise)`` takes ws [N, num_ws, w_dim] and returns images [N, 3, R, R]. With N = 1
    it reuses the activations of leading layers whose ws did not change since the previous call. Not
    thread-safe for that cache: use one instance per thread of interactive rendering (``stateless=True``
    calls are safe anywhere). With ``differentiable=True`` it builds an autograd graph (projection).
    """

    def __init__(self, G: Generator, dtype: torch.dtype | None = None, channels_last: bool = True) -> None:
        syn = G.synthesis_network
        self.num_ws, self.resolution, self.dtype = int(G.num_ws), int(G.resolution), dtype or torch.float32
        # NHWC is oneDNN's native conv layout (the Generate card has the timing).
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        # Normal (not inference) tensors even when built inside inference_mode: projection backpropagates
        # through them.
        with torch.inference_mode(False), torch.no_grad():
            self.const = self._copy(syn.const).contiguous(memory_format=self.memory_format)
            self.first = self._styled(syn.conv, in_gain=1.0)
            self.first_rgb = self._modconv(syn.torgb.conv, _SQRT2)
            self.first_rgb_bias = self._copy(syn.torgb.bias)
            self.blocks = [(self._styled(b.conv_up, _SQRT2), self._styled(b.conv, _SQRT2),
                            self._modconv(b.torgb.conv, _SQRT2), self._copy(b.torgb.bias)) for b in syn.blocks]
        self.noise_shapes = [tuple(s.noise.shape[-2:]) for s in self.styled_layers()]
        self._addend_key: Any = None
        self._addends: list[torch.Tensor] = []
        self._prev_ws: torch.Tensor | None = None
        self._prev_key: Any = None
        self._checkpoints: list[tuple[torch.Tensor, torch.Tensor]] = []

    # -- precomputation -------------------------------------------------------------------------------------------
    def _copy(self, t: torch.Tensor) -> torch.Tensor:
        return t.detach().to(self.dtype).clone()

    def _modconv(self, m: ModulatedConv2d, in_gain: float) -> _ModConv:
        weight = m.effective_weight().detach().to(torch.float64)
        wsq = weight.square().sum(dim=(2, 3)) if m.demodulate else None
        return _ModConv(layer=m, affine_w=self._copy(m.affine.effective_weight()),
                        affine_b=self._copy(m.affine.effective_bias()), weight=weight.to(self.dtype).contiguous(),
                        wsq=None if wsq is None else wsq.to(self.dtype), in_gain=in_gain,
                        blur_kernel=self._copy(m.blur.kernel) if m.up else None)

    def _styled(self, layer: StyledConv, in_gain: float) -> _Styled:
        return _Styled(conv=self._modconv(layer.conv, in_gain), noise=self._copy(layer.noise_const),
                       noise_gain=self._copy(layer.noise_strength), bias=self._copy(layer.bias))

    def styled_layers(self) -> list[_Styled]:
        return [self.first] + [s for b in self.blocks for s in b[:2]]

    # -- pieces ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _modulated(x: torch.Tensor, w: torch.Tensor, mc: _ModConv) -> torch.Tensor:
        styles = w @ mc.affine_w.T + mc.affine_b  # [N, C_in]
        demod = None
        if mc.wsq is not None:
            demod = torch.rsqrt(styles.square() @ mc.wsq.T + 1e-8)  # [N, C_out]
        s = styles * mc.in_gain
        if x.shape[0] == 1 and mc.weight.shape[-1] == 1 and demod is None:
            # toRGB: a 1x1 conv is a matrix product over channels, far cheaper than a conv call.
            c_in, h, w_ = x.shape[1:]
            y = (mc.weight[:, :, 0, 0] * s) @ x.reshape(c_in, h * w_)
            return y.reshape(1, -1, h, w_)
        weight_cost = mc.weight.numel()
        act_cost = x.shape[1] * x.shape[2] * x.shape[3] + mc.weight.shape[0] * x.shape[2] * x.shape[3]
        if x.shape[0] == 1 and weight_cost < act_cost:
            # Batch 1 at high resolution: modulating the (small) weight beats scaling the (large) activations.
            weight = mc.weight * s[0][None, :, None, None]
            if demod is not None:
                weight = weight * demod[0][:, None, None, None]
            y = mc.layer.convolve(x, weight, mc.blur_kernel)
        else:
            y = mc.layer.convolve(x * s[:, :, None, None], mc.weight, mc.blur_kernel)
            if demod is not None:
                y = y * demod[:, :, None, None]
        return y

    def _addend(self, layer: _Styled, strength: float, noise: torch.Tensor | None) -> torch.Tensor:
        base = layer.bias[None, :, None, None]
        n = layer.noise if noise is None else noise.reshape(1, 1, *layer.noise.shape[-2:]).to(self.dtype)
        if strength == 0.0:
            out = base.expand(1, -1, *n.shape[-2:]) if noise is None else base + 0 * n
        else:
            out = n * (layer.noise_gain * strength) + base
        return out.contiguous(memory_format=self.memory_format)

    def addends(self, strength: float, noise: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Noise + bias of every styled conv as one tensor each (cached while strength and noise stay)."""
        key = _NoiseKey(strength, noise)
        if key != self._addend_key or noise is not None and any(n.requires_grad for n in noise):
            layers = self.styled_layers()
            if noise is not None and len(noise) != len(layers):
                raise ValueError(f"expected {len(layers)} noise maps, got {len(noise)}")
            self._addends = [self._addend(l, float(strength), None if noise is None else noise[i])
                             for i, l in enumerate(layers)]
            self._addend_key = key
        return self._addends

    def _styled_forward(self, x: torch.Tensor, w: torch.Tensor, layer: _Styled, addend: torch.Tensor,
                        inplace: bool) -> torch.Tensor:
        y = self._modulated(x, w, layer.conv)
        if inplace:
            return F.leaky_relu_(y.add_(addend), 0.2)
        return F.leaky_relu(y + addend, 0.2)

    # -- rendering ------------------------------------------------------------------------------------------------
    def render(self, ws: torch.Tensor, noise_strength: float = 1.0, noise: list[torch.Tensor] | None = None,
               *, differentiable: bool = False, stateless: bool = False) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> image [N, 3, R, R] (``noise``: optional per-layer maps replacing "const")."""
        if ws.dim() != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must be [N, {self.num_ws}, w_dim], got {list(ws.shape)}")
        ws = ws.to(self.dtype)
        n = ws.shape[0]
        inplace = not differentiable
        if stateless or differentiable:
            layers = self.styled_layers()
            add = [self._addend(l, float(noise_strength), None if noise is None else noise[i])
                   for i, l in enumerate(layers)]
        else:
            add = self.addends(noise_strength, noise)
        use_cache = n == 1 and not stateless and not differentiable
        key = _NoiseKey(noise_strength, noise)
        start_step = 0
        if use_cache and self._prev_ws is not None and self._prev_key == key and self._checkpoints:
            changed = (ws[0] != self._prev_ws).any(dim=1).nonzero()
            first_changed = int(changed[0]) if changed.numel() else self.num_ws
            # step 0 reads ws 0-1; block j reads ws 1+2j .. 3+2j: restart at the first step reading a changed w.
            max_index = [1] + [3 + 2 * j for j in range(len(self.blocks))]
            start_step = next((s for s, m in enumerate(max_index) if m >= first_changed), len(max_index))
            start_step = min(start_step, len(self._checkpoints))
        if start_step == 0:
            checkpoints: list[tuple[torch.Tensor, torch.Tensor]] = []
            x = self.const.expand(n, -1, -1, -1)
            x = self._styled_forward(x, ws[:, 0], self.first, add[0], inplace)
            img = self._modulated(x, ws[:, 1], self.first_rgb) + self.first_rgb_bias[None, :, None, None]
            checkpoints.append((x, img))
        else:
            checkpoints = self._checkpoints[:start_step]
            x, img = checkpoints[-1]
        for j in range(max(0, start_step - 1), len(self.blocks)):
            up, conv, rgb, rgb_bias = self.blocks[j]
            x = self._styled_forward(x, ws[:, 1 + 2 * j], up, add[1 + 2 * j], inplace)
            x = self._styled_forward(x, ws[:, 2 + 2 * j], conv, add[2 + 2 * j], inplace)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            img = img + self._modulated(x, ws[:, 3 + 2 * j], rgb) + rgb_bias[None, :, None, None]
            if use_cache:
                checkpoints.append((x, img))
        if use_cache:
            self._checkpoints = checkpoints
            self._prev_ws = ws[0].clone()
            self._prev_key = key
        return img.float()

    def reset_cache(self) -> None:
        self._prev_ws, self._checkpoints = None, []


__all__ = ["FastSynthesis"]
