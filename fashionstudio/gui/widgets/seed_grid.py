"""SeedGrid: a page of seed thumbnails for the Generate tab; click one to edit it."""

from __future__ import annotations

from PIL import Image
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem, QSpinBox, QToolButton, QVBoxLayout, QWidget,
)

from fashionstudio.gui.canvas import pil_to_qimage

THUMB = 72
PAGE_SIZE = 24
MAX_SEED = 2**31 - 1


class SeedGrid(QWidget):
    """Thumbnails of seeds ``first .. first + PAGE_SIZE - 1``. Emits ``seed_chosen(seed)`` on a click and
    ``page_changed(first_seed)`` when the page moves; the tab renders and calls ``set_thumbnail``."""

    seed_chosen = Signal(int)
    page_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setGridSize(QSize(THUMB + 8, THUMB + 22))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)
        self.list.setSpacing(2)
        self.list.setObjectName("seedGrid")
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        # Arrow keys in the grid browse too (programmatic selection blocks signals, see select_seed).
        self.list.currentItemChanged.connect(lambda item, _prev: self._clicked(item) if item is not None else None)

        self.first_spin = QSpinBox()
        self.first_spin.setRange(0, MAX_SEED - PAGE_SIZE)
        self.first_spin.setSingleStep(PAGE_SIZE)
        self.first_spin.setToolTip("First seed of this page")
        self.first_spin.setKeyboardTracking(False)
        self.first_spin.valueChanged.connect(self._first_changed)
        prev_btn, next_btn = QToolButton(), QToolButton()
        prev_btn.setArrowType(Qt.ArrowType.LeftArrow)
        next_btn.setArrowType(Qt.ArrowType.RightArrow)
        prev_btn.setToolTip("Previous page of seeds")
        next_btn.setToolTip("Next page of seeds")
        prev_btn.clicked.connect(lambda: self.first_spin.setValue(self.first_spin.value() - PAGE_SIZE))
        next_btn.clicked.connect(lambda: self.first_spin.setValue(self.first_spin.value() + PAGE_SIZE))

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        caption = QLabel("Seeds")
        caption.setObjectName("canvasCaption")
        bar.addWidget(caption)
        bar.addStretch(1)
        bar.addWidget(prev_btn)
        bar.addWidget(QLabel("from"))
        bar.addWidget(self.first_spin)
        bar.addWidget(next_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        lay.addLayout(bar)
        lay.addWidget(self.list, 1)
        self._items: dict[int, QListWidgetItem] = {}
        self._blank = QPixmap(THUMB, THUMB)
        self._blank.fill(QColor("#e9ebef"))
        self.set_page(0)

    def first_seed(self) -> int:
        return self.first_spin.value()

    def seeds(self) -> list[int]:
        return list(self._items)

    def set_page(self, first: int) -> None:
        """Show empty slots for seeds ``first ..``; the tab fills them with ``set_thumbnail``."""
        self.list.clear()
        self._items.clear()
        for seed in range(first, first + PAGE_SIZE):
            item = QListWidgetItem(QIcon(self._blank), str(seed))
            item.setData(Qt.ItemDataRole.UserRole, seed)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
            item.setToolTip(f"Seed {seed}: click to edit")
            self.list.addItem(item)
            self._items[seed] = item
        if self.first_spin.value() != first:
            self.first_spin.blockSignals(True)
            self.first_spin.setValue(first)
            self.first_spin.blockSignals(False)

    def set_thumbnail(self, seed: int, img: Image.Image) -> None:
        item = self._items.get(seed)
        if item is not None:
            pix = QPixmap.fromImage(pil_to_qimage(img)).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            item.setIcon(QIcon(pix))
            item.setData(Qt.ItemDataRole.UserRole + 1, True)

    def filled_count(self) -> int:
        """Thumbnails drawn on this page (tests)."""
        return sum(1 for it in self._items.values() if it.data(Qt.ItemDataRole.UserRole + 1))

    def select_seed(self, seed: int) -> None:
        item = self._items.get(seed)
        self.list.blockSignals(True)
        self.list.setCurrentItem(item) if item is not None else self.list.clearSelection()
        self.list.blockSignals(False)

    def _clicked(self, item: QListWidgetItem) -> None:
        self.seed_chosen.emit(int(item.data(Qt.ItemDataRole.UserRole)))

    def _first_changed(self, value: int) -> None:
        self.set_page(value)
        self.page_changed.emit(value)
