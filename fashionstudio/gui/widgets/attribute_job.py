"""AttributeSliderJob: computes the Generate tab's named attribute sliders in the background, with progress.

``start(model, engine, layers)`` samples, renders and classifies on the shared pool and reports on the GUI
thread: ``progress(done, total)`` per batch of samples, ``finished(model, directions)`` or ``failed(model,
sentence)``. The sliders of a model are computed once; asking again for another layer range reuses them (only
the range changes), so switching "All / Coarse / Middle / Fine" is instant.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from fashionstudio.core.attribute_directions import DEFAULT_SAMPLES
from fashionstudio.gui.workers import error_sentence, run_in_background


def _sentence(exc: BaseException) -> str:
    """Our own errors (no classifier file, nothing to fit) already speak to designers."""
    from fashionstudio.core.attribute_directions import AttributeSliderError
    from fashionstudio.core.resources import ResourceNotFoundError
    from fashionstudio.models.atelier_features import AtelierFileError

    if isinstance(exc, (AttributeSliderError, AtelierFileError, ResourceNotFoundError)):
        return str(exc)
    return error_sentence(exc)


class _Relay(QObject):
    progress = Signal(int, int)


class AttributeSliderJob(QObject):
    progress = Signal(int, int)
    finished = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel: threading.Event | None = None
        self._cache: dict[str, list[Any]] = {}   # model sha256 -> directions on all layers
        self._reader: Any = None
        self._reader_lock = threading.Lock()
        self.n_samples = DEFAULT_SAMPLES

    def is_running(self) -> bool:
        return self._cancel is not None

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None

    def _get_reader(self) -> Any:
        from fashionstudio.core.attribute_directions import AtelierReader

        with self._reader_lock:
            if self._reader is None:
                self._reader = AtelierReader()
            return self._reader

    @staticmethod
    def _with_layers(directions: list[Any], layers: tuple[int, int]) -> list[Any]:
        out = [copy.copy(d) for d in directions]
        for d in out:
            d.layers, d.value = tuple(layers), 0.0
        return out

    def start(self, model: Any, engine: Callable[[], Any], layers: tuple[int, int]) -> None:
        """Compute (or reuse) ``model``'s attribute sliders acting on ``layers``; ``engine()`` (called on the
        worker) gives an object with ``space`` (LatentSpace) and ``synth`` (FastSynthesis)."""
        self.cancel()
        cached = self._cache.get(model.sha256)
        if cached is not None:
            self.finished.emit(model, self._with_layers(cached, layers))
            return
        cancel = threading.Event()
        self._cancel = cancel
        n_samples = self.n_samples
        relay = _Relay(self)
        relay.progress.connect(lambda done, total: None if cancel.is_set() else self.progress.emit(done, total))

        def job() -> list[Any] | None:
            from fashionstudio.core.attribute_directions import compute_attribute_directions, w_renderer

            eng = engine()
            reader = self._get_reader()

            def report(done: int, total: int) -> None:
                try:
                    relay.progress.emit(done, total)
                except RuntimeError:  # the tab is gone (window closing)
                    cancel.set()

            num_ws = eng.space.num_ws
            return compute_attribute_directions(eng.space, w_renderer(eng.synth, num_ws), reader, (0, num_ws),
                                                n_samples, progress=report, cancel=cancel)

        def done(directions: list[Any] | None) -> None:
            relay.deleteLater()
            if self._cancel is cancel:
                self._cancel = None
            if directions is None or cancel.is_set():
                return
            self._cache[model.sha256] = directions
            self.finished.emit(model, self._with_layers(directions, layers))

        def fail(exc: BaseException) -> None:
            relay.deleteLater()
            if self._cancel is cancel:
                self._cancel = None
            if not cancel.is_set():
                self.failed.emit(model, _sentence(exc))

        run_in_background(job, done, fail, context=self)
