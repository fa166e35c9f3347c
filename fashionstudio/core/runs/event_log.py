"""Tailing a run's ``events.jsonl`` (:func:`fashionstudio.core.run_folder.read_events`): by byte offset, in bounded
chunks, never re-reading the file, into per-tag :class:`~fashionstudio.core.runs.series.Series`, sample grids,
checkpoints, statuses and errors. Events are validated by the reader first, so an odd line (a step of "abc", a
NaN time, 1000 nested brackets, a 200 MB line) is left out and counted, never the reason a run shows nothing."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionstudio.core.run_folder import EVENTS_FILE, read_events
from fashionstudio.core.runs.series import Series


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
