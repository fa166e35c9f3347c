"""The sample-grid viewer: the grids a run saved (``sample`` events), one at a time, chosen with a step slider.

The slider follows the newest grid while it sits at the right end (as a live run adds grids), and stays where
the user put it otherwise. Grids are decoded on a worker thread (QImage is safe there; QPixmap is not).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QVBoxLayout, QWidget

from fashionstudio.core.runs import RunLog
from fashionstudio.gui.workers import run_in_background


class _ImageLabel(QLabel):
    """Shows an image scaled to fit, keeping its aspect; small grids are enlarged without blurring."""

    def __init__(self) -> None:
        super().__init__()
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(QSize(160, 120))
        self._image: QImage | None = None

    def set_image(self, image: QImage | None) -> None:
        self._image = image
        if image is None:
            self.clear()
        self._rescale()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._image is None or self._image.isNull():
            return  # keep a placeholder text
        size = self.size()
        scale = min(size.width() / self._image.width(), size.height() / self._image.height())
        mode = Qt.TransformationMode.FastTransformation if scale >= 2 else Qt.TransformationMode.SmoothTransformation
        if scale >= 2:
            scale = int(scale)  # whole-pixel enlargement keeps the generated pixels crisp
        w, h = max(1, int(self._image.width() * scale)), max(1, int(self._image.height() * scale))
        self.setPixmap(QPixmap.fromImage(self._image.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio, mode)))


class SampleViewer(QWidget):
    """Sample grids of one run with a step slider."""

    image_shown = Signal(int)   # the step of the grid now shown

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.log: RunLog | None = None
        self.samples: list[tuple[int, str, list[str]]] = []
        self.shown_step: int | None = None
        self._generation = 0

        self.image = _ImageLabel()
        self.image.setObjectName("sampleImage")
        self.caption = QLabel("")
        self.caption.setObjectName("sampleCaption")
        self.caption.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._show_index)
        self.step_label = QLabel("")
        self.step_label.setMinimumWidth(130)
        self.step_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        row = QHBoxLayout()
        row.addWidget(self.slider, 1)
        row.addWidget(self.step_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addWidget(self.image, 1)
        lay.addWidget(self.caption)
        lay.addLayout(row)
        self._set_empty("Select a run to see its sample grids.")

    def _set_empty(self, text: str) -> None:
        self.image.set_image(None)
        self.image.setText(text)
        self.caption.setText("")
        self.step_label.setText("")

    def set_run(self, run_dir: Path | None, log: RunLog | None) -> None:
        """Show ``run_dir``'s grids (None: nothing)."""
        if run_dir != self.run_dir:
            self.run_dir, self.log, self.samples, self.shown_step = run_dir, log, [], None
            self._generation += 1
            self.slider.setEnabled(False)
            self._set_empty("No sample grids yet." if run_dir else "Select a run to see its sample grids.")
        self.log = log
        self.refresh()

    def refresh(self) -> None:
        """Pick up grids added since the last call."""
        samples = list(self.log.samples) if self.log is not None else []
        if samples == self.samples:
            return
        at_end = not self.samples or self.slider.value() >= len(self.samples) - 1
        self.samples = samples
        if not samples:
            self.slider.setEnabled(False)
            self.slider.setRange(0, 0)
            self._set_empty("No sample grids yet." if self.run_dir else "Select a run to see its sample grids.")
            return
        self.slider.setEnabled(len(samples) > 1)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(samples) - 1)
        if at_end:
            self.slider.setValue(len(samples) - 1)
        self.slider.blockSignals(False)
        self._show_index(self.slider.value())

    def _show_index(self, index: int) -> None:
        if not self.samples or self.run_dir is None:
            return
        index = max(0, min(index, len(self.samples) - 1))
        step, rel, rows = self.samples[index]
        total = self.log.total_steps if self.log is not None else None
        self.step_label.setText(f"step {step:,}" + (f" of {total:,}" if total else "") +
                                f"  ({index + 1}/{len(self.samples)})")
        self.caption.setText("Rows: " + ", ".join(rows) if rows else "")
        path = self.run_dir / rel
        self._generation += 1
        generation = self._generation

        def load() -> QImage:
            image = QImage(str(path))
            if image.isNull():
                raise OSError(f"The sample grid {path.name} cannot be read.")
            return image

        def done(image: QImage) -> None:
            if generation == self._generation:
                self.image.setText("")
                self.image.set_image(image)
                self.shown_step = step
                self.image_shown.emit(step)

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self.image.set_image(None)
                self.image.setText(str(exc))

        run_in_background(load, done, failed, context=self)
