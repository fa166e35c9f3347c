"""Reads run folders' facts (config, checkpoints, console log) on the worker pool, never on the GUI thread.

At most one read per folder runs at a time, so a folder on a stalled share holds one worker, not the pool; asking
again while a read runs schedules one more read after it (however often it was asked), and whoever asked gets the
facts of a read that began after the asking. Results arrive on the GUI thread through ``facts_read``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from fashionstudio.core import run_facts
from fashionstudio.core.run_facts import RunFacts
from fashionstudio.gui.workers import run_in_background

log = logging.getLogger(__name__)

Then = Callable[[], None]


class FolderReader(QObject):
    facts_read = Signal(object)   # RunFacts

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: dict[Path, list[Then]] = {}   # a read in flight -> who waits for it
        self._again: dict[Path, list[Then]] = {}     # a read to start when that one lands -> who waits for it
        self._closed = False

    def busy(self, path: Path | None = None) -> bool:
        return bool(self._running) if path is None else path in self._running

    def request(self, path: Path, then: Then | None = None) -> None:
        """Read ``path``'s facts soon; call ``then()`` (GUI thread) once facts read after now have been reported."""
        if self._closed:
            return
        if path in self._running:
            waiting = self._again.setdefault(path, [])
            if then is not None:
                waiting.append(then)
            return
        self._start(path, [then] if then is not None else [])

    def close(self) -> None:
        self._closed = True
        self._again.clear()

    def _done(self, facts: RunFacts) -> None:
        self.facts_read.emit(facts)
        self._finish(facts.path)

    def _failed(self, path: Path, exc: BaseException) -> None:
        log.warning("reading the run folder %s failed: %s", path, exc)
        self._finish(path)

    def _finish(self, path: Path) -> None:
        waiting = self._running.pop(path, [])
        for then in waiting:
            then()
        again = self._again.pop(path, None)
        if again is not None and not self._closed:
            self._start(path, again)

    def _start(self, path: Path, waiting: list[Then]) -> None:
        self._running[path] = waiting
        run_in_background(lambda: run_facts.read_run_facts(path), self._done, lambda exc: self._failed(path, exc),
                          context=self)
