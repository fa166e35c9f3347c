"""The run folder's event log, ``RUN_DIR/events.jsonl``: the one place its schema is defined.

The trainer appends one JSON object per line and echoes the same line on stdout; the Train tab (or anyone) tails
the file with :func:`read_events`. Every event has these keys::

    {"time": 1764000000.123,   # Unix time (seconds, float) when the event was written
     "kind": "scalars",        # one of KINDS below
     "step": 120,              # optimiser steps completed when the event was written (0 before the first)
     ...}                      # the kind's own keys:

``status``      ``status``: "started" | "resumed" | "finished" | "stopped"; on started/resumed also ``family``,
                ``preset``, ``total_steps``, ``batch_size``, ``world_size``, ``device``, ``precision`` (the one in
                use after any CPU fallback), ``notes`` (list of sentences, e.g. why an option fell back),
                ``fixed_inputs`` ("test" or "train": where the sample/metric inputs come from);
                on finished/stopped also ``checkpoint`` (relative path of the checkpoint written last, or null);
                on stopped also ``reason`` ("SIGTERM", "SIGINT", "--until N", ...).
``scalars``     ``values``: {name: float}. Names are ``loss/<name>`` (losses, averaged since the last scalars
                event), ``lr/<optimiser>``, ``weight/<name>`` (scheduled loss weights), ``images_per_s``.
``sample``      ``path``: PNG relative to RUN_DIR (``samples/step_00000120.png``), ``rows``: what each row shows.
``checkpoint``  ``path``: relative path of the checkpoint file, ``best``: bool (it is also ``best.pt`` now),
                ``monitor``: the value best.pt is chosen on (a metric, else the mean monitored loss), if any.
``metrics``     ``values``: {name: float} measured on fixed held-out inputs (lower is better unless the name
                says otherwise), ``split``: the inputs' origin.
``error``       ``error``: "non_finite_loss" | "io" | "config" | "data" | "internal"; ``message``: a sentence for
                a person; ``loss`` (name of the non-finite loss, for non_finite_loss); ``checkpoint`` (the last
                good checkpoint, if any).

Only rank 0 of a multi-process run writes events.

Stopping a run: the trainer ends a run early on SIGTERM/SIGINT or when a file named ``STOP`` (:data:`STOP_FILE`,
any content) appears in RUN_DIR, which it looks for once per step. Either way it finishes the step, writes a
checkpoint, deletes ``STOP``, logs ``stopped`` (``reason`` "SIGTERM", "SIGINT" or "stop-file") and exits 0. The
file is the only way on Windows, which has no SIGTERM for a console process; the Train tab writes it on every
platform and also sends SIGTERM where there is one (the second request is absorbed). The trainer deletes ``STOP``
whenever it exits, and the Train tab deletes a stale one before it starts a trainer; a ``STOP`` left behind some
other way stops the next run before its first step.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

EVENTS_FILE = "events.jsonl"
STOP_FILE = "STOP"
KINDS = ("status", "scalars", "sample", "checkpoint", "metrics", "error")
STATUSES = ("started", "resumed", "finished", "stopped")


def _clean(value: Any) -> Any:
    """JSON has no NaN/inf: write them as strings so the line stays valid JSON that every reader parses."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class EventWriter:
    """Appends events to ``RUN_DIR/events.jsonl`` (flushed per line) and echoes them on stdout if ``echo``.

    ``enabled=False`` (ranks other than 0) makes every call a no-op. Write failures raise ``OSError``: the caller
    decides how to report them (the runner falls back to stderr).
    """

    def __init__(self, run_dir: str | os.PathLike, *, enabled: bool = True, echo: bool = True):
        self.path = Path(run_dir) / EVENTS_FILE
        self.enabled = enabled
        self.echo = echo
        self._file: TextIO | None = None

    def emit(self, kind: str, step: int, **fields: Any) -> dict[str, Any] | None:
        """Append one event and return it (None when disabled)."""
        if not self.enabled:
            return None
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        event = {"time": round(time.time(), 3), "kind": kind, "step": int(step), **_clean(fields)}
        line = json.dumps(event, separators=(",", ":")) + "\n"
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write(line)
        self._file.flush()
        if self.echo:
            try:
                sys.stdout.write(line)
                sys.stdout.flush()
            except (OSError, ValueError, AttributeError):  # a closed stdout must not stop training
                self.echo = False
        return event

    def close(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None


def read_events(path: str | os.PathLike, from_offset: int = 0,
                max_bytes: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """Read the complete events after byte ``from_offset``; return them and the offset to continue from.

    ``path`` is the run folder or its events file. A last line without its newline is being written right now: it
    is left for the next call. A line that is not valid JSON (a crash mid-write in an older run) is skipped. A
    missing file reads as no events. ``max_bytes`` bounds one call (a copied-in run with a million events is read
    in pieces): it reads about that much, never splitting a line (a single longer line is read whole).
    Deliberately free of torch and Qt: the app's Train tab tails runs with it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / EVENTS_FILE
    try:
        with open(path, "rb") as f:
            f.seek(from_offset)
            if max_bytes is None:
                data = f.read()
            else:
                data = f.read(max_bytes)
                while data and b"\n" not in data:  # one line longer than max_bytes
                    more = f.read(max_bytes)
                    if not more:
                        break
                    data += more
    except FileNotFoundError:
        return [], from_offset
    end = data.rfind(b"\n")
    if end < 0:
        return [], from_offset
    events = []
    for raw in data[: end + 1].splitlines():
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(event, dict):
            events.append(event)
    return events, from_offset + end + 1
