"""Pose tab: the same dressed person in a new pose (PGPG: G1 coarse, G2 refined, shown side by side).

Columns: the input photo, the target pose (a skeleton editor, or a dropped DensePose IUV map for models trained
on IUV), then the coarse and refined results. The side panel holds the pose library, mirroring, "use this photo's
pose" and CSV import. Every joint move while dragging submits a request to the latest-wins worker, so the result
follows the hand; the photo's letterbox and tensor are prepared once per photo (core.pose_transfer).

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
    IUV_MODEL_GOT_KEYPOINTS, KEYPOINT_MODEL_GOT_IUV, PoseInputError, PoseTransfer, default_target_pose,
    normalise_keypoints, refit_pose,
)
from fashionstudio.core.poses import visible
from fashionstudio.gui.canvas import ImageCanvas, pil_to_qimage
from fashionstudio.gui.tool_tab import ToolTab, captioned
from fashionstudio.gui.widgets.pose_editor import PoseEditor
from fashionstudio.gui.widgets.pose_library import LibraryPose, PoseLibrary
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
    return shown.scaled(longest, longest, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


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
            canvas.setMinimumSize(150, 200)
        self.result_canvas.set_placeholder(self.result_placeholder)
        results = QWidget()
        row = QHBoxLayout(results)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(10)
        row.addWidget(captioned("Coarse (G1)", self.coarse_canvas), 1)
        row.addWidget(captioned("Refined (G2)", self.result_canvas), 1)
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
        self.library.setMinimumHeight(300)
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

        self.photo_pose_button = QPushButton("Use this photo's pose")
        self.photo_pose_button.setToolTip("Available when the photo's file name is in a loaded keypoint CSV.")
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
        """Take the input photo's own annotated pose (from a loaded CSV) as the target. False if unknown."""
        kp = self.library.pose_of_photo(self.source_path)
        img = self.source_image()
        if kp is None or img is None:
            self._show_note("This photo's file name is not in any loaded keypoint CSV: import its dataset's "
                            "annotation file (Import poses…) first.", error=True)
            return False
        self.editor.set_pose(normalise_keypoints(kp, (img.height, img.width)))
        self._show_note(f"Target pose: the pose annotated for {self.source_path.name}.")
        return True

    def _update_photo_pose_button(self) -> None:
        known = self.library.pose_of_photo(self.source_path) is not None
        if known and not self.photo_pose_button.isEnabled():
            self._show_note(f"{self.source_path.name} has an annotated pose: \"Use this photo's pose\" starts "
                            "from it.")
        self.photo_pose_button.setEnabled(known)

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

    def run_request(self) -> Callable[[], Any] | None:
        model = self.model
        photo = self.source_image()
        if model is None or photo is None:
            return None
        problem = self.mismatch_message()
        if problem is None and self._iuv is None and not visible(self.editor.pose()).any():
            from fashionstudio.core.pose_transfer import EMPTY_POSE

            problem = EMPTY_POSE
        if problem is not None:
            self.coarse_canvas.set_error(problem)
            self.result_canvas.set_error(problem)
            self._show_note(problem, error=True)
            return None
        try:
            transfer = self._transfer_for(model)
        except PoseInputError as exc:
            self.result_canvas.set_error(str(exc))
            self.status_message.emit(str(exc))
            return None
        target: Any = self._iuv if self._iuv is not None else self.editor.pose()
        pose = None if self._iuv is not None else target

        def job() -> tuple[Any, np.ndarray | None]:
            return transfer.run(photo, target), pose

        return job

    def show_result(self, result: Any) -> None:
        transfer_result, pose = result
        self._shown_pose = pose
        self.coarse_canvas.set_image(transfer_result.coarse)
        self.result_canvas.set_image(transfer_result.refined)
        if self.note_label.property("error"):
            self._show_note("")

    def shown_pose(self) -> np.ndarray | None:
        """The target pose of the result on screen (None for an IUV target or no result)."""
        return None if self._shown_pose is None else self._shown_pose.copy()

    def _on_failed(self, request_id: int, message: str) -> None:
        self.coarse_canvas.set_error(message)
        super()._on_failed(request_id, message)

    def settings(self) -> dict[str, Any]:
        if self._iuv is not None:
            return {"target": "densepose-iuv", "iuv_file": self._iuv_name}
        pose = self.editor.pose()
        return {"target": "keypoints", "pose_yx_normalised": np.round(pose, 4).tolist(),
                "mirror": self.editor.mirror}

    def sample_input(self) -> Image.Image:
        """A plain backdrop with a figure-shaped block, so the self-test exercises the letterbox."""
        img = Image.new("RGB", (88, 128), (232, 228, 222))
        img.paste((70, 80, 120), (30, 20, 58, 110))
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
        done = super().undo()
        if done:
            self.coarse_canvas.set_image(self._coarse_history.pop() if self._coarse_history else None)
            img = self.source_image()
            if img is not None:
                self.editor.set_aspect(img.width / img.height)
                self.editor.set_reference(_reference_copy(self.source_canvas, 480))
            self._update_photo_pose_button()
        return done
