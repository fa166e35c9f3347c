"""FavouritesPanel: results a designer keeps while exploring, each one click away from being edited again.

The panel holds thumbnails and an opaque payload per favourite (the Generate tab stores its latent state there);
it never interprets the payload. Signals: ``keep_requested()`` (the "Keep" button), ``chosen(payload)`` (a
thumbnail clicked), ``export_chosen(folder)`` (a folder picked in the export dialog), ``message(text)``.
``export(folder, write)`` runs the owner's ``write(folder, favourites)`` in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeySequence, QPixmap, QShortcut
from PySide6.QtWidgets import (
    QFileDialog, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget,
)

from fashionstudio.gui.canvas import pil_to_qimage
from fashionstudio.gui.workers import error_sentence, run_in_background

THUMB = 72
MAX_FAVOURITES = 48  # a row a designer can still scan; the oldest make room


class FavouritesPanel(QWidget):
    keep_requested = Signal()
    chosen = Signal(object)
    export_chosen = Signal(str)
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[tuple[Image.Image, Any, str]] = []
        self.keep_button = QPushButton("Keep as favourite")
        self.keep_button.setObjectName("keepFavourite")
        self.keep_button.setToolTip("Add the shown result to the favourites row (F).")
        self.keep_button.clicked.connect(self.keep_requested.emit)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected favourite (Delete).")
        self.remove_button.clicked.connect(self.remove_selected)
        self.export_button = QPushButton("Export all…")
        self.export_button.setToolTip("Write every favourite as a PNG that reopens with its settings.")
        self.export_button.clicked.connect(self._export_dialog)
        self.list = QListWidget()
        self.list.setObjectName("favouritesList")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setFlow(QListView.Flow.LeftToRight)
        self.list.setWrapping(True)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.itemClicked.connect(lambda item: self._choose(self.list.row(item)))
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self.list, self.remove_selected)
        self.note = QLabel("Keep results you like; click one to edit it again.")
        self.note.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.keep_button, self.remove_button, self.export_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.note)
        self._update()

    def add(self, image: Image.Image, payload: Any, caption: str) -> None:
        """Add a favourite at the end (the oldest goes once there are :data:`MAX_FAVOURITES`)."""
        self._items.append((image.copy(), payload, caption))
        if len(self._items) > MAX_FAVOURITES:
            self._items.pop(0)
            self.list.takeItem(0)
        pix = QPixmap.fromImage(pil_to_qimage(image)).scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        item = QListWidgetItem(QIcon(pix), "")
        item.setToolTip(caption)
        self.list.addItem(item)
        self._update()
        self.message.emit(f"Kept as favourite {len(self._items)}: {caption}.")

    def remove_selected(self) -> None:
        row = self.list.currentRow()
        if 0 <= row < len(self._items):
            self._items.pop(row)
            self.list.takeItem(row)
            self._update()

    def favourites(self) -> list[tuple[Image.Image, Any, str]]:
        """(image, payload, caption) of every favourite, oldest first."""
        return list(self._items)

    def count(self) -> int:
        return len(self._items)

    def _choose(self, row: int) -> None:
        if 0 <= row < len(self._items):
            self.chosen.emit(self._items[row][1])

    def _export_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export favourites to folder", str(Path.home()))
        if folder:
            self.export_chosen.emit(folder)

    def export(self, folder: Path, write: Callable[[Path, list[Any]], list[Path]],
               on_done: Callable[[list[Path]], None] | None = None) -> None:
        """Write every favourite with ``write(folder, favourites())`` on a worker; ``message`` says how it went."""
        kept = self.favourites()

        def done(written: list[Path]) -> None:
            self.message.emit(f"Exported {len(written)} favourites to {folder}.")
            if on_done is not None:
                on_done(written)

        run_in_background(lambda: write(folder, kept), done,
                          lambda exc: self.message.emit(error_sentence(exc)), context=self)

    def _update(self) -> None:
        self.remove_button.setEnabled(bool(self._items))
        self.export_button.setEnabled(bool(self._items))
