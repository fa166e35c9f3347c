"""ToolTab: the common frame of the four tool tabs (input canvas, result canvas, side panel, model status).

A tool tab subclass sets ``tool``/``title``, adds its controls to ``self.controls_layout`` and implements
``run_request()``: it returns a no-argument callable that runs on a worker thread (inside torch.inference_mode)
and returns the result, or None when there is nothing to run. Everything else is provided: here the layout, the
model's loading state, the latest-wins worker, the familiarity check and export with provenance; opening the
input (loading, pasting, dropping) and undo in gui.tool_input; the self-test in gui.self_test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget,
)

from fashionstudio.gui.canvas import ImageCanvas
from fashionstudio.gui.model_manager import NO_MODEL_MESSAGE, ModelManager
from fashionstudio.gui.tool_input import ToolInput
from fashionstudio.gui.widgets.familiarity_banner import FamiliarityBanner
from fashionstudio.gui.workers import LatestWinsWorker, run_in_background

log = logging.getLogger(__name__)


def captioned(caption: str, widget: QWidget) -> QWidget:
    """``widget`` under a small caption ("Input", "Result"...), as every tab lays out its canvases."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(6)
    label = QLabel(caption)
    label.setObjectName("canvasCaption")
    lay.addWidget(label)
    lay.addWidget(widget, 1)
    return box


class ToolTab(ToolInput, QWidget):
    """Base class of a tool tab. See the module docstring for what a subclass provides."""

    tool: ClassVar[str] = ""            # model-manager key and the families' tool (registry.tool_families), e.g. "pose"
    title: ClassVar[str] = ""           # tab label, e.g. "Pose"
    source_placeholder: ClassVar[str] = "Drop a photo here"
    result_placeholder: ClassVar[str] = "The result appears here"
    needs_source: ClassVar[bool] = True  # False for tools that generate without an input (Generate)
    sample: ClassVar[str | None] = None  # the shipped sample offered on the empty input (core.samples.SAMPLES)

    status_message = Signal(str)         # a short note for the status bar
    inference_finished = Signal(float)   # elapsed milliseconds of the last inference
    file_opened = Signal(str)            # an image file was opened successfully (recent files)
    result_changed = Signal()

    def __init__(self, manager: ModelManager, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.last_result: Any = None
        self.last_elapsed_ms: float | None = None
        self._model_message = ""

        self.source_canvas = ImageCanvas(self.source_placeholder)
        self.result_canvas = ImageCanvas(self.result_placeholder, accept_drops=False)
        self._init_input()  # gui.tool_input: opening the input picture, undo

        # Whether the input looks like the model's training pictures (core.familiarity), scored on a worker.
        self.familiarity_banner = FamiliarityBanner()
        self.familiarity: Any = None  # Verdict of the current input for the current model, or None
        self._familiarity_token = 0

        self.worker = LatestWinsWorker(self)
        self.worker.result_ready.connect(self._on_result)
        self.worker.failed.connect(self._on_failed)
        self.worker.busy_changed.connect(self._on_busy_changed)

        from fashionstudio.gui.sharpen import SharpenHelper

        # "Sharpen x4": the shown result, larger and cleaned on a worker once results settle (gui/sharpen.py).
        self.sharpen = SharpenHelper(self, manager)
        self.sharpen.unavailable.connect(self.status_message.emit)
        self.result_changed.connect(self.sharpen.on_result_changed)

        self._build_layout()
        self.refresh_sample_offer()
        self._update_run_button()
        manager.loading.connect(self._on_model_loading)
        manager.ready.connect(self._on_model_ready)
        manager.failed.connect(self._on_model_failed)
        manager.no_model.connect(self._on_no_model)
        manager.unloaded.connect(self._on_model_unloaded)

    # -- layout ---------------------------------------------------------------------------------------------------
    def _build_layout(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setHandleWidth(12)
        if self.needs_source:
            self.splitter.addWidget(captioned("Input", self.source_canvas))
        self.splitter.addWidget(captioned("Result", self.result_canvas))

        self.side_panel = QFrame()
        self.side_panel.setObjectName("sidePanel")
        self.side_panel.setFixedWidth(280)
        side = QVBoxLayout(self.side_panel)
        side.setContentsMargins(16, 16, 16, 16)
        side.setSpacing(10)
        heading = QLabel(self.title or self.tool.capitalize())
        heading.setObjectName("panelHeading")
        side.addWidget(heading)

        self.model_label = QLabel("Model: not loaded yet")
        self.model_label.setObjectName("modelLabel")
        self.model_label.setWordWrap(True)
        side.addWidget(self.model_label)
        self.model_progress = QProgressBar()
        self.model_progress.setRange(0, 0)  # indeterminate: a model load has no useful percentage
        self.model_progress.setTextVisible(False)
        self.model_progress.setFixedHeight(6)
        self.model_progress.hide()
        side.addWidget(self.model_progress)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setObjectName("panelRule")
        side.addWidget(line)

        # The controls scroll when the window is too short for them, instead of being drawn over each other.
        self.controls_scroll = QScrollArea()
        self.controls_scroll.setObjectName("controlsScroll")
        self.controls_scroll.setWidgetResizable(True)
        self.controls_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.controls_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        holder = QWidget()
        holder.setObjectName("controlsHolder")
        holder_layout = QVBoxLayout(holder)
        holder_layout.setContentsMargins(0, 0, 0, 0)
        self.controls_layout = QVBoxLayout()
        self.controls_layout.setSpacing(8)
        holder_layout.addLayout(self.controls_layout)
        holder_layout.addStretch(1)
        self.controls_scroll.setWidget(holder)
        side.addWidget(self.controls_scroll, 1)
        self._side_layout = side
        self.controls_scroll.verticalScrollBar().rangeChanged.connect(self._fit_side_margin)

        side.addWidget(self.sharpen.check)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.trigger)
        side.addWidget(self.run_button)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(16, 16, 16, 16)
        outer.setSpacing(16)
        canvases = QVBoxLayout()
        canvases.setSpacing(8)
        canvases.addWidget(self.familiarity_banner)
        canvases.addWidget(self.splitter, 1)
        outer.addLayout(canvases, 1)
        outer.addWidget(self.side_panel)

    def _fit_side_margin(self, _low: int = 0, high: int = 0) -> None:
        """While the controls scroll, the scroll bar takes the panel's right margin, not the controls' width."""
        bar = self.controls_scroll.verticalScrollBar().sizeHint().width() if high > 0 else 0
        margins = self._side_layout.contentsMargins()
        self._side_layout.setContentsMargins(margins.left(), margins.top(), max(2, 16 - bar), margins.bottom())

    # -- hooks for subclasses -------------------------------------------------------------------------------------
    def run_request(self) -> Callable[[], Any] | None:
        """Build the job for the current inputs and settings: a callable run on a worker thread returning the
        result (a PIL image by default), or None (after telling the user why) when nothing can run."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """The settings that produced the result (stored in the exported PNG)."""
        return {}

    def show_result(self, result: Any) -> None:
        """Show a finished result; the default expects a PIL image. Override for several outputs."""
        self.result_canvas.set_image(result)

    def result_image(self) -> Image.Image | None:
        """The image File > Export writes."""
        return self.result_canvas.image()

    def on_source_changed(self) -> None:
        """Called after a new input image is set. Default: run if a model is ready."""
        if self.model is not None:
            self.trigger()

    def sample_input(self) -> Image.Image:
        """An input for the self-test when no image is open (subclasses may supply a better one)."""
        res = getattr(self.model, "resolution", 64) or 64
        return Image.new("RGB", (res, res), (200, 196, 190))

    def can_run(self) -> bool:
        """Whether Run makes sense now: a model is loaded and, for tools that need one, an input is open."""
        return self.model is not None and (not self.needs_source or self.source_image() is not None)

    def _update_run_button(self) -> None:
        self.run_button.setEnabled(self.can_run())

    # -- model ----------------------------------------------------------------------------------------------------
    @property
    def model(self) -> Any:
        """This tab's LoadedModel, or None (never cached here, so the manager's budget can free it)."""
        return self.manager.get(self.tool)

    def activate(self) -> None:
        """The tab became visible: make sure its model is (re)loaded."""
        self.sharpen.ensure()
        if self.tool:
            self.manager.ensure(self.tool)

    def open_model(self, path: str | Path) -> None:
        self.manager.load(self.tool, path)

    def _set_model_message(self, text: str, *, error: bool = False) -> None:
        self._model_message = text
        self.model_label.setText(text)
        self.model_label.setProperty("error", error)
        self.model_label.style().unpolish(self.model_label)
        self.model_label.style().polish(self.model_label)

    def model_message(self) -> str:
        return self._model_message

    def _on_model_loading(self, key: str) -> None:
        if key == self.tool:
            path = self.manager.model_path(key)
            self._set_model_message(f"Loading {path.name if path else 'model'}…")
            self.model_progress.show()

    def _on_model_ready(self, key: str, model: Any) -> None:
        if key == self.tool:
            self.model_progress.hide()
            device = self.manager.device_description or str(self.manager.device)
            self._set_model_message(f"Model: {model.name}\nDevice: {device}")
            self.check_familiarity()
            self._update_run_button()
            if self.source_image() is not None:
                # An input dropped while the model was loading (or shown with the previous model) gets its result
                # from the model that just arrived.
                self.trigger()

    def _on_model_failed(self, key: str, message: str) -> None:
        if key == self.tool:
            self.model_progress.hide()
            in_use = self.model  # a failed open leaves the previous model working: say which one it is
            if in_use is not None:
                message = f"{message}\nStill using: {in_use.name} ({in_use.path.name})"
            self._set_model_message(message, error=True)
            self.status_message.emit(message)
            self._update_run_button()

    def _on_no_model(self, key: str) -> None:
        if key == self.tool:
            self.model_progress.hide()
            self._set_model_message(NO_MODEL_MESSAGE)
            self._update_run_button()

    def _on_model_unloaded(self, key: str) -> None:
        if key == self.tool:
            self._set_model_message("Model unloaded to free memory; it reloads when you use this tab.")
            self._update_run_button()

    # -- busy ---------------------------------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        """An image is being opened or an inference is running."""
        return self._opening > 0 or self.worker.is_busy()

    # -- familiarity ----------------------------------------------------------------------------------------------
    def familiarity_role(self) -> str | None:
        """Which kind of input the model expects now (core.familiarity roles); None = the family's only one."""
        return None

    def check_familiarity(self) -> None:
        """Score the current input against the model's training pictures on a worker; the newest check wins and
        shows or hides the banner. Also puts the model's "unknown" note in the side panel."""
        from fashionstudio.core.familiarity import checker_for

        self._familiarity_token += 1
        token = self._familiarity_token
        model, img, role = self.model, self.source_image(), self.familiarity_role()
        self.familiarity = None
        self.familiarity_banner.clear()
        if model is None or not self.needs_source:
            return

        def job() -> tuple[str, Any]:
            checker = checker_for(model)
            return checker.note, (checker.check(img, role) if img is not None else None)

        run_in_background(job, lambda out: self._familiarity_checked(token, model, *out),
                          lambda exc: log.warning("familiarity check failed: %s", exc), context=self)

    def _familiarity_checked(self, token: int, model: Any, note: str, verdict: Any) -> None:
        if token != self._familiarity_token:
            return  # a newer input or model was checked since
        if note and model is self.model and note not in self._model_message:
            self._set_model_message(f"{self._model_message}\n{note}")
        self.familiarity = verdict
        self.familiarity_banner.show_verdict(verdict)

    # -- running --------------------------------------------------------------------------------------------------
    def trigger(self) -> int | None:
        """Ask ``run_request`` for a job and submit it to the latest-wins worker; returns the request id."""
        job = self.run_request()
        if job is None:
            return None
        model = self.model
        return self.worker.submit(job, tune_key=getattr(model, "sha256", None))

    def _on_result(self, request_id: int, result: Any, elapsed_ms: float) -> None:
        self.last_result = result
        self.last_elapsed_ms = elapsed_ms
        self.show_result(result)
        self.result_changed.emit()
        self.inference_finished.emit(elapsed_ms)

    def _on_failed(self, request_id: int, message: str) -> None:
        self.result_canvas.set_error(message)
        self.status_message.emit(message)

    def _on_busy_changed(self, busy: bool) -> None:
        self.result_canvas.set_busy("Working…" if busy and not self.result_canvas.has_image() else None)

    # -- export ---------------------------------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        """What produced the current result: app, tool, model file and hash, settings, input file, time."""
        from fashionstudio.core.pipeline_common import result_provenance

        info = result_provenance(self.model, self.tool, self.settings(),
                                 self.source_path.name if self.source_path else None)
        if self.familiarity is not None and self.needs_source:
            info["familiarity"] = self.familiarity.provenance()
        info.update(self.sharpen.provenance())
        return info

    def suggested_export_name(self) -> str:
        stem = self.source_path.stem if self.source_path else "fashionstudio"
        return f"{stem}_{self.tool or 'result'}.png"

    def export_result(self, path: str | Path) -> Path:
        """Write the result to ``path`` as PNG with provenance. Raises ValueError when there is no result."""
        from fashionstudio.core.provenance import as_png_path, save_png_with_provenance

        img = self.result_image()
        if img is None:
            raise ValueError("There is no result to export yet.")
        return save_png_with_provenance(img, as_png_path(path), self.provenance())

    # -- self-test and shutdown -----------------------------------------------------------------------------------
    def self_test(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Load this tab's model (if one exists) and run one inference through ``trigger``; report a dict
        (gui.self_test.run_self_test)."""
        from fashionstudio.gui.self_test import run_self_test

        return run_self_test(self, timeout_s)

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Drop pending work and wait for the running inference (window closing)."""
        self.sharpen.shutdown(timeout_s)
        self.worker.shutdown(timeout_s)

