"""LatentControls: the Generate tab's "Latent" page: seed, truncation ψ and its layers, style mixing, noise.

The page shows a :class:`~fashionstudio.core.latent.GenerateState` (``show_state``, which emits nothing) and
reports what the designer changes: ``seed_changed(seed)``, ``psi_changed(psi)``, ``psi_pressed()`` (a drag
starts: one undo step), ``cutoff_changed(layers, all_layers)``, ``mix_changed(seed or None, first, last)`` (the
inclusive range shown) and ``noise_changed(strength)``. ``layer_presets()`` gives the loaded model's named ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QSlider, QSpinBox, QWidget

from fashionstudio.core.generate_state import mix_preset_key

MAX_SEED = 2**31 - 1
_MIX_PRESETS = (("coarse", "Coarse (shape, pose)"), ("middle", "Middle (garment parts)"),
                ("fine", "Fine (colour, texture)"), ("custom", "Custom range"))


def _slider(lo: int, hi: int, value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(lo, hi)
    s.setValue(value)
    return s


def _with_label(slider: QSlider, label: QLabel) -> QWidget:
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    label.setMinimumWidth(36)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    lay.addWidget(slider, 1)
    lay.addWidget(label)
    return box


def _seed_spin(value: int = 0) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(0, MAX_SEED)
    spin.setValue(value)
    spin.setKeyboardTracking(False)
    return spin


class LatentControls(QWidget):
    seed_changed = Signal(int)
    psi_changed = Signal(float)
    psi_pressed = Signal()
    cutoff_changed = Signal(int, int)
    mix_changed = Signal(object, int, int)
    noise_changed = Signal(float)

    def __init__(self, psi: float, layer_presets: Callable[[], dict[str, tuple[int, int]]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer_presets = layer_presets
        form = QFormLayout(self)
        form.setContentsMargins(4, 10, 4, 4)
        form.setVerticalSpacing(8)

        self.seed_spin = _seed_spin()
        self.seed_spin.valueChanged.connect(self.seed_changed)
        form.addRow("Seed", self.seed_spin)

        self.psi_slider = _slider(-100, 200, int(psi * 100))
        self.psi_slider.sliderPressed.connect(self.psi_pressed)
        self.psi_slider.setToolTip("Truncation ψ: 0 gives the average image, 1 the full variety")
        self.psi_label = QLabel(f"{psi:.2f}")
        self.psi_slider.valueChanged.connect(self._psi_moved)
        form.addRow("Truncation ψ", _with_label(self.psi_slider, self.psi_label))
        self.cutoff_spin = QSpinBox()
        self.cutoff_spin.setRange(1, 18)
        self.cutoff_spin.setValue(18)
        self.cutoff_spin.setSuffix(" layers")
        self.cutoff_spin.setToolTip("ψ acts on this many layers from the coarsest (all of them by default)")
        self.cutoff_spin.valueChanged.connect(lambda v: self.cutoff_changed.emit(v, self.cutoff_spin.maximum()))
        form.addRow("ψ on the first", self.cutoff_spin)

        self.mix_check = QCheckBox("Style mixing")
        self.mix_check.setToolTip("Take the chosen layers' styles from a second seed")
        self.mix_check.toggled.connect(self._mix_moved)
        form.addRow(self.mix_check)
        self.mix_seed_spin = _seed_spin(1)
        self.mix_seed_spin.valueChanged.connect(self._mix_moved)
        form.addRow("Second seed", self.mix_seed_spin)
        self.mix_preset = QComboBox()
        for key, text in _MIX_PRESETS:
            self.mix_preset.addItem(text, key)
        self.mix_preset.currentIndexChanged.connect(self.apply_mix_preset)
        form.addRow("Layers", self.mix_preset)
        rng = QHBoxLayout()
        self.mix_start = QSpinBox()
        self.mix_stop = QSpinBox()
        for spin in (self.mix_start, self.mix_stop):
            spin.setRange(0, 17)
            spin.valueChanged.connect(self._mix_moved)
        rng.addWidget(self.mix_start)
        rng.addWidget(QLabel("to"))
        rng.addWidget(self.mix_stop)
        self.mix_range_box = QWidget()
        self.mix_range_box.setLayout(rng)
        rng.setContentsMargins(0, 0, 0, 0)
        form.addRow("Layer range", self.mix_range_box)

        self.noise_slider = _slider(0, 200, 100)
        self.noise_slider.setToolTip("Strength of the per-pixel noise (fine detail such as fabric grain)")
        self.noise_label = QLabel("1.00")
        self.noise_slider.valueChanged.connect(self._noise_moved)
        form.addRow("Noise", _with_label(self.noise_slider, self.noise_label))
        hint = QLabel("Drag over the image or press the arrow keys to glide to neighbouring seeds.")
        hint.setWordWrap(True)
        hint.setObjectName("modelLabel")
        form.addRow(hint)
        self.apply_mix_preset()

    def _widgets(self) -> tuple[QWidget, ...]:
        return (self.seed_spin, self.psi_slider, self.cutoff_spin, self.mix_check, self.mix_seed_spin,
                self.mix_preset, self.mix_start, self.mix_stop, self.noise_slider)

    def set_num_layers(self, num_ws: int, psi_cutoff: int | None) -> None:
        """Fit the layer controls to a generator with ``num_ws`` layers (emits ``mix_changed`` once)."""
        self.mix_start.setMaximum(num_ws - 1)
        self.mix_stop.setMaximum(num_ws - 1)
        self.cutoff_spin.blockSignals(True)
        self.cutoff_spin.setMaximum(num_ws)
        self.cutoff_spin.setValue(num_ws if psi_cutoff is None else min(psi_cutoff, num_ws))
        self.cutoff_spin.blockSignals(False)
        self.apply_mix_preset()

    def show_state(self, s: Any) -> None:
        """Show state ``s`` in the controls without emitting anything."""
        widgets = self._widgets()
        for w in widgets:
            w.blockSignals(True)
        self.seed_spin.setValue(min(s.seed, self.seed_spin.maximum()))
        self.psi_slider.setValue(int(round(s.psi * 100)))
        self.psi_label.setText(f"{s.psi:.2f}")
        self.cutoff_spin.setValue(self.cutoff_spin.maximum() if s.psi_cutoff is None else s.psi_cutoff)
        self.mix_check.setChecked(s.mix_seed is not None)
        if s.mix_seed is not None:
            self.mix_seed_spin.setValue(s.mix_seed)
        key = mix_preset_key(s.mix_layers, self._layer_presets())
        self.mix_preset.setCurrentIndex(self.mix_preset.findData(key))
        self.mix_start.setValue(s.mix_layers[0])
        self.mix_stop.setValue(s.mix_layers[1] - 1)
        self.mix_range_box.setEnabled(key == "custom")
        self.noise_slider.setValue(int(round(s.noise_strength * 100)))
        self.noise_label.setText(f"{s.noise_strength:.2f}")
        for w in widgets:
            w.blockSignals(False)

    def show_seed(self, seed: int) -> None:
        """Show ``seed`` in the seed box without emitting (the walk between seeds passes through it)."""
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(min(seed, self.seed_spin.maximum()))
        self.seed_spin.blockSignals(False)

    def _psi_moved(self, v: int) -> None:
        self.psi_label.setText(f"{v / 100.0:.2f}")
        self.psi_changed.emit(v / 100.0)

    def apply_mix_preset(self, *_: Any) -> None:
        """Set the range boxes to the chosen named range (emits ``mix_changed``)."""
        key = self.mix_preset.currentData()
        self.mix_range_box.setEnabled(key == "custom")
        if key != "custom":
            start, stop = self._layer_presets()[key]
            for spin, v in ((self.mix_start, start), (self.mix_stop, stop - 1)):
                spin.blockSignals(True)
                spin.setValue(v)
                spin.blockSignals(False)
        self._mix_moved()

    def _mix_moved(self, *_: Any) -> None:
        seed = self.mix_seed_spin.value() if self.mix_check.isChecked() else None
        self.mix_changed.emit(seed, self.mix_start.value(), self.mix_stop.value())

    def _noise_moved(self, v: int) -> None:
        self.noise_label.setText(f"{v / 100.0:.2f}")
        self.noise_changed.emit(v / 100.0)
