"""Asking a training run to stop: SIGTERM/SIGINT or the run folder's stop file become one flag the loop polls."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any


class StopRequested:
    """Turns SIGTERM/SIGINT, or a ``STOP`` file in the run folder, into a flag the loop checks after each step.

    Signals often arrive in pairs (Ctrl+C reaches torchrun and its workers, which torchrun then signals again;
    ``timeout`` forwards its own; the Train tab writes ``STOP`` and sends SIGTERM), so repeats within ``grace``
    seconds are absorbed; a signal after that means "stop now" and interrupts (the last checkpoint on disk stays
    intact). The stop file is the one way to ask on Windows, where a console process gets no SIGTERM.
    """

    def __init__(self, grace: float = 5.0, stop_file: str | Path | None = None) -> None:
        self.flag = False
        self.reason = ""
        self.grace = grace
        self.stop_file = Path(stop_file) if stop_file is not None else None
        self._first = 0.0
        self._previous: dict[int, Any] = {}

    def request(self, reason: str) -> None:
        """Ask for a stop (a repeat while one is pending changes nothing)."""
        if self.flag:
            return
        self.flag = True
        self._first = time.monotonic()
        self.reason = reason

    def poll(self) -> bool:
        """Whether a stop was asked for; looks for the stop file (one stat) unless a signal already asked."""
        if not self.flag and self.stop_file is not None and os.path.exists(self.stop_file):
            self.request("stop-file")
        return self.flag

    def clear_stop_file(self) -> None:
        """Delete the stop file, so that the next ``resume`` of the run does not stop at once."""
        if self.stop_file is not None:
            try:
                self.stop_file.unlink(missing_ok=True)
            except OSError:  # read-only folder: the next run would stop at once, but this one ends cleanly
                pass

    def _handler(self, signum: int, frame: Any) -> None:
        if self.flag:
            if time.monotonic() - self._first > self.grace:
                raise KeyboardInterrupt
            return
        self.request(signal.Signals(signum).name)

    def install(self) -> bool:
        """Handle SIGTERM/SIGINT; False if they were handled already (or cannot be here, off the main thread)."""
        if self._previous:
            return False
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread (e.g. called from a test worker thread)
                pass
        return bool(self._previous)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
