"""ProjectionPanel: the Generate tab's "Project" page and the background run of core.projection.project.

``start(img, engine)`` runs the projection on the shared pool (``engine()`` gives the render engine, called on
the worker) and reports on the GUI thread: ``preview(PIL image)`` every few steps, ``finished(last step)`` with
the w+ and noise reached, ``message(text)`` for the status bar, ``stopped()`` when it ends without a result
(cancelled or failed: the previews shown belong to no settings). ``cancel()`` stops it between two steps.
``accepts(img, model)`` says whether a projection can start, and if not why (``message``, and ``refused(text)``
when the canvas should show it too).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFormLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from fashionstudio.gui.canvas import pil_to_qimage
from fashionstudio.gui.workers import error_sentence, run_in_background

TARGET = 140
PREVIEW_EVERY = 10


class _Relay(QObject):
    progress = Signal(object)


class ProjectionPanel(QWidget):
    preview = Signal(object)
    finished = Signal(object)
    stopped = Signal()
    message = Signal(str)
    refused = Signal(str)
    again_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._cancel: threading.Event | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 10, 4, 4)
        intro = QLabel("Drop a photo on the image (or File > Open) to find it in the generator, then edit it "
                       "with the sliders.")
        intro.setWordWrap(True)
        intro.setObjectName("modelLabel")
        lay.addWidget(intro)
        self.target_label = QLabel("No photo yet")
        self.target_label.setFixedSize(TARGET, TARGET)
        self.target_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.target_label.setStyleSheet("border: 1px dashed #cfd3da; border-radius: 6px; color: #8a9099;")
        lay.addWidget(self.target_label, 0, Qt.AlignmentFlag.AlignHCenter)
        form = QFormLayout()
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(10, 2000)
        self.steps_spin.setValue(200)
        self.steps_spin.setToolTip("More steps: closer to the photo, slower")
        form.addRow("Steps", self.steps_spin)
        lay.addLayout(form)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        lay.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        buttons = QHBoxLayout()
        self.again_button = QPushButton("Project again")
        self.again_button.clicked.connect(self.again_requested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.again_button)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)
        lay.addStretch(1)

    def is_running(self) -> bool:
        return self._cancel is not None

    def accepts(self, img: Image.Image | None, model: Any) -> bool:
        """Whether ``img`` can be projected with ``model``; if not, the reason goes out as ``message``."""
        if img is None:
            self.message.emit("Drop a photo first: there is nothing to project.")
            return False
        if model is None:
            self.message.emit("Open a StyleGAN2 model before projecting a photo.")
            self.refused.emit("Open a StyleGAN2 model before projecting a photo.")
            return False
        return True

    def start(self, img: Image.Image, engine: Callable[[], Any]) -> None:
        """Project ``img`` with the generator of ``engine()`` (an object with ``G`` and ``synth``)."""
        self.cancel()
        thumb = img.copy()
        thumb.thumbnail((TARGET, TARGET))
        self.target_label.setPixmap(QPixmap.fromImage(pil_to_qimage(thumb)))
        cancel = threading.Event()
        self._cancel = cancel
        steps = self.steps_spin.value()
        relay = _Relay(self)
        relay.progress.connect(lambda step: self._on_progress(step, cancel))
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.status.setText("Starting…")

        def job() -> Any:
            from fashionstudio.core.projection import project

            eng = engine()
            last = None
            for step in project(eng.G, img, steps, synthesis=eng.synth, preview_every=PREVIEW_EVERY):
                if cancel.is_set():
                    return None
                last = step
                try:
                    relay.progress.emit(step)
                except RuntimeError:  # the panel is gone (window closing)
                    return None
            return last

        def done(last: Any) -> None:
            relay.deleteLater()
            self._finish(cancel)
            if last is None or cancel.is_set():
                self.status.setText("Projection cancelled.")
                return
            self.status.setText(f"Done: {last.steps} steps, difference {last.loss:.3f}. Edit it with the sliders.")
            self.finished.emit(last)

        def fail(exc: BaseException) -> None:
            relay.deleteLater()
            self._finish(cancel)
            text = error_sentence(exc)
            self.status.setText(text)
            self.message.emit(text)
            self.stopped.emit()

        run_in_background(job, done, fail, context=self)

    def _finish(self, cancel: threading.Event) -> None:
        if self._cancel is cancel:
            self._cancel = None
            self.cancel_button.setEnabled(False)

    def _on_progress(self, step: Any, cancel: threading.Event) -> None:
        if cancel.is_set() or self._cancel is not cancel:
            return
        self.progress.setRange(0, step.steps)
        self.progress.setValue(step.step)
        self.status.setText(f"Step {step.step} of {step.steps} · difference {step.loss:.3f}")
        if step.preview is not None:
            self.preview.emit(step.preview)

    def cancel(self) -> None:
        """Stop the running projection (it ends after the step in progress); nothing changes in the editor."""
        if self._cancel is not None:
            self._cancel.set()
            self._cancel = None
            self.cancel_button.setEnabled(False)
            self.status.setText("Projection cancelled.")
            self.stopped.emit()
