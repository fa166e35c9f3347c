"""A run's state (new, running, finished, stopped, crashed, running elsewhere: another process holds the run
folder's lock, or copied mid-run from another machine) from its events, its lock and its process, and the
at-a-glance summary the run list shows for every run folder."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashionstudio.core.run_folder import decode_lines, open_regular
from fashionstudio.core.runlock import lock_holder, read_holder
from fashionstudio.core.runs.discovery import checkpoint_files, read_run_config
from fashionstudio.core.runs.event_log import RunLog, parse_events

# A run that wrote nothing for this long without saying it ended is not running any more.
STALE_AFTER_S = 300.0

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
        with open_regular(log.path) as f:
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
