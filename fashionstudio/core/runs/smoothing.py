"""TensorBoard's scalar smoothing (a debiased EMA; W&B uses the same formula), in one go or incrementally."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

_LFILTER: Any = None


def _lfilter() -> Any:
    """scipy.signal.lfilter, imported on first use (it is a slow import); False without SciPy. SciPy comes with
    scikit-image; the numpy fallback gives the same numbers."""
    global _LFILTER
    if _LFILTER is None:
        try:
            from scipy.signal import lfilter
        except ImportError:  # pragma: no cover
            lfilter = False
        _LFILTER = lfilter
    return _LFILTER


def ema_smooth(values: Any, weight: float) -> np.ndarray:
    """TensorBoard's scalar smoothing: a debiased exponential moving average.

    ``last = last * w + (1 - w) * v``; the shown value is ``last / (1 - w ** n)`` where ``n`` counts the finite
    values so far. Non-finite values are shown as they are and do not enter the average; a constant series is
    returned unchanged (TensorBoard does the same to avoid rounding noise).
    """
    v = np.asarray(values, dtype=np.float64)
    out = v.copy()
    if v.size == 0 or weight <= 0:
        return out
    if np.all(v == v[0]):
        return out
    state = EmaState(weight)
    finite = np.isfinite(v)
    out[finite] = state.extend(v[finite])
    return out


class EmaState:
    """An incremental debiased EMA: ``extend(new_finite_values)`` continues where the last call stopped."""

    def __init__(self, weight: float) -> None:
        self.weight = float(weight)
        self.last = 0.0
        self.count = 0

    def extend(self, v: np.ndarray) -> np.ndarray:
        w = self.weight
        v = np.asarray(v, dtype=np.float64)
        if v.size == 0:
            return v.copy()
        if w <= 0:
            self.last, self.count = float(v[-1]), self.count + v.size
            return v.copy()
        lfilter = _lfilter()
        if lfilter:
            # y_k = w y_{k-1} + (1-w) v_k as a first-order IIR filter, started from the stored state
            last, _ = lfilter([1.0 - w], [1.0, -w], v, zi=[w * self.last])
        else:
            last = self._recurrence_numpy(v)
        out = last.copy()
        if w < 1:
            # 1 - w^k is 1 to double precision once w^k < 1e-17: only the first few hundred/thousand points of
            # a series need the correction (np.exp of a product: np.power with a float exponent is the slow path)
            horizon = int(math.ceil(math.log(1e-17) / math.log(w))) if w > 0 else 0
            n = max(0, min(v.size, horizon - self.count))
            if n:
                k = np.arange(self.count + 1, self.count + n + 1, dtype=np.float64)
                out[:n] /= -np.expm1(k * math.log(w))
        self.last = float(last[-1])
        self.count += v.size
        return out

    def _recurrence_numpy(self, v: np.ndarray) -> np.ndarray:
        """The same recurrence in closed form, ``y_k = w^k (y_0 + (1-w) sum_j w^-j v_j)``, in blocks short
        enough that ``w^-k`` stays representable (used when SciPy is missing)."""
        w = self.weight
        if w >= 1:
            return np.full(v.size, self.last)
        out = np.empty_like(v)
        block = max(1, min(v.size, int(600 / -math.log(w))))
        last = self.last
        for start in range(0, v.size, block):
            chunk = v[start:start + block]
            lk = np.arange(1, chunk.size + 1, dtype=np.float64) * math.log(w)
            y = np.exp(lk) * (last + np.cumsum((1 - w) * chunk * np.exp(-lk)))
            out[start:start + chunk.size] = y
            last = float(y[-1])
        return out


def smooth_with(ema: EmaState, v: np.ndarray) -> np.ndarray:
    """Continue ``ema`` over ``v``: non-finite values pass through and do not enter the average."""
    v = np.asarray(v, dtype=np.float64)
    if ema.weight <= 0:
        return v.copy()
    finite = np.isfinite(v)
    if finite.all():
        return ema.extend(v)
    out = v.copy()
    if finite.any():
        out[finite] = ema.extend(v[finite])
    return out
