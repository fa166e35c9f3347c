"""DirectionSliders: one row per semantic direction (renamable name, strength slider, layer range)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QGridLayout, QLabel, QLineEdit, QScrollArea, QSlider, QVBoxLayout, QWidget,
)

if TYPE_CHECKING:
    from fashionstudio.core.latent import Direction

SLIDER_STEPS = 100  # slider units per sigma
SLIDER_RANGE = 3.0  # +- sigma


class DirectionSliders(QWidget):
    """Edits a list of :class:`Direction`. ``changed()`` fires while a slider moves or a range/name changes;
    ``pressed()`` / ``released()`` when a drag starts / ends."""

    changed = Signal()
    pressed = Signal()
    released = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._directions: list[Direction] = []
        self._presets: dict[str, tuple[int, int]] = {}
        self._rows: list[tuple[QLineEdit, QSlider, QLabel, QComboBox]] = []
        self.inner = QWidget()
        self.grid = QGridLayout(self.inner)
        self.grid.setContentsMargins(0, 0, 6, 0)
        self.grid.setHorizontalSpacing(6)
        self.grid.setVerticalSpacing(2)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.inner)
        self.empty = QLabel("Sliders appear once a model is loaded.")
        self.empty.setWordWrap(True)
        self.empty.setObjectName("modelLabel")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.empty)
        lay.addWidget(self.scroll, 1)

    # -- content --------------------------------------------------------------------------------------------------
    def set_directions(self, directions: list[Direction], presets: dict[str, tuple[int, int]]) -> None:
        """Show ``directions`` (copied; their values become the slider positions)."""
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self._rows.clear()
        self._directions = [copy.copy(d) for d in directions]
        self._presets = dict(presets)
        for i, d in enumerate(self._directions):
            name = QLineEdit(d.name)
            name.setToolTip("Rename this slider (e.g. 'sleeve length')")
            name.setFrame(False)
            name.setObjectName("sliderName")
            name.editingFinished.connect(lambda i=i: self._renamed(i))
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(-SLIDER_RANGE * SLIDER_STEPS), int(SLIDER_RANGE * SLIDER_STEPS))
            slider.setValue(int(round(d.value * SLIDER_STEPS)))
            slider.setToolTip(f"{d.name}: strength in standard deviations of w (double-click the value to zero)")
            slider.valueChanged.connect(lambda v, i=i: self._moved(i, v))
            slider.sliderPressed.connect(self.pressed)
            slider.sliderReleased.connect(self.released)
            value = QLabel(self._fmt(d.value))
            value.setMinimumWidth(34)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            layers = QComboBox()
            layers.setToolTip("Layers this direction acts on")
            self._fill_layers(layers, d.layers)
            layers.currentIndexChanged.connect(lambda _=0, i=i: self._layers_changed(i))
            self.grid.addWidget(name, 2 * i, 0, 1, 2)
            self.grid.addWidget(layers, 2 * i, 2)
            self.grid.addWidget(slider, 2 * i + 1, 0, 1, 2)
            self.grid.addWidget(value, 2 * i + 1, 2)
            self._rows.append((name, slider, value, layers))
        self.grid.setColumnStretch(0, 1)
        self.grid.setRowStretch(2 * len(self._directions), 1)
        self.empty.setVisible(not self._directions)

    def _fill_layers(self, combo: QComboBox, current: tuple[int, int]) -> None:
        combo.blockSignals(True)
        combo.clear()
        found = False
        for key, rng in self._presets.items():
            combo.addItem(f"{key} {rng[0]}-{rng[1] - 1}", rng)
            if tuple(rng) == tuple(current):
                combo.setCurrentIndex(combo.count() - 1)
                found = True
        if not found:
            combo.addItem(f"custom {current[0]}-{current[1] - 1}", tuple(current))
            combo.setCurrentIndex(combo.count() - 1)
        combo.blockSignals(False)

    @staticmethod
    def _fmt(value: float) -> str:
        return f"{value:+.2f}" if value else "0"

    def directions(self) -> list[Direction]:
        """The directions with their current names, layer ranges and values (copies)."""
        return [copy.copy(d) for d in self._directions]

    def count(self) -> int:
        return len(self._directions)

    def value(self, index: int) -> float:
        return self._directions[index].value

    def set_value(self, index: int, value: float) -> None:
        """Move slider ``index`` to ``value`` sigma (emits ``changed``)."""
        self._rows[index][1].setValue(int(round(value * SLIDER_STEPS)))

    def set_layers(self, index: int, layers: tuple[int, int]) -> None:
        """Make direction ``index`` act on ws ``layers`` = [start, stop) (emits ``changed``)."""
        combo = self._rows[index][3]
        self._fill_layers(combo, tuple(layers))
        self._layers_changed(index)

    def rename(self, index: int, name: str) -> None:
        self._rows[index][0].setText(name)
        self._renamed(index)

    def reset(self) -> None:
        """All sliders back to zero (one ``changed``)."""
        for d, (_, slider, label, _) in zip(self._directions, self._rows):
            slider.blockSignals(True)
            slider.setValue(0)
            slider.blockSignals(False)
            d.value = 0.0
            label.setText(self._fmt(0.0))
        self.changed.emit()

    # -- reactions ------------------------------------------------------------------------------------------------
    def _moved(self, index: int, v: int) -> None:
        value = v / SLIDER_STEPS
        self._directions[index].value = value
        self._rows[index][2].setText(self._fmt(value))
        self.changed.emit()

    def _renamed(self, index: int) -> None:
        text = self._rows[index][0].text().strip() or self._directions[index].name
        self._rows[index][0].setText(text)
        if text != self._directions[index].name:
            self._directions[index].name = text
            self.changed.emit()

    def _layers_changed(self, index: int) -> None:
        rng = self._rows[index][3].currentData()
        if rng is not None:
            self._directions[index].layers = (int(rng[0]), int(rng[1]))
            self.changed.emit()
