"""Project a photo into a StyleGAN2 generator: find w+ and noise maps whose image looks like the photo.

Offline-friendly (no LPIPS/VGG weights to download): the loss is L1 + L2 between the generated and the target
image at three scales (full, 1/2, 1/4; the coarse scales weigh shape and colour over texture), plus
StyleGAN2's noise regulariser (the autocorrelation of each noise map at every octave, so the noise cannot carry
the image) and a small pull of every layer's w toward their mean (a w+ that stays editable by the sliders).
Adam with the learning-rate ramp-up / cosine ramp-down of the StyleGAN2 projector; noise maps are renormalised
after every step.

:func:`project` is a generator of :class:`ProjectionStep`: the caller shows progress and stops iterating to
cancel. It never touches the generator's weights (it renders through
:class:`~fashionstudio.models.stylegan2_fast.FastSynthesis`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from fashionstudio.core.latent import images_to_pil
from fashionstudio.models.stylegan2_fast import FastSynthesis


@dataclass
class ProjectionStep:
    """Progress of a projection: ``step`` of ``steps`` done, the loss, and (every few steps and at the end) a
    preview image, the w+ [num_ws, w_dim] and the noise maps reached so far."""

    step: int
    steps: int
    loss: float
    preview: Image.Image | None = None
    ws: np.ndarray | None = None
    noise: list[np.ndarray] | None = None

    @property
    def done(self) -> bool:
        return self.step >= self.steps


def prepare_target(img: Image.Image, resolution: int) -> torch.Tensor:
    """Letterbox ``img`` to a square on its own border colour and resize: [1, 3, R, R] in [-1, 1]."""
    img = img.convert("RGB")
    w, h = img.size
    if w != h:
        arr = np.asarray(img)
        border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
        colour = tuple(int(c) for c in np.median(border, axis=0))
        side = max(w, h)
        canvas = Image.new("RGB", (side, side), colour)
        canvas.paste(img, ((side - w) // 2, (side - h) // 2))
        img = canvas
    img = ImageOps.fit(img, (resolution, resolution), Image.Resampling.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None]


def image_loss(img: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 + L2 at full, half and quarter resolution."""
    loss = img.new_zeros(())
    for level in range(3):
        if level:
            img, target = F.avg_pool2d(img, 2), F.avg_pool2d(target, 2)
        diff = img - target
        loss = loss + diff.abs().mean() + diff.square().mean()
    return loss


def noise_regulariser(noise: list[torch.Tensor]) -> torch.Tensor:
    """Sum over maps and octaves of the squared one-pixel autocorrelations (StyleGAN2 §5 projector)."""
    reg = noise[0].new_zeros(())
    for n in noise:
        x = n[None, None] if n.dim() == 2 else n
        while True:
            reg = reg + (x * torch.roll(x, 1, dims=3)).mean().square() + (x * torch.roll(x, 1, dims=2)).mean().square()
            if x.shape[2] <= 8:
                break
            x = F.avg_pool2d(x, 2)
    return reg


class _Adam:
    """Plain Adam (Kingma & Ba) on a few tensors. torch.optim.Adam would do, but its first construction imports
    torch._dynamo (about 3 s on a 2-core CPU), which a designer waits through before the first step."""

    def __init__(self, params: list[torch.Tensor], betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params, self.b1, self.b2, self.eps, self.t = params, betas[0], betas[1], eps, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, grads: list[torch.Tensor], lr: float) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m.mul_(self.b1).add_(g, alpha=1 - self.b1)
            v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            p.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-lr / c1)


def project(G: Any, target: Image.Image, steps: int = 150, *, lr: float = 0.08, noise_weight: float = 1e3,
            w_spread_weight: float = 0.02, preview_every: int = 10, init_ws: torch.Tensor | None = None,
            synthesis: FastSynthesis | None = None, seed: int = 0) -> Iterator[ProjectionStep]:
    """Optimise w+ and noise so that ``G`` draws ``target``; yields one :class:`ProjectionStep` per step.

    ``init_ws`` ([num_ws, w_dim]) defaults to ``G.w_avg`` on every layer. The last step carries ``ws`` and
    ``noise``. Stop iterating to cancel.
    """
    if steps < 1:
        raise ValueError("a projection needs at least one step")
    synth = synthesis or FastSynthesis(G)
    device = G.w_avg.device
    tgt = prepare_target(target, int(G.resolution)).to(device)
    start = G.w_avg.detach().float()[None].expand(G.num_ws, -1) if init_ws is None else init_ws.detach().float()
    ws = start.clone().to(device)[None].requires_grad_(True)
    gen = torch.Generator().manual_seed(seed)
    noise = [torch.randn(*shape, generator=gen).to(device).requires_grad_(True) for shape in synth.noise_shapes]
    params = [ws] + noise
    opt = _Adam(params)

    with torch.inference_mode(False), torch.enable_grad():
        for step in range(1, steps + 1):
            t = (step - 0.5) / steps
            ramp = 0.5 - 0.5 * math.cos(min(1.0, (1.0 - t) / 0.25) * math.pi)  # cosine ramp-down
            ramp *= min(1.0, t / 0.05)  # short ramp-up
            img = synth.render(ws, 1.0, noise, differentiable=True)
            loss_img = image_loss(img, tgt)
            loss = loss_img + noise_weight * noise_regulariser(noise) \
                + w_spread_weight * (ws - ws.mean(dim=1, keepdim=True)).square().sum(dim=2).mean()
            opt.step(list(torch.autograd.grad(loss, params)), lr * ramp)
            with torch.no_grad():
                for n in noise:
                    n.sub_(n.mean()).div_(n.std().clamp_min(1e-8))
            last = step == steps
            report = ProjectionStep(step, steps, float(loss_img.detach()))
            if last or (preview_every and step % preview_every == 0):
                with torch.no_grad():
                    shown = synth.render(ws.detach(), 1.0, [n.detach() for n in noise], stateless=True)
                report.preview = images_to_pil(shown)[0]
                report.ws = ws.detach()[0].cpu().numpy().copy()
                report.noise = [n.detach().cpu().numpy().copy() for n in noise]
            yield report
