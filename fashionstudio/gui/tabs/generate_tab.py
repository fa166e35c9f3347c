"""Generate tab: browse and edit StyleGAN2 fashion images live.

A composition of widgets bound to one Qt-free :class:`~fashionstudio.core.generate_state.GenerateSession`
(the edited state, the shown one, undo, the interpolation's ends): the seed grid and its thumbnails, the Latent
page (ψ, mixing, noise), the Sliders page (SeFa, GANSpace or named attribute directions), Animate, Project and
Favourites, and the seed walk over the image. Export writes the whole editor state into the PNG; opening that
PNG restores it; any other photo is projected into the generator.

Every network call runs off the GUI thread through the :class:`~fashionstudio.core.generate_engine.GenerateEngine`:
interactive renders on the tab's latest-wins worker, everything else on the shared pool.

Its ~480 lines are the wiring of six pages to one session and the public methods tests and benchmarks drive;
the logic is in the pages and in core.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QLabel, QWidget

from fashionstudio.core.generate_engine import GenerateEngine
from fashionstudio.core.generate_state import GenerateSession, caption, export_name
from fashionstudio.gui.model_manager import ModelManager
from fashionstudio.gui.tool_tab import ToolTab
from fashionstudio.gui.widgets.generate_opener import GenerateOpener
from fashionstudio.gui.widgets.generate_sections import GenerateSections
from fashionstudio.gui.widgets.remembered import remember_choices
from fashionstudio.gui.widgets.seed_grid import SeedGrid
from fashionstudio.gui.widgets.seed_thumbnails import SeedThumbnails
from fashionstudio.gui.widgets.seed_walk import SeedWalk


class GenerateTab(ToolTab):
    tool = "generate"
    title = "Generate"
    # The tab takes opened files (File > Open, drop, paste): a photo is projected, an exported PNG restored.
    needs_source = True
    source_placeholder = "Drop a photo to project it, or a FashionStudio PNG to reopen it"
    result_placeholder = "Generated images appear here.\nDrop a photo to project it into the generator."

    def __init__(self, manager: ModelManager, parent: QWidget | None = None) -> None:
        self.session = GenerateSession()
        self._engine: GenerateEngine | None = None
        self._engine_lock = threading.Lock()
        super().__init__(manager, parent)
        self._build_generate_ui()
        self._restore_preferences()

    @property
    def state(self) -> Any:
        """The edited :class:`~fashionstudio.core.latent.GenerateState`."""
        return self.session.state

    # ================================================================================================= layout
    def _build_generate_ui(self) -> None:
        # The base frame's input canvas stays hidden (it holds the photo being projected); seeds take its place.
        self.splitter.widget(0).hide()
        self.seed_grid = SeedGrid()
        self.seed_grid.setMinimumWidth(200)
        self.seed_grid.seed_chosen.connect(self.set_seed)
        self.seed_grid.page_changed.connect(lambda _: self.refresh_thumbnails())
        self.thumbnails = SeedThumbnails(self.seed_grid, self.worker.is_busy, self)
        self.thumbnails.message.connect(self.status_message)
        self.splitter.insertWidget(0, self.seed_grid)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setSizes([280, 0, 700])

        self.result_canvas.setAcceptDrops(True)
        self.result_canvas.files_dropped.connect(self._on_files_dropped)
        self.result_canvas.image_dropped.connect(self._on_image_dropped)
        self.opener = GenerateOpener(self.result_canvas, lambda: self.model, self)
        self.opener.file_opened.connect(self.file_opened)
        self.opener.state_opened.connect(self._state_opened)
        self.opener.photo_opened.connect(self._photo_opened)
        self.opener.failed.connect(self.status_message)
        self.seed_walk = SeedWalk(self.result_canvas, lambda: self.session, lambda: self.model is not None, self)
        self.seed_walk.will_change.connect(self._push_state)
        self.seed_walk.moved.connect(self._walked)
        self.seed_walk.arrived.connect(lambda: self.seed_grid.select_seed(self.state.seed))

        self.side_panel.setFixedWidth(372)
        self.sections = GenerateSections(self.state.psi, self.engine, self.layer_presets, lambda: self.model)
        self.latent, self.direction_panel = self.sections.latent, self.sections.directions
        self.animation, self.projection = self.sections.animation, self.sections.projection
        self.favourites = self.sections.favourites
        self.strip = self.animation.strip
        result_box = self.splitter.widget(2)
        result_box.layout().addWidget(self.strip)
        self.info_label = QLabel("")
        self.info_label.setObjectName("canvasCaption")
        result_box.layout().addWidget(self.info_label)
        self._connect_sections()
        # The designer's controls, by the names scripts and tests use.
        for page, names in ((self.latent, ("seed_spin", "psi_slider", "psi_label", "cutoff_spin", "mix_check",
                                           "mix_seed_spin", "mix_preset", "mix_start", "mix_stop", "mix_range_box",
                                           "noise_slider", "noise_label")),
                            (self.direction_panel, ("method_combo", "direction_layers", "direction_count",
                                                    "attribute_progress", "attribute_job", "sliders")),
                            (self.animation, ("frames_spin", "fps_spin")), (self.projection, ("steps_spin",))):
            for name in names:
                setattr(self, name, getattr(page, name))
        QShortcut(QKeySequence("F"), self, self.keep_favourite, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.sections.fill(self.controls_layout, self.side_panel)

        self.run_button.setText("Random seed")
        self.run_button.setToolTip("Jump to a random seed")
        self.run_button.clicked.disconnect()
        self.run_button.clicked.connect(self.random_seed)

    def _connect_sections(self) -> None:
        s, latent = self.session, self.latent
        latent.seed_changed.connect(self.set_seed)
        latent.psi_pressed.connect(self._push_state)
        latent.psi_changed.connect(self._psi_changed)
        latent.cutoff_changed.connect(lambda layers, total: self._edit(s.set_psi_cutoff, layers, total))
        latent.mix_changed.connect(lambda seed, first, last: self._edit(s.set_mix, seed, first, last))
        latent.noise_changed.connect(lambda v: self._edit(s.set_noise, v))
        latent.apply_mix_preset()  # the state starts on the shown range
        d = self.direction_panel
        d.recompute_requested.connect(self.recompute_directions)
        d.computed.connect(self._directions_ready)
        d.reset_requested.connect(self.reset_sliders)
        d.save_chosen.connect(self.save_direction_set)
        d.load_chosen.connect(self.load_direction_set)
        d.message.connect(self.status_message)
        d.sliders.changed.connect(lambda: self._edit(s.set_directions, self.sliders.directions()))
        d.sliders.pressed.connect(self._push_state)  # one undo step per drag
        self.strip.frame_clicked.connect(self._show_frame)
        self.animation.keep_requested.connect(self.keep_current)
        self.animation.strip_requested.connect(self.make_strip)
        self.animation.export_chosen.connect(self.export_animation)
        self.animation.strip_ready.connect(lambda states: setattr(self.session, "strip_states", states))
        self.animation.message.connect(self.status_message)
        self.projection.preview.connect(self.result_canvas.set_image)
        self.projection.finished.connect(self._projection_finished)
        self.projection.stopped.connect(self._projection_stopped)
        self.projection.message.connect(self.status_message)
        self.projection.refused.connect(self.result_canvas.set_error)
        self.projection.again_requested.connect(lambda: self.start_projection(self.source_image()))
        self.favourites.keep_requested.connect(self.keep_favourite)
        self.favourites.chosen.connect(lambda payload: self._apply_state(copy.deepcopy(payload[0])))  # undoable
        self.favourites.export_chosen.connect(self.export_favourites)
        self.favourites.message.connect(self.status_message)

    def _restore_preferences(self) -> None:
        from fashionstudio.gui.app import create_settings

        self._prefs = create_settings()  # the designer's choices outlive a session
        remember_choices(self._prefs, "generate", {
            "method": self.method_combo, "direction_layers": self.direction_layers,
            "directions": self.direction_count, "frames": self.frames_spin, "fps": self.fps_spin,
            "steps": self.steps_spin})

    # ================================================================================================= model
    def can_run(self) -> bool:
        return self.model is not None

    def _on_model_ready(self, key: str, model: Any) -> None:
        super()._on_model_ready(key, model)
        if key != self.tool or model.sha256 == self.session.prepared_sha:
            return
        G = model.networks["G"]
        self.latent.set_num_layers(int(G.num_ws), self.state.psi_cutoff)
        kept = self.session.adopt_model(model.sha256, int(G.w_dim))
        self.recompute_directions(only_if_empty=kept)
        self.refresh_thumbnails()
        self.trigger()

    def _on_model_unloaded(self, key: str) -> None:
        super()._on_model_unloaded(key)
        if key == self.tool:
            with self._engine_lock:
                self._engine = None  # let the manager's memory budget actually free the generator

    def engine(self, model: Any = None) -> GenerateEngine | None:
        """The render engine of ``model`` (default: the loaded one), built on first use (any thread)."""
        model = model if model is not None else self.model
        if model is None:
            return None
        with self._engine_lock:
            if self._engine is None or self._engine.sha != model.sha256:
                self._engine = GenerateEngine(model)
            return self._engine

    def layer_presets(self) -> dict[str, tuple[int, int]]:
        from fashionstudio.core.latent import layer_presets

        model = self.model
        return layer_presets(int(model.networks["G"].num_ws) if model is not None else 10)

    def recompute_directions(self, only_if_empty: bool = False) -> None:
        """Compute the direction sliders from the loaded generator in the background (``only_if_empty``: show
        the state's restored sliders instead, if it has them)."""
        model = self.model
        if model is None or (only_if_empty and self.sliders.count()):
            if only_if_empty and self.sliders.count() == 0 and self.state.directions:
                self.direction_panel.show_directions(self.state.directions)
            return
        self.direction_panel.compute(model)

    def _directions_ready(self, method: str, directions: list[Any]) -> None:
        self._push_state()
        self.direction_panel.show_directions(directions)
        self.session.set_directions(self.sliders.directions(), method)
        self.status_message.emit(self.direction_panel.ready_sentence(method, len(directions)))
        self.trigger()

    def is_busy(self) -> bool:
        return super().is_busy() or self.opener.is_busy() or self.direction_panel.is_busy() or self.is_projecting()

    # ================================================================================================= rendering
    def trigger(self) -> int | None:
        if self.model is None:  # controls move before a model is loaded: nothing to draw yet
            return None
        return super().trigger()

    def snapshot(self) -> Any:
        """A copy of the edited state with the sliders as shown and the loaded model's checksum."""
        model = self.model
        return self.session.snapshot(self.sliders.directions(), model.sha256 if model is not None else None)

    def run_request(self) -> Callable[[], Any] | None:
        model = self.model
        if model is None:
            self.status_message.emit("Open a StyleGAN2 model first (File > Open model…).")
            return None
        state = self.snapshot()
        return lambda: (self.engine(model).render(state), state)

    def show_result(self, result: Any) -> None:
        img, state = result
        self.result_canvas.set_image(img)
        self.session.shown = state
        self.info_label.setText(caption(state))

    def settings(self) -> dict[str, Any]:
        from fashionstudio.core.latent import state_summary

        state = self.session.shown if self.session.shown is not None else self.snapshot()
        return {**state_summary(state), "state": state.to_dict()}

    def export_result(self, path: str | Path) -> Path:
        if self.is_projecting():  # the canvas shows a projection preview that no state describes yet
            raise ValueError("Wait for the projection to finish (or cancel it) before exporting.")
        return super().export_result(path)

    def suggested_export_name(self) -> str:
        return export_name(self.session.shown or self.state)

    def refresh_thumbnails(self) -> None:
        """Render the seed grid's page at the current ψ in the background."""
        model = self.model
        if model is not None:
            self.thumbnails.refresh(lambda: self.engine(model), self.state.psi)

    # ================================================================================================= controls
    def _edit(self, change: Callable[..., None], *args: Any) -> None:
        """Apply one change to the edited state and render it."""
        change(*args)
        self.trigger()

    def _sync_controls(self) -> None:
        """Show the edited state in the controls without triggering renders."""
        self.latent.show_state(self.state)
        if self.direction_panel.show_method(self.state.method):
            self._prefs.setValue("generate/method", self.state.method)
        self.seed_grid.select_seed(self.state.seed)

    def set_seed(self, seed: int) -> None:
        """Edit ``seed`` (keeps ψ, mixing, noise and sliders; leaves a projected photo)."""
        if self.session.is_at_seed(seed):
            return
        self._push_state()
        self.seed_walk.stop()
        self.session.set_seed(seed)
        self._sync_controls()
        self.trigger()

    def random_seed(self) -> None:
        import random

        self.set_seed(random.randrange(0, 2**31 - 1))

    def _psi_changed(self, psi: float) -> None:
        self._edit(self.session.set_psi, psi)
        if self.model is not None:
            self.thumbnails.refresh_soon(self.refresh_thumbnails)  # the thumbnails follow ψ once it rests

    def set_slider_value(self, index: int, value: float) -> None:
        """Move semantic slider ``index`` to ``value`` (in standard deviations); the image follows."""
        self.sliders.set_value(index, value)

    def reset_sliders(self) -> None:
        self._push_state()
        self.sliders.reset()

    def move_to(self, x: float, y: float) -> None:
        """Show the blend of the seeds around lattice position (x, y) (x: seed, y: rows of 65536 seeds)."""
        self.seed_walk.move_to(x, y)

    def walk(self, dx: int, dy: int) -> None:
        """Glide smoothly to the neighbouring seed in direction (dx, dy)."""
        self.seed_walk.walk(dx, dy)

    def _walked(self) -> None:
        self.latent.show_seed(self.state.seed)
        self.trigger()

    # ================================================================================================= undo
    def _push_state(self) -> None:
        self.session.remember(self.snapshot())

    def can_undo(self) -> bool:
        return self.session.history.can_undo()

    def undo(self) -> bool:
        return self._restore(self.session.undo(self.snapshot()))

    def can_redo(self) -> bool:
        return self.session.history.can_redo()

    def redo(self) -> bool:
        """Step forward again after undo. Returns False when there is nothing to redo."""
        return self._restore(self.session.redo(self.snapshot()))

    def _restore(self, state: Any) -> bool:
        if state is not None:
            self._apply_state(state, push=False)
        return state is not None

    def _apply_state(self, state: Any, push: bool = True) -> None:
        if push:
            self._push_state()
        self.seed_walk.stop()
        self.session.replace(state)
        if state.directions:
            self.direction_panel.show_directions(state.directions)
        self._sync_controls()
        self.trigger()

    # ================================================================================================= favourites
    def keep_favourite(self) -> bool:
        """Add the shown result, with its settings and provenance, to the favourites row."""
        img, state = self.result_image(), self.session.shown
        if img is None or state is None or self.is_projecting():
            self.status_message.emit("There is no finished result to keep yet.")
            return False
        self.favourites.add(img, (copy.deepcopy(state), self.provenance()),
                            self.info_label.text() or f"Seed {state.seed}")
        return True

    def export_favourites(self, folder: str | Path, on_done: Callable[[list[Path]], None] | None = None) -> None:
        """Write every favourite as a PNG with its own provenance (it reopens with its settings), in the
        background; names never overwrite an existing file."""
        from fashionstudio.core.generate_files import write_favourites

        self.favourites.export(Path(folder), write_favourites, on_done)

    # ================================================================================================= opening files
    def open_image(self, path: str | Path) -> None:
        """A FashionStudio Generate PNG restores its state; any other image is projected into the generator."""
        self.opener.open_path(Path(path))

    def open_image_bytes(self, data: bytes, name: str = "the pasted image") -> None:
        self.opener.open_bytes(data, name)

    def _state_opened(self, state: Any, sentence: str) -> None:
        self._apply_state(state)
        self.status_message.emit(sentence)

    def _photo_opened(self, img: Image.Image, path: Path | None) -> None:
        self.source_path = path
        self.source_canvas.set_image(img)
        self.check_familiarity()  # a photo unlike the training pictures projects badly: the banner says so
        self.status_message.emit(f"Opened {path.name if path else 'the image'}: projecting it into the generator…")
        self.start_projection(img)

    # ================================================================================================= projection
    def start_projection(self, img: Image.Image | None) -> None:
        """Project ``img`` into the generator in the background; progress on the Project page; cancellable."""
        model = self.model
        if self.projection.accepts(img, model):
            self.sections.setCurrentWidget(self.projection)
            self.projection.start(img, lambda: self.engine(model))

    def _projection_finished(self, last: Any) -> None:
        self._push_state()
        self._apply_state(self.session.projected(self.snapshot(), last.ws, last.noise), push=False)
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
        state, img = self.session.shown, self.result_canvas.image()
        if state is None or img is None:
            self.status_message.emit("There is no image to keep yet.")
            return
        both = self.session.keep(slot, state)
        self.animation.show_kept(slot, img, len(self.session.kept))
        if both:
            self.make_strip()

    def make_strip(self) -> None:
        """Render the frames between the kept A and B (linear in w) in the background."""
        model, kept = self.model, self.session.kept
        if model is None or len(kept) < 2:
            self.status_message.emit("Keep two images (A and B) first.")
            return
        a, b, frames = kept["A"], kept["B"], self.frames_spin.value()
        self.animation.render_strip(lambda: self.engine(model).strip(a, b, frames))

    def _show_frame(self, index: int) -> None:
        """Make strip frame ``index`` the edited image (the sliders then edit it; Export saves it)."""
        state = self.session.strip_frame(index)
        if state is not None:
            self._apply_state(state)
            self.status_message.emit(f"Frame {index + 1} of {len(self.session.strip_states)}: "
                                     "the sliders now edit it.")

    def export_animation(self, path: str | Path, on_done: Callable[[Path], None] | None = None) -> None:
        """Write the strip to ``path`` (.gif or .mp4) in the background, sharpened when "Sharpen x4" is on."""
        self.animation.save(self.strip.frames(), path, on_done,
                            sharpener=self.sharpen.sharpener if self.sharpen.is_on() else None)

    # ================================================================================================= direction sets
    def save_direction_set(self, path: str | Path) -> Path:
        written = self.direction_panel.save_set(path, self.model)
        self.status_message.emit(f"Saved {self.sliders.count()} sliders to {written.name}.")
        return written

    def load_direction_set(self, path: str | Path) -> bool:
        from fashionstudio.core.latent import StateError

        try:
            directions, method, note = self.direction_panel.read_set(path, self.model)
        except StateError as exc:
            self.status_message.emit(str(exc))
            return False
        self._push_state()
        self.direction_panel.show_directions(directions)
        self.session.set_directions(self.sliders.directions(), method)
        if method is not None and self.direction_panel.show_method(method):
            self._prefs.setValue("generate/method", method)
        self.status_message.emit(f"Loaded {len(directions)} sliders from {Path(path).name}.{note}")
        self.trigger()
        return True

    # ================================================================================================= shutdown
    def shutdown(self, timeout_s: float = 10.0) -> None:
        self.cancel_projection()
        self.direction_panel.cancel()
        self.thumbnails.stop()
        self.seed_walk.stop()
        super().shutdown(timeout_s)
