"""Seeds and layers of a StyleGAN2 latent space (no torch).

``seed -> z`` is NumPy's legacy ``RandomState(seed).randn`` (stable across NumPy and torch versions, the
convention of NVIDIA's tools). Seeds sit on a 2-D lattice (``x + y * LATTICE_STRIDE``); a fractional position
blends the four neighbouring seeds' w (:meth:`~fashionstudio.core.latent.space.LatentSpace.blended_w`), so
dragging over the image walks smoothly through seed space (as the SG3 visualizer does). Layer ranges are
half-open ws ranges ``[start, stop)``; :func:`layer_presets` names the coarse / middle / fine ones.
"""

from __future__ import annotations

import numpy as np

LATTICE_STRIDE = 1 << 16  # seeds one lattice row apart (arrow up/down)
SEED_MASK = (1 << 32) - 1


def seed_to_z(seed: int, z_dim: int) -> np.ndarray:
    """The z of ``seed``: ``RandomState(seed).randn(z_dim)`` as float32."""
    return np.random.RandomState(int(seed) & SEED_MASK).randn(z_dim).astype(np.float32)


def lattice_seed(i: int, j: int) -> int:
    """The seed at lattice point (i, j)."""
    return (int(i) + int(j) * LATTICE_STRIDE) & SEED_MASK


def seed_position(seed: int) -> tuple[float, float]:
    """Lattice position (x, 0) of ``seed`` (seeds below ``LATTICE_STRIDE`` lie on the first row)."""
    return float(int(seed) & SEED_MASK), 0.0


def ws_levels(num_ws: int) -> list[int]:
    """log2 of the resolution each ws index mainly drives (index 0: 4 px; 2k-1 and 2k: 2^(k+2) px)."""
    return [2 if i == 0 else min((i + 1) // 2 + 2, num_ws // 2 + 1) for i in range(num_ws)]


def layer_presets(num_ws: int) -> dict[str, tuple[int, int]]:
    """Half-open ws ranges: ``all``, and ``coarse`` / ``middle`` / ``fine`` splitting the resolutions in thirds."""
    levels = ws_levels(num_ws)
    lo, hi = levels[0], levels[-1]
    n_levels = hi - lo + 1
    cut1 = lo + max(1, round(n_levels / 3))
    cut2 = lo + max(2, round(2 * n_levels / 3))
    coarse_stop = sum(1 for lv in levels if lv < cut1)
    middle_stop = sum(1 for lv in levels if lv < cut2)
    return {"all": (0, num_ws), "coarse": (0, coarse_stop), "middle": (coarse_stop, middle_stop),
            "fine": (middle_stop, num_ws)}


def clamp_range(layers: tuple[int, int] | list[int], num_ws: int) -> tuple[int, int]:
    start, stop = int(layers[0]), int(layers[1])
    start = max(0, min(start, num_ws))
    return start, max(start, min(stop, num_ws))

