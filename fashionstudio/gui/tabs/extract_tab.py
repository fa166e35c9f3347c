"""Extract tab: drop a dressed person, get the garment as a catalogue image on a background colour you choose.

The pipeline is :mod:`fashionstudio.core.extract`. A background change re-composites the last result (the mask
is kept), so it is instant and never re-runs the network. "Extract a folder…" runs the same pipeline over a
folder in the background, with progress, cancel and a list of the files it skipped.
"""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw
from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QColorDialog, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QProgressBar, QPushButton, QToolButton, QWidget,
)

from fashionstudio.gui.app import create_settings
from fashionstudio.gui.tool_tab import ToolTab
from fashionstudio.gui.workers import error_sentence, run_in_background

log = logging.getLogger(__name__)

# Catalogue backgrounds designers ask for: studio white, warm ivory, pale grey, greige, soft blush, black.
SWATCHES: tuple[tuple[str, str], ...] = (
    ("#FFFFFF", "White"), ("#F6F1E7", "Ivory"), ("#E9EBEE", "Pale grey"),
    ("#D8CFC4", "Greige"), ("#F3DEDA", "Blush"), ("#1D1F23", "Black"),
)
PANEL_STYLE = """
QLabel#sectionLabel { color: #4a4f57; font-weight: 600; }
QLabel#hintLabel { color: #6b717b; }
QLabel#batchSummary { color: #3d4248; }
QToolButton#swatch { border: 1px solid #cfd3da; border-radius: 15px; }
QToolButton#swatch:checked { border: 3px solid #3b6fd8; }
QPushButton#secondaryButton { padding: 6px 10px; border: 1px solid #cfd3da; border-radius: 6px; background: #f7f8fa; }
QPushButton#secondaryButton:hover { background: #eef1f6; }
QPushButton#secondaryButton:disabled { color: #a0a5ad; }
"""


def _hex_to_rgb(text: str) -> tuple[int, int, int]:
    c = QColor(text)
    return c.red(), c.green(), c.blue()


class _Progress(QObject):
    """Carries batch progress from the worker thread to the GUI thread (queued: the receiver lives there)."""

    step = Signal(int, int, str)


class ExtractTab(ToolTab):
    tool = "extract"
    title = "Extract"
    source_placeholder = "Drop a photo of a dressed person here"
    result_placeholder = "The garment appears here as a catalogue image"
    sample = "person"

    def __init__(self, manager: Any, parent: QWidget | None = None) -> None:
        super().__init__(manager, parent)
        self._settings = create_settings()
        self._background: tuple[int, int, int] = self._remembered_background()
        self._extract: Any = None  # the last ExtractResult (re-composited when the background changes)
        self._batch_future: Future | None = None
        self._batch_cancel = threading.Event()
        self.last_batch_report: Any = None
        self._progress_relay = _Progress(self)
        self._progress_relay.step.connect(self._on_batch_step)
        self.side_panel.setStyleSheet(PANEL_STYLE)
        self.run_button.setText("Extract garment")
        self._build_controls()

    # -- controls -------------------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        lay = self.controls_layout
        label = QLabel("Background")
        label.setObjectName("sectionLabel")
        lay.addWidget(label)

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(8)
        self.swatch_buttons: dict[str, QToolButton] = {}
        for i, (hex_code, name) in enumerate(SWATCHES):
            button = QToolButton()
            button.setObjectName("swatch")
            button.setCheckable(True)
            button.setAutoExclusive(False)
            button.setFixedSize(30, 30)
            button.setToolTip(f"{name} ({hex_code})")
            button.setStyleSheet(f"QToolButton#swatch {{ background: {hex_code}; }}")
            button.clicked.connect(lambda _=False, h=hex_code: self.set_background(_hex_to_rgb(h)))
            grid.addWidget(button, 0, i)
            self.swatch_buttons[hex_code] = button
        grid.setColumnStretch(len(SWATCHES), 1)
        lay.addLayout(grid)

        row = QHBoxLayout()
        self.colour_button = QPushButton("Other colour…")
        self.colour_button.setObjectName("secondaryButton")
        self.colour_button.clicked.connect(self.choose_colour)
        row.addWidget(self.colour_button)
        self.colour_label = QLabel()
        self.colour_label.setObjectName("hintLabel")
        row.addWidget(self.colour_label, 1)
        lay.addLayout(row)

        self.export_button = QPushButton("Export garment…")
        self.export_button.setObjectName("secondaryButton")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._export_dialog)
        lay.addWidget(self.export_button)

        lay.addSpacing(8)
        label = QLabel("Batch")
        label.setObjectName("sectionLabel")
        lay.addWidget(label)
        self.batch_button = QPushButton("Extract a folder…")
        self.batch_button.setObjectName("secondaryButton")
        self.batch_button.setToolTip("Extract the garment from every photo of a folder into another folder.")
        self.batch_button.clicked.connect(self._batch_dialog)
        lay.addWidget(self.batch_button)
        self.batch_progress = QProgressBar()
        self.batch_progress.setTextVisible(False)
        self.batch_progress.setFixedHeight(6)
        self.batch_progress.hide()
        lay.addWidget(self.batch_progress)
        self.batch_cancel_button = QPushButton("Stop batch")
        self.batch_cancel_button.setObjectName("secondaryButton")
        self.batch_cancel_button.clicked.connect(self.cancel_batch)
        self.batch_cancel_button.hide()
        lay.addWidget(self.batch_cancel_button)
        self.batch_summary = QLabel()
        self.batch_summary.setObjectName("batchSummary")
        self.batch_summary.setWordWrap(True)
        self.batch_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.batch_summary.setOpenExternalLinks(True)
        self.batch_summary.hide()
        lay.addWidget(self.batch_summary)
        self._show_background()
        self.result_changed.connect(lambda: self.export_button.setEnabled(self.result_image() is not None))

    # -- background colour ----------------------------------------------------------------------------------------
    def _remembered_background(self) -> tuple[int, int, int]:
        """The colour chosen in the last session (white when none, or when the setting is damaged)."""
        colour = QColor(str(self._settings.value("extract/background", "#FFFFFF")))
        return (colour.red(), colour.green(), colour.blue()) if colour.isValid() else (255, 255, 255)

    def background(self) -> tuple[int, int, int]:
        return self._background

    def set_background(self, rgb: tuple[int, int, int]) -> None:
        """Use ``rgb`` behind the garment; the shown result is re-composited at once (no network run)."""
        from fashionstudio.core.extract import composite

        self._background = tuple(int(v) for v in rgb)  # type: ignore[assignment]
        self._show_background()
        self._settings.setValue("extract/background", QColor(*self._background).name())
        if self._extract is not None:
            self._extract.background = self._background
            self._extract.garment = composite(self._extract.raw, self._extract.mask, self._background)
            self.result_canvas.set_image(self._extract.garment)
            self.result_changed.emit()

    def choose_colour(self) -> None:
        colour = QColorDialog.getColor(QColor(*self._background), self, "Background colour")
        if colour.isValid():
            self.set_background((colour.red(), colour.green(), colour.blue()))

    def _show_background(self) -> None:
        from fashionstudio.core.pipeline_common import colour_hex

        code = colour_hex(self._background)
        names = {h: n for h, n in SWATCHES}
        for hex_code, button in self.swatch_buttons.items():
            button.setChecked(hex_code == code)
        self.colour_label.setText(f"{names.get(code, 'Custom')}  {code}")

    # -- ToolTab hooks --------------------------------------------------------------------------------------------
    def run_request(self) -> Callable[[], Any] | None:
        model, photo = self.model, self.source_image()
        if model is None:
            self.status_message.emit("Open an extract model first (File > Open model…).")
            return None
        if photo is None:
            self.status_message.emit("Drop a photo of a dressed person first.")
            return None
        background = self._background

        def job() -> Any:
            from fashionstudio.core.extract import GarmentExtractor

            return GarmentExtractor(model).run(photo, background)

        return job

    def show_result(self, result: Any) -> None:
        if result.background != self._background:  # the colour changed while the network ran
            from fashionstudio.core.extract import composite

            result.background = self._background
            result.garment = composite(result.raw, result.mask, self._background)
        self._extract = result
        self.result_canvas.set_image(result.garment)

    def result_image(self) -> Image.Image | None:
        return self.result_canvas.image()

    def settings(self) -> dict[str, Any]:
        from fashionstudio.core.pipeline_common import colour_hex

        return {"background": colour_hex(self._background)}

    def set_source_image(self, img: Image.Image, path: Path | None = None, display: QImage | None = None) -> None:
        self._extract = None
        self.export_button.setEnabled(False)
        super().set_source_image(img, path, display)

    def undo(self) -> bool:
        done = super().undo()
        if done:
            self._extract = None  # the restored picture is final; a colour change re-runs nothing
            self.export_button.setEnabled(self.result_image() is not None)
        return done

    def sample_input(self) -> Image.Image:
        """A drawn figure in a coloured top on a light backdrop (for the self-test)."""
        img = Image.new("RGB", (96, 128), (236, 234, 230))
        d = ImageDraw.Draw(img)
        d.ellipse((38, 8, 58, 30), fill=(224, 188, 160))
        d.rectangle((30, 32, 66, 74), fill=(176, 48, 72))
        d.rectangle((34, 74, 62, 120), fill=(52, 60, 90))
        return img

    # -- export ---------------------------------------------------------------------------------------------------
    def _export_dialog(self) -> None:
        window = self.window()
        if hasattr(window, "export_dialog"):
            window.export_dialog()
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export garment", self.suggested_export_name(), "PNG image (*.png)")
        if path:
            self.export_result(path)

    # -- batch ----------------------------------------------------------------------------------------------------
    def _batch_dialog(self) -> None:
        in_dir = QFileDialog.getExistingDirectory(self, "Folder of photos to extract garments from")
        if not in_dir:
            return
        out_dir = QFileDialog.getExistingDirectory(self, "Folder for the garment images", str(Path(in_dir).parent))
        if out_dir:
            self.run_batch(in_dir, out_dir)

    def batch_running(self) -> bool:
        return self._batch_future is not None

    def run_batch(self, in_dir: str | Path, out_dir: str | Path) -> bool:
        """Extract every photo of ``in_dir`` into ``out_dir`` in the background. False (with a message) when it
        cannot start: no model, or a batch already running."""
        model = self.model
        if model is None:
            self._show_batch_text("Open an extract model first (File > Open model…).", error=True)
            return False
        if self.batch_running():
            self.status_message.emit("A folder is already being extracted; wait for it or stop it.")
            return False
        background = self._background
        self._batch_cancel.clear()
        relay = self._progress_relay

        def job() -> Any:
            from fashionstudio.core.extract import GarmentExtractor

            return GarmentExtractor(model).run_folder(
                in_dir, out_dir, background, progress=relay.step.emit, cancel=self._batch_cancel.is_set)

        self.batch_button.setEnabled(False)
        self.batch_progress.setRange(0, 0)
        self.batch_progress.show()
        self.batch_cancel_button.show()
        self._show_batch_text(f"Extracting {Path(in_dir).name}…")
        self._batch_future = run_in_background(job, self._batch_done, self._batch_failed, context=self)
        return True

    def cancel_batch(self) -> None:
        self._batch_cancel.set()
        self.batch_cancel_button.setEnabled(False)

    def _on_batch_step(self, done: int, total: int, name: str) -> None:
        self.batch_progress.setRange(0, total)
        self.batch_progress.setValue(done)
        self.batch_summary.setText(f"{done} of {total}: {name}")

    def _batch_finished(self) -> None:
        self._batch_future = None
        self.batch_button.setEnabled(True)
        self.batch_progress.hide()
        self.batch_cancel_button.hide()
        self.batch_cancel_button.setEnabled(True)

    def _batch_done(self, report: Any) -> None:
        self._batch_finished()
        self.last_batch_report = report
        out_dir = report.written[0].parent if report.written else None
        parts = [html.escape(report.summary())]
        if out_dir is not None:
            parts.append(f'<a href="{QUrl.fromLocalFile(str(out_dir)).toString()}">Open the output folder</a>')
        if report.skipped:
            items = "".join(f"<li>{html.escape(reason)}</li>" for _, reason in report.skipped[:8])
            more = f"<li>… and {len(report.skipped) - 8} more.</li>" if len(report.skipped) > 8 else ""
            parts.append(f'<ul style="margin-left: -24px; color: #b3261e;">{items}{more}</ul>')
        for name, reason in report.skipped:
            log.warning("batch extract skipped %s: %s", name, reason)
        self.batch_summary.setText("<br>".join(parts[:2]) + (parts[2] if len(parts) > 2 else ""))
        self.batch_summary.setStyleSheet("")
        self.batch_summary.show()
        self.status_message.emit(report.summary())

    def _batch_failed(self, exc: BaseException) -> None:
        self._batch_finished()
        message = str(exc) if isinstance(exc, ValueError) else error_sentence(exc)
        self._show_batch_text(message, error=True)
        self.status_message.emit(message)

    def _show_batch_text(self, text: str, *, error: bool = False) -> None:
        self.batch_summary.setText(html.escape(text))
        self.batch_summary.setStyleSheet("color: #b3261e;" if error else "")
        self.batch_summary.show()

    # -- state ----------------------------------------------------------------------------------------------------
    def is_busy(self) -> bool:
        return super().is_busy() or self.batch_running()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self._batch_cancel.set()
        future = self._batch_future
        if future is not None:
            try:
                future.result(timeout=timeout_s)
            except Exception:
                pass
        super().shutdown(timeout_s)
