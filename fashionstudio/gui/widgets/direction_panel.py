"""DirectionPanel: the Generate tab's "Sliders" page: how the directions are found, computing them, the sliders.

SeFa and GANSpace directions are computed with ``run_in_background``, named attribute sliders by the
:class:`AttributeSliderJob` with a progress bar; only the newest request's answer is used. ``compute(model)``
starts one (``engine(model)`` gives the render engine, called on the worker); an answer for a model that is no
longer ``current()`` is dropped. Signals: ``computed(method, directions)`` (the tab shows them with
``show_directions``), ``recompute_requested()`` (method, layer range or count changed), ``reset_requested()``,
``save_chosen(path)`` / ``load_chosen(path)`` (a slider-set file picked in a dialog; ``save_set`` / ``read_set``
do the writing and reading), ``message(text)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QProgressBar, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from fashionstudio.gui.widgets.attribute_job import AttributeSliderJob
from fashionstudio.gui.widgets.latent_sliders import DirectionSliders
from fashionstudio.gui.workers import error_sentence, run_in_background

DEFAULT_DIRECTIONS = 12
METHODS = (("sefa", "SeFa (style weights)", "SeFa"), ("ganspace", "GANSpace (PCA of w)", "GANSpace"),
           ("attributes", "Named attributes (garment, colour, pattern, pose)", "named attribute"))


class DirectionPanel(QWidget):
    computed = Signal(str, object)
    recompute_requested = Signal()
    reset_requested = Signal()
    save_chosen = Signal(str)
    load_chosen = Signal(str)
    message = Signal(str)

    def __init__(self, engine: Callable[[Any], Any], layer_presets: Callable[[], dict[str, tuple[int, int]]],
                 current: Callable[[], Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._current = current
        self._engine = engine
        self._layer_presets = layer_presets
        self._busy = False
        self._request = 0  # the newest computation; an older one's answer is dropped
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 10, 4, 4)
        top = QGridLayout()
        self.method_combo = QComboBox()
        for key, text, _ in METHODS:
            self.method_combo.addItem(text, key)
        self.method_combo.setToolTip("How the directions are found: SeFa and GANSpace from the generator alone; "
                                     "named attributes from the atelier classifier's reading of 2000 samples, "
                                     "each keeping the other attributes fixed")
        self.method_combo.currentIndexChanged.connect(lambda _: self.recompute_requested.emit())
        self.direction_layers = QComboBox()
        for key in ("all", "coarse", "middle", "fine"):
            self.direction_layers.addItem(key.capitalize(), key)
        self.direction_layers.setToolTip("Layers the new directions are computed for and act on")
        self.direction_layers.currentIndexChanged.connect(lambda _: self.recompute_requested.emit())
        self.direction_count = QSpinBox()
        self.direction_count.setRange(4, 32)
        self.direction_count.setValue(DEFAULT_DIRECTIONS)
        self.direction_count.setKeyboardTracking(False)
        self.direction_count.valueChanged.connect(lambda _: self.recompute_requested.emit())
        top.addWidget(self.method_combo, 0, 0, 1, 2)
        top.addWidget(self.direction_layers, 1, 0)
        top.addWidget(self.direction_count, 1, 1)
        lay.addLayout(top)
        self.attribute_progress = QProgressBar()
        self.attribute_progress.setFormat("Reading samples… %p%")
        self.attribute_progress.hide()
        lay.addWidget(self.attribute_progress)
        self.attribute_job = AttributeSliderJob(self)
        self.attribute_job.progress.connect(self._attribute_progress)
        # The job is cancelled whenever another computation starts, so what it reports is the latest request.
        self.attribute_job.finished.connect(lambda model, dirs: self._ready(model, "attributes", dirs, self._request))
        self.attribute_job.failed.connect(lambda model, text: self._failed(model, text, self._request))
        self.sliders = DirectionSliders()
        lay.addWidget(self.sliders, 1)
        buttons = QHBoxLayout()
        for text, slot, tip in (("Reset", self.reset_requested.emit, "All sliders back to zero"),
                                ("Save set…", self._save_dialog, "Save these named directions"),
                                ("Load set…", self._load_dialog, "Load a saved direction set")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        lay.addLayout(buttons)

    def method(self) -> str:
        return self.method_combo.currentData()

    def is_busy(self) -> bool:
        return self._busy

    def show_directions(self, directions: list[Any]) -> None:
        self.sliders.set_directions(directions, self._layer_presets())

    def show_method(self, method: str) -> bool:
        """Show ``method`` without recomputing the sliders (they come from a file or a state); True when it
        changed."""
        index = self.method_combo.findData(method)
        if index < 0 or index == self.method_combo.currentIndex():
            return False
        self.method_combo.blockSignals(True)
        self.method_combo.setCurrentIndex(index)
        self.method_combo.blockSignals(False)
        self.direction_count.setEnabled(method != "attributes")
        return True

    def compute(self, model: Any) -> None:
        """Compute the sliders of ``model`` with the chosen method, layer range and count, in the background."""
        method = self.method()
        layers = self._layer_presets()[self.direction_layers.currentData()]
        k = self.direction_count.value()
        self.direction_count.setEnabled(method != "attributes")  # one slider per attribute value the model shows
        self._busy = True
        self._request += 1
        request = self._request
        self.sliders.empty.setText("Computing directions…")
        self.sliders.empty.show()
        if method == "attributes":
            self.attribute_progress.setValue(0)
            self.attribute_progress.show()
            self.attribute_job.start(model, lambda: self._engine(model), layers)
            return
        self.attribute_job.cancel()
        run_in_background(lambda: self._engine(model).directions(method, k, layers),
                          lambda dirs: self._ready(model, method, dirs, request),
                          lambda exc: self._failed(model, error_sentence(exc), request), context=self)

    def cancel(self) -> None:
        self.attribute_job.cancel()

    def _ready(self, model: Any, method: str, directions: list[Any], request: int) -> None:
        if request != self._request:
            return  # superseded: another model, method or layer range was asked for meanwhile
        self._busy = False
        self.attribute_progress.hide()
        if self._current() is model:
            self.computed.emit(method, directions)

    def ready_sentence(self, method: str, count: int) -> str:
        name = next((n for key, _, n in METHODS if key == method), method)
        hint = " (right: more, left: less; the other attributes are kept)" if method == "attributes" else ""
        return f"{count} {name} sliders ready{hint}: rename them by clicking their names."

    def _failed(self, model: Any, sentence: str, request: int) -> None:
        if request != self._request:
            return
        self._busy = False
        self.attribute_progress.hide()
        if self._current() is model:
            self.sliders.empty.setText(sentence)
            self.sliders.empty.show()
            self.message.emit(sentence)

    def _attribute_progress(self, done: int, total: int) -> None:
        self.attribute_progress.setRange(0, total)
        self.attribute_progress.setValue(done)

    # -- slider-set files -----------------------------------------------------------------------------------------
    def _save_dialog(self) -> None:
        if not self.sliders.count():
            self.message.emit("There are no sliders to save yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save slider set", str(Path.home() / "sliders.json"),
                                              "Slider sets (*.json)")
        if path:
            self.save_chosen.emit(path)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load slider set", str(Path.home()), "Slider sets (*.json)")
        if path:
            self.load_chosen.emit(path)

    def save_set(self, path: str | Path, model: Any) -> Path:
        """Write the sliders as shown, with their method and the model they were made for."""
        from fashionstudio.core.latent import save_directions

        return save_directions(path, self.sliders.directions(), method=self.method(),
                               model_sha256=model.sha256 if model else None,
                               w_dim=int(model.networks["G"].w_dim) if model else None)

    def read_set(self, path: str | Path, model: Any) -> tuple[list[Any], str | None, str]:
        """(directions fitted to ``model``'s layers, their method if this page offers it, a note when they were
        made for another model). Raises ``StateError`` naming what is wrong with the file."""
        from fashionstudio.core.latent import clamp_range, load_directions

        directions, header = load_directions(path, int(model.networks["G"].w_dim) if model else None)
        if model is not None:
            num_ws = int(model.networks["G"].num_ws)
            for d in directions:
                d.layers = clamp_range(d.layers, num_ws)
        method = header.get("method") or (directions[0].source if directions else "")
        note = ""
        if model is not None and header.get("model_sha256") not in (None, model.sha256):
            note = " They were made for another model, so they may mean something else here."
        return directions, (method if self.method_combo.findData(method) >= 0 else None), note
