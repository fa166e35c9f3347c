"""Fabric patterns as boolean fields: True where the pattern's secondary colour shows (always < half the area)."""

from __future__ import annotations

import numpy as np


def pattern_field(pattern: str, shape: tuple[int, int], period: float, phase: tuple[float, float] = (0.0, 0.0),
                  vertical: bool = False) -> np.ndarray | None:
    """The ``pattern`` ("solid", "stripes", "checks", "dots", "print") on an ``shape`` grid; None for solid.

    ``period`` is in pixels, so a pattern keeps its size relative to the garment when the scale changes.
    """
    if pattern == "solid":
        return None
    h, w = shape
    p = max(float(period), 3.0)
    y = (np.arange(h, dtype=np.float32)[:, None] + phase[0]) / p
    x = (np.arange(w, dtype=np.float32)[None, :] + phase[1]) / p
    if pattern == "stripes":
        t = (x if vertical else y) % 1.0
        return np.broadcast_to(t < 0.36, shape)
    if pattern == "checks":
        return ((y % 1.0) < 0.3) | ((x % 1.0) < 0.3)
    if pattern in ("dots", "print"):
        row = np.floor(y)
        xs = x + 0.5 * (row % 2)  # staggered rows
        dy = (y % 1.0) - 0.5
        dx = (xs % 1.0) - 0.5
        if pattern == "dots":
            return dy * dy + dx * dx < 0.2 ** 2
        return np.abs(dy) + np.abs(dx) * 1.6 < 0.3  # a small lozenge print
    raise ValueError(f"unknown pattern {pattern!r}")
