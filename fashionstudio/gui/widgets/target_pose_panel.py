"""TargetPosePanel: the Pose tab's target pose and its controls.

It owns the skeleton editor (which the tab places in its splitter, between the photo and the results) and lays out
the side-panel controls: the pose library, Import poses… / Reset pose, the photo's-pose controls the tab hands in
(widgets.source_pose_panel), "Use this photo's pose", a DensePose IUV map as the target, mirroring, and the note
line under them. Mirroring, the last target pose and the imported CSVs are remembered between launches.

``changed`` fires whenever the target changes (a joint moved, a pose picked, an IUV map set): the tab runs then.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget,
)

from fashionstudio.core.pose_transfer import PoseInputError, default_target_pose, refit_pose
from fashionstudio.gui.canvas import pil_to_qimage
from fashionstudio.gui.widgets.pose_editor import PoseEditor
from fashionstudio.gui.widgets.pose_library import LibraryPose, PoseLibrary
from fashionstudio.gui.widgets.source_pose_panel import SourcePosePanel
from fashionstudio.gui.workers import error_sentence, run_in_background


class TargetPosePanel(QWidget):
    """The target (a skeleton, or an (H, W, 3) uint8 IUV map in ``iuv``) and the controls that set it."""

    changed = Signal()
    status_message = Signal(str)  # each note also goes to the status bar

    def __init__(self, source_pose_panel: SourcePosePanel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_pose_panel = source_pose_panel
        self.iuv: np.ndarray | None = None  # (H, W, 3) uint8 I, U, V when the target is an IUV map
        self.iuv_name: str | None = None
        self._photo_path: Path | None = None
        self.editor = PoseEditor()
        self.editor.pose_changed.connect(self._on_pose_changed)
        self.editor.files_dropped.connect(self._on_target_files_dropped)
        self._build()
        from fashionstudio.core.resources import ResourceNotFoundError, resource_path

        try:
            folder: Path | None = resource_path("poses")
        except (ResourceNotFoundError, ValueError):
            folder = None
        self.library.load_folder(folder)
        self._restore_settings()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        heading = QLabel("Pose library")
        heading.setObjectName("canvasCaption")
        lay.addWidget(heading)
        self.library = PoseLibrary()
        self.library.setMinimumHeight(200)  # two rows of thumbnails; the photo's-pose controls need the rest
        self.library.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.library.pose_picked.connect(self.use_library_pose)
        self.library.problem.connect(self.show_note)
        self.library.loaded.connect(self.update_photo_pose_button)
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

        lay.addWidget(self.source_pose_panel)

        self.photo_pose_button = QPushButton("Use this photo's pose")
        self.photo_pose_button.setToolTip("Make the photo's own pose (marked, or annotated in a keypoint CSV) the "
                                          "target.")
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

    # -- remembered between launches -------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        """Mirroring, the last target pose and the imported CSVs come back (a damaged value is ignored)."""
        from fashionstudio.gui.app import create_settings

        self.qsettings = create_settings()
        self.mirror_box.setChecked(str(self.qsettings.value("pose/mirror", "false")).lower() == "true")
        try:
            saved = json.loads(str(self.qsettings.value("pose/last_pose", "")))
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
        value = self.qsettings.value("pose/imported", [])
        paths = [value] if isinstance(value, str) else list(value or [])
        return [str(p) for p in paths if p]

    def _remember_import(self, path: str | Path) -> None:
        paths = [p for p in self._imported_csvs() if p != str(path)] + [str(path)]
        self.qsettings.setValue("pose/imported", paths[-5:])

    def _remember_pose(self) -> None:
        self.qsettings.setValue("pose/last_pose", json.dumps(
            {"aspect": self.editor.aspect(), "pose": np.round(self.editor.pose(), 5).tolist()}))

    def _set_mirror(self, on: bool) -> None:
        self.editor.set_mirror(on)
        if hasattr(self, "qsettings"):
            self.qsettings.setValue("pose/mirror", on)

    # -- the note under the controls -------------------------------------------------------------------------------
    def show_note(self, text: str, *, error: bool = False) -> None:
        self.note_label.setText(text)
        self.note_label.setProperty("error", error)
        self.note_label.style().unpolish(self.note_label)
        self.note_label.style().polish(self.note_label)
        if text:
            self.status_message.emit(text)

    def note(self) -> str:
        return self.note_label.text()

    def note_is_error(self) -> bool:
        return bool(self.note_label.property("error"))

    # -- the skeleton ----------------------------------------------------------------------------------------------
    def reset_pose(self) -> None:
        self.editor.set_pose(default_target_pose(self.editor.aspect()))

    def use_library_pose(self, entry: LibraryPose) -> None:
        """Take a library pose, fitted (not stretched) into the photo's frame."""
        self.editor.set_pose(refit_pose(entry.pose, entry.aspect, self.editor.aspect()))
        self.show_note(f"Target pose: {entry.name}.")

    def set_photo(self, path: Path | None) -> None:
        """The input photo is now the file ``path`` (None: not a file): its known pose decides the button."""
        self._photo_path = path
        self.update_photo_pose_button()

    def use_photo_pose(self, img: Image.Image | None) -> bool:
        """Take the input photo's own pose as the target: the one marked on it or annotated beside it, else its
        row in an imported keypoint CSV. False (and a sentence) if none is known."""
        own = self.source_pose_panel.source_pose()
        kp = self.library.pose_of_photo(self._photo_path)
        if img is None or (own is None and kp is None):
            self.show_note("This photo's pose is not known: mark it (\"Mark this photo's pose\") or import its "
                           "dataset's keypoint CSV (Import poses…) first.", error=True)
            return False
        if own is not None:
            self.editor.set_pose(own.pose)
            self.show_note(f"Target pose: {own.describe()}.")
        else:  # a row of an imported CSV: its frame is inferred from the row, as for annotations beside a photo
            from fashionstudio.core.pose_frame import infer_frame, keypoint_extent
            from fashionstudio.core.source_poses import annotation_frame, normalise_pixels

            size = (img.height, img.width)
            frame = annotation_frame(size, None, infer_frame([kp]), keypoint_extent([kp]))
            self.editor.set_pose(normalise_pixels(kp, frame))
            self.show_note(f"Target pose: the pose annotated for {self._photo_path.name}.")
        return True

    def update_photo_pose_button(self) -> None:
        known = (self.source_pose_panel.source_pose() is not None
                 or self.library.pose_of_photo(self._photo_path) is not None)
        if (known and not self.photo_pose_button.isEnabled() and self._photo_path is not None
                and not self.source_pose_panel.is_marking()):  # while marking, the marking hint stays
            self.show_note(f"{self._photo_path.name} has a known pose: \"Use this photo's pose\" starts "
                           "from it.")
        self.photo_pose_button.setEnabled(known)

    def _on_pose_changed(self, final: bool) -> None:
        if final and hasattr(self, "qsettings"):
            self._remember_pose()
        if self.iuv is not None:
            self.clear_iuv_target()  # a skeleton edit means the skeleton is the target again
        self.changed.emit()

    # -- IUV target ------------------------------------------------------------------------------------------------
    def open_iuv_target(self, path: str | Path) -> None:
        """Read a DensePose IUV map in the background and make it the target."""
        from fashionstudio.core.images import load_image
        from fashionstudio.core.pose_transfer import read_iuv

        path = Path(path)

        def read() -> np.ndarray:
            return read_iuv(load_image(path))

        run_in_background(read, lambda iuv: self.set_iuv_target(iuv, name=path.name),
                          lambda exc: self.show_note(error_sentence(exc) if not isinstance(exc, PoseInputError)
                                                     else f"{path.name}: {exc}", error=True),
                          context=self)

    def set_iuv_target(self, iuv: np.ndarray, name: str = "IUV map") -> None:
        """Use an (H, W, 3) uint8 (I, U, V) map as the target instead of the skeleton."""
        from fashionstudio.core.pose_transfer import iuv_preview

        self.iuv, self.iuv_name = iuv, name
        self.editor.set_backdrop(pil_to_qimage(iuv_preview(iuv)), f"DensePose target: {name}")
        self.show_note(f"Target: the DensePose IUV map {name}. Pick or drag a pose to go back to the skeleton.")
        self.changed.emit()

    def clear_iuv_target(self) -> None:
        self.iuv, self.iuv_name = None, None
        self.editor.set_backdrop(None)

    def settings(self) -> dict[str, Any]:
        """The target as stored in an exported PNG."""
        if self.iuv is not None:
            return {"target": "densepose-iuv", "iuv_file": self.iuv_name}
        return {"target": "keypoints", "pose_yx_normalised": np.round(self.editor.pose(), 4).tolist(),
                "mirror": self.editor.mirror}

    # -- files -----------------------------------------------------------------------------------------------------
    def _on_target_files_dropped(self, paths: list[str]) -> None:
        path = Path(paths[0])
        if path.suffix.lower() in (".csv", ".txt"):
            self.library.import_csv(path)
        else:
            self.open_iuv_target(path)

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import poses", "", "Pose CSV (*.csv);;All files (*)")
        if path:
            self.library.import_csv(path)

    def _iuv_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Target from a DensePose IUV image", "",
                                              "Images (*.png *.jpg *.bmp *.webp);;All files (*)")
        if path:
            self.open_iuv_target(path)
