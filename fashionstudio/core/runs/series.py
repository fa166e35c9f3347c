"""One loss or metric curve of one run: its points, their smoothed copy and the points to draw for a range."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from fashionstudio.core.runs.decimation import GrowArray, MinMaxPyramid
from fashionstudio.core.runs.smoothing import EmaState, smooth_with


class Series:
    """One scalar tag of one run: steps, wall times, raw values and their smoothed copy, with pyramids."""

    def __init__(self, smoothing: float = 0.0) -> None:
        self.steps, self.times, self.values, self.smoothed = GrowArray(), GrowArray(), GrowArray(), GrowArray()
        self.raw_pyramid, self.smooth_pyramid = MinMaxPyramid(), MinMaxPyramid()
        self.raw_pyramid.rebuild(self.values)
        self.smooth_pyramid.rebuild(self.smoothed)
        self.smoothing = float(smoothing)
        self._ema = EmaState(self.smoothing)

    def __len__(self) -> int:
        return len(self.values)

    def append(self, steps: Any, times: Any, values: Any) -> None:
        steps = np.asarray(steps, dtype=np.float64)
        if steps.size == 0:
            return
        # A run resumed from an earlier checkpoint logs those steps again: like TensorBoard's purge of orphaned
        # data, the newer points replace the older ones from that step on (steps stay increasing).
        if len(self.steps) and steps[0] <= self.steps.view()[-1]:
            self.purge_from(float(steps[0]))
        old = len(self.values)
        self.steps.extend(steps)
        self.times.extend(times)
        self.values.extend(values)
        self._extend_smoothed(np.asarray(values, dtype=np.float64))
        self.raw_pyramid.update(old)
        self.smooth_pyramid.update(old)

    def _extend_smoothed(self, v: np.ndarray) -> None:
        self.smoothed.extend(smooth_with(self._ema, v))

    def purge_from(self, step: float) -> None:
        """Drop the points at or after ``step``."""
        keep = int(np.searchsorted(self.steps.view(), step, side="left"))
        for arr in (self.steps, self.times, self.values):
            arr.truncate(keep)
        self.set_smoothing(self.smoothing, force=True)
        self.raw_pyramid.rebuild(self.values)

    def set_smoothing(self, weight: float, force: bool = False) -> None:
        """Recompute the smoothed copy for a new EMA weight (0 = none), here and now."""
        weight = float(weight)
        if weight == self.smoothing and not force:
            return
        self.install_smoothing(self.smoothing_job(weight)())

    def smoothing_job(self, weight: float) -> Callable[[], tuple[float, int, GrowArray, MinMaxPyramid, EmaState]]:
        """A callable that smooths the points present now for ``weight`` and may run on another thread; hand its
        result to :meth:`install_smoothing` on the owner's thread (points appended meanwhile are caught up).

        It reads a snapshot: appends only write past the snapshot or into a new buffer, so no lock is needed.
        """
        weight = float(weight)
        n = len(self.values)
        values = self.values.view()[:n]

        def job() -> tuple[float, int, GrowArray, MinMaxPyramid, EmaState]:
            ema = EmaState(weight)
            smoothed = GrowArray(n + n // 4 + 256)  # room for the points that keep arriving
            smoothed.extend(smooth_with(ema, values))
            pyramid = MinMaxPyramid()
            pyramid.rebuild(smoothed)
            return weight, n, smoothed, pyramid, ema

        return job

    def install_smoothing(self, result: tuple[float, int, GrowArray, MinMaxPyramid, EmaState]) -> bool:
        """Use a finished :meth:`smoothing_job`; False (and nothing changed) if the series was purged since."""
        weight, n, smoothed, pyramid, ema = result
        if len(self.values) < n:
            return False
        self.smoothing, self.smoothed, self.smooth_pyramid, self._ema = weight, smoothed, pyramid, ema
        if len(self.values) > n:
            self._extend_smoothed(self.values.view()[n:])
            self.smooth_pyramid.update(n)
        return True

    def x(self, axis: str, t0: float | None = None) -> np.ndarray:
        """The x coordinates: ``step``, ``relative`` (hours since ``t0``, default the first point) or ``wall``
        (Unix seconds)."""
        base, to_x, _ = self._axis(axis, t0)
        return to_x(base)

    def _axis(self, axis: str, t0: float | None) -> tuple[np.ndarray, Callable, Callable]:
        """The stored array behind ``axis`` and the maps base -> x and x -> base (applied to a few values only,
        so a redraw never transforms the whole series)."""
        if axis == "step":
            return self.steps.view(), (lambda a: a), (lambda v: v)
        t = self.times.view()
        if axis == "relative":
            origin = (t[0] if t.size else 0.0) if t0 is None else t0
            return t, (lambda a: (a - origin) / 3600.0), (lambda v: v * 3600.0 + origin)
        return t, (lambda a: a), (lambda v: v)

    def display(self, axis: str = "step", x_range: tuple[float, float] | None = None, buckets: int = 1000,
                smoothed: bool = False, margin: float = 0.5, t0: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
        """The points to draw for ``x_range`` (plus ``margin`` of its width each side, so panning shows data at
        once), at most about ``8 * buckets`` of them. ``x_range=None`` is everything."""
        base, to_x, from_x = self._axis(axis, t0)
        n = base.size
        if n == 0:
            return np.empty(0), np.empty(0)
        if x_range is None:
            i0, i1 = 0, n
        else:
            lo, hi = x_range
            pad = (hi - lo) * margin
            i0 = max(0, int(np.searchsorted(base, from_x(lo - pad), side="left")) - 1)
            i1 = min(n, int(np.searchsorted(base, from_x(hi + pad), side="right")) + 1)
        pyramid = self.smooth_pyramid if smoothed else self.raw_pyramid
        idx, vals = pyramid.decimate(i0, i1, buckets)
        return to_x(base[idx]), vals
