"""Choosing the intra-op thread count of interactive inference by timing the requests themselves.

Small models run a batch-1 request faster on one thread than on two (thread start-up and synchronisation cost more
than the split saves), large ones the other way round, and where the line lies depends on the machine. So the
first requests of each model alternate between the candidate counts; once every candidate has ``trials`` timings,
the one with the lowest median serves every later request of that model.

``torch.set_num_threads`` acts on the calling thread's OpenMP pool, so :meth:`ThreadTuner.run` sets it on the
worker thread for each request; the GUI thread and other workers keep their own setting.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Iterator, Sequence


def default_candidates(cpu_count: int | None = None) -> tuple[int, ...]:
    """1 and the machine's usual intra-op count (torch's default: the physical cores, here ``os.cpu_count()``)."""
    n = max(1, int(cpu_count or os.cpu_count() or 1))
    return (1,) if n == 1 else (1, n)


class ThreadTuner:
    """Per model key: try each candidate thread count ``trials`` times (interleaved), then keep the fastest."""

    def __init__(self, candidates: Sequence[int] | None = None, trials: int = 5) -> None:
        cands = tuple(dict.fromkeys(int(c) for c in (candidates or default_candidates())))
        if not cands or min(cands) < 1:
            raise ValueError(f"thread counts must be positive integers, got {candidates!r}")
        if trials < 1:
            raise ValueError(f"trials must be at least 1, got {trials}")
        self.candidates = cands
        self.trials = int(trials)
        self._lock = threading.Lock()
        self._times: dict[str, dict[int, list[float]]] = {}
        self._chosen: dict[str, int] = {}

    def next_threads(self, key: str) -> int:
        """The count the next request of ``key`` should run with."""
        with self._lock:
            if key in self._chosen:
                return self._chosen[key]
            times = self._times.setdefault(key, {c: [] for c in self.candidates})
            # The candidate with the fewest timings so far: interleaving spreads a load spike over all of them.
            return min(self.candidates, key=lambda c: len(times[c]))

    def record(self, key: str, threads: int, seconds: float) -> None:
        """Add one timing; when every candidate has ``trials`` of them, fix the fastest for ``key``."""
        with self._lock:
            if key in self._chosen or threads not in self.candidates:
                return
            times = self._times.setdefault(key, {c: [] for c in self.candidates})
            times[threads].append(float(seconds))
            if all(len(v) >= self.trials for v in times.values()):
                self._chosen[key] = min(self.candidates, key=lambda c: statistics.median(times[c]))

    def chosen(self, key: str) -> int | None:
        """The count fixed for ``key``, or None while it is still being measured."""
        with self._lock:
            return self._chosen.get(key)

    def timings(self, key: str) -> dict[int, list[float]]:
        """Seconds recorded per candidate for ``key`` (a copy; for diagnostics and the benchmark)."""
        with self._lock:
            return {c: list(v) for c, v in self._times.get(key, {}).items()}

    def forget(self, key: str) -> None:
        with self._lock:
            self._times.pop(key, None)
            self._chosen.pop(key, None)

    @contextlib.contextmanager
    def run(self, key: str | None) -> Iterator[int | None]:
        """Run the body with ``key``'s thread count on this thread and time it; ``key=None`` changes nothing.

        A body that raises is not timed (a failed request says nothing about speed)."""
        if key is None:
            yield None
            return
        import torch

        threads = self.next_threads(key)
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        try:
            yield threads
        finally:
            torch.set_num_threads(previous)
        self.record(key, threads, time.perf_counter() - t0)


_shared: ThreadTuner | None = None
_shared_lock = threading.Lock()


def shared_tuner() -> ThreadTuner:
    """The process-wide tuner the app's interactive workers use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ThreadTuner()
        return _shared
