"""Pose tab: the same dressed person in a new pose (PGPG: G1 coarse, G2 refined, shown side by side).

Columns: the input photo, the target pose (a skeleton editor, or a dropped DensePose IUV map for models trained
on IUV), then the coarse and refined results. The side panel (widgets.target_pose_panel) holds the pose library,
mirroring, "use this photo's pose" and CSV import. Every joint move while dragging submits a request to the latest-wins worker, so the result
follows the hand; the photo's letterbox and tensor are prepared once per photo (core.pose_transfer).

The photo's own pose (warping models need it) is looked up when a photo opens and can be marked by dragging a
skeleton over the input canvas (widgets.source_pose_panel); it is remembered per file. When nothing can run
(no joints, no photo pose, a model/target mismatch), the results are cleared and a sentence says what to do;
an older request still running then cannot land afterwards.

Scripting (benchmarks/ui_latency.py, tests): ``set_joint(index, x, y)`` moves a joint to normalised (x, y) of
the photo's frame and runs, ``target_pose()`` returns the pose as normalised (y, x).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from fashionstudio.core.pose_transfer import (
    IUV_MODEL_GOT_KEYPOINTS, KEYPOINT_MODEL_GOT_IUV, NO_SOURCE_POSE, PoseInputError, PoseTransfer,
    default_target_pose,
)
from fashionstudio.core.poses import visible
from fashionstudio.gui.canvas import ImageCanvas, pil_to_qimage
from fashionstudio.gui.tool_tab import ToolTab, captioned
from fashionstudio.gui.widgets.source_pose_panel import MARK_TEXT, SourcePosePanel
from fashionstudio.gui.widgets.target_pose_panel import TargetPosePanel


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
        self._shown_pose: np.ndarray | None = None   # the target pose of the result on screen
        self._stale_up_to = 0  # requests up to this id were overtaken by a refusal: their results are dropped
        self._build_pose_ui()

    # -- layout ----------------------------------------------------------------------------------------------------
    def _build_pose_ui(self) -> None:
        self.source_pose_panel = SourcePosePanel(self.source_canvas)
        self.source_pose_panel.changed.connect(self._on_source_pose_changed)
        self.source_pose_panel.message.connect(self._show_note)
        self.target_panel = TargetPosePanel(self.source_pose_panel)
        self.target_panel.changed.connect(self._on_target_changed)
        self.target_panel.status_message.connect(self.status_message.emit)
        self.target_panel.photo_pose_button.clicked.connect(self.use_photo_pose)
        # The parts tests, benchmarks and the window reach for by name.
        self.editor, self.library = self.target_panel.editor, self.target_panel.library
        self.mirror_box, self.photo_pose_button = self.target_panel.mirror_box, self.target_panel.photo_pose_button

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

        self.controls_layout.addWidget(self.target_panel, 1)
        self.run_button.setText("Run again")

    def _show_note(self, text: str, *, error: bool = False) -> None:
        self.target_panel.show_note(text, error=error)

    def note(self) -> str:
        """The message under the pose controls (tests, accessibility)."""
        return self.target_panel.note()

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

    def use_photo_pose(self) -> bool:
        """Take the input photo's own pose as the target (marked on it, annotated beside it, or its row in an
        imported keypoint CSV). False (and a sentence) if none is known."""
        return self.target_panel.use_photo_pose(self.source_image())

    def source_pose(self) -> np.ndarray | None:
        """The input photo's own pose (normalised (y, x) of its frame), or None when none is known."""
        own = self.source_pose_panel.source_pose()
        return None if own is None else own.pose.copy()

    def _on_source_pose_changed(self, final: bool) -> None:
        self.target_panel.update_photo_pose_button()
        if self.model is not None and self.source_image() is not None and self._needs_source_pose():
            self.trigger()

    def _on_target_changed(self) -> None:
        if self.model is not None and self.source_image() is not None:
            self.trigger()

    def open_iuv_target(self, path: str | Path) -> None:
        """Read a DensePose IUV map in the background and make it the target."""
        self.target_panel.open_iuv_target(path)

    def set_iuv_target(self, iuv: np.ndarray, name: str = "IUV map") -> None:
        """Use an (H, W, 3) uint8 (I, U, V) map as the target instead of the skeleton."""
        self.target_panel.set_iuv_target(iuv, name)

    def _on_files_dropped(self, paths: list[str]) -> None:
        # A keypoint CSV dropped on the photo is meant for the library, not an image to open.
        if Path(paths[0]).suffix.lower() == ".csv":
            self.library.import_csv(paths[0])
        else:
            super()._on_files_dropped(paths)

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
        if takes_iuv and self.target_panel.iuv is None:
            return IUV_MODEL_GOT_KEYPOINTS
        if not takes_iuv and self.target_panel.iuv is not None:
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
        if problem is None and self.target_panel.iuv is None and not visible(self.editor.pose()).any():
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
        target: Any = self.target_panel.iuv if self.target_panel.iuv is not None else self.editor.pose()
        pose = None if self.target_panel.iuv is not None else target

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
        elif self.target_panel.note_is_error():
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
        settings = self.target_panel.settings()
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
        self.target_panel.set_photo(self.source_path)
        if self.source_path is not None:
            self.library.index_dataset_of(self.source_path, self.target_panel.update_photo_pose_button)
        super().on_source_changed()

    def _on_busy_changed(self, busy: bool) -> None:
        super()._on_busy_changed(busy)
        self.coarse_canvas.set_busy("Working…" if busy and not self.coarse_canvas.has_image() else None)

    def _history_extra(self) -> Image.Image | None:
        return self.coarse_canvas.image()  # undone together with the base's photo and refined result

    def _restore_history_extra(self, coarse: Image.Image | None) -> None:
        self.coarse_canvas.set_image(coarse)

    def undo(self) -> bool:
        """Ctrl+Z in the editor undoes pose edits (the editor claims it); elsewhere, the photo as usual."""
        if self.editor.hasFocus() and self.editor.undo():
            return True
        overlay = self.source_pose_panel.overlay
        if overlay.isVisible() and overlay.hasFocus() and overlay.undo():
            return True
        done = super().undo()
        if done:
            img = self.source_image()
            if img is not None:
                self.editor.set_aspect(img.width / img.height)
                self.editor.set_reference(_reference_copy(self.source_canvas, 480))
            self.source_pose_panel.set_photo(img, self.source_path)
            self.target_panel.set_photo(self.source_path)
        return done

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Also finish saving the photo's marked pose (window closing)."""
        self.source_pose_panel.shutdown(timeout_s)
        super().shutdown(timeout_s)
