"""Follows runs' ``events.jsonl`` by byte offset: each read on the worker pool, each result applied on the GUI thread.

One read per run at a time; a read that stopped short of the file's end (a long copied-in log, read in bounded
chunks) is followed at once by the next. Each read also notes the file's modification time, which tells a run
that is still writing from one that died (``TrainState.state_of``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from fashionstudio.core.runs import LogDelta, RunLog
from fashionstudio.core.train_state import TrainState
from fashionstudio.gui.workers import run_in_background

log = logging.getLogger(__name__)

READ_CHUNK_BYTES = 1 << 20   # per read of events.jsonl: ~6000 events, a few ms to add on the GUI thread


def _read(run_log: RunLog, offset: int) -> tuple[LogDelta, float | None]:
    delta = run_log.read_delta(offset)
    try:
        mtime = run_log.path.stat().st_mtime
    except OSError:
        mtime = None
    return delta, mtime


class LogTailer(QObject):
    """Keeps ``state.logs`` up to date; ``log_changed(path, tags)`` says which charts' series grew."""

    log_changed = Signal(object, object)   # run folder, set of tags

    def __init__(self, state: TrainState, smoothing: Callable[[], float], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._smoothing = smoothing
        self._reading: set[Path] = set()
        self._closed = False

    def log_for(self, path: Path) -> RunLog:
        run_log = self.state.logs.get(path)
        if run_log is None:
            run_log = self.state.logs[path] = RunLog(path, smoothing=self._smoothing(), max_bytes=READ_CHUNK_BYTES)
        return run_log

    def reading(self, path: Path) -> bool:
        return path in self._reading

    def close(self) -> None:
        self._closed = True

    def read_more(self, path: Path) -> None:
        """Read what ``path``'s log appended since the last read (nothing if a read of it is in flight)."""
        if path in self._reading or self._closed:
            return
        run_log = self.log_for(path)
        self._reading.add(path)

        def done(result: tuple[LogDelta, float | None]) -> None:
            self._reading.discard(path)
            delta, mtime = result
            if self.state.logs.get(path) is not run_log:
                return
            self.state.note_mtime(path, mtime)
            tags = run_log.apply(delta)
            if delta.n_events or delta.reset:
                self.log_changed.emit(path, tags)
            if delta.more:  # a long file (a copied-in run): keep reading without waiting for the timer
                QTimer.singleShot(0, lambda: self.read_more(path))

        def failed(exc: BaseException) -> None:
            self._reading.discard(path)
            log.warning("reading %s failed: %s", run_log.path, exc)

        run_in_background(lambda: _read(run_log, run_log.offset), done, failed, context=self)

    def final_read(self, path: Path, then: Callable[[], None]) -> None:
        """Read the log to its end (its trainer has exited), then call ``then``."""
        run_log = self.log_for(path)

        def job() -> tuple[list[LogDelta], float | None]:
            deltas, offset, mtime = [], run_log.offset, None
            while True:
                delta, mtime = _read(run_log, offset)
                deltas.append(delta)
                offset = delta.offset
                if not delta.more:
                    return deltas, mtime

        def done(result: tuple[list[LogDelta], float | None]) -> None:
            self._reading.discard(path)
            deltas, mtime = result
            if self.state.logs.get(path) is not run_log:
                return
            self.state.note_mtime(path, mtime)
            tags: set[str] = set()
            for delta in deltas:
                tags |= run_log.apply(delta)
            self.log_changed.emit(path, tags)
            then()

        def failed(exc: BaseException) -> None:
            self._reading.discard(path)
            then()

        if path in self._reading:  # a tick's read is in flight: let it land first
            QTimer.singleShot(20, lambda: self.final_read(path, then))
            return
        self._reading.add(path)  # no tick read can interleave with this one
        run_in_background(job, done, failed, context=self)

    def wait_read(self, path: Path, timeout_s: float = 10.0) -> None:
        """Tests and scripts: read ``path``'s log to its current end (this one stats the file where it is called)."""
        deadline = time.monotonic() + timeout_s
        run_log = self.log_for(path)
        while time.monotonic() < deadline:
            QCoreApplication.processEvents()
            if path not in self._reading:
                try:
                    size = run_log.path.stat().st_size
                except OSError:
                    size = 0
                if run_log.offset >= size:
                    return
                self.read_more(path)
            time.sleep(0.005)
