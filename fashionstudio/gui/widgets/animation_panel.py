"""AnimationPanel: the Generate tab's "Animate" page: two kept images, frame count and speed, strip and export.

The panel holds the controls and the strip of frames (``strip``, which the tab places under its image), renders
the strip from a job the tab gives (``render_strip``) and writes animations (``core.animation``) in the
background; the tab keeps the states. Signals: ``keep_requested(slot)`` ("A"/"B"), ``strip_requested()``,
``strip_ready(states)`` (the frames' states, in order), ``export_chosen(path)`` (a file picked in the export
dialog), ``message(text)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from fashionstudio.gui.canvas import pil_to_qimage
from fashionstudio.gui.widgets.interpolation_strip import InterpolationStrip
from fashionstudio.gui.workers import error_sentence, run_in_background

KEPT = 120
INTRO = "Keep two images, then make the strip."


class AnimationPanel(QWidget):
    keep_requested = Signal(str)
    strip_requested = Signal()
    strip_ready = Signal(object)
    export_chosen = Signal(str)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from fashionstudio.core.animation import MP4_MISSING, mp4_available

        self._mp4 = mp4_available()
        self._kept = 0
        self.strip = InterpolationStrip()
        self.strip.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 10, 4, 4)
        keep = QGridLayout()
        self.keep_labels: dict[str, QLabel] = {}
        for col, slot in enumerate(("A", "B")):
            label = QLabel(f"{slot}: not kept")
            label.setFixedSize(KEPT, KEPT)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setStyleSheet("border: 1px dashed #cfd3da; border-radius: 6px; color: #8a9099;")
            self.keep_labels[slot] = label
            button = QPushButton(f"Keep as {slot}")
            button.setToolTip(f"Keep the image shown now as end {slot} of the interpolation")
            button.clicked.connect(lambda _=False, s=slot: self.keep_requested.emit(s))
            keep.addWidget(label, 0, col, Qt.AlignmentFlag.AlignCenter)
            keep.addWidget(button, 1, col)
        lay.addLayout(keep)
        form = QFormLayout()
        self.frames_spin = QSpinBox()
        self.frames_spin.setRange(3, 120)
        self.frames_spin.setValue(16)
        form.addRow("Frames", self.frames_spin)
        self.fps_spin = QSpinBox()
        self.fps_spin.setRange(1, 60)
        self.fps_spin.setValue(12)
        form.addRow("Frames per second", self.fps_spin)
        lay.addLayout(form)
        self.strip_button = QPushButton("Make interpolation strip")
        self.strip_button.clicked.connect(self.strip_requested)
        lay.addWidget(self.strip_button)
        export = QHBoxLayout()
        self.gif_button = QPushButton("Export GIF…")
        self.gif_button.clicked.connect(lambda: self._export_dialog(".gif"))
        self.mp4_button = QPushButton("Export MP4…")
        self.mp4_button.clicked.connect(lambda: self._export_dialog(".mp4"))
        if not self._mp4:
            self.mp4_button.setToolTip(MP4_MISSING)
        export.addWidget(self.gif_button)
        export.addWidget(self.mp4_button)
        lay.addLayout(export)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName("modelLabel")
        lay.addWidget(self.note)
        lay.addStretch(1)
        self.set_note(INTRO)
        self.update_buttons(kept=0, frames=0)

    def set_note(self, text: str) -> None:
        from fashionstudio.core.animation import MP4_MISSING

        self.note.setText(text if self._mp4 or text != INTRO else f"{INTRO} {MP4_MISSING}")

    def show_kept(self, slot: str, img: Image.Image, kept: int) -> None:
        """Show ``img`` as end ``slot``; ``kept`` ends are kept now."""
        self._kept = kept
        self.update_buttons(kept, len(self.strip.frames()))
        pix = QPixmap.fromImage(pil_to_qimage(img)).scaled(
            KEPT - 4, KEPT - 4, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        self.keep_labels[slot].setPixmap(pix)

    def update_buttons(self, kept: int, frames: int) -> None:
        self.strip_button.setEnabled(kept == 2)
        self.gif_button.setEnabled(frames > 0)
        self.mp4_button.setEnabled(frames > 0 and self._mp4)

    def render_strip(self, job: Callable[[], list[tuple[Image.Image, Any]]]) -> None:
        """Run ``job`` (it returns (image, state) per frame) in the background and show its frames."""
        self.strip_button.setEnabled(False)
        self.set_note("Rendering the strip…")

        def done(result: list[tuple[Image.Image, Any]]) -> None:
            images = [img for img, _ in result]
            self.strip_ready.emit([state for _, state in result])
            self.strip.set_frames(images)
            self.strip.show()
            self.set_note(f"{len(images)} frames from A to B. Click a frame to edit it.")
            self.update_buttons(self._kept, len(images))

        def fail(exc: BaseException) -> None:
            self.set_note(error_sentence(exc))
            self.update_buttons(self._kept, len(self.strip.frames()))

        run_in_background(job, done, fail, context=self)

    def _export_dialog(self, suffix: str) -> None:
        if not self.strip.frames():
            self.message.emit("Make the interpolation strip first.")
            return
        kind = "GIF animation (*.gif)" if suffix == ".gif" else "MP4 video (*.mp4)"
        path, _ = QFileDialog.getSaveFileName(self, "Export animation", str(Path.home() / f"interpolation{suffix}"),
                                              kind)
        if path:
            self.export_chosen.emit(path)

    def save(self, frames: list[Image.Image], path: str | Path,
             on_done: Callable[[Path], None] | None = None, sharpener: Any = None) -> None:
        """Write ``frames`` to ``path`` (.gif or .mp4) at the chosen speed, in the background; with a
        ``sharpener`` (core.upscale.Sharpener) every frame is sharpened first, as a single export would be."""
        from fashionstudio.core.animation import save_animation

        fps, path = self.fps_spin.value(), Path(path)
        frames = list(frames)

        def write() -> Path:
            shown = [sharpener.sharpen(f) for f in frames] if sharpener is not None else frames
            return save_animation(shown, path, fps)

        def done(written: Path) -> None:
            size = f"{frames[0].width * sharpener.scale} px, sharpened by {sharpener.name}" if sharpener else \
                f"{frames[0].width} px"
            self.message.emit(f"Saved {written.name} ({len(frames)} frames, {size}).")
            if on_done is not None:
                on_done(written)

        if sharpener is not None:
            self.message.emit(f"Sharpening {len(frames)} frames for {path.name}…")
        run_in_background(write, done, lambda exc: self.message.emit(str(exc)), context=self)
