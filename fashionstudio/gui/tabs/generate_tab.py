"""Generate tab: browse and edit StyleGAN2 fashion images live.

Seeds in a thumbnail grid; the result follows ψ (with a layer cutoff), style mixing, noise and semantic sliders
(SeFa or GANSpace directions computed from the loaded generator, or named attribute sliders fitted to the
atelier classifier's readings of its samples) as they move. Dragging over the image or the
arrow keys walk smoothly to neighbouring seeds. Two kept images give an interpolation strip (GIF/MP4); a dropped
photo is projected into the generator and then edited with the same sliders. Export writes the whole editor
state into the PNG; opening that PNG restores it.

Every network call runs off the GUI thread: interactive renders on the tab's latest-wins worker, thumbnails,
directions, strips and projections with ``run_in_background``. The latent logic is Qt-free
(``fashionstudio.core.latent``, ``projection``, ``animation``).
"""

from __future__ import annotations

import copy
import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QLayout, QProgressBar,
    QPushButton, QSlider, QSpinBox, QTabWidget, QVBoxLayout, QWidget,
)

from fashionstudio.gui.model_manager import ModelManager
from fashionstudio.gui.tool_tab import ToolTab
from fashionstudio.gui.widgets.animation_panel import AnimationPanel
from fashionstudio.gui.widgets.attribute_job import AttributeSliderJob
from fashionstudio.gui.widgets.favourites_strip import FavouritesPanel
from fashionstudio.gui.widgets.interpolation_strip import InterpolationStrip
from fashionstudio.gui.widgets.latent_sliders import DirectionSliders
from fashionstudio.gui.widgets.projection_panel import ProjectionPanel
from fashionstudio.gui.widgets.seed_grid import SeedGrid
from fashionstudio.gui.workers import error_sentence, run_in_background

log = logging.getLogger(__name__)

DRAG_PIXELS_PER_SEED = 140  # dragging this far over the image moves one seed
ARROW_FRAMES = 8            # frames of the smooth walk to a neighbouring seed
ARROW_FRAME_MS = 30
THUMB_BATCH = 8
DEFAULT_DIRECTIONS = 12
_HISTORY_LIMIT = 30


class _Engine:
    """What rendering needs for one loaded generator (built lazily on a worker thread)."""

    def __init__(self, model: Any) -> None:
        from fashionstudio.core.latent import LatentSpace
        from fashionstudio.models.stylegan2_fast import FastSynthesis

        G = model.networks["G"]
        self.sha = model.sha256
        self.G = G
        self.space = LatentSpace(G, G.w_avg.device)
        self.synth = FastSynthesis(G)
        self._noise_lock = threading.Lock()
        self._noise: tuple[Any, list[Any]] | None = None  # (the state's noise list, its tensors)

    def noise_for(self, state: Any, cache: bool = True) -> list[Any] | None:
        """The projected noise maps of ``state`` as tensors (converted once per state when ``cache``; any
        thread)."""
        import torch

        if state.base_noise is None:
            return None
        with self._noise_lock:
            if self._noise is not None and self._noise[0] is state.base_noise:
                return self._noise[1]
        tensors = [torch.from_numpy(np.asarray(n, dtype=np.float32)).to(self.G.w_avg.device)
                   for n in state.base_noise]
        if cache:
            with self._noise_lock:
                self._noise = (state.base_noise, tensors)
        return tensors

    def render(self, state: Any, stateless: bool = False) -> Image.Image:
        """The image of ``state``. The live worker reuses the renderer's caches; other threads pass
        ``stateless=True``."""
        from fashionstudio.core.latent import images_to_pil

        ws = self.space.state_ws(state)
        noise = self.noise_for(state, cache=not stateless)
        return images_to_pil(self.synth.render(ws, state.noise_strength, noise, stateless=stateless))[0]


class GenerateTab(ToolTab):
    tool = "generate"
    title = "Generate"
    # The tab takes opened files (File > Open, drop, paste): a photo is projected, an exported PNG restored.
    needs_source = True
    source_placeholder = "Drop a photo to project it, or a FashionStudio PNG to reopen it"
    result_placeholder = "Generated images appear here.\nDrop a photo to project it into the generator."

    def __init__(self, manager: ModelManager, parent: QWidget | None = None) -> None:
        from fashionstudio.core.latent import GenerateState

        self.state = GenerateState()
        self._shown_state: Any = None
        self._engine: _Engine | None = None
        self._engine_lock = threading.Lock()
        self._prepared_sha: str | None = None
        self._directions_busy = False
        self._directions_request = 0
        self._thumb_generation = 0
        self._state_history: list[Any] = []
        self._redo_history: list[Any] = []
        self._kept: dict[str, Any] = {}
        self._strip_states: list[Any] = []
        self._drag_origin: tuple[QPointF, float, float] | None = None
        self._walk: list[tuple[float, float]] = []
        super().__init__(manager, parent)
        self._build_generate_ui()
        self._restore_preferences()
        self._thumb_timer = QTimer(self)  # thumbnails follow psi once it rests
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(400)
        self._thumb_timer.timeout.connect(self.refresh_thumbnails)
        self._walk_timer = QTimer(self)
        self._walk_timer.setInterval(ARROW_FRAME_MS)
        self._walk_timer.timeout.connect(self._walk_step)

    # ================================================================================================= layout
    def _build_generate_ui(self) -> None:
        # The base frame's input canvas stays hidden (it holds the photo being projected); seeds take its place.
        self.splitter.widget(0).hide()
        self.seed_grid = SeedGrid()
        self.seed_grid.setMinimumWidth(200)
        self.seed_grid.seed_chosen.connect(self.set_seed)
        self.seed_grid.page_changed.connect(lambda _: self.refresh_thumbnails())
        self.splitter.insertWidget(0, self.seed_grid)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([280, 0, 700])

        self.result_canvas.setAcceptDrops(True)
        self.result_canvas.files_dropped.connect(self._on_files_dropped)
        self.result_canvas.image_dropped.connect(self._on_image_dropped)
        self.result_canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.result_canvas.setCursor(Qt.CursorShape.OpenHandCursor)
        self.result_canvas.setToolTip("Drag over the image or use the arrow keys to walk to neighbouring seeds")
        self.result_canvas.installEventFilter(self)

        result_box = self.splitter.widget(2)
        self.strip = InterpolationStrip()
        self.strip.frame_clicked.connect(self._show_frame)
        self.strip.hide()
        result_box.layout().addWidget(self.strip)
        self.info_label = QLabel("")
        self.info_label.setObjectName("canvasCaption")
        result_box.layout().addWidget(self.info_label)

        self.side_panel.setFixedWidth(372)
        self.sections = QTabWidget()
        self.sections.setDocumentMode(True)
        self.sections.setStyleSheet("QTabBar::tab { padding: 4px 6px; }")  # five sections fit the side panel
        self.sections.addTab(self._build_latent_page(), "Latent")
        self.sections.addTab(self._build_sliders_page(), "Sliders")
        self.animation = AnimationPanel()
        self.animation.keep_requested.connect(self.keep_current)
        self.animation.strip_requested.connect(self.make_strip)
        self.animation.export_requested.connect(self.export_animation_dialog)
        self.animation.message.connect(self.status_message)
        self.frames_spin, self.fps_spin = self.animation.frames_spin, self.animation.fps_spin
        self.sections.addTab(self.animation, "Animate")
        self.projection = ProjectionPanel()
        self.projection.preview.connect(self.result_canvas.set_image)
        self.projection.finished.connect(self._projection_finished)
        self.projection.stopped.connect(self._projection_stopped)
        self.projection.message.connect(self.status_message)
        self.projection.again_requested.connect(lambda: self.start_projection(self.source_image()))
        self.steps_spin = self.projection.steps_spin
        self.sections.addTab(self.projection, "Project")
        self.favourites = FavouritesPanel()
        self.favourites.keep_requested.connect(self.keep_favourite)
        self.favourites.chosen.connect(self._favourite_chosen)
        self.favourites.export_requested.connect(self.export_favourites_dialog)
        self.favourites.message.connect(self.status_message)
        QShortcut(QKeySequence("F"), self, self.keep_favourite, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.sections.addTab(self.favourites, "Favourites")
        self.controls_layout.addWidget(self.sections, 100)
        # The stretch below the controls (in the side panel, or in its scrolling holder) goes to the sections.
        parent = self.controls_layout.parent()
        side = parent if isinstance(parent, QLayout) else self.side_panel.layout()
        for i in range(side.count()):
            item = side.itemAt(i)
            if item.layout() is self.controls_layout:
                side.setStretch(i, 1)
            elif item.spacerItem() is not None:
                side.setStretch(i, 0)

        self.run_button.setText("Random seed")
        self.run_button.setToolTip("Jump to a random seed")
        self.run_button.clicked.disconnect()
        self.run_button.clicked.connect(self.random_seed)

    # The designer's choices that outlive a session (QSettings, like the rest of the app).
    _PREFERENCES = (("method", "method_combo"), ("direction_layers", "direction_layers"),
                    ("directions", "direction_count"), ("frames", "frames_spin"), ("fps", "fps_spin"),
                    ("steps", "steps_spin"))

    def _restore_preferences(self) -> None:
        from fashionstudio.gui.app import create_settings

        self._prefs = create_settings()
        for key, name in self._PREFERENCES:
            widget = getattr(self, name)
            value = self._prefs.value(f"generate/{key}")
            widget.blockSignals(True)
            try:
                if isinstance(widget, QComboBox):
                    index = widget.findData(str(value)) if value is not None else -1
                    if index >= 0:
                        widget.setCurrentIndex(index)
                elif value is not None:
                    widget.setValue(int(value))
            except (TypeError, ValueError):
                pass  # a damaged setting keeps the default
            finally:
                widget.blockSignals(False)
            signal = widget.currentIndexChanged if isinstance(widget, QComboBox) else widget.valueChanged
            signal.connect(lambda _=None, k=key, w=widget: self._prefs.setValue(
                f"generate/{k}", w.currentData() if isinstance(w, QComboBox) else w.value()))

    @staticmethod
    def _slider(lo: int, hi: int, value: int) -> QSlider:
        s = QSlider(Qt.Orientation.Horizontal)
        s.setRange(lo, hi)
        s.setValue(value)
        return s

    def _build_latent_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(4, 10, 4, 4)
        form.setVerticalSpacing(8)

        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.valueChanged.connect(self.set_seed)
        form.addRow("Seed", self.seed_spin)

        self.psi_slider = self._slider(-100, 200, int(self.state.psi * 100))
        self.psi_slider.sliderPressed.connect(self._push_state)
        self.psi_slider.setToolTip("Truncation ψ: 0 gives the average image, 1 the full variety")
        self.psi_label = QLabel(f"{self.state.psi:.2f}")
        self.psi_slider.valueChanged.connect(self._psi_changed)
        form.addRow("Truncation ψ", self._with_label(self.psi_slider, self.psi_label))
        self.cutoff_spin = QSpinBox()
        self.cutoff_spin.setRange(1, 18)
        self.cutoff_spin.setValue(18)
        self.cutoff_spin.setSuffix(" layers")
        self.cutoff_spin.setToolTip("ψ acts on this many layers from the coarsest (all of them by default)")
        self.cutoff_spin.valueChanged.connect(self._cutoff_changed)
        form.addRow("ψ on the first", self.cutoff_spin)

        self.mix_check = QCheckBox("Style mixing")
        self.mix_check.setToolTip("Take the chosen layers' styles from a second seed")
        self.mix_check.toggled.connect(self._mix_changed)
        form.addRow(self.mix_check)
        self.mix_seed_spin = QSpinBox()
        self.mix_seed_spin.setRange(0, 2**31 - 1)
        self.mix_seed_spin.setValue(1)
        self.mix_seed_spin.setKeyboardTracking(False)
        self.mix_seed_spin.valueChanged.connect(self._mix_changed)
        form.addRow("Second seed", self.mix_seed_spin)
        self.mix_preset = QComboBox()
        for key, text in (("coarse", "Coarse (shape, pose)"), ("middle", "Middle (garment parts)"),
                          ("fine", "Fine (colour, texture)"), ("custom", "Custom range")):
            self.mix_preset.addItem(text, key)
        self.mix_preset.currentIndexChanged.connect(self._mix_preset_changed)
        form.addRow("Layers", self.mix_preset)
        rng = QHBoxLayout()
        self.mix_start = QSpinBox()
        self.mix_stop = QSpinBox()
        for spin in (self.mix_start, self.mix_stop):
            spin.setRange(0, 17)
            spin.valueChanged.connect(self._mix_changed)
        rng.addWidget(self.mix_start)
        rng.addWidget(QLabel("to"))
        rng.addWidget(self.mix_stop)
        self.mix_range_box = QWidget()
        self.mix_range_box.setLayout(rng)
        rng.setContentsMargins(0, 0, 0, 0)
        form.addRow("Layer range", self.mix_range_box)

        self.noise_slider = self._slider(0, 200, 100)
        self.noise_slider.setToolTip("Strength of the per-pixel noise (fine detail such as fabric grain)")
        self.noise_label = QLabel("1.00")
        self.noise_slider.valueChanged.connect(self._noise_changed)
        form.addRow("Noise", self._with_label(self.noise_slider, self.noise_label))
        hint = QLabel("Drag over the image or press the arrow keys to glide to neighbouring seeds.")
        hint.setWordWrap(True)
        hint.setObjectName("modelLabel")
        form.addRow(hint)
        self._mix_preset_changed()
        return page

    @staticmethod
    def _with_label(slider: QSlider, label: QLabel) -> QWidget:
        box = QWidget()
        lay = QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        label.setMinimumWidth(36)
        label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay.addWidget(slider, 1)
        lay.addWidget(label)
        return box

    def _build_sliders_page(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.setContentsMargins(4, 10, 4, 4)
        top = QGridLayout()
        self.method_combo = QComboBox()
        self.method_combo.addItem("SeFa (style weights)", "sefa")
        self.method_combo.addItem("GANSpace (PCA of w)", "ganspace")
        self.method_combo.addItem("Named attributes (garment, colour, pattern, pose)", "attributes")
        self.method_combo.setToolTip("How the directions are found: SeFa and GANSpace from the generator alone; "
                                     "named attributes from the atelier classifier's reading of 2000 samples, "
                                     "each keeping the other attributes fixed")
        self.method_combo.currentIndexChanged.connect(lambda _: self.recompute_directions())
        self.direction_layers = QComboBox()
        for key in ("all", "coarse", "middle", "fine"):
            self.direction_layers.addItem(key.capitalize(), key)
        self.direction_layers.setToolTip("Layers the new directions are computed for and act on")
        self.direction_layers.currentIndexChanged.connect(lambda _: self.recompute_directions())
        self.direction_count = QSpinBox()
        self.direction_count.setRange(4, 32)
        self.direction_count.setValue(DEFAULT_DIRECTIONS)
        self.direction_count.setKeyboardTracking(False)
        self.direction_count.valueChanged.connect(lambda _: self.recompute_directions())
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
        self.attribute_job.finished.connect(
            lambda model, dirs: self._directions_ready(model, "attributes", dirs, self._directions_request))
        self.attribute_job.failed.connect(
            lambda model, text: self._directions_failed(model, text, self._directions_request))
        self.sliders = DirectionSliders()
        self.sliders.changed.connect(self._sliders_changed)
        self.sliders.pressed.connect(self._push_state)  # one undo step per drag
        lay.addWidget(self.sliders, 1)
        buttons = QHBoxLayout()
        for text, slot, tip in (("Reset", self.reset_sliders, "All sliders back to zero"),
                                ("Save set…", self.save_direction_set_dialog, "Save these named directions"),
                                ("Load set…", self.load_direction_set_dialog, "Load a saved direction set")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        lay.addLayout(buttons)
        return page

    # ================================================================================================= model
    def can_run(self) -> bool:
        return self.model is not None

    def _on_model_ready(self, key: str, model: Any) -> None:
        super()._on_model_ready(key, model)
        if key != self.tool or model.sha256 == self._prepared_sha:
            return
        self._prepared_sha = model.sha256
        num_ws = int(model.networks["G"].num_ws)
        self.mix_start.setMaximum(num_ws - 1)
        self.mix_stop.setMaximum(num_ws - 1)
        self.cutoff_spin.blockSignals(True)
        self.cutoff_spin.setMaximum(num_ws)
        self.cutoff_spin.setValue(num_ws if self.state.psi_cutoff is None else min(self.state.psi_cutoff, num_ws))
        self.cutoff_spin.blockSignals(False)
        self._mix_preset_changed()
        if self.state.base_ws is not None and self.state.model_sha256 not in (None, model.sha256):
            self.state = self.state.with_seed(self.state.seed)  # a projection belongs to its model
        if self.state.directions and (self.state.model_sha256 in (None, model.sha256)) \
                and all(d.vector.shape[0] == model.networks["G"].w_dim for d in self.state.directions):
            pass  # keep restored sliders
        else:
            self.state.directions = []
        self.recompute_directions(keep_values=False, only_if_empty=bool(self.state.directions))
        self.refresh_thumbnails()
        self.trigger()

    def _on_model_unloaded(self, key: str) -> None:
        super()._on_model_unloaded(key)
        if key == self.tool:
            with self._engine_lock:
                self._engine = None  # let the manager's memory budget actually free the generator

    def engine(self, model: Any = None) -> _Engine | None:
        """The render engine of ``model`` (default: the loaded one), built on first use (any thread)."""
        model = model if model is not None else self.model
        if model is None:
            return None
        with self._engine_lock:
            if self._engine is None or self._engine.sha != model.sha256:
                self._engine = _Engine(model)
            return self._engine

    def layer_presets(self) -> dict[str, tuple[int, int]]:
        from fashionstudio.core.latent import layer_presets

        model = self.model
        return layer_presets(int(model.networks["G"].num_ws) if model is not None else 10)

    def recompute_directions(self, keep_values: bool = False, only_if_empty: bool = False) -> None:
        """Compute the direction sliders from the loaded generator in the background."""
        model = self.model
        if model is None or (only_if_empty and self.sliders.count()):
            if only_if_empty and self.sliders.count() == 0 and self.state.directions:
                self.sliders.set_directions(self.state.directions, self.layer_presets())
            return
        method = self.method_combo.currentData()
        layers = self.layer_presets()[self.direction_layers.currentData()]
        k = self.direction_count.value()
        self.direction_count.setEnabled(method != "attributes")  # one slider per attribute value the model shows
        self._directions_busy = True
        self._directions_request += 1
        request = self._directions_request
        self.sliders.empty.setText("Computing directions…")
        self.sliders.empty.show()
        if method == "attributes":
            self.attribute_progress.setValue(0)
            self.attribute_progress.show()
            self.attribute_job.start(model, lambda: self.engine(model), layers)
            return
        self.attribute_job.cancel()

        def job() -> list[Any]:
            import torch

            with torch.inference_mode():
                return self.engine(model).space.compute_directions(method, k, layers)

        run_in_background(job, lambda dirs: self._directions_ready(model, method, dirs, request),
                          lambda exc: self._directions_failed(model, error_sentence(exc), request), context=self)

    _METHOD_NAMES = {"sefa": "SeFa", "ganspace": "GANSpace", "attributes": "named attribute"}

    def _directions_ready(self, model: Any, method: str, directions: list[Any], request: int) -> None:
        if request != self._directions_request:
            return  # superseded: another model, method or layer range was asked for meanwhile
        self._directions_busy = False
        self.attribute_progress.hide()
        if self.model is not model:
            return
        self._push_state()
        self.sliders.set_directions(directions, self.layer_presets())
        self.state.directions = self.sliders.directions()
        self.state.method = method
        hint = " (right: more, left: less; the other attributes are kept)" if method == "attributes" else ""
        self.status_message.emit(f"{len(directions)} {self._METHOD_NAMES.get(method, method)} sliders ready"
                                 f"{hint}: rename them by clicking their names.")
        self.trigger()

    def _directions_failed(self, model: Any, sentence: str, request: int) -> None:
        if request != self._directions_request:
            return
        self._directions_busy = False
        self.attribute_progress.hide()
        if self.model is model:
            self.sliders.empty.setText(sentence)
            self.sliders.empty.show()
            self.status_message.emit(sentence)

    def _attribute_progress(self, done: int, total: int) -> None:
        self.attribute_progress.setRange(0, total)
        self.attribute_progress.setValue(done)

    def is_busy(self) -> bool:
        return super().is_busy() or self._directions_busy or self.is_projecting()

    # ================================================================================================= rendering
    def trigger(self) -> int | None:
        if self.model is None:  # controls move before a model is loaded: nothing to draw yet
            return None
        return super().trigger()

    def _snapshot(self) -> Any:
        state = copy.copy(self.state)
        state.directions = self.sliders.directions() if self.sliders.count() else list(self.state.directions)
        model = self.model
        state.model_sha256 = model.sha256 if model is not None else state.model_sha256
        return state

    def run_request(self) -> Callable[[], Any] | None:
        model = self.model
        if model is None:
            self.status_message.emit("Open a StyleGAN2 model first (File > Open model…).")
            return None
        state = self._snapshot()

        def job() -> tuple[Image.Image, Any]:
            return self.engine(model).render(state), state

        return job

    def show_result(self, result: Any) -> None:
        img, state = result
        self.result_canvas.set_image(img)
        self._shown_state = state
        what = "projected photo" if state.base_ws is not None else f"seed {state.seed}"
        if abs(state.x - round(state.x)) > 1e-6 or abs(state.y - round(state.y)) > 1e-6:
            what = f"between seeds near {state.seed}"
        extra = f" · ψ {state.psi:.2f}"
        if state.mix_seed is not None and state.mix_layers[1] > state.mix_layers[0]:
            extra += f" · mixed with seed {state.mix_seed} on layers {state.mix_layers[0]}-{state.mix_layers[1] - 1}"
        moved = sum(1 for d in state.directions if d.value)
        if moved:
            extra += f" · {moved} slider{'s' if moved > 1 else ''} moved"
        self.info_label.setText(what.capitalize() + extra)

    def settings(self) -> dict[str, Any]:
        from fashionstudio.core.latent import state_summary

        state = self._shown_state if self._shown_state is not None else self._snapshot()
        return {**state_summary(state), "state": state.to_dict()}

    def export_result(self, path: str | Path) -> Path:
        if self.is_projecting():  # the canvas shows a projection preview that no state describes yet
            raise ValueError("Wait for the projection to finish (or cancel it) before exporting.")
        return super().export_result(path)

    def suggested_export_name(self) -> str:
        state = self._shown_state or self.state
        return "projection_generate.png" if state.base_ws is not None else f"seed{state.seed}_generate.png"

    # ================================================================================================= controls
    def _sync_controls(self) -> None:
        """Show ``self.state`` in the controls without triggering renders."""
        widgets = (self.seed_spin, self.psi_slider, self.cutoff_spin, self.mix_check, self.mix_seed_spin,
                   self.mix_preset, self.mix_start, self.mix_stop, self.noise_slider)
        for w in widgets:
            w.blockSignals(True)
        s = self.state
        self.seed_spin.setValue(min(s.seed, self.seed_spin.maximum()))
        self.psi_slider.setValue(int(round(s.psi * 100)))
        self.psi_label.setText(f"{s.psi:.2f}")
        self.cutoff_spin.setValue(self.cutoff_spin.maximum() if s.psi_cutoff is None else s.psi_cutoff)
        self.mix_check.setChecked(s.mix_seed is not None)
        if s.mix_seed is not None:
            self.mix_seed_spin.setValue(s.mix_seed)
        presets = self.layer_presets()
        key = next((k for k in ("coarse", "middle", "fine") if tuple(presets[k]) == tuple(s.mix_layers)), "custom")
        self.mix_preset.setCurrentIndex(self.mix_preset.findData(key))
        self.mix_start.setValue(s.mix_layers[0])
        self.mix_stop.setValue(s.mix_layers[1] - 1)
        self.mix_range_box.setEnabled(key == "custom")
        self.noise_slider.setValue(int(round(s.noise_strength * 100)))
        self.noise_label.setText(f"{s.noise_strength:.2f}")
        for w in widgets:
            w.blockSignals(False)
        self._show_method(s.method)
        self.seed_grid.select_seed(s.seed)

    def _show_method(self, method: str) -> None:
        """Show ``method`` in the method box without recomputing the sliders (they come from a file or state)."""
        index = self.method_combo.findData(method)
        if index < 0 or index == self.method_combo.currentIndex():
            return
        self.method_combo.blockSignals(True)
        self.method_combo.setCurrentIndex(index)
        self.method_combo.blockSignals(False)
        self._prefs.setValue("generate/method", method)
        self.direction_count.setEnabled(method != "attributes")

    def set_seed(self, seed: int) -> None:
        """Edit ``seed`` (keeps ψ, mixing, noise and sliders; leaves a projected photo)."""
        if self.state.base_ws is None and self.state.seed == seed and self.state.x == round(self.state.x):
            return
        self._push_state()
        self._walk_timer.stop()
        self.state = self.state.with_seed(int(seed))
        self._sync_controls()
        self.trigger()

    def random_seed(self) -> None:
        import random

        self.set_seed(random.randrange(0, 2**31 - 1))

    def _psi_changed(self, v: int) -> None:
        self.state.psi = v / 100.0
        self.psi_label.setText(f"{self.state.psi:.2f}")
        self.trigger()
        if self.model is not None:
            self._thumb_timer.start()

    def _cutoff_changed(self, v: int) -> None:
        self.state.psi_cutoff = None if v >= self.cutoff_spin.maximum() else int(v)
        self.trigger()

    def _mix_preset_changed(self, *_: Any) -> None:
        key = self.mix_preset.currentData()
        self.mix_range_box.setEnabled(key == "custom")
        if key != "custom":
            start, stop = self.layer_presets()[key]
            for spin, v in ((self.mix_start, start), (self.mix_stop, stop - 1)):
                spin.blockSignals(True)
                spin.setValue(v)
                spin.blockSignals(False)
        self._mix_changed()

    def _mix_changed(self, *_: Any) -> None:
        self.state.mix_seed = self.mix_seed_spin.value() if self.mix_check.isChecked() else None
        # The spin boxes show an inclusive range; the state keeps [start, stop). "From 3 to 2" is empty.
        start = self.mix_start.value()
        self.state.mix_layers = (start, max(start, self.mix_stop.value() + 1))
        self.trigger()

    def _noise_changed(self, v: int) -> None:
        self.state.noise_strength = v / 100.0
        self.noise_label.setText(f"{self.state.noise_strength:.2f}")
        self.trigger()

    def _sliders_changed(self) -> None:
        self.state.directions = self.sliders.directions()
        self.trigger()

    def set_slider_value(self, index: int, value: float) -> None:
        """Move semantic slider ``index`` to ``value`` (in standard deviations); the image follows."""
        self.sliders.set_value(index, value)

    def reset_sliders(self) -> None:
        self._push_state()
        self.sliders.reset()

    # -- walking between seeds --------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if obj is self.result_canvas and self.model is not None:
            et = event.type()
            if et == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent) \
                    and event.button() == Qt.MouseButton.LeftButton and self.result_canvas.has_image():
                if self.state.base_ws is None:
                    self._push_state()
                    self._drag_origin = (event.position(), self.state.x, self.state.y)
                    self.result_canvas.setCursor(Qt.CursorShape.ClosedHandCursor)
                return True
            if et == QEvent.Type.MouseMove and self._drag_origin is not None and isinstance(event, QMouseEvent):
                origin, x0, y0 = self._drag_origin
                delta = event.position() - origin
                self.move_to(x0 - delta.x() / DRAG_PIXELS_PER_SEED, y0 - delta.y() / DRAG_PIXELS_PER_SEED)
                return True
            if et == QEvent.Type.MouseButtonRelease and self._drag_origin is not None:
                self._drag_origin = None
                self.result_canvas.setCursor(Qt.CursorShape.OpenHandCursor)
                return True
            if et == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
                steps = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1),
                         Qt.Key.Key_Down: (0, 1)}
                if event.key() in steps:
                    dx, dy = steps[event.key()]
                    self.walk(dx, dy)
                    return True
        return super().eventFilter(obj, event)

    def move_to(self, x: float, y: float) -> None:
        """Show the blend of the seeds around lattice position (x, y) (x: seed, y: rows of 65536 seeds)."""
        if self.state.base_ws is not None:
            return
        self.state.x, self.state.y = max(0.0, x), max(0.0, y)
        self.seed_spin.blockSignals(True)
        self.seed_spin.setValue(min(self.state.seed, self.seed_spin.maximum()))
        self.seed_spin.blockSignals(False)
        self.trigger()

    def walk(self, dx: int, dy: int) -> None:
        """Glide smoothly to the neighbouring seed in direction (dx, dy)."""
        if self.state.base_ws is not None:
            return
        if not self._walk:
            self._push_state()
        x0, y0 = (self._walk[-1] if self._walk else (self.state.x, self.state.y))
        def target(v: float, d: int) -> int:  # the next lattice point in direction d (from between seeds too)
            if d > 0:
                return math.floor(v) + 1
            if d < 0:
                return max(0, math.ceil(v) - 1)
            return round(v)

        tx, ty = target(x0, dx), target(y0, dy)
        self._walk = [(x0 + (tx - x0) * (i + 1) / ARROW_FRAMES, y0 + (ty - y0) * (i + 1) / ARROW_FRAMES)
                      for i in range(ARROW_FRAMES - 1)] + [(float(tx), float(ty))]
        self._walk_timer.start()

    def _walk_step(self) -> None:
        if not self._walk:
            self._walk_timer.stop()
            return
        x, y = self._walk.pop(0)
        self.move_to(x, y)
        if not self._walk:
            self._walk_timer.stop()
            self.seed_grid.select_seed(self.state.seed)

    # ================================================================================================= thumbnails
    def refresh_thumbnails(self) -> None:
        """Render the seed grid's page in batches, one background job after the other."""
        model = self.model
        if model is None:
            return
        self._thumb_generation += 1
        generation = self._thumb_generation
        seeds = self.seed_grid.seeds()
        psi = self.state.psi

        def render_batch(batch: list[int]) -> list[tuple[int, Image.Image]]:
            import torch

            from fashionstudio.core.latent import images_to_pil, truncate

            eng = self.engine(model)
            with torch.inference_mode():
                w = eng.space.w_for_seeds(batch)
                ws = truncate(w, eng.space.w_avg, psi)[:, None, :].expand(-1, eng.space.num_ws, -1)
                imgs = eng.synth.render(ws.contiguous(), 1.0, stateless=True)
            return list(zip(batch, images_to_pil(imgs)))

        def next_batch(start: int) -> None:
            if generation != self._thumb_generation or start >= len(seeds):
                return
            if self.worker.is_busy():
                # The hand comes first: on a 2-core CPU a thumbnail batch beside a live render slows both.
                QTimer.singleShot(60, self, lambda: next_batch(start))
                return
            batch = seeds[start:start + THUMB_BATCH]

            def done(items: list[tuple[int, Image.Image]]) -> None:
                if generation != self._thumb_generation:
                    return
                for seed, img in items:
                    self.seed_grid.set_thumbnail(seed, img)
                next_batch(start + THUMB_BATCH)

            run_in_background(lambda: render_batch(batch), done,
                              lambda exc: self.status_message.emit(error_sentence(exc)), context=self)

        next_batch(0)

    # ================================================================================================= undo
    def _push_state(self) -> None:
        self._state_history.append(self._snapshot())
        del self._state_history[:-_HISTORY_LIMIT]
        self._redo_history.clear()  # a new change ends the branch that redo would walk

    def can_undo(self) -> bool:
        return bool(self._state_history)

    def undo(self) -> bool:
        if not self._state_history:
            return False
        self._redo_history.append(self._snapshot())
        self._apply_state(self._state_history.pop(), push=False)
        return True

    def can_redo(self) -> bool:
        return bool(self._redo_history)

    def redo(self) -> bool:
        """Step forward again after undo. Returns False when there is nothing to redo."""
        if not self._redo_history:
            return False
        self._state_history.append(self._snapshot())
        self._apply_state(self._redo_history.pop(), push=False)
        return True

    # ================================================================================================= favourites
    def keep_favourite(self) -> bool:
        """Add the shown result, with its settings and provenance, to the favourites row."""
        img, state = self.result_image(), self._shown_state
        if img is None or state is None or self.is_projecting():
            self.status_message.emit("There is no finished result to keep yet.")
            return False
        self.favourites.add(img, (copy.deepcopy(state), self.provenance()),
                            self.info_label.text() or f"Seed {state.seed}")
        return True

    def _favourite_chosen(self, payload: Any) -> None:
        self._apply_state(copy.deepcopy(payload[0]))  # undoable, like any other change

    def export_favourites_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export favourites to folder", str(Path.home()))
        if folder:
            self.export_favourites(folder)

    def export_favourites(self, folder: str | Path, on_done: Callable[[list[Path]], None] | None = None) -> None:
        """Write every favourite as a PNG with its own provenance (it reopens with its settings), in the
        background; names never overwrite an existing file."""
        from fashionstudio.core.provenance import save_png_with_provenance

        folder, kept = Path(folder), self.favourites.favourites()

        def write() -> list[Path]:
            folder.mkdir(parents=True, exist_ok=True)
            written = []
            for i, (img, (state, prov), _caption) in enumerate(kept, 1):
                stem = f"favourite_{i:02d}_seed{state.seed}"
                path, n = folder / f"{stem}.png", 1
                while path.exists():
                    n += 1
                    path = folder / f"{stem}_{n}.png"
                written.append(save_png_with_provenance(img, path, prov))
            return written

        def done(written: list[Path]) -> None:
            self.status_message.emit(f"Exported {len(written)} favourites to {folder}.")
            if on_done is not None:
                on_done(written)

        run_in_background(write, done, lambda exc: self.status_message.emit(error_sentence(exc)), context=self)

    def _apply_state(self, state: Any, push: bool = True) -> None:
        if push:
            self._push_state()
        self._walk_timer.stop()
        self._walk = []
        self.state = state
        if state.directions:
            self.sliders.set_directions(state.directions, self.layer_presets())
        self._sync_controls()
        self.trigger()

    # ================================================================================================= opening files
    def open_image(self, path: str | Path) -> None:
        """A FashionStudio Generate PNG restores its state; any other image is projected into the generator."""
        path = Path(path)
        self.result_canvas.set_busy(f"Opening {path.name}…")
        self._opening += 1
        model = self.model
        dims = (int(model.networks["G"].num_ws), int(model.networks["G"].w_dim)) if model is not None else (None, None)

        def job() -> tuple[str, Any]:
            from fashionstudio.core.images import load_image
            from fashionstudio.core.latent import state_from_png

            state = state_from_png(path, num_ws=dims[0], w_dim=dims[1])
            if state is not None:
                return "state", state
            return "photo", load_image(path)

        run_in_background(job, lambda r: self._file_opened(r, path), self._open_failed, context=self)

    def open_image_bytes(self, data: bytes, name: str = "the pasted image") -> None:
        from fashionstudio.core.images import load_image_bytes

        self.result_canvas.set_busy("Opening the pasted image…")
        self._opening += 1
        run_in_background(lambda: ("photo", load_image_bytes(data, name)), lambda r: self._file_opened(r, None),
                          self._open_failed, context=self)

    def _file_opened(self, result: tuple[str, Any], path: Path | None) -> None:
        self._opening -= 1
        self.result_canvas.set_busy(None)
        kind, value = result
        if path is not None:
            self.file_opened.emit(str(path))
        if kind == "state":
            model = self.model
            self._apply_state(value)
            note = ""
            if model is not None and value.model_sha256 and value.model_sha256 != model.sha256:
                note = " It was made with a different model, so the image may differ."
            self.status_message.emit(f"Restored the Generate settings of {path.name if path else 'the image'}.{note}")
            return
        self.source_path = path
        self.source_canvas.set_image(value)
        self.check_familiarity()  # a photo unlike the training pictures projects badly: the banner says so
        self.status_message.emit(f"Opened {path.name if path else 'the image'}: projecting it into the generator…")
        self.start_projection(value)

    def _open_failed(self, exc: BaseException) -> None:
        self._opening -= 1
        message = error_sentence(exc)
        self.result_canvas.set_busy(None)
        self.result_canvas.set_error(message)
        self.status_message.emit(message)

    # ================================================================================================= projection
    def start_projection(self, img: Image.Image | None) -> None:
        """Project ``img`` into the generator in the background; progress on the Project page; cancellable."""
        model = self.model
        if img is None:
            self.status_message.emit("Drop a photo first: there is nothing to project.")
            return
        if model is None:
            self.status_message.emit("Open a StyleGAN2 model before projecting a photo.")
            self.result_canvas.set_error("Open a StyleGAN2 model before projecting a photo.")
            return
        self.sections.setCurrentWidget(self.projection)
        self.projection.start(img, lambda: self.engine(model))

    def _projection_finished(self, last: Any) -> None:
        self._push_state()
        state = self._snapshot()
        state.base_ws, state.base_noise = last.ws, last.noise
        state.psi, state.psi_cutoff, state.mix_seed = 1.0, None, None
        for d in state.directions:
            d.value = 0.0
        self._apply_state(state, push=False)
        self.status_message.emit("Projection finished: the sliders now edit the photo.")

    def _projection_stopped(self) -> None:
        """A cancelled or failed projection: its previews belong to no settings, so the canvas goes back to the
        last image the editor rendered (the one its settings describe) and follows any change made meanwhile."""
        if self.last_result is not None:
            self.show_result(self.last_result)
        self.trigger()

    def cancel_projection(self) -> None:
        self.projection.cancel()

    def is_projecting(self) -> bool:
        return self.projection.is_running()

    # ================================================================================================= animation
    def keep_current(self, slot: str) -> None:
        """Keep the shown image as end ``slot`` ("A" or "B") of the interpolation."""
        if self.is_projecting():
            self.status_message.emit("Wait for the projection to finish (or cancel it) before keeping an image.")
            return
        state, img = self._shown_state, self.result_canvas.image()
        if state is None or img is None:
            self.status_message.emit("There is no image to keep yet.")
            return
        self._kept[slot] = state
        self.animation.show_kept(slot, img)
        self._update_animate_buttons()
        if len(self._kept) == 2:
            self.make_strip()

    def _update_animate_buttons(self) -> None:
        self.animation.update_buttons(len(self._kept), len(self.strip.frames()))

    def make_strip(self) -> None:
        """Render the frames between the kept A and B (linear in w) in the background."""
        model = self.model
        if model is None or len(self._kept) < 2:
            self.status_message.emit("Keep two images (A and B) first.")
            return
        a, b = self._kept["A"], self._kept["B"]
        frames = self.frames_spin.value()
        self.animation.strip_button.setEnabled(False)
        self.animation.set_note("Rendering the strip…")

        def job() -> list[tuple[Image.Image, Any]]:
            import torch

            from fashionstudio.core.latent import interpolation_states

            eng = self.engine(model)
            with torch.inference_mode():
                states = interpolation_states(eng.space, a, b, frames)
                return [(eng.render(state, stateless=True), state) for state in states]

        def done(result: list[tuple[Image.Image, Any]]) -> None:
            images = [img for img, _ in result]
            self._strip_states = [state for _, state in result]
            self.strip.set_frames(images)
            self.strip.show()
            self.animation.set_note(f"{len(images)} frames from A to B. Click a frame to edit it.")
            self._update_animate_buttons()

        def fail(exc: BaseException) -> None:
            self.animation.set_note(error_sentence(exc))
            self._update_animate_buttons()

        run_in_background(job, done, fail, context=self)

    def _show_frame(self, index: int) -> None:
        """Make strip frame ``index`` the edited image (the sliders then edit it; Export saves it)."""
        if 0 <= index < len(self._strip_states):
            self._apply_state(copy.deepcopy(self._strip_states[index]))
            self.status_message.emit(f"Frame {index + 1} of {len(self._strip_states)}: the sliders now edit it.")

    def export_animation_dialog(self, suffix: str) -> None:
        frames = self.strip.frames()
        if not frames:
            self.status_message.emit("Make the interpolation strip first.")
            return
        kind = "GIF animation (*.gif)" if suffix == ".gif" else "MP4 video (*.mp4)"
        path, _ = QFileDialog.getSaveFileName(self, "Export animation", str(Path.home() / f"interpolation{suffix}"),
                                              kind)
        if path:
            self.export_animation(path)

    def export_animation(self, path: str | Path, on_done: Callable[[Path], None] | None = None) -> None:
        """Write the strip to ``path`` (.gif or .mp4) in the background, sharpened when "Sharpen x4" is on."""
        self.animation.save(self.strip.frames(), path, on_done,
                            sharpener=self.sharpen.sharpener if self.sharpen.is_on() else None)

    # ================================================================================================= direction sets
    def save_direction_set_dialog(self) -> None:
        if not self.sliders.count():
            self.status_message.emit("There are no sliders to save yet.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save slider set", str(Path.home() / "sliders.json"),
                                              "Slider sets (*.json)")
        if path:
            self.save_direction_set(path)

    def save_direction_set(self, path: str | Path) -> Path:
        from fashionstudio.core.latent import save_directions

        model = self.model
        written = save_directions(path, self.sliders.directions(), method=self.method_combo.currentData(),
                                  model_sha256=model.sha256 if model else None,
                                  w_dim=int(model.networks["G"].w_dim) if model else None)
        self.status_message.emit(f"Saved {len(self.sliders.directions())} sliders to {written.name}.")
        return written

    def load_direction_set_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load slider set", str(Path.home()), "Slider sets (*.json)")
        if path:
            self.load_direction_set(path)

    def load_direction_set(self, path: str | Path) -> bool:
        from fashionstudio.core.latent import StateError, clamp_range, load_directions

        model = self.model
        w_dim = int(model.networks["G"].w_dim) if model else None
        try:
            directions, header = load_directions(path, w_dim)
        except StateError as exc:
            self.status_message.emit(str(exc))
            return False
        if model is not None:
            num_ws = int(model.networks["G"].num_ws)
            for d in directions:
                d.layers = clamp_range(d.layers, num_ws)
        self._push_state()
        self.sliders.set_directions(directions, self.layer_presets())
        self.state.directions = self.sliders.directions()
        method = header.get("method") or (directions[0].source if directions else "")
        if self.method_combo.findData(method) >= 0:
            self.state.method = method
            self._show_method(method)
        note = ""
        if model is not None and header.get("model_sha256") not in (None, model.sha256):
            note = " They were made for another model, so they may mean something else here."
        self.status_message.emit(f"Loaded {len(directions)} sliders from {Path(path).name}.{note}")
        self.trigger()
        return True

    # ================================================================================================= shutdown
    def shutdown(self, timeout_s: float = 10.0) -> None:
        self.cancel_projection()
        self.attribute_job.cancel()
        self._thumb_generation += 1
        self._walk_timer.stop()
        self._thumb_timer.stop()
        super().shutdown(timeout_s)
