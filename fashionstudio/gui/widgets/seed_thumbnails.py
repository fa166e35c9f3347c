"""SeedThumbnails: renders the seed grid's page in batches, one background job after the other.

A newer page (or ψ) supersedes the batches still to come; ``refresh_soon`` waits for ψ to rest first. Batches wait while the tab's live render runs: on a
2-core CPU a thumbnail batch beside it slows both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from fashionstudio.gui.widgets.seed_grid import SeedGrid
from fashionstudio.gui.workers import error_sentence, run_in_background

BATCH = 8
RETRY_MS = 60
REST_MS = 400  # a slider resting this long is a choice, not a drag


class SeedThumbnails(QObject):
    message = Signal(str)

    def __init__(self, grid: SeedGrid, live_busy: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._grid = grid
        self._live_busy = live_busy
        self._generation = 0
        self._soon: Callable[[], None] | None = None
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(REST_MS)
        self.timer.timeout.connect(lambda: self._soon() if self._soon is not None else None)

    def refresh_soon(self, refresh: Callable[[], None]) -> None:
        """Call ``refresh()`` once the control that moved has rested for :data:`REST_MS`."""
        self._soon = refresh
        self.timer.start()

    def refresh(self, engine: Callable[[], Any], psi: float) -> None:
        """Render the grid's page at ``psi`` with ``engine()`` (called on the worker)."""
        self._generation += 1
        generation = self._generation
        seeds = self._grid.seeds()

        def next_batch(start: int) -> None:
            if generation != self._generation or start >= len(seeds):
                return
            if self._live_busy():
                QTimer.singleShot(RETRY_MS, self, lambda: next_batch(start))
                return
            batch = seeds[start:start + BATCH]

            def done(items: list[tuple[int, Any]]) -> None:
                if generation != self._generation:
                    return
                for seed, img in items:
                    self._grid.set_thumbnail(seed, img)
                next_batch(start + BATCH)

            run_in_background(lambda: engine().thumbnails(batch, psi), done,
                              lambda exc: self.message.emit(error_sentence(exc)), context=self)

        next_batch(0)

    def stop(self) -> None:
        self._generation += 1
        self.timer.stop()
