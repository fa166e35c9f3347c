"""Growable arrays and the min/max pyramid that decimates a series to a few thousand points for any visible range,
so drawing a million-point curve costs the same as drawing a thousand-point one."""

from __future__ import annotations

import numpy as np


class GrowArray:
    """A float64 array that grows by doubling; ``view()`` is the filled part (no copy)."""

    def __init__(self, capacity: int = 256) -> None:
        self._buf = np.empty(max(16, capacity), dtype=np.float64)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        need = self.n + values.size
        if need > self._buf.size:
            buf = np.empty(max(need, 2 * self._buf.size), dtype=np.float64)
            buf[:self.n] = self._buf[:self.n]
            self._buf = buf
        self._buf[self.n:need] = values
        self.n = need

    def truncate(self, n: int) -> None:
        self.n = max(0, min(n, self.n))

    def view(self) -> np.ndarray:
        return self._buf[:self.n]

    def __len__(self) -> int:
        return self.n


class MinMaxPyramid:
    """Block minima and maxima of a growing series at block sizes ``fan**1, fan**2, ...``.

    ``decimate(i0, i1, buckets)`` returns, for the index range ``[i0, i1)``, either the raw points (when few) or
    two points (min, max) per block of the coarsest level that still gives at least ``buckets`` blocks: the
    envelope of the curve is exact, and the cost depends on ``buckets``, not on the series length.
    """

    def __init__(self, fan: int = 4) -> None:
        self.fan = fan
        self.mins: list[GrowArray] = []
        self.maxs: list[GrowArray] = []
        self._source: GrowArray | None = None

    def rebuild(self, source: GrowArray) -> None:
        self.mins, self.maxs, self._source = [], [], source
        self.update(0)

    def update(self, old_n: int) -> None:
        """Recompute the blocks touched by values appended (or changed) from index ``old_n`` on."""
        src = self._source
        if src is None:
            return
        values = src.view()
        level, size, below_min, below_max = 0, 1, values, values
        while True:
            block = size * self.fan
            if len(self.mins) <= level:
                self.mins.append(GrowArray())
                self.maxs.append(GrowArray())
            mins, maxs = self.mins[level], self.maxs[level]
            first = min(old_n // block, len(mins))           # first block to recompute
            lo = first * self.fan                              # its first entry in the level below
            seg_min, seg_max = below_min[lo:], below_max[lo:]
            mins.truncate(first)
            maxs.truncate(first)
            if seg_min.size:
                starts = np.arange(0, seg_min.size, self.fan)
                with np.errstate(invalid="ignore"):
                    mins.extend(np.fmin.reduceat(seg_min, starts))
                    maxs.extend(np.fmax.reduceat(seg_max, starts))
            below_min, below_max = mins.view(), maxs.view()
            level, size = level + 1, block
            if values.size <= block:  # this level is a single block: nothing coarser is useful
                del self.mins[level:], self.maxs[level:]
                return

    def decimate(self, i0: int, i1: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices (block starts, each twice) and values (min, max per block) covering ``[i0, i1)``."""
        src = self._source
        n = len(src) if src is not None else 0
        i0, i1 = max(0, i0), min(n, i1)
        if i1 <= i0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        count = i1 - i0
        if count <= 2 * buckets or not self.mins:
            return np.arange(i0, i1), src.view()[i0:i1]
        level, size = -1, 1
        while level + 1 < len(self.mins) and count / (size * self.fan) >= buckets:
            level, size = level + 1, size * self.fan
        if level < 0:
            return np.arange(i0, i1), src.view()[i0:i1]
        b0, b1 = i0 // size, -(-i1 // size)
        mins, maxs = self.mins[level].view()[b0:b1], self.maxs[level].view()[b0:b1]
        idx = np.repeat(np.arange(b0, b0 + mins.size) * size, 2)
        # the max of a block is drawn half a block later, so a bar reads as a ramp and not a vertical line
        idx[1::2] = np.minimum(idx[1::2] + size // 2, n - 1)
        vals = np.empty(2 * mins.size)
        vals[0::2], vals[1::2] = mins, maxs
        return idx, vals


def decimate_minmax(values: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """One-shot min/max decimation of a whole array (indices, values): what :class:`MinMaxPyramid` returns."""
    src = GrowArray(len(values))
    src.extend(values)
    pyramid = MinMaxPyramid()
    pyramid.rebuild(src)
    return pyramid.decimate(0, len(src), buckets)
