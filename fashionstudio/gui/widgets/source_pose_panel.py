"""SourcePosePanel: the pose of the person in the input photo, looked up, shown, marked by hand and remembered.

Warping pose models need it (core.source_poses says where it comes from: a pose the designer marked on this file,
else the dataset annotations beside it). The panel sits in the Pose tab's side panel: a line saying what is
known, "Mark this photo's pose" (a skeleton editor laid over the input canvas, the target editor's twin, dragged
onto the person) and "Forget". Every finished drag is saved for the file, on a background thread in order, so a
large store never stalls the GUI and closing the window right after a drag loses nothing (``shutdown`` waits).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from fashionstudio.core.pose_transfer import default_target_pose
from fashionstudio.core.source_poses import SourcePose, SourcePoseStore, find_source_pose, image_key, photo_key
from fashionstudio.gui.canvas import ImageCanvas
from fashionstudio.gui.widgets.pose_editor import PoseEditor
from fashionstudio.gui.workers import run_in_background

log = logging.getLogger(__name__)

MARK_TEXT = "Mark this photo's pose"
DONE_TEXT = "Done marking"


class SourcePosePanel(QWidget):
    """The input photo's own pose. Signals: ``changed(bool final)`` when the pose changes (found, marked,
    dragged, forgotten; ``final`` False while a drag is in progress); ``message(str)`` with a sentence for the
    tab's note line."""

    changed = Signal(bool)
    message = Signal(str)

    def __init__(self, canvas: ImageCanvas, store: SourcePoseStore | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.store = store if store is not None else SourcePoseStore()
        self._pose: SourcePose | None = None
        self._key: str | None = None
        self._name = ""
        self._path: Path | None = None
        self._serial = 0          # the photo the newest lookup is for; older answers are dropped
        self._looking_up = False
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fashionstudio-pose-store")
        self._last_save: Future | None = None

        self.overlay = PoseEditor(canvas, overlay=True)
        self.overlay.hide()
        self.overlay.pose_changed.connect(self._on_overlay_changed)
        canvas.installEventFilter(self)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.label = QLabel("")
        self.label.setObjectName("modelLabel")
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.mark_button = QPushButton(MARK_TEXT)
        self.mark_button.setCheckable(True)
        self.mark_button.setToolTip("Drag a skeleton onto the person in the input photo. Warping pose models "
                                    "need it; it is remembered for this file.")
        self.mark_button.toggled.connect(self._on_mark_toggled)
        self.forget_button = QPushButton("Forget")
        self.forget_button.setToolTip("Forget the pose you marked on this photo (an annotation, if any, applies "
                                      "again).")
        self.forget_button.clicked.connect(self.forget)
        row.addWidget(self.mark_button, 1)
        row.addWidget(self.forget_button)
        lay.addLayout(row)
        self._refresh()

    # -- state -----------------------------------------------------------------------------------------------------
    def source_pose(self) -> SourcePose | None:
        """The current photo's pose (normalised (y, x) in its frame), or None when none is known."""
        return self._pose

    def is_looking_up(self) -> bool:
        return self._looking_up

    def is_marking(self) -> bool:
        return self.mark_button.isChecked()

    def photo_key(self) -> str | None:
        return self._key

    # -- the photo -------------------------------------------------------------------------------------------------
    def set_photo(self, image: Any, path: Path | None) -> None:
        """A new input photo (or None): forget the old one's pose and look this one's up in the background."""
        if self.is_marking():  # another photo ends marking; its drags are saved already
            self.mark_button.blockSignals(True)
            self.mark_button.setChecked(False)
            self.mark_button.blockSignals(False)
            self.mark_button.setText(MARK_TEXT)
            self.overlay.hide()
        self._serial += 1
        serial = self._serial
        self._pose, self._key, self._path = None, None, path
        self._name = path.name if path is not None else ""
        self.overlay.set_aspect(image.width / image.height if image is not None else self.overlay.aspect())
        self._place_overlay()
        if image is None:
            self._looking_up = False
            self.mark_button.setChecked(False)
            self._refresh()
            self.changed.emit(True)
            return
        self._looking_up = True
        self._refresh()
        store = self.store

        def look_up() -> tuple[str, SourcePose | None]:
            try:
                key = photo_key(path, image)
            except OSError as exc:  # moved or unreadable since it was opened: the pixels still identify it
                log.info("cannot hash %s (%s); keying its pose by its pixels", path, exc)
                key = image_key(image)
            return key, find_source_pose(path, image, store, key=key)

        def found(result: tuple[str, SourcePose | None]) -> None:
            if serial != self._serial:
                return
            self._looking_up = False
            self._key, self._pose = result
            self._show_pose_in_overlay()
            self._refresh()
            self.changed.emit(True)

        def failed(exc: BaseException) -> None:
            if serial != self._serial:
                return
            log.warning("source pose lookup failed", exc_info=exc)
            self._looking_up = False
            self._refresh()
            self.changed.emit(True)

        run_in_background(look_up, found, failed, context=self)

    def use_pose(self, pose: np.ndarray, label: str) -> None:
        """Take ``pose`` as the current picture's pose for this session only (not saved: e.g. the self-test's
        figure, which has no file)."""
        self._serial += 1  # a lookup still running for an earlier photo must not replace it
        self._looking_up = False
        self._pose = SourcePose(np.asarray(pose, np.float32).copy(), "file", label)
        self._refresh()
        self.changed.emit(True)

    # -- marking ---------------------------------------------------------------------------------------------------
    def start_marking(self) -> None:
        self.mark_button.setChecked(True)

    def finish_marking(self) -> None:
        self.mark_button.setChecked(False)

    def _on_mark_toggled(self, on: bool) -> None:
        if on and self.canvas.image() is None:
            self.mark_button.setChecked(False)
            self.message.emit("Open a photo first, then mark the pose of the person in it.")
            return
        self.mark_button.setText(DONE_TEXT if on else MARK_TEXT)
        if on:
            self._show_pose_in_overlay()
            self._place_overlay()
            self.overlay.show()
            self.overlay.raise_()
            self.overlay.setFocus()
            self.message.emit("Drag each joint of the skeleton onto the person in the photo; it is saved for this "
                              "file as you go. Click \"Done marking\" when it fits.")
        else:
            self.overlay.hide()
            if self._key is not None and self._pose is None:
                # "Done" on the starting skeleton of a photo without a pose accepts it as this photo's pose (an
                # annotation looked at and left as it was stays an annotation).
                self._mark(self.overlay.pose(), final=True)
        self._refresh()

    def _show_pose_in_overlay(self) -> None:
        start = self._pose.pose if self._pose is not None else default_target_pose(self.overlay.aspect())
        self.overlay.blockSignals(True)
        self.overlay.set_pose(start, undoable=False)
        self.overlay.blockSignals(False)
        self.overlay.clear_undo()  # Ctrl+Z must not bring back another photo's pose

    def _on_overlay_changed(self, final: bool) -> None:
        if self.is_marking():
            self._mark(self.overlay.pose(), final)

    def _mark(self, pose: np.ndarray, final: bool) -> None:
        self._pose = SourcePose(pose.copy(), "marked", "marked by you")
        if final and self._key is not None:
            self._save(self._key, pose.copy(), self._name)
        self._refresh()
        self.changed.emit(final)

    def forget(self) -> None:
        """Forget the pose marked on this photo; its annotation (if any) applies again."""
        if self._key is None:
            return
        key = self._key
        self._wait_for_saves()
        try:
            self.store.forget(key)
        except OSError as exc:
            self.message.emit(f"The marked pose could not be forgotten: {exc.strerror or exc}.")
            return
        self.mark_button.setChecked(False)
        self.set_photo(self.canvas.image(), self._path)
        self.message.emit("Forgot the pose marked on this photo.")

    # -- saving ----------------------------------------------------------------------------------------------------
    def _save(self, key: str, pose: np.ndarray, name: str) -> None:
        def save() -> None:
            self.store.put(key, pose, name)

        def report(future: Future) -> None:
            exc = future.exception()
            if exc is not None:
                log.error("the marked pose could not be saved", exc_info=exc)

        self._last_save = self._saver.submit(save)
        self._last_save.add_done_callback(report)

    def _wait_for_saves(self, timeout_s: float = 10.0) -> None:
        if self._last_save is not None:
            try:
                self._last_save.result(timeout=timeout_s)
            except Exception:  # noqa: BLE001 - logged by the done callback
                pass

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Finish writing marked poses (window closing)."""
        self._wait_for_saves(timeout_s)
        self._saver.shutdown(wait=False)

    # -- geometry and text -----------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if watched is self.canvas and event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self._place_overlay()
        return False

    def _place_overlay(self) -> None:
        self.overlay.setGeometry(self.canvas.rect())
        self.overlay.set_frame_rect(self.canvas.image_rect())

    def _refresh(self) -> None:
        has_photo = self.canvas.image() is not None
        self.mark_button.setEnabled(has_photo and (not self._looking_up or self.is_marking()))
        self.forget_button.setEnabled(self._pose is not None and self._pose.origin == "marked"
                                      and not self.is_marking())
        if not has_photo:
            text = "Photo's pose: open a photo first."
        elif self._looking_up:
            text = "Photo's pose: looking for it…"
        elif self._pose is None:
            text = "Photo's pose: not known (warping pose models need it)."
        elif self._pose.origin == "marked":
            text = "Photo's pose: marked by you, saved for this file."
        else:
            text = f"Photo's pose: annotated in {self._pose.label}."
        self.label.setText(text)
