"""Background work for the GUI: a shared thread pool, one-shot tasks and the "latest request wins" worker.

Work runs on plain Python threads (``concurrent.futures``), never on the GUI thread. Results travel back through
a Qt signal whose receiver lives on the GUI thread, so Qt queues them into the GUI event loop; callbacks
therefore always run on the GUI thread. Because no QThread is involved, closing the window while work is in
flight can never trigger "QThread: Destroyed while thread is still running"; owners call ``shutdown`` to drop
queued work and wait for the running job.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Signal, Slot

from fashionstudio.core.thread_tuner import shared_tuner

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_MAX_WORKERS = 4


def executor() -> ThreadPoolExecutor:
    """The shared pool for model loads, image decoding and inference (created on first use)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=_MAX_WORKERS, thread_name_prefix="fashionstudio-worker")
        return _executor


def error_sentence(exc: BaseException) -> str:
    """A message for the user: our own error types already speak to designers; others get context."""
    from fashionstudio.core.images import ImageLoadError
    from fashionstudio.core.modelfile import ModelFileError

    if isinstance(exc, (ImageLoadError, ModelFileError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "There is not enough memory for this. Close other tabs' models or use a smaller image."
    text = str(exc) or type(exc).__name__
    return f"Something went wrong: {text}. The details are in the log (Help > Open log folder)."


class _Relay(QObject):
    """Carries one task's outcome from a worker thread to a callback on the GUI thread."""

    _done = Signal(object)
    _error = Signal(object)

    def __init__(self, on_done: Callable[[Any], None] | None, on_error: Callable[[BaseException], None] | None,
                 context: QObject | None) -> None:
        super().__init__()
        self._on_done_cb, self._on_error_cb, self._context = on_done, on_error, context
        # The receiver (self) lives on the GUI thread, so emissions from a worker are queued to it.
        self._done.connect(self._deliver_done)
        self._error.connect(self._deliver_error)

    def _alive(self) -> bool:
        return self._context is None or shiboken6.isValid(self._context)

    @Slot(object)
    def _deliver_done(self, value: Any) -> None:
        _live_relays.discard(self)
        if self._on_done_cb is not None and self._alive():
            self._on_done_cb(value)

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        _live_relays.discard(self)
        if self._on_error_cb is not None and self._alive():
            self._on_error_cb(exc)


_live_relays: set[_Relay] = set()  # keeps relays alive until their result is delivered


def run_in_background(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    *,
    context: QObject | None = None,
) -> Future:
    """Run ``fn()`` on the pool; call ``on_done(result)`` or ``on_error(exc)`` later on the GUI thread.

    Callbacks are skipped when ``context`` (usually the widget that asked) has been deleted meanwhile.
    Call only from the GUI thread.
    """
    relay = _Relay(on_done, on_error, context)
    _live_relays.add(relay)

    def task() -> Any:
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never lost
            log.debug("background task failed", exc_info=True)
            _emit(relay._error, exc)
            return None
        _emit(relay._done, result)
        return result

    return executor().submit(task)


def _emit(signal: Any, value: Any) -> None:
    try:
        signal.emit(value)
    except RuntimeError:  # the relay's C++ side is gone (application shutting down)
        pass


@contextlib.contextmanager
def inference_context() -> Iterator[None]:
    """``torch.inference_mode`` for the calling thread (torch is imported lazily, on the worker)."""
    import torch

    with torch.inference_mode():
        yield


class LatestWinsWorker(QObject):
    """Runs interactive requests one at a time; a request submitted while another runs replaces the pending one.

    A dragged slider therefore never builds a queue: at most one request runs and at most one waits. Each
    request that ran reports back in order through ``result_ready(request_id, result, elapsed_ms)`` or
    ``failed(request_id, message)``, emitted on the GUI thread; the last one reported is the latest request.
    Jobs run inside ``torch.inference_mode`` unless ``use_inference_mode=False``.
    """

    result_ready = Signal(int, object, float)
    failed = Signal(int, str)
    busy_changed = Signal(bool)

    _result_from_thread = Signal(int, object, float)
    _failure_from_thread = Signal(int, str)
    _idle_from_thread = Signal()

    def __init__(self, parent: QObject | None = None, *, use_inference_mode: bool = True) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: tuple[int, Callable[[], Any], str | None] | None = None
        self._running = False
        self._closed = False
        self._future: Future | None = None
        self._next_id = 0
        self._use_inference_mode = use_inference_mode
        self.runs = 0  # requests actually executed (tests and diagnostics)
        self._result_from_thread.connect(self._deliver_result)
        self._failure_from_thread.connect(self._deliver_failure)
        self._idle_from_thread.connect(self._deliver_idle)

    @property
    def latest_id(self) -> int:
        """Id of the most recently submitted request (0 before any)."""
        return self._next_id

    def is_busy(self) -> bool:
        with self._lock:
            return self._running

    def submit(self, job: Callable[[], Any], tune_key: str | None = None) -> int:
        """Queue ``job`` (a no-argument callable run on a worker thread) as the newest request; return its id.

        With a ``tune_key`` (a model's identity) the job runs with the thread count the shared
        :class:`~fashionstudio.core.thread_tuner.ThreadTuner` measured fastest for that key."""
        with self._lock:
            if self._closed:
                return -1
            self._next_id += 1
            request_id = self._next_id
            self._pending = (request_id, job, tune_key)
            start = not self._running
            if start:
                self._running = True
        if start:
            self.busy_changed.emit(True)
            self._future = executor().submit(self._drain)
        return request_id

    def cancel_pending(self) -> None:
        """Forget the waiting request (the running one finishes)."""
        with self._lock:
            self._pending = None

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Drop the pending request, stop reporting, wait up to ``timeout_s`` for the running one. True if idle."""
        with self._lock:
            self._closed = True
            self._pending = None
            future = self._future
        if future is None:
            return True
        try:
            future.result(timeout=timeout_s)
            return True
        except Exception:  # timeout: the job keeps its thread; nothing is reported any more
            return future.done()

    def _drain(self) -> None:
        while True:
            with self._lock:
                item, self._pending = self._pending, None
                if item is None or self._closed:
                    self._running = False
                    closed = self._closed
                    break
            request_id, job, tune_key = item
            self.runs += 1
            t0 = time.perf_counter()
            try:
                with shared_tuner().run(tune_key):
                    if self._use_inference_mode:
                        with inference_context():
                            result = job()
                    else:
                        result = job()
            except BaseException as exc:  # noqa: BLE001 - shown to the user, logged in full
                log.error("request %d failed", request_id, exc_info=sys.exc_info())
                if not self._closed:
                    _emit2(self._failure_from_thread, request_id, error_sentence(exc))
                continue
            elapsed_ms = (time.perf_counter() - t0) * 1000.0
            if not self._closed:
                _emit2(self._result_from_thread, request_id, result, elapsed_ms)
        if not closed:
            try:
                self._idle_from_thread.emit()
            except RuntimeError:
                pass

    @Slot(int, object, float)
    def _deliver_result(self, request_id: int, result: Any, elapsed_ms: float) -> None:
        if not self._closed:
            self.result_ready.emit(request_id, result, elapsed_ms)

    @Slot(int, str)
    def _deliver_failure(self, request_id: int, message: str) -> None:
        if not self._closed:
            self.failed.emit(request_id, message)

    @Slot()
    def _deliver_idle(self) -> None:
        if not self._closed and not self.is_busy():
            self.busy_changed.emit(False)


def _emit2(signal: Any, *args: Any) -> None:
    try:
        signal.emit(*args)
    except RuntimeError:
        pass
