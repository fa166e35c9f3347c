"""Training runs as the Train tab sees them, without Qt: run folders, their events, smoothing and decimation.

A run folder is the whole interface between the app and the trainer (its protocol:
:mod:`fashionstudio.core.run_folder`): ``config.toml`` says what to train, ``events.jsonl`` grows while it trains.
This module

- finds run folders under a runs directory (also ones started from a terminal or copied from another machine),
- writes a new run folder from a :class:`RunSpec` (what the "New run" dialog asks for), with readable errors,
- tails ``events.jsonl`` by byte offset in bounded chunks (never re-reading the file, never loading a huge file
  at once) into growable per-tag series,
- smooths series with TensorBoard's debiased EMA (W&B uses the same formula), incrementally,
- decimates a series to a few thousand min/max points for any visible range through a min/max pyramid, so
  drawing a million-point curve costs the same as drawing a thousand-point one,
- infers a run's state (new, running, finished, stopped, crashed, running elsewhere: another process holds
  the run folder's lock, or copied mid-run from another machine) from its events, its lock and its process.

Everything read from a run folder is untrusted: events pass :func:`~fashionstudio.core.run_folder.validate_event`
first, so an odd line (a step of "abc", a NaN time, 1000 nested brackets, a 200 MB line) is left out and counted,
never the reason the run list comes up empty.
"""

from __future__ import annotations

import math
import os
import re
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from fashionstudio.core import registry
from fashionstudio.core.run_folder import (  # noqa: F401 - CONFIG_FILE ... are the Train tab's names too
    CHECKPOINT_DIR, CONFIG_FILE, CONSOLE_FILE, DEFAULT_MODEL_FILE, EVENTS_FILE, decode_lines, read_events, to_toml,
)
from fashionstudio.core.runlock import lock_holder, read_holder
from fashionstudio.families import Family

_LFILTER: Any = None


def _lfilter() -> Any:
    """scipy.signal.lfilter, imported on first use (it is a slow import); False without SciPy. SciPy comes with
    scikit-image; the numpy fallback gives the same numbers, a little slower."""
    global _LFILTER
    if _LFILTER is None:
        try:
            from scipy.signal import lfilter
        except ImportError:  # pragma: no cover
            lfilter = False
        _LFILTER = lfilter
    return _LFILTER


DATA_KIND_LABELS = {
    "atelier": "Synthetic atelier (generated)",
    "inshop": "DeepFashion In-shop folder",
    "lookbook": "LookBook folder",
    "shoes_bags": "Shoes/handbags HDF5 folder",
    "images": "Folder or .zip of images",
    "fisb": "Fashion Synthesis G2.h5",
}
PRESETS = ("demo", "studio", "thesis")
DEVICES = ("auto", "cpu", "cuda", "mps")

# A run that wrote nothing for this long without saying it ended is not running any more.
STALE_AFTER_S = 300.0

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


# ----- where runs live ------------------------------------------------------------------------------------------
def default_runs_dir() -> Path:
    """``$FASHIONSTUDIO_RUNS`` if set, else ``runs`` in the user's FashionStudio data folder (never in the app)."""
    env = os.environ.get("FASHIONSTUDIO_RUNS")
    if env:
        return Path(env).expanduser()
    from fashionstudio.core.applog import app_data_dir

    return app_data_dir() / "runs"


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or (path / EVENTS_FILE).is_file()


def discover_runs(runs_dir: str | os.PathLike, depth: int = 2) -> list[Path]:
    """Every run folder under ``runs_dir`` (a folder holding config.toml or events.jsonl), up to ``depth`` levels
    deep so that a copied-in ``server1/run_a`` is found too; sorted by name. A missing folder has no runs."""
    root = Path(runs_dir)
    found: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            if is_run_dir(child):
                found.append(child)
            elif level < depth:
                walk(child, level + 1)

    walk(root, 1)
    return found


def read_run_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's own config.toml as a table (not layered on its preset); {} when missing or unreadable."""
    try:
        with open(Path(run_dir) / CONFIG_FILE, "rb") as f:
            return tomllib.load(f)
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError, non-UTF-8 bytes, absurd nesting
        return {}


def checkpoint_files(run_dir: str | os.PathLike) -> list[Path]:
    """The run's checkpoint files (step_*.pt and best.pt); a run with any of them can be resumed and exported."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".pt" and not p.name.startswith("."))
    except OSError:
        return []


# ----- a new run --------------------------------------------------------------------------------------------------
class RunSetupError(ValueError):
    """What is wrong with a new run's settings, as a sentence for the person filling in the dialog."""


@dataclass
class RunSpec:
    """What the "New run" dialog asks for. ``arch``/``loss``/``log`` are optional overrides of the preset."""

    name: str
    family: str
    preset: str = "demo"
    data_kind: str = "atelier"
    data_path: str = ""
    atelier_size: int = 512
    steps: int = 1500
    batch_size: int = 8
    resolution: int | None = None
    device: str = "auto"
    seed: int = 0
    sample_every: int | None = None
    checkpoint_every: int | None = None
    log_every: int | None = None
    eval_every: int | None = None
    arch: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)

    def to_config(self) -> dict[str, Any]:
        """The run's config.toml table: only what differs from the preset, so the preset stays in charge."""
        cfg: dict[str, Any] = {"family": self.family, "preset": self.preset, "seed": self.seed,
                               "device": self.device, "steps": self.steps, "batch_size": self.batch_size}
        if self.resolution:
            cfg["resolution"] = self.resolution
        if self.arch:
            cfg["arch"] = dict(self.arch)
        data: dict[str, Any] = {"kind": self.data_kind}
        if self.data_kind == "atelier":
            data["size"] = self.atelier_size
        else:
            data["path"] = self.data_path
        cfg["data"] = data
        if self.loss:
            cfg["loss"] = dict(self.loss)
        log = {k: getattr(self, k) for k in ("log_every", "sample_every", "checkpoint_every", "eval_every")
               if getattr(self, k) is not None}
        if log:
            cfg["log"] = log
        return cfg


def trainable_families() -> dict[str, Family]:
    """The families a new run can train (New-run dialog order): those declaring a trainer and dataset kinds."""
    return {f.name: f for f in registry.families() if f.trainer is not None and f.data_kinds}


def validate_run_spec(spec: RunSpec, runs_dir: str | os.PathLike) -> None:
    """Raise :class:`RunSetupError` with a specific sentence for the first problem found."""
    name = spec.name.strip()
    if not name:
        raise RunSetupError("Give the run a name, for example \"shoes-bags-first-try\".")
    if not _NAME_OK.match(name) or len(name) > 80:
        raise RunSetupError(f"The run name \"{name}\" can only use letters, digits, spaces, dots, dashes and "
                            "underscores (up to 80 characters), because it becomes a folder name.")
    if (Path(runs_dir) / name).exists():
        raise RunSetupError(f"There is already a run called \"{name}\" in {runs_dir}; choose another name.")
    families = trainable_families()
    if spec.family not in families:
        raise RunSetupError(f"Unknown model family \"{spec.family}\"; choose one of {', '.join(families)}.")
    if spec.preset not in PRESETS:
        raise RunSetupError(f"Unknown preset \"{spec.preset}\"; choose one of {', '.join(PRESETS)}.")
    kinds = families[spec.family].data_kinds
    if spec.data_kind == "atelier":
        if spec.atelier_size < 8:
            raise RunSetupError("The synthetic atelier needs at least 8 generated examples.")
    else:
        if spec.data_kind not in kinds:
            raise RunSetupError(f"{families[spec.family].display_label} trains on {' or '.join(kinds)} data, "
                                f"not \"{spec.data_kind}\".")
        if not spec.data_path.strip():
            raise RunSetupError("Choose the dataset folder (or use the synthetic atelier).")
        path = Path(spec.data_path).expanduser()
        if not path.exists():
            raise RunSetupError(f"The dataset folder \"{path}\" does not exist.")
    if spec.steps <= 0:
        raise RunSetupError("The number of training steps must be at least 1.")
    if spec.batch_size <= 0:
        raise RunSetupError("The batch size must be at least 1.")
    for what, every in (("sample grids", spec.sample_every), ("checkpoints", spec.checkpoint_every)):
        if every is not None and every < 0:
            raise RunSetupError(f"The steps between {what} must be 0 (never) or more, not {every}.")
    if spec.resolution is not None and (spec.resolution < 8 or spec.resolution & (spec.resolution - 1)):
        raise RunSetupError("The resolution must be a power of two such as 32, 64, 128 or 256.")
    if spec.device not in DEVICES and not re.match(r"^cuda:\d+$", spec.device):
        raise RunSetupError(f"Unknown device \"{spec.device}\"; use auto, cpu, cuda, cuda:N or mps.")


def create_run(runs_dir: str | os.PathLike, spec: RunSpec) -> Path:
    """Validate ``spec`` and write ``runs_dir/<name>/config.toml``; return the run folder."""
    validate_run_spec(spec, runs_dir)
    folder = Path(runs_dir) / spec.name.strip()
    try:
        folder.mkdir(parents=True)
        tmp = folder / (CONFIG_FILE + ".tmp")
        tmp.write_text(to_toml(spec.to_config()), encoding="utf-8")
        tmp.replace(folder / CONFIG_FILE)
    except OSError as exc:
        raise RunSetupError(f"Cannot create the run folder \"{folder}\": {exc.strerror or exc}.") from None
    return folder


# ----- smoothing ---------------------------------------------------------------------------------------------------
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
            # a series need the correction (np.exp, because np.power with a float exponent is ~20x slower)
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


# ----- growable arrays and the min/max pyramid -------------------------------------------------------------------
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


def _smooth_with(ema: EmaState, v: np.ndarray) -> np.ndarray:
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


# ----- one scalar series -------------------------------------------------------------------------------------------
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
        self.smoothed.extend(_smooth_with(self._ema, v))

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
            smoothed.extend(_smooth_with(ema, values))
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


# ----- reading events.jsonl (run_folder.read_events) -----------------------------------------------------------
def _number(value: Any) -> float:
    """Event values are floats, or the strings "nan"/"inf"/"-inf" the writer uses for non-finite ones."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class LogDelta:
    """What one read of events.jsonl added: per-tag columns and the non-scalar events, ready to apply."""

    offset: int
    more: bool
    reset: bool = False
    scalars: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)   # every non-scalar event, in order
    n_events: int = 0
    first_time: float | None = None
    last_time: float | None = None
    last_step: int | None = None
    skipped: dict[str, int] = field(default_factory=dict)   # lines left out: "too_long", "invalid"


def parse_events(events: list[dict[str, Any]], offset: int, more: bool) -> LogDelta:
    """Turn raw events into columns: ``scalars`` values become tags as named, ``metrics`` ones ``metrics/<name>``."""
    cols: dict[str, tuple[list[float], list[float], list[float]]] = {}
    others = []
    first_time = last_time = last_step = None
    for ev in events:
        kind = ev.get("kind")
        step, t = ev.get("step"), ev.get("time")
        if isinstance(step, (int, float)):
            last_step = int(step)
        if isinstance(t, (int, float)):
            last_time = float(t)
            if first_time is None:
                first_time = last_time
        if kind in ("scalars", "metrics") and isinstance(ev.get("values"), dict):
            prefix = "metrics/" if kind == "metrics" else ""
            s, tt = _number(step), _number(t)
            for name, value in ev["values"].items():
                c = cols.setdefault(prefix + str(name), ([], [], []))
                c[0].append(s)
                c[1].append(tt)
                c[2].append(_number(value))
        else:
            others.append(ev)
    scalars = {k: (np.asarray(a), np.asarray(b), np.asarray(c)) for k, (a, b, c) in cols.items()}
    return LogDelta(offset, more, scalars=scalars, events=others, n_events=len(events),
                    first_time=first_time, last_time=last_time, last_step=last_step)


class RunLog:
    """Everything read so far from one run's events.jsonl; ``read_delta`` (any thread) + ``apply`` (one owner).

    ``read_delta`` only reads the file from the stored offset; ``apply`` updates the series and the summary.
    Calling ``poll()`` does both (tests, scripts).
    """

    def __init__(self, run_dir: str | os.PathLike, smoothing: float = 0.0, max_bytes: int = 4 << 20) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / EVENTS_FILE
        self.max_bytes = max_bytes
        self.smoothing = smoothing
        self.offset = 0
        self._reset_summary()

    def _reset_summary(self) -> None:
        self.series: dict[str, Series] = {}
        self.samples: list[tuple[int, str, list[str]]] = []   # (step, relative PNG path, row labels)
        self.checkpoints: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.info: dict[str, Any] = {}      # the last started/resumed status event
        self.last_step = 0
        self.last_time: float | None = None
        self.first_time: float | None = None
        self.n_events = 0
        self.skipped: dict[str, int] = {}   # event lines left out so far ("too_long", "invalid")

    def read_delta(self, offset: int | None = None) -> LogDelta:
        """Read the next chunk after ``offset`` (default: where the last applied delta ended)."""
        offset = self.offset if offset is None else offset
        try:
            size = self.path.stat().st_size
        except OSError:
            size = None
        reset = size is not None and size < offset  # the file was replaced (e.g. copied in again): start over
        if reset:
            offset = 0
        stats: dict[str, int] = {}
        events, new_offset = read_events(self.path, offset, self.max_bytes, stats)
        # More complete lines may follow at once when this read stopped short of the end; a partial last line
        # alone (no progress) waits for the next tick.
        more = size is not None and offset < new_offset < size
        delta = parse_events(events, new_offset, more)
        delta.reset = reset
        delta.skipped = stats
        return delta

    def apply(self, delta: LogDelta) -> set[str]:
        """Add a delta read from the current offset; return the tags whose series changed."""
        if delta.reset:
            self._reset_summary()
        self.offset = delta.offset
        self.n_events += delta.n_events
        for key, n in delta.skipped.items():
            self.skipped[key] = self.skipped.get(key, 0) + n
        changed = set(delta.scalars)
        for tag, (steps, times, values) in delta.scalars.items():
            series = self.series.get(tag)
            if series is None:
                series = self.series[tag] = Series(self.smoothing)
            series.append(steps, times, values)
        for ev in delta.events:
            kind = ev.get("kind")
            if kind == "sample" and isinstance(ev.get("path"), str):
                step = _event_step(ev)
                self.samples = [s for s in self.samples if s[0] < step]  # a resume replaces later grids
                self.samples.append((step, ev["path"], list(ev.get("rows") or [])))
            elif kind == "checkpoint":
                self.checkpoints.append(ev)
            elif kind == "status":
                self.statuses.append(ev)
                if ev.get("status") in ("started", "resumed"):
                    self.info = ev
            elif kind == "error":
                self.errors.append(ev)
        if delta.last_step is not None:
            self.last_step = delta.last_step
        if delta.first_time is not None and self.first_time is None:
            self.first_time = delta.first_time
        if delta.last_time is not None:
            self.last_time = delta.last_time
        return changed

    def poll(self) -> set[str]:
        """Read and apply everything available now."""
        changed: set[str] = set()
        while True:
            delta = self.read_delta()
            changed |= self.apply(delta)
            if not delta.more:
                return changed

    def set_smoothing(self, weight: float) -> None:
        self.smoothing = weight
        for series in self.series.values():
            series.set_smoothing(weight)

    @property
    def last_status(self) -> str | None:
        return self.statuses[-1].get("status") if self.statuses else None

    @property
    def total_steps(self) -> int | None:
        value = self.info.get("total_steps")
        return int(value) if isinstance(value, (int, float)) else None

    def last_error(self) -> dict[str, Any] | None:
        """The error event that ended the run, if the run's last word was an error."""
        if not self.errors:
            return None
        last_err = self.errors[-1]
        last_status = self.statuses[-1] if self.statuses else None
        if last_status is not None and _number(last_status.get("time")) > _number(last_err.get("time")) \
                and last_status.get("status") in ("started", "resumed", "finished", "stopped"):
            return None  # it was resumed (or finished) after that error
        return last_err


def _event_step(ev: dict[str, Any]) -> int:
    """A validated event's step (always a whole number; 0 for an event built by hand without one)."""
    step = ev.get("step", 0)
    return step if isinstance(step, int) and not isinstance(step, bool) else 0


# ----- state --------------------------------------------------------------------------------------------------------
STATES = ("new", "running", "finished", "stopped", "crashed", "elsewhere", "copied")


def copied_from(run_dir: str | os.PathLike) -> str | None:
    """The other machine a run folder was copied from while it trained there, else None.

    A trainer's lock note (:mod:`fashionstudio.core.runlock`) lives only while it holds the lock. A note naming
    another host, in a folder whose lock nobody here holds, was copied along mid-run: what the folder shows is
    that machine's progress at copy time, not a run going on (or dying) here. Call it only when the lock is free.
    """
    import socket

    host = read_holder(run_dir).get("host")
    return host if host and host != socket.gethostname() else None


def infer_state(log: RunLog, process_running: bool | None = None, exit_code: int | None = None,
                now: float | None = None, mtime: float | None = None, locked: bool = False,
                copied: bool = False) -> str:
    """A run's state from its events, its lock and, when this app started it, its process.

    ``locked``: another process holds the run folder's lock (:mod:`fashionstudio.core.runlock`), so it trains
    there: "elsewhere". ``process_running`` is None for runs this app did not start: then a run that says it
    started (or whose log shows training but has lost its start to the length of the log), has not said it ended,
    and wrote nothing for :data:`STALE_AFTER_S` is taken as crashed (killed without a word), while a recently
    written one is running (in a terminal, on a server whose folder is shared). ``copied``: the folder was copied
    from another machine mid-run (:func:`copied_from`): such a run that has not said it ended is "copied".
    """
    if process_running:
        return "running"
    if locked:
        return "elsewhere"
    if log.last_error() is not None:
        return "crashed"
    status = log.last_status
    if status in ("finished", "stopped"):
        return status
    if status in ("started", "resumed") or (status is None and log.n_events and log.last_step > 0):
        if process_running is False:
            return "crashed"
        if copied and process_running is None:
            return "copied"
        now = time.time() if now is None else now
        if mtime is None:
            try:
                mtime = log.path.stat().st_mtime
            except OSError:
                mtime = log.last_time or 0.0
        return "running" if now - mtime < STALE_AFTER_S else "crashed"
    if process_running is False and exit_code not in (None, 0):
        return "crashed"
    return "new"


def tail_lines(path: str | os.PathLike, n: int = 30, max_bytes: int = 64 << 10) -> list[str]:
    """The last ``n`` lines of a text file, reading only its end."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-n:]


# ----- a run at a glance -------------------------------------------------------------------------------------------
@dataclass
class RunSummary:
    """What the run list shows for a run it does not follow closely (read from config.toml and the file's end)."""

    path: Path
    family: str = ""
    preset: str = ""
    steps: int | None = None
    last_step: int = 0
    state: str = "new"
    error: str | None = None
    has_checkpoint: bool = False
    mtime: float = 0.0
    locked_by: dict[str, Any] | None = None   # who holds the run's lock (another process training it), if anyone
    copied_from: str | None = None   # the machine it was copied from mid-run (see copied_from), if so


def summarize_run(run_dir: str | os.PathLike, tail_bytes: int = 64 << 10, now: float | None = None) -> RunSummary:
    """A :class:`RunSummary` reading only config.toml, the last ``tail_bytes`` of events.jsonl and the
    checkpoint folder (cheap enough to do for every run folder on each refresh, on a worker thread)."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    summary = RunSummary(path=run_dir, family=str(cfg.get("family", "")), preset=str(cfg.get("preset", "")),
                         steps=cfg.get("steps") if isinstance(cfg.get("steps"), int) else None,
                         has_checkpoint=bool(checkpoint_files(run_dir)))
    log = RunLog(run_dir)
    try:
        st = log.path.stat()
        summary.mtime = st.st_mtime
        start = max(0, st.st_size - tail_bytes)
        with open(log.path, "rb") as f:
            f.seek(start)
            data = f.read()
        if start:  # the first line is cut: skip it
            data = data[data.find(b"\n") + 1:]
        end = data.rfind(b"\n")
        log.apply(parse_events(decode_lines(data[:end + 1]), 0, False))
    except OSError:
        pass
    summary.last_step = log.last_step
    if log.total_steps:
        summary.steps = log.total_steps
    summary.locked_by = lock_holder(run_dir)
    summary.copied_from = copied_from(run_dir) if summary.locked_by is None else None
    summary.state = infer_state(log, now=now, mtime=summary.mtime or None, locked=summary.locked_by is not None,
                                copied=summary.copied_from is not None)
    err = log.last_error()
    summary.error = str(err.get("message", "")) if err else None
    return summary
