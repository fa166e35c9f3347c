"""GenerateEngine: what rendering Generate images needs for one loaded StyleGAN2 generator, without Qt.

Built on a worker thread on first use. It renders a :class:`~fashionstudio.core.latent.GenerateState`, a page of
seed thumbnails, the frames between two states and the slider directions. Torch is imported when it is built.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PIL import Image


class GenerateEngine:
    def __init__(self, model: Any) -> None:
        from fashionstudio.core.latent import LatentSpace
        from fashionstudio.models.stylegan2_fast import FastSynthesis

        G = model.networks["G"]
        self.sha = model.sha256
        self.G = G
        self.space = LatentSpace(G, G.w_avg.device)
        self.synth = FastSynthesis(G)
        self._noise_lock = threading.Lock()
        self._noise: tuple[Any, list[Any]] | None = None  # (the state's noise list, its tensors)

    def noise_for(self, state: Any, cache: bool = True) -> list[Any] | None:
        """The projected noise maps of ``state`` as tensors (converted once per state when ``cache``; any
        thread)."""
        import torch

        if state.base_noise is None:
            return None
        with self._noise_lock:
            if self._noise is not None and self._noise[0] is state.base_noise:
                return self._noise[1]
        tensors = [torch.from_numpy(np.asarray(n, dtype=np.float32)).to(self.G.w_avg.device)
                   for n in state.base_noise]
        if cache:
            with self._noise_lock:
                self._noise = (state.base_noise, tensors)
        return tensors

    def render(self, state: Any, stateless: bool = False) -> Image.Image:
        """The image of ``state``. The live worker reuses the renderer's caches; other threads pass
        ``stateless=True``."""
        from fashionstudio.core.latent import images_to_pil

        ws = self.space.state_ws(state)
        noise = self.noise_for(state, cache=not stateless)
        return images_to_pil(self.synth.render(ws, state.noise_strength, noise, stateless=stateless))[0]

    def thumbnails(self, seeds: list[int], psi: float) -> list[tuple[int, Image.Image]]:
        """(seed, image) of each of ``seeds`` truncated by ``psi``, in one batch (any thread)."""
        import torch

        from fashionstudio.core.latent import images_to_pil, truncate

        with torch.inference_mode():
            w = self.space.w_for_seeds(seeds)
            ws = truncate(w, self.space.w_avg, psi)[:, None, :].expand(-1, self.space.num_ws, -1)
            imgs = self.synth.render(ws.contiguous(), 1.0, stateless=True)
        return list(zip(seeds, images_to_pil(imgs)))

    def strip(self, a: Any, b: Any, frames: int) -> list[tuple[Image.Image, Any]]:
        """(image, state) of ``frames`` states from ``a`` to ``b``, linear in w (any thread)."""
        import torch

        from fashionstudio.core.latent import interpolation_states

        with torch.inference_mode():
            states = interpolation_states(self.space, a, b, frames)
            return [(self.render(state, stateless=True), state) for state in states]

    def directions(self, method: str, k: int, layers: tuple[int, int]) -> list[Any]:
        """``k`` SeFa or GANSpace directions acting on ``layers`` (any thread)."""
        import torch

        with torch.inference_mode():
            return self.space.compute_directions(method, k, layers)
