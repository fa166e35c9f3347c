"""The run-folder protocol: the one module the app and the trainer both import for what a run folder holds.

``config.toml`` (:data:`CONFIG_FILE`, written with :func:`to_toml`) says what to train; ``events.jsonl``
(:data:`EVENTS_FILE`, schema below) grows while it trains; ``STOP`` (:data:`STOP_FILE`) asks the trainer to stop;
``checkpoints/`` holds ``step_XXXXXXXX.pt`` (:func:`checkpoint_name`) and ``best.pt``; ``console.log`` the
trainer's output when the Train tab started it; ``model.safetensors`` the exported model. No torch, no Qt.

The event log, ``RUN_DIR/events.jsonl``:

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

Reading: a run folder may come from anywhere, so :func:`read_events` checks every event against this schema
(:func:`validate_event`) before anyone plots it: an event whose ``kind``, ``step`` or ``time`` is unusable is
dropped, a wrong optional field is removed, and a line longer than :data:`MAX_LINE_BYTES` is skipped without being
parsed (and without being read again on the next call). ``stats`` counts what was left out.

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
import re
import stat
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, TextIO

EVENTS_FILE = "events.jsonl"
STOP_FILE = "STOP"
KINDS = ("status", "scalars", "sample", "checkpoint", "metrics", "error")
STATUSES = ("started", "resumed", "finished", "stopped")
MAX_LINE_BYTES = 1 << 20        # the writer's lines are a few hundred bytes; a megabyte is not an event
_SCAN_CHUNK = 1 << 20
_NON_FINITE = ("nan", "inf", "-inf", "infinity", "-infinity")


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


def _count(stats: dict[str, int] | None, key: str) -> None:
    if stats is not None:
        stats[key] = stats.get(key, 0) + 1


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(value: Any) -> float | None:
    """A logged value: a number, or one of the strings the writer uses for NaN/inf; None for anything else."""
    if _is_number(value):
        return float(value)
    if isinstance(value, str) and value.strip().lower() in _NON_FINITE:
        return float(value)
    return None


def _step(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float) and math.isfinite(value) and value >= 0 and value.is_integer():
        return int(value)
    return None


def _relative_path(value: Any) -> str | None:
    """A path inside the run folder (``samples/x.png``); absolute paths and ``..`` are not."""
    if not isinstance(value, str) or not value or len(value) > 4096 or "\x00" in value:
        return None
    p = PurePosixPath(value.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and p.parts[0].endswith(":")):
        return None
    return value


def validate_event(raw: Any) -> dict[str, Any] | None:
    """The event with every field a reader uses checked against the schema above, or None when it is unusable
    (not an object, unknown ``kind``, ``step`` not a whole number of 0 or more, or a kind's required field
    missing). Optional fields of the wrong type (a ``time`` that is not a finite number) are dropped; other keys
    pass through."""
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        return None
    step = _step(raw.get("step"))
    if step is None:
        return None
    kind = raw["kind"]
    event = dict(raw)
    event["step"] = step
    if "time" in event:  # the writer always sets it; hand-written logs may not
        when = event["time"]
        if _is_number(when) and math.isfinite(when):
            event["time"] = when
        else:
            del event["time"]
    if kind == "status":
        if raw.get("status") not in STATUSES:
            return None
        for key in ("total_steps", "batch_size", "world_size"):
            if key in event and (_step(event[key]) is None or _step(event[key]) == 0):
                del event[key]
        for key in ("family", "preset", "device", "precision", "fixed_inputs", "reason"):
            if key in event and not isinstance(event[key], str):
                del event[key]
        notes = event.get("notes")
        if notes is not None:
            event["notes"] = [n for n in notes if isinstance(n, str)] if isinstance(notes, list) else []
        if "checkpoint" in event and _relative_path(event["checkpoint"]) is None:
            event["checkpoint"] = None
    elif kind in ("scalars", "metrics"):
        values = raw.get("values")
        if not isinstance(values, dict):
            return None
        event["values"] = {name: v for name, v in values.items() if _scalar(v) is not None}  # kept as written
        if "split" in event and not isinstance(event["split"], str):
            del event["split"]
    elif kind == "sample":
        if _relative_path(raw.get("path")) is None:
            return None
        rows = raw.get("rows")
        event["rows"] = [r for r in rows if isinstance(r, str)] if isinstance(rows, list) else []
    elif kind == "checkpoint":
        if _relative_path(raw.get("path")) is None:
            return None
        event["best"] = raw.get("best") is True
        if "monitor" in event and _scalar(event["monitor"]) is None:
            del event["monitor"]
    elif kind == "error":
        event["error"] = raw.get("error") if isinstance(raw.get("error"), str) else "internal"
        event["message"] = raw.get("message") if isinstance(raw.get("message"), str) else ""
        if "checkpoint" in event and _relative_path(event["checkpoint"]) is None:
            event["checkpoint"] = None
        if "loss" in event and not isinstance(event["loss"], str):
            del event["loss"]
    return event


def decode_lines(data: bytes, stats: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The valid events among complete lines ``data``: over-long lines are skipped unparsed ("too_long"),
    undecodable or off-schema ones dropped ("invalid")."""
    events = []
    for raw in data.splitlines():
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            _count(stats, "too_long")
            continue
        try:
            event = validate_event(json.loads(raw))
        except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            event = None
        if event is None:
            _count(stats, "invalid")
        else:
            events.append(event)
    return events


def _skip_line(f: Any) -> int:
    """Move past the next newline (or to the end of the file) in bounded reads; return the new offset."""
    while True:
        chunk = f.read(_SCAN_CHUNK)
        if not chunk:
            return f.tell()
        nl = chunk.find(b"\n")
        if nl >= 0:
            return f.tell() - len(chunk) + nl + 1


def read_events(path: str | os.PathLike, from_offset: int = 0, max_bytes: int | None = None,
                stats: dict[str, int] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Read the complete events after byte ``from_offset``; return them and the offset to continue from.

    ``path`` is the run folder or its events file. A last line without its newline is being written right now: it
    is left for the next call, unless it is already longer than :data:`MAX_LINE_BYTES`: then it is skipped (to
    its end, or to the end of the file) and counted in ``stats["too_long"]``, so it is never read twice. Lines
    that are not valid JSON (a crash mid-write in an older run) or not valid events are skipped and counted in
    ``stats["invalid"]``. A missing file reads as no events. ``max_bytes`` bounds one call (a copied-in run with
    a million events is read in pieces): it reads about that much, never splitting a line.
    Deliberately free of torch and Qt: the app's Train tab tails runs with it.
    """
    path = Path(path)
    if path.is_dir():
        path = path / EVENTS_FILE
    try:
        with open_regular(path) as f:
            f.seek(from_offset)
            data = f.read() if max_bytes is None else f.read(max_bytes)
            while data and b"\n" not in data and len(data) <= MAX_LINE_BYTES:  # one line longer than max_bytes
                more = f.read(max(max_bytes or 0, 1 << 16))
                if not more:
                    break
                data += more
            end = data.rfind(b"\n")
            if end < 0:
                if len(data) <= MAX_LINE_BYTES:
                    return [], from_offset
                f.seek(from_offset + len(data))
                _count(stats, "too_long")
                return [], _skip_line(f)
    except FileNotFoundError:
        return [], from_offset
    return decode_lines(data[: end + 1], stats), from_offset + end + 1


# ----- the folder's other files ------------------------------------------------------------------------------------
class NotRegularFileError(OSError):
    """A run-folder file that is a FIFO, a device or a folder: run folders are untrusted, and reading one could
    block forever."""


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """``path`` opened for binary reading, or :class:`NotRegularFileError` (an OSError) unless it is a regular file.

    The open never blocks: O_NONBLOCK makes a FIFO's open return at once, and fstat then refuses it.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFileError(f"{os.fspath(path)} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


CONFIG_FILE = "config.toml"          # what to train: written by the New-run dialog or by hand, read by the trainer
CONSOLE_FILE = "console.log"         # the trainer's stdout/stderr when the Train tab started it
CHECKPOINT_DIR = "checkpoints"       # step_XXXXXXXX.pt (checkpoint_name) and best.pt, written atomically
BEST_CHECKPOINT = "best.pt"
DEFAULT_MODEL_FILE = "model.safetensors"  # what `python -m training export RUN_DIR` writes by default

# config.toml's defaults for the keys both sides show: training.config's dataclasses and the New-run dialog read
# these, so a preset file that leaves a key out means the same number to the trainer and to the form.
DEFAULT_STEPS = 1000
DEFAULT_BATCH_SIZE = 8
DEFAULT_ATELIER_SIZE = 512                 # [data] size: synthetic examples generated for a run
DEFAULT_LOG = {"log_every": 10, "sample_every": 200, "checkpoint_every": 500, "keep_last": 3, "eval_every": 0}
_CHECKPOINT_NAME = re.compile(r"^step_(\d{8,})\.pt$")


def checkpoint_name(step: int) -> str:
    """The file name of the step checkpoint written after ``step`` optimiser steps."""
    return f"step_{step:08d}.pt"


def checkpoint_step(name: str) -> int | None:
    """The step of a step checkpoint's file name, None for any other name (best.pt, temporary files)."""
    m = _CHECKPOINT_NAME.match(name)
    return int(m.group(1)) if m else None


# ----- config.toml ---------------------------------------------------------------------------------------------
def to_toml(table: dict[str, Any]) -> str:
    """Write a config table back as TOML (enough for config files: scalars, lists, nested tables)."""
    lines: list[str] = []
    _emit_table(table, [], lines)
    return "\n".join(lines).strip() + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if value is None:
        raise ValueError("TOML has no null; leave the key out instead")
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else _toml_value(key)


def _emit_table(table: dict[str, Any], prefix: list[str], lines: list[str]) -> None:
    subtables = {k: v for k, v in table.items() if isinstance(v, dict)}
    for key, value in table.items():
        if key not in subtables and value is not None:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in subtables.items():
        lines.append("")
        lines.append("[" + ".".join(_toml_key(k) for k in [*prefix, key]) + "]")
        _emit_table(value, [*prefix, key], lines)
