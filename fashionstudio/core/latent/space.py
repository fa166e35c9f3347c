"""One generator's latent space: cached seed -> w, sampled w, computed directions, and a state's ws.

A state becomes ws in this order: the base latent (the seed lattice position, or a projected w+), style mixing
(the ws in a layer range replaced by a second seed's w), truncation ``w_avg + psi (w - w_avg)`` on the first
``cutoff`` ws (all when None), then the direction edits.

torch is imported inside the functions that use it (the GUI builds its tab before torch loads).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionstudio.core.latent.directions import Direction, ganspace_directions, sefa_directions
from fashionstudio.core.latent.seeds import SEED_MASK, clamp_range, lattice_seed, seed_to_z
from fashionstudio.core.latent.state import GenerateState

if TYPE_CHECKING:
    import torch


class LatentSpace:
    """One generator's latent space: cached seed -> w, sampled w, directions, and state -> ws.

    Thread-safe for the caches (the GUI's latest-wins worker and the thumbnail job use it at once).
    """

    def __init__(self, G: Any, device: Any = "cpu", cache_size: int = 4096) -> None:
        import torch

        self.G = G
        self.device = torch.device(device)
        self.num_ws, self.w_dim, self.z_dim = int(G.num_ws), int(G.w_dim), int(G.z_dim)
        self.resolution = int(G.resolution)
        self.w_avg = G.w_avg.detach().float().to(self.device).clone()
        self._w_cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._samples: torch.Tensor | None = None

    # -- seeds --------------------------------------------------------------------------------------------------
    def w_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        """w [len(seeds), w_dim] (cached; the missing ones go through the mapping network in one batch)."""
        import torch

        seeds = [int(s) & SEED_MASK for s in seeds]
        with self._lock:
            missing = [s for s in dict.fromkeys(seeds) if s not in self._w_cache]
        if missing:
            z = torch.from_numpy(np.stack([seed_to_z(s, self.z_dim) for s in missing])).to(self.device)
            with torch.inference_mode():
                w = self.G.mapping(z).float()
            with self._lock:
                for s, row in zip(missing, w):
                    self._w_cache[s] = row.clone()
                while len(self._w_cache) > self._cache_size:
                    self._w_cache.popitem(last=False)
        with self._lock:
            rows = []
            for s in seeds:
                row = self._w_cache.get(s)
                if row is None:  # evicted meanwhile by a huge request: recompute alone
                    z = torch.from_numpy(seed_to_z(s, self.z_dim))[None].to(self.device)
                    with torch.inference_mode():
                        row = self.G.mapping(z).float()[0]
                rows.append(row)
        return torch.stack(rows)

    def blended_w(self, x: float, y: float) -> torch.Tensor:
        """w [w_dim] at lattice position (x, y): bilinear blend of the four neighbouring seeds' w."""
        import torch

        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        corners = [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                   (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]
        corners = [c for c in corners if c[2] > 1e-9]
        w = self.w_for_seeds([lattice_seed(i, j) for i, j, _ in corners])
        weights = torch.tensor([c[2] for c in corners], dtype=w.dtype, device=w.device)
        return (weights[:, None] * w).sum(0)

    # -- samples and directions ---------------------------------------------------------------------------------
    def w_samples(self, n: int = 10_000, seed: int = 0x5EFA) -> torch.Tensor:
        """``n`` mapped samples of w (fixed seed, computed once, batched)."""
        import torch

        with self._lock:
            if self._samples is not None and self._samples.shape[0] >= n:
                return self._samples[:n]
        gen = torch.Generator().manual_seed(seed)
        out = []
        with torch.inference_mode():
            for start in range(0, n, 2048):
                z = torch.randn(min(2048, n - start), self.z_dim, generator=gen).to(self.device)
                out.append(self.G.mapping(z).float().cpu())
        samples = torch.cat(out)
        with self._lock:
            self._samples = samples
        return samples

    def compute_directions(self, method: str = "sefa", k: int = 12, layers: tuple[int, int] | None = None,
                           n_samples: int = 10_000) -> list[Direction]:
        """``k`` sliders from this generator: ``method`` "sefa" or "ganspace", applied to ``layers`` (all by default).

        Each direction's ``sigma`` is the standard deviation of the sampled w along it.
        """
        layers = clamp_range(layers or (0, self.num_ws), self.num_ws)
        samples = self.w_samples(n_samples)
        if method == "sefa":
            vecs, _ = sefa_directions(self.G, layers, k)
            label = "SeFa"
        elif method == "ganspace":
            vecs, _ = ganspace_directions(samples, k)
            label = "PCA"
        else:
            raise ValueError(f"unknown direction method {method!r} (use 'sefa' or 'ganspace')")
        centred = (samples - samples.mean(0, keepdim=True)).numpy()
        sigmas = (centred @ vecs.T).std(axis=0)
        return [Direction(name=f"{label} {i + 1}", vector=vecs[i].astype(np.float32), layers=layers,
                          sigma=float(max(sigmas[i], 1e-6)), source=method) for i in range(vecs.shape[0])]

    # -- state -> ws --------------------------------------------------------------------------------------------
    def base_ws(self, state: GenerateState) -> torch.Tensor:
        """[num_ws, w_dim] before mixing, truncation and edits."""
        import torch

        if state.base_ws is not None:
            return torch.from_numpy(np.asarray(state.base_ws, dtype=np.float32)).to(self.device).clone()
        return self.blended_w(state.x, state.y)[None].expand(self.num_ws, -1).clone()

    def state_ws(self, state: GenerateState) -> torch.Tensor:
        """The ws [1, num_ws, w_dim] a state renders: base -> style mixing -> truncation -> direction edits."""
        ws = self.base_ws(state)
        start, stop = clamp_range(state.mix_layers, self.num_ws)
        if state.mix_seed is not None and stop > start:
            ws[start:stop] = self.w_for_seeds([state.mix_seed])[0]
        ws = truncate(ws, self.w_avg, state.psi, state.psi_cutoff)
        ws = apply_directions(ws, state.directions)
        return ws[None]


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """``w_avg + psi (ws - w_avg)`` on the first ``cutoff`` rows of ws [num_ws, w_dim] (all when None)."""
    if psi == 1.0:
        return ws
    out = ws.clone()
    stop = ws.shape[0] if cutoff is None else max(0, min(int(cutoff), ws.shape[0]))
    out[:stop] = w_avg.lerp(ws[:stop], float(psi))
    return out


def apply_directions(ws: torch.Tensor, directions: list[Direction]) -> torch.Tensor:
    """ws [num_ws, w_dim] plus every non-zero direction's offset on its layer range."""
    import torch

    active = [d for d in directions if d.value != 0.0]
    if not active:
        return ws
    out = ws.clone()
    for d in active:
        start, stop = clamp_range(d.layers, ws.shape[0])
        if stop > start:
            out[start:stop] += torch.from_numpy(d.offset().astype(np.float32)).to(out.device)
    return out



def images_to_pil(images: torch.Tensor) -> list[Any]:
    """[N, 3, H, W] in about [-1, 1] -> list of 8-bit RGB PIL images."""
    import torch
    from PIL import Image

    arr = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    arr = arr.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    return [Image.fromarray(a) for a in arr]

