"""GenerateOpener: opening a file in the Generate tab, read on the worker pool.

``open_path(path)`` reads a FashionStudio Generate PNG (its settings, checked against the loaded generator's
layer count and w size) or any other picture (a photo to project); ``open_bytes(data, name)`` reads a pasted
picture. The canvas says "Opening…" meanwhile. Signals, on the GUI thread: ``file_opened(path)`` (a file, not
pasted bytes), then ``state_opened(state, sentence)`` or ``photo_opened(image, path or None)``; or
``failed(sentence)``, also shown on the canvas.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from fashionstudio.gui.canvas import ImageCanvas
from fashionstudio.gui.workers import error_sentence, run_in_background


class GenerateOpener(QObject):
    file_opened = Signal(str)
    state_opened = Signal(object, str)
    photo_opened = Signal(object, object)
    failed = Signal(str)

    def __init__(self, canvas: ImageCanvas, model: Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._model = model  # the loaded generator's model, or None
        self._in_flight = 0

    def is_busy(self) -> bool:
        return self._in_flight > 0

    def open_path(self, path: Path) -> None:
        from fashionstudio.core.generate_files import read_generate_file

        self._canvas.set_busy(f"Opening {path.name}…")
        self._in_flight += 1
        model = self._model()
        dims = (int(model.networks["G"].num_ws), int(model.networks["G"].w_dim)) if model is not None else (None, None)
        run_in_background(lambda: read_generate_file(path, *dims), lambda r: self._opened(r, path),
                          self._failed, context=self)

    def open_bytes(self, data: bytes, name: str) -> None:
        from fashionstudio.core.images import load_image_bytes

        self._canvas.set_busy("Opening the pasted image…")
        self._in_flight += 1
        run_in_background(lambda: ("photo", load_image_bytes(data, name)), lambda r: self._opened(r, None),
                          self._failed, context=self)

    def _opened(self, result: tuple[str, Any], path: Path | None) -> None:
        self._in_flight -= 1
        self._canvas.set_busy(None)
        kind, value = result
        if path is not None:
            self.file_opened.emit(str(path))
        if kind != "state":
            self.photo_opened.emit(value, path)
            return
        model, note = self._model(), ""
        if model is not None and value.model_sha256 and value.model_sha256 != model.sha256:
            note = " It was made with a different model, so the image may differ."
        self.state_opened.emit(value, f"Restored the Generate settings of {path.name if path else 'the image'}.{note}")

    def _failed(self, exc: BaseException) -> None:
        self._in_flight -= 1
        message = error_sentence(exc)
        self._canvas.set_busy(None)
        self._canvas.set_error(message)
        self.failed.emit(message)
