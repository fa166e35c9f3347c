"""Pose tab: the same dressed person in a new pose (PGPG: G1 coarse, G2 refined, shown side by side).

Columns: the input photo, the target pose (a skeleton editor, or a dropped DensePose IUV map for models trained
on IUV), then the coarse and refined results. The side panel holds the pose library, mirroring, "use this photo's
pose" and CSV import. Every joint move while dragging submits a request to the latest-wins worker, so the result
follows the hand; the photo's letterbox and tensor are prepared once per photo (core.pose_transfer).

The photo's own pose (warping models need it) is looked up when a photo opens and can be marked by dragging a
skeleton over the input canvas (widgets.source_pose_panel); it is remembered per file. When nothing can run
(no joints, no photo pose, a model/target mismatch), the results are cleared and a sentence says what to do;
an older request still running then cannot land afterwards.

Scripting (benchmarks/ui_latency.py, tests): ``set_joint(index, x, y)`` moves a joint to normalised (x, y) of
the photo's frame and runs, ``target_pose()`` returns the pose as normalised (y, x).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget,
)

from fashionstudio.core.pose_transfer import (
    IUV_MODEL_GOT_KEYPOINTS, KEYPOINT_MODEL_GOT_IUV, NO_SOURCE_POSE, PoseInputError, PoseTransfer,
    default_target_pose, refit_pose,
)
from fashionstudio.core.poses import visible
from fashionstudio.gui.canvas import ImageCanvas, pil_to_qimage
from fashionstudio.gui.tool_tab import ToolTab, captioned
from fashionstudio.gui.widgets.pose_editor import PoseEditor
from fashionstudio.gui.widgets.pose_library import LibraryPose, PoseLibrary
from fashionstudio.gui.widgets.source_pose_panel import MARK_TEXT, SourcePosePanel
from fashionstudio.gui.workers import error_sentence, run_in_background


def _small_copy(img: Image.Image, longest: int) -> Image.Image:
    """A quick reduced copy for drawing (box reduction first: a camera photo must not stall the GUI thread)."""
    factor = max(1, max(img.size) // (2 * longest))
    small = img.reduce(factor) if factor > 1 else img
    scale = longest / max(small.size)
    if scale < 1:
        small = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))),
                             Image.Resampling.BILINEAR)
    return small


def _reference_copy(canvas: ImageCanvas, longest: int) -> QImage:
    """The editor's backdrop, scaled from the canvas's bounded display copy (made off the GUI thread), never
    from the full photo: a camera photo must not stall the GUI thread."""
    shown = canvas.display_image()
    if shown is None:
        return pil_to_qimage(_small_copy(canvas.image(), longest))
    if max(shown.width(), shown.height()) <= longest:
        return shown
    keep = Qt.AspectRatioMode.KeepAspectRatio
    if max(shown.width(), shown.height()) > 2 * longest:  # a fast halving first: smooth scaling is the slow part
        shown = shown.scaled(2 * longest, 2 * longest, keep, Qt.TransformationMode.FastTransformation)
    return shown.scaled(longest, longest, keep, Qt.TransformationMode.SmoothTransformation)


LOOKING_FOR_SOURCE_POSE = "Looking for this photo's pose…"


class _Refusal:
    """What a job returns when the model refuses its inputs (PoseInputError): a sentence, shown in order with
    the results instead of as a crash report."""

    def __init__(self, message: str) -> None:
        self.message = message


class PoseTab(ToolTab):
    tool = "pose"
    title = "Pose"
    source_placeholder = "Drop a photo of a dressed person here"
    result_placeholder = "The refined result appears here"
    sample = "person"

    def __init__(self, manager, parent: QWidget | None = None) -> None:
        super().__init__(manager, parent)
        self._transfer: PoseTransfer | None = None
        self._iuv: np.ndarray | None = None          # (H, W, 3) uint8 I, U, V when the target is an IUV map
        self._iuv_name: str | None = None
        self._shown_pose: np.ndarray | None = None   # the target pose of the result on screen
        self._coarse_history: list[Image.Image | None] = []  # beside the base's (photo, refined) history
        self._stale_up_to = 0  # requests up to this id were overtaken by a refusal: their results are dropped
        self._build_pose_ui()
        from fashionstudio.core.resources import ResourceNotFoundError, resource_path

        try:
            folder: Path | None = resource_path("poses")
        except (ResourceNotFoundError, ValueError):
            folder = None
        self.library.load_folder(folder)
        self._restore_settings()

    # -- remembered between launches -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        """Mirroring, the last target pose and the imported CSVs come back (a damaged value is ignored)."""
        from fashionstudio.gui.app import create_settings

        self._settings = create_settings()
        self.mirror_box.setChecked(str(self._settings.value("pose/mirror", "false")).lower() == "true")
        try:
            saved = json.loads(str(self._settings.value("pose/last_pose", "")))
            pose = np.asarray(saved["pose"], np.float32).reshape(18, 2)
            if np.isfinite(pose).all() and (pose <= 1.0).all():
                self.editor.set_pose(refit_pose(pose, float(saved["aspect"]), self.editor.aspect()),
                                     undoable=False)
        except (ValueError, KeyError, TypeError):
            pass
        for path in self._imported_csvs():
            if Path(path).is_file():
                self.library.import_csv(path)

    def _imported_csvs(self) -> list[str]:
        value = self._settings.value("pose/imported", [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in paths if p]

    def _remember_import(self, path: str | Path) -> None:
        paths = [p for p in self._imported_csvs() if p != str(path)] + [str(path)]
        self._settings.setValue("pose/imported", paths[-5:])

    def _remember_pose(self) -> None:
        self._settings.setValue("pose/last_pose", json.dumps(
            {"aspect": self.editor.aspect(), "pose": np.round(self.editor.pose(), 5).tolist()}))

    # -- layout ----------------------------------------------------------------------------------------------------
    def _build_pose_ui(self) -> None:
        self.editor = PoseEditor()
        self.editor.pose_changed.connect(self._on_pose_changed)
        self.editor.files_dropped.connect(self._on_target_files_dropped)

        # The base's single result column becomes the two stages side by side; result_canvas stays the refined
        # image (exported, undone and reported on by the base class).
        self.coarse_canvas = ImageCanvas("The coarse result (G1) appears here", accept_drops=False)
        for canvas in (self.source_canvas, self.coarse_canvas, self.result_canvas):
            canvas.setMinimumSize(112, 200)  # four pictures and the side panel fit the window's minimum width
        self.result_canvas.set_placeholder(self.result_placeholder)
        results = QWidget()
        row = QHBoxLayout(results)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        coarse_box, refined_box = captioned("Coarse (G1)", self.coarse_canvas), captioned("Refined (G2)",
                                                                                            self.result_canvas)
        self.stage_captions = (coarse_box.findChild(QLabel), refined_box.findChild(QLabel))
        row.addWidget(coarse_box, 1)
        row.addWidget(refined_box, 1)
        old = self.splitter.widget(self.splitter.count() - 1)
        old.hide()
        old.setParent(None)  # addWidget (unlike replaceWidget) hands ``results`` to Qt's ownership
        old.deleteLater()
        self.splitter.addWidget(results)
        self.splitter.insertWidget(1, captioned("Target pose", self.editor))
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 2)
        self._sized = False

        lay = self.controls_layout
        heading = QLabel("Pose library")
        heading.setObjectName("canvasCaption")
        lay.addWidget(heading)
        self.library = PoseLibrary()
        self.library.setMinimumHeight(200)  # two rows of thumbnails; the photo's-pose controls need the rest
        self.library.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.library.pose_picked.connect(self.use_library_pose)
        self.library.problem.connect(self._show_note)
        self.library.loaded.connect(self._update_photo_pose_button)
        self.library.imported.connect(self._remember_import)
        lay.addWidget(self.library, 1)

        buttons = QHBoxLayout()
        self.import_button = QPushButton("Import poses…")
        self.import_button.setToolTip("Add the poses of a keypoint CSV (pose-transfer format "
                                      "name:keypoints_y:keypoints_x).")
        self.import_button.clicked.connect(self._import_dialog)
        self.reset_button = QPushButton("Reset pose")
        self.reset_button.setToolTip("Back to a neutral standing pose.")
        self.reset_button.clicked.connect(self.reset_pose)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.reset_button)
        lay.addLayout(buttons)

        self.source_pose_panel = SourcePosePanel(self.source_canvas)
        self.source_pose_panel.changed.connect(self._on_source_pose_changed)
        self.source_pose_panel.message.connect(self._show_note)
        lay.addWidget(self.source_pose_panel)

        self.photo_pose_button = QPushButton("Use this photo's pose")
        self.photo_pose_button.setToolTip("Make the photo's own pose (marked, or annotated in a keypoint CSV) the "
                                          "target.")
        self.photo_pose_button.clicked.connect(self.use_photo_pose)
        self.photo_pose_button.setEnabled(False)
        lay.addWidget(self.photo_pose_button)

        self.iuv_button = QPushButton("Target from IUV image…")
        self.iuv_button.setToolTip("For models trained on DensePose: use a *_IUV.png map as the target "
                                   "(you can also drop it on the target pose).")
        self.iuv_button.clicked.connect(self._iuv_dialog)
        lay.addWidget(self.iuv_button)

        self.mirror_box = QCheckBox("Mirror left and right while dragging")
        self.mirror_box.setToolTip("The other side's joint follows, reflected about the neck (key: M).")
        self.mirror_box.toggled.connect(self._set_mirror)
        self.editor.mirror_changed.connect(self.mirror_box.setChecked)  # the M key and the context menu
        lay.addWidget(self.mirror_box)

        self.note_label = QLabel("")
        self.note_label.setObjectName("modelLabel")
        self.note_label.setWordWrap(True)
        lay.addWidget(self.note_label)
        self.run_button.setText("Run again")

    def _set_mirror(self, on: bool) -> None:
        self.editor.set_mirror(on)
        if hasattr(self, "_settings"):
            self._settings.setValue("pose/mirror", on)

    def _show_note(self, text: str, *, error: bool = False) -> None:
        self.note_label.setText(text)
        self.note_label.setProperty("error", error)
        self.note_label.style().unpolish(self.note_label)
        self.note_label.style().polish(self.note_label)
        if text:
            self.status_message.emit(text)

    def note(self) -> str:
        """The message under the pose controls (tests, accessibility)."""
        return self.note_label.text()

    # -- the target ------------------------------------------------------------------------------------------------
    def target_pose(self) -> np.ndarray:
        """The target skeleton: (18, 2) float32 normalised (y, x) of the photo's frame, -1 for missing joints."""
        return self.editor.pose()

    def set_joint(self, index: int, x: float, y: float) -> None:
        """Move joint ``index`` (0..17, COCO/OpenPose order) to normalised ``x``, ``y`` of the photo's frame and
        run, as one step of a drag (consecutive moves of one joint undo together)."""
        self.editor.move_joint(index, y, x, final=False, coalesce=True)

    def set_target_pose(self, pose: np.ndarray) -> None:
        """Make ``pose`` (normalised (y, x), photo frame) the target (undoable in the editor)."""
        self.editor.set_pose(pose)

    def reset_pose(self) -> None:
        self.editor.set_pose(default_target_pose(self.editor.aspect()))

    def use_library_pose(self, entry: LibraryPose) -> None:
        """Take a library pose, fitted (not stretched) into the photo's frame."""
        self.editor.set_pose(refit_pose(entry.pose, entry.aspect, self.editor.aspect()))
        self._show_note(f"Target pose: {entry.name}.")

    def use_photo_pose(self) -> bool:
        """Take the input photo's own pose as the target: the one marked on it or annotated beside it, else its
        row in an imported keypoint CSV. False (and a sentence) if none is known."""
        img = self.source_image()
        own = self.source_pose_panel.source_pose()
        kp = self.library.pose_of_photo(self.source_path)
        if img is None or (own is None and kp is None):
            self._show_note("This photo's pose is not known: mark it (\"Mark this photo's pose\") or import its "
                            "dataset's keypoint CSV (Import poses…) first.", error=True)
            return False
        if own is not None:
            self.editor.set_pose(own.pose)
            self._show_note(f"Target pose: {own.describe()}.")
        else:  # a row of an imported CSV: its frame is inferred from the row, as for annotations beside a photo
            from fashionstudio.core.pose_frame import infer_frame, keypoint_extent
            from fashionstudio.core.source_poses import annotation_frame, normalise_pixels

            size = (img.height, img.width)
            frame = annotation_frame(size, None, infer_frame([kp]), keypoint_extent([kp]))
            self.editor.set_pose(normalise_pixels(kp, frame))
            self._show_note(f"Target pose: the pose annotated for {self.source_path.name}.")
        return True

    def source_pose(self) -> np.ndarray | None:
        """The input photo's own pose (normalised (y, x) of its frame), or None when none is known."""
        own = self.source_pose_panel.source_pose()
        return None if own is None else own.pose.copy()

    def _update_photo_pose_button(self) -> None:
        known = (self.source_pose_panel.source_pose() is not None
                 or self.library.pose_of_photo(self.source_path) is not None)
        if (known and not self.photo_pose_button.isEnabled() and self.source_path is not None
                and not self.source_pose_panel.is_marking()):  # while marking, the marking hint stays
            self._show_note(f"{self.source_path.name} has a known pose: \"Use this photo's pose\" starts "
                            "from it.")
        self.photo_pose_button.setEnabled(known)

    def _on_source_pose_changed(self, final: bool) -> None:
        self._update_photo_pose_button()
        if self.model is not None and self.source_image() is not None and self._needs_source_pose():
            self.trigger()

    def _on_pose_changed(self, final: bool) -> None:
        if final and hasattr(self, "_settings"):
            self._remember_pose()
        if self._iuv is not None:
            self.clear_iuv_target()  # a skeleton edit means the skeleton is the target again
        if self.model is not None and self.source_image() is not None:
            self.trigger()

    # -- IUV target ------------------------------------------------------------------------------------------------
    def open_iuv_target(self, path: str | Path) -> None:
        """Read a DensePose IUV map in the background and make it the target."""
        from fashionstudio.core.images import load_image
        from fashionstudio.core.pose_transfer import read_iuv

        path = Path(path)
        def read() -> np.ndarray:
            return read_iuv(load_image(path))

        run_in_background(read, lambda iuv: self.set_iuv_target(iuv, name=path.name),
                          lambda exc: self._show_note(error_sentence(exc) if not isinstance(exc, PoseInputError)
                                                      else f"{path.name}: {exc}", error=True),
                          context=self)

    def set_iuv_target(self, iuv: np.ndarray, name: str = "IUV map") -> None:
        """Use an (H, W, 3) uint8 (I, U, V) map as the target instead of the skeleton."""
        from fashionstudio.core.pose_transfer import iuv_preview

        self._iuv, self._iuv_name = iuv, name
        self.editor.set_backdrop(pil_to_qimage(iuv_preview(iuv)), f"DensePose target: {name}")
        self._show_note(f"Target: the DensePose IUV map {name}. Pick or drag a pose to go back to the skeleton.")
        if self.model is not None and self.source_image() is not None:
            self.trigger()

    def clear_iuv_target(self) -> None:
        self._iuv, self._iuv_name = None, None
        self.editor.set_backdrop(None)

    def _on_target_files_dropped(self, paths: list[str]) -> None:
        path = Path(paths[0])
        if path.suffix.lower() in (".csv", ".txt"):
            self.library.import_csv(path)
        else:
            self.open_iuv_target(path)

    def _on_files_dropped(self, paths: list[str]) -> None:
        # A keypoint CSV dropped on the photo is meant for the library, not an image to open.
        if Path(paths[0]).suffix.lower() == ".csv":
            self.library.import_csv(paths[0])
        else:
            super()._on_files_dropped(paths)

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import poses", "", "Pose CSV (*.csv);;All files (*)")
        if path:
            self.library.import_csv(path)

    def _iuv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Target from a DensePose IUV image", "",
                                              "Images (*.png *.jpg *.bmp *.webp);;All files (*)")
        if path:
            self.open_iuv_target(path)

    # -- running ---------------------------------------------------------------------------------------------------
    def _transfer_for(self, model: Any) -> PoseTransfer:
        if self._transfer is None or self._transfer.model is not model:
            self._transfer = PoseTransfer(model)
        return self._transfer

    def mismatch_message(self) -> str | None:
        """Why the current target cannot go to the loaded model (IUV vs keypoints), or None."""
        model = self.model
        if model is None:
            return None
        takes_iuv = int(model.config.get("pose_channels", 18)) == 3
        if takes_iuv and self._iuv is None:
            return IUV_MODEL_GOT_KEYPOINTS
        if not takes_iuv and self._iuv is not None:
            return KEYPOINT_MODEL_GOT_IUV
        return None

    def _on_model_ready(self, key: str, model: Any) -> None:
        if key == self.tool:
            self._caption_stages()
        super()._on_model_ready(key, model)

    def _caption_stages(self) -> None:
        """Name the two result columns after what the loaded model makes of them."""
        warp = self._needs_source_pose()
        names = ("Warped photo", "Result") if warp else ("Coarse (G1)", "Refined (G2)")
        for label, name in zip(self.stage_captions, names):
            label.setText(name)
        self.coarse_canvas.set_placeholder("The photo moved into the target pose appears here" if warp
                                           else "The coarse result (G1) appears here")

    def _needs_source_pose(self) -> bool:
        """Whether the loaded model also needs the photo's own pose (a warping model)."""
        model = self.model
        if model is None:
            return False
        try:
            return bool(self._transfer_for(model).needs_source_pose)
        except PoseInputError:
            return False

    def run_request(self) -> Callable[[], Any] | None:
        model = self.model
        photo = self.source_image()
        if model is None or photo is None:
            return None
        problem = self.mismatch_message()
        if problem is None and self._iuv is None and not visible(self.editor.pose()).any():
            from fashionstudio.core.pose_transfer import EMPTY_POSE

            problem = EMPTY_POSE
        try:
            transfer = self._transfer_for(model)
        except PoseInputError as exc:
            problem = problem or str(exc)
        source_pose = None
        if problem is None and transfer.needs_source_pose:
            if self.source_pose_panel.is_looking_up():
                self._drop_in_flight()  # an older photo's result must not land while this one's pose is found
                self.result_canvas.set_busy(LOOKING_FOR_SOURCE_POSE)
                return None  # the lookup's answer triggers the run
            source_pose = self.source_pose()
            if source_pose is None:
                problem = NO_SOURCE_POSE
        if problem is not None:
            self._refuse(problem)
            return None
        target: Any = self._iuv if self._iuv is not None else self.editor.pose()
        pose = None if self._iuv is not None else target

        def job() -> tuple[Any, np.ndarray | None] | _Refusal:
            try:
                return transfer.run(photo, target, source_pose=source_pose), pose
            except PoseInputError as exc:  # e.g. the photo's pose lacks a hip: a sentence, not a crash report
                return _Refusal(str(exc))

        return job

    def _drop_in_flight(self) -> None:
        """Results of requests submitted so far will not be shown (the inputs they were made for are gone)."""
        self._stale_up_to = self.worker.latest_id
        self.worker.cancel_pending()

    def _refuse(self, problem: str, *, drop_in_flight: bool = True) -> None:
        """Nothing can run for the current inputs: clear the results (they belong to other inputs and would be
        exported as if made from these), say why, and (``drop_in_flight``) make sure an older request still
        running lands nowhere."""
        if drop_in_flight:
            self._drop_in_flight()
        self._shown_pose = None
        self.last_result = None
        for canvas in (self.coarse_canvas, self.result_canvas):
            canvas.set_busy(None)
            canvas.set_image(None)
            canvas.set_error(problem)
        self._show_note(problem, error=True)
        if MARK_TEXT in problem:  # the sentence names the button: bring it into view in a short window
            scroll = getattr(self, "controls_scroll", None)
            if scroll is not None:
                scroll.ensureWidgetVisible(self.source_pose_panel)
        self.result_changed.emit()

    def _on_result(self, request_id: int, result: Any, elapsed_ms: float) -> None:
        if request_id <= self._stale_up_to:
            return
        if isinstance(result, _Refusal):
            # Requests made after this one (the designer already fixed the pose) still run and show.
            self._refuse(result.message, drop_in_flight=False)
            return
        super()._on_result(request_id, result, elapsed_ms)

    def show_result(self, result: Any) -> None:
        transfer_result, pose = result
        self._shown_pose = pose
        self.result_canvas.set_busy(None)
        self.coarse_canvas.set_image(transfer_result.coarse)
        self.result_canvas.set_image(transfer_result.refined)
        notes = getattr(transfer_result, "notes", None)
        if notes:
            self._show_note(" ".join(notes))
        elif self.note_label.property("error"):
            self._show_note("")

    def shown_pose(self) -> np.ndarray | None:
        """The target pose of the result on screen (None for an IUV target or no result)."""
        return None if self._shown_pose is None else self._shown_pose.copy()

    def _on_failed(self, request_id: int, message: str) -> None:
        if request_id <= self._stale_up_to:
            return
        self.coarse_canvas.set_error(message)
        super()._on_failed(request_id, message)

    def settings(self) -> dict[str, Any]:
        if self._iuv is not None:
            settings: dict[str, Any] = {"target": "densepose-iuv", "iuv_file": self._iuv_name}
        else:
            settings = {"target": "keypoints", "pose_yx_normalised": np.round(self.editor.pose(), 4).tolist(),
                        "mirror": self.editor.mirror}
        own = self.source_pose_panel.source_pose()
        if own is not None and self._needs_source_pose():
            settings["source_pose"] = {"origin": own.origin, "from": own.label,
                                       "pose_yx_normalised": np.round(own.pose, 4).tolist()}
        return settings

    def sample_input(self) -> Image.Image:
        """A plain backdrop with a figure-shaped block, so the self-test exercises the letterbox; its pose is the
        standing pose (a warping model needs one)."""
        img = Image.new("RGB", (88, 128), (232, 228, 222))
        img.paste((70, 80, 120), (30, 20, 58, 110))
        self.source_pose_panel.use_pose(default_target_pose(img.width / img.height), "the self-test figure")
        return img

    def showEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._sized and self.splitter.width() > 0:
            # Size hints would give the two result canvases most of the room; start with four equal images.
            quarter = self.splitter.width() // 4
            self.splitter.setSizes([quarter, quarter, self.splitter.width() - 2 * quarter])
            self._sized = True

    # -- hooks -----------------------------------------------------------------------------------------------------
    def on_source_changed(self) -> None:
        img = self.source_image()
        self.coarse_canvas.clear()
        if img is not None:
            self.editor.set_aspect(img.width / img.height)
            self.editor.set_reference(_reference_copy(self.source_canvas, 480))
        else:
            self.editor.set_reference(None)
        self.source_pose_panel.set_photo(img, self.source_path)
        self._update_photo_pose_button()
        if self.source_path is not None:
            self.library.index_dataset_of(self.source_path, self._update_photo_pose_button)
        super().on_source_changed()

    def _on_busy_changed(self, busy: bool) -> None:
        super()._on_busy_changed(busy)
        self.coarse_canvas.set_busy("Working…" if busy and not self.coarse_canvas.has_image() else None)

    def _push_history(self) -> None:
        super()._push_history()
        self._coarse_history.append(self.coarse_canvas.image())
        del self._coarse_history[:-len(self._history)]  # the base keeps a bounded history

    def undo(self) -> bool:
        """Ctrl+Z in the editor undoes pose edits (the editor claims it); elsewhere, the photo as usual."""
        if self.editor.hasFocus() and self.editor.undo():
            return True
        overlay = self.source_pose_panel.overlay
        if overlay.isVisible() and overlay.hasFocus() and overlay.undo():
            return True
        done = super().undo()
        if done:
            self.coarse_canvas.set_image(self._coarse_history.pop() if self._coarse_history else None)
            img = self.source_image()
            if img is not None:
                self.editor.set_aspect(img.width / img.height)
                self.editor.set_reference(_reference_copy(self.source_canvas, 480))
            self.source_pose_panel.set_photo(img, self.source_path)
            self._update_photo_pose_button()
        return done

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Also finish saving the photo's marked pose (window closing)."""
        self.source_pose_panel.shutdown(timeout_s)
        super().shutdown(timeout_s)
