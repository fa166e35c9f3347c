"""ToolTab: the common frame of the four tool tabs (input canvas, result canvas, side panel, model status).

A tool tab subclass sets ``tool``/``title``, adds its controls to ``self.controls_layout`` and implements
``run_request()``: it returns a no-argument callable that runs on a worker thread (inside torch.inference_mode)
and returns the result, or None when there is nothing to run. Everything else — loading, pasting, dropping,
exporting with provenance, undo, the model's loading state, the latest-wins worker, the self-test — is here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar

from PIL import Image
from PySide6.QtCore import QEventLoop, QTimer, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget,
)

import fashionstudio
from fashionstudio.gui.canvas import ImageCanvas, display_qimage, qimage_to_png_bytes
from fashionstudio.gui.model_manager import NO_MODEL_MESSAGE, ModelManager
from fashionstudio.gui.widgets.familiarity_banner import FamiliarityBanner
from fashionstudio.gui.workers import LatestWinsWorker, error_sentence, run_in_background

log = logging.getLogger(__name__)
_HISTORY_LIMIT = 20


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


class ToolTab(QWidget):
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
        self.source_path: Path | None = None
        self.last_result: Any = None
        self.last_elapsed_ms: float | None = None
        self._history: list[tuple[Image.Image | None, QImage | None, Path | None, Image.Image | None]] = []
        self._model_message = ""
        self._opening = 0  # image loads in flight
        self._load_token = 0  # the newest image load; an older one finishing later is dropped (latest wins)

        self.source_canvas = ImageCanvas(self.source_placeholder)
        self.result_canvas = ImageCanvas(self.result_placeholder, accept_drops=False)
        self.source_canvas.files_dropped.connect(self._on_files_dropped)
        self.source_canvas.image_dropped.connect(self._on_image_dropped)
        self.source_canvas.sample_requested.connect(self.open_sample)

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

    # -- input ----------------------------------------------------------------------------------------------------
    def sample_name(self) -> str | None:
        """The sample offered on the empty input now (a key of ``core.samples.SAMPLES``), or None."""
        return self.sample if self.needs_source else None

    def refresh_sample_offer(self) -> None:
        """Offer ``sample_name()`` on the empty input canvas (or nothing when it does not ship)."""
        from fashionstudio.core.resources import ResourceNotFoundError
        from fashionstudio.core.samples import SAMPLES, sample_path

        name = self.sample_name()
        try:
            offer = f"Try a sample: {SAMPLES[name]}" if name and sample_path(name) else None
        except (ResourceNotFoundError, KeyError):
            offer = None  # an installation without samples simply offers none
        self.source_canvas.set_sample_offer(offer)

    def open_sample(self) -> None:
        """Open the offered sample picture through the normal loading path."""
        from fashionstudio.core.samples import sample_path

        name = self.sample_name()
        if name:
            self.open_image(sample_path(name))

    def open_image(self, path: str | Path) -> None:
        """Load ``path`` in the background and make it the input; errors appear on the canvas. When several loads
        overlap, the one asked for last wins, whichever finishes first."""
        from fashionstudio.core.images import load_image

        path = Path(path)
        self._start_load(f"Opening {path.name}…", lambda: load_image(path), path)

    def open_image_bytes(self, data: bytes, name: str = "the pasted image") -> None:
        from fashionstudio.core.images import load_image_bytes

        self._start_load("Opening the pasted image…", lambda: load_image_bytes(data, name), None)

    def _start_load(self, note: str, load: Callable[[], Image.Image], path: Path | None) -> None:
        self.source_canvas.set_busy(note)
        self._opening += 1
        self._load_token += 1
        token = self._load_token

        def decode() -> tuple[Image.Image, QImage]:
            img = load()
            return img, display_qimage(img)  # the display copy too, so the GUI thread only wraps a small one

        run_in_background(decode, lambda loaded: self._source_loaded(loaded, path, token),
                          lambda exc: self._source_failed(exc, token, path), context=self)

    def paste(self) -> None:
        """Take an image (or an image file) from the clipboard."""
        mime = QGuiApplication.clipboard().mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime is not None else []
        if files:
            self.open_image(files[0])
        elif mime is not None and mime.hasImage():
            self.open_image_bytes(qimage_to_png_bytes(QImage(mime.imageData())))
        else:
            self.status_message.emit("The clipboard holds no image to paste.")

    def set_source_image(self, img: Image.Image, path: Path | None = None, display: QImage | None = None) -> None:
        """Make ``img`` the input (undoable) and let the tool react; ``display`` is its ready painting copy."""
        self._push_history()
        self.source_path = path
        self.source_canvas.set_busy(None)
        self.source_canvas.set_image(img, display)
        self.result_canvas.clear()
        self._update_run_button()
        self.check_familiarity()
        self.on_source_changed()

    def source_image(self) -> Image.Image | None:
        return self.source_canvas.image()

    def is_busy(self) -> bool:
        """An image is being opened or an inference is running."""
        return self._opening > 0 or self.worker.is_busy()

    def _source_loaded(self, loaded: tuple[Image.Image, QImage], path: Path | None, token: int) -> None:
        self._opening -= 1
        if token != self._load_token:
            log.info("dropped an older image load (%s): a newer one was asked for", path)
            return
        img, display = loaded
        self.set_source_image(img, path, display)
        if path is not None:
            self.file_opened.emit(str(path))
            self.status_message.emit(f"Opened {path.name} ({img.width} x {img.height}).")

    def _source_failed(self, exc: BaseException, token: int, path: Path | None = None) -> None:
        self._opening -= 1
        if token != self._load_token:
            return  # a newer load is on its way; this one's error is no longer what the user asked about
        message = error_sentence(exc)
        if path is not None:
            from fashionstudio.core.folder_scan import UNREAD_FORMATS

            # An iPhone HEIC or an AVIF gets the format's name and the fix, not "not an image".
            advice = UNREAD_FORMATS.get(path.suffix.lower())
            if advice:
                message = f"'{path.name}' {advice}."
        self.source_canvas.set_busy(None)
        self.source_canvas.set_error(message)
        self.status_message.emit(message)

    def _on_files_dropped(self, paths: list[str]) -> None:
        if len(paths) > 1:
            self.status_message.emit(f"{len(paths)} files dropped: opening the first, {Path(paths[0]).name}.")
        self.open_image(paths[0])

    def _on_image_dropped(self, qimg: QImage) -> None:
        self.open_image_bytes(qimage_to_png_bytes(qimg), "the dropped image")

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
        try:
            job = self.run_request()
        except NotImplementedError:
            self.status_message.emit(f"The {self.title or self.tool} tool is not available in this version yet.")
            return None
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

    # -- undo -----------------------------------------------------------------------------------------------------
    def _push_history(self) -> None:
        self._history.append((self.source_canvas.image(), self.source_canvas.display_image(), self.source_path,
                              self.result_canvas.image()))
        del self._history[:-_HISTORY_LIMIT]

    def can_undo(self) -> bool:
        return bool(self._history)

    def undo(self) -> bool:
        """Go back to the previous input and result. Returns False when there is nothing to undo."""
        if not self._history:
            return False
        source, display, path, result = self._history.pop()
        self.worker.cancel_pending()
        self.source_path = path
        self.source_canvas.set_image(source, display)
        self.result_canvas.set_image(result)
        self._update_run_button()
        self.check_familiarity()
        return True

    # -- export ---------------------------------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        """What produced the current result: app, tool, model file and hash, settings, input file, time."""
        model = self.model
        info: dict[str, Any] = {
            "software": f"FashionStudio {fashionstudio.__version__}",
            "tool": self.tool,
            "settings": self.settings(),
            "source": self.source_path.name if self.source_path else None,
            "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if model is not None:
            info.update(model=model.path.name, model_sha256=model.sha256, model_name=model.name,
                        family=model.family)
        if self.familiarity is not None and self.needs_source:
            info["familiarity"] = self.familiarity.provenance()
        info.update(self.sharpen.provenance())
        return info

    def suggested_export_name(self) -> str:
        stem = self.source_path.stem if self.source_path else "fashionstudio"
        return f"{stem}_{self.tool or 'result'}.png"

    def export_result(self, path: str | Path) -> Path:
        """Write the result to ``path`` as PNG with provenance. Raises ValueError when there is no result."""
        from fashionstudio.core.provenance import save_png_with_provenance

        img = self.result_image()
        if img is None:
            raise ValueError("There is no result to export yet.")
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        return save_png_with_provenance(img, path, self.provenance())

    # -- self-test and shutdown -----------------------------------------------------------------------------------
    def self_test(self, timeout_s: float = 120.0) -> dict[str, Any]:
        """Load this tab's model (if one exists) and run one inference through ``trigger``; report a dict.

        ``status`` is "ok", "no-model", "not-implemented" or "error" (with ``message``).
        """
        report: dict[str, Any] = {"tool": self.tool}
        path = self.manager.model_path(self.tool)
        if path is None:
            from fashionstudio.core.default_models import model_search_dirs

            folders = ", ".join(str(f) for f in model_search_dirs()) or "no folder"
            return {**report, "status": "no-model",
                    "message": f"No {self.title or self.tool} model was found (looked for {self.tool}.safetensors "
                               f"in {folders}), so nothing was tested."}
        report["model"] = str(path)
        is_mine = lambda key, *_: key == self.tool  # noqa: E731 (the manager serves every tab)

        def start_load() -> bool:
            if self.model is not None:
                return False
            self.manager.load(self.tool, path)
            return True

        kind, args = _wait_for(self.manager.ready, self.manager.failed, start_load, timeout_s, accept=is_mine)
        if kind == "error":
            return {**report, "status": "error", "message": args[1]}
        if self.model is None:
            return {**report, "status": "error", "message": "the model did not load in time"}

        if self.needs_source and self.source_image() is None:
            self.source_canvas.set_image(self.sample_input())
        t0 = time.perf_counter()
        kind, args = _wait_for(self.worker.result_ready, self.worker.failed, lambda: self.trigger() is not None,
                               timeout_s)
        if kind == "skipped":
            return {**report, "status": "not-implemented"}
        if kind == "error":
            return {**report, "status": "error", "message": args[1]}
        if kind == "timeout":
            return {**report, "status": "error", "message": "the inference did not finish in time"}
        return {**report, "status": "ok", "inference_ms": round(args[2], 1),
                "wall_ms": round((time.perf_counter() - t0) * 1000, 1)}

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Drop pending work and wait for the running inference (window closing)."""
        self.sharpen.shutdown(timeout_s)
        self.worker.shutdown(timeout_s)


def _wait_for(ok: Any, failed: Any, start: Callable[[], bool], timeout_s: float,
              accept: Callable[..., bool] = lambda *args: True) -> tuple[str, tuple | None]:
    """Call ``start`` and spin an event loop until ``ok`` or ``failed`` emits (with arguments ``accept`` takes) or
    ``timeout_s`` passes. Returns ("ok" | "error", the signal's arguments), ("timeout", None), or ("skipped", None)
    when ``start`` says there is nothing to wait for."""
    outcome: dict[str, tuple] = {}
    loop = QEventLoop()

    def slot_for(kind: str) -> Callable[..., None]:
        def slot(*args: Any) -> None:
            if accept(*args):
                outcome.setdefault(kind, args)
                loop.quit()
        return slot

    on_ok, on_failed = slot_for("ok"), slot_for("error")
    ok.connect(on_ok)
    failed.connect(on_failed)
    try:
        if not start():
            return "skipped", None
        if not outcome:
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            loop.exec()
    finally:
        ok.disconnect(on_ok)
        failed.disconnect(on_failed)
    for kind in ("error", "ok"):
        if kind in outcome:
            return kind, outcome[kind]
    return "timeout", None
