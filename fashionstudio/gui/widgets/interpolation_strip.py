"""InterpolationStrip: the frames between two kept Generate images, in a row; click a frame to see it large."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from fashionstudio.gui.canvas import pil_to_qimage

FRAME = 64


class InterpolationStrip(QListWidget):
    """A horizontal row of frames. Emits ``frame_clicked(index)``."""

    frame_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(QSize(FRAME, FRAME))
        self.setFixedHeight(FRAME + 26)
        self.setMovement(QListView.Movement.Static)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._frames: list[Image.Image] = []
        self.itemClicked.connect(lambda item: self.frame_clicked.emit(self.row(item)))

    def set_frames(self, frames: list[Image.Image]) -> None:
        self.clear()
        self._frames = list(frames)
        for img in self._frames:
            pix = QPixmap.fromImage(pil_to_qimage(img)).scaled(
                FRAME, FRAME, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            self.addItem(QListWidgetItem(QIcon(pix), ""))

    def frames(self) -> list[Image.Image]:
        return list(self._frames)
