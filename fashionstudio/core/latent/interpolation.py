"""Interpolation between two Generate states (the animation of the Generate tab), linear in w.

torch is imported inside the functions that use it (the GUI builds its tab before torch loads).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from fashionstudio.core.latent.space import LatentSpace
from fashionstudio.core.latent.state import GenerateState

if TYPE_CHECKING:
    import torch


def interpolation_states(space: LatentSpace, a: GenerateState, b: GenerateState,
                         frames: int) -> list[GenerateState]:
    """``frames`` states from ``a`` to ``b`` inclusive, linear in w between the two final ws (after mixing,
    truncation and edits), each carrying its ws as ``base_ws`` so it can be shown, edited and exported alone.
    Noise strength moves linearly; projected noise maps are blended when both ends have them, otherwise each
    frame keeps the noise of the nearer end."""

    ws = interpolation_ws(space.state_ws(a)[0], space.state_ws(b)[0], frames)
    out = []
    for i in range(frames):
        t = i / (frames - 1)
        if a.base_noise is not None and b.base_noise is not None:
            noise = [na + (nb - na) * t for na, nb in zip(a.base_noise, b.base_noise)]
        else:
            noise = a.base_noise if t < 0.5 else b.base_noise
        directions = [copy.copy(d) for d in a.directions]
        for d in directions:
            d.value = 0.0  # the edits are already in base_ws
        out.append(GenerateState(x=a.x, y=a.y, psi=1.0, noise_strength=a.noise_strength + (b.noise_strength
                                 - a.noise_strength) * t, method=a.method, directions=directions,
                                 base_ws=ws[i].cpu().numpy().copy(), base_noise=noise,
                                 model_sha256=a.model_sha256))
    return out


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of two z vectors (falls back to lerp when they are nearly parallel)."""
    import torch

    a_n, b_n = a / a.norm(), b / b.norm()
    dot = (a_n * b_n).sum().clamp(-1.0, 1.0)
    omega = torch.arccos(dot)
    if omega.abs() < 1e-6:
        return a.lerp(b, t)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolation_ws(ws_a: torch.Tensor, ws_b: torch.Tensor, frames: int) -> torch.Tensor:
    """``frames`` ws linearly spaced in w from ``ws_a`` to ``ws_b`` inclusive: [frames, num_ws, w_dim]."""
    import torch

    if frames < 2:
        raise ValueError("an interpolation needs at least 2 frames")
    a, b = ws_a.reshape(1, *ws_a.shape[-2:]), ws_b.reshape(1, *ws_b.shape[-2:])
    t = torch.linspace(0, 1, frames, dtype=a.dtype, device=a.device)[:, None, None]
    out = a + t * (b - a)
    out[-1] = b[0]  # exact end frame despite rounding
    return out

