"""PoseEditor: the target-pose skeleton editor of the Pose tab.

The view of a core.pose_edit.PoseEdit (the pose, mirroring, undo): the 18 joints are drawn as a coloured skeleton
over a faint mannequin silhouette built from the same joints (widgets.skeleton_painting), inside a frame with the
source photo's aspect ratio. Joints are dragged with the mouse; Ctrl+Z / Ctrl+Shift+Z undo and redo pose edits
while the editor has focus.

With ``overlay=True`` the same editor marks the pose of the person in a photo: it is laid over the input canvas
(transparent, no frame or mannequin), its frame is the rectangle where the canvas draws the photo
(``set_frame_rect``), and the skeleton gets a dark outline so it reads on any picture.

Keyboard: ] or N / [ or P select the next / previous joint, arrow keys move it (Shift: five times further),
Delete hides it (marks it missing), Insert or Enter puts a missing joint back, M toggles mirroring.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from fashionstudio.core.pose_edit import PoseEdit, joint_label
from fashionstudio.gui.widgets.skeleton_painting import (
    FRAME_BORDER, FRAME_FILL, SELECTED, draw_hint, draw_silhouette, draw_skeleton, joint_points,
)

_PICK_RADIUS_PX = 14.0
_HIDDEN_NOTE = " (hidden: Insert or right-click brings it back)"


class PoseEditor(QWidget):
    """Edit an 18-joint pose by dragging. Signals: ``pose_changed(bool final)`` on every change (``final`` False
    while a drag is in progress, True when it ends or for one-off edits); ``joint_selected(int)``."""

    pose_changed = Signal(bool)
    joint_selected = Signal(int)
    files_dropped = Signal(list)
    mirror_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, overlay: bool = False) -> None:
        super().__init__(parent)
        self._overlay = overlay
        self._frame: QRectF | None = None  # overlay: where the photo is drawn, in this widget's coordinates
        self.edit = PoseEdit()
        self._dragging: int | None = None
        self._hover: int | None = None
        self._backdrop: QImage | None = None
        self._backdrop_caption = ""
        self._reference: QImage | None = None  # the input photo, drawn faintly so the pose can be placed on it
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleDescription(__doc__.split("Keyboard: ", 1)[1].strip())
        keys = ("Keys: ] / [ pick a joint, arrows move it, Delete hides it, Insert brings it back, M mirrors "
                "left/right, Ctrl+Z undoes.")
        if overlay:
            self.setAcceptDrops(False)  # photos dropped here go to the canvas underneath
            self.setAccessibleName("Photo pose editor")
            self.setToolTip(f"Drag each joint onto the person in the photo; the pose is saved for this file. {keys}")
        else:
            self.setAcceptDrops(True)
            self.setMinimumSize(180, 220)
            self.setAccessibleName("Target pose editor")
            self.setToolTip(f"Drag a joint to change the pose. {keys}")

    # -- pose state (kept by self.edit; each change is redrawn and announced) --------------------------------------
    def pose(self) -> np.ndarray:
        """A copy of the pose: (18, 2) float32 normalised (y, x), -1 for a missing joint."""
        return self.edit.pose.copy()

    def _changed(self, final: bool = True) -> None:
        self.update()
        self.pose_changed.emit(final)

    def set_pose(self, pose: np.ndarray, *, undoable: bool = True) -> None:
        """Replace the whole pose (library pick, reset, a photo's own pose)."""
        self.edit.set_pose(pose, undoable=undoable)
        self._backdrop = None
        self._changed()

    def aspect(self) -> float:
        return self.edit.aspect

    def set_aspect(self, aspect: float) -> None:
        """Match the frame to a new photo's aspect ratio (w/h); the pose is refitted, not stretched."""
        if self.edit.set_aspect(aspect):
            self.update()

    @property
    def mirror(self) -> bool:
        """Whether the left/right twin of a moved joint follows (set with ``set_mirror``)."""
        return self.edit.mirror

    def set_mirror(self, on: bool) -> None:
        if on != self.edit.mirror:
            self.edit.mirror = on
            self.update()
            self.mirror_changed.emit(on)

    def selected_joint(self) -> int:
        return self.edit.selected

    def select_joint(self, index: int) -> None:
        self.edit.select(index)
        self.update()
        self.joint_selected.emit(self.edit.selected)

    def is_dragging(self) -> bool:
        return self._dragging is not None

    def move_joint(self, index: int, y: float, x: float, *, final: bool = True, coalesce: bool = False) -> None:
        """Put joint ``index`` at normalised (y, x) (clamped to the frame); with ``mirror`` its twin follows.
        ``coalesce`` merges consecutive moves of one joint into a single undo step (arrow keys, scripts)."""
        self.edit.move_joint(index, y, x, coalesce=coalesce)
        self._changed(final)

    def hide_joint(self, index: int) -> None:
        """Mark a joint missing (the network then gets an empty heatmap for it)."""
        if self.edit.hide_joint(index):
            self._changed()

    def restore_joint(self, index: int) -> None:
        """Bring a missing joint back where the standing pose has it (mirrored twin's place if it has one)."""
        if self.edit.restore_joint(index):
            self._changed()

    def can_undo(self) -> bool:
        return self.edit.can_undo()

    def clear_undo(self) -> None:
        """Forget the undo and redo history (the pose now belongs to another picture)."""
        self.edit.clear_undo()

    def undo(self) -> bool:
        """Go back one pose edit (a whole drag is one edit). False when there is nothing to undo."""
        if not self.edit.undo():
            return False
        self._changed()
        return True

    def redo(self) -> bool:
        if not self.edit.redo():
            return False
        self._changed()
        return True

    # -- backdrop (a DensePose IUV target is shown instead of the skeleton) -----------------------------------------
    def set_backdrop(self, image: QImage | None, caption: str = "") -> None:
        """Show ``image`` (e.g. a DensePose IUV target) in the frame instead of the skeleton; None removes it."""
        self._backdrop = image
        self._backdrop_caption = caption
        self.update()

    def set_reference(self, image: QImage | None) -> None:
        """Draw ``image`` (the input photo, small) faintly under the mannequin; None removes it."""
        self._reference = image
        self.update()

    def has_backdrop(self) -> bool:
        return self._backdrop is not None

    def is_overlay(self) -> bool:
        return self._overlay

    def set_frame_rect(self, rect: QRectF | None) -> None:
        """Overlay: the pose frame is ``rect`` (where the photo is drawn, in this widget's coordinates); None
        goes back to a frame centred in the widget."""
        self._frame = None if rect is None else QRectF(rect)
        self.update()

    # -- geometry --------------------------------------------------------------------------------------------------
    def frame_rect(self) -> QRectF:
        """Where the pose frame is drawn in the widget (aspect kept, centred, a margin for the hint line), or
        the rectangle given with ``set_frame_rect``."""
        if self._frame is not None and self._frame.width() > 0 and self._frame.height() > 0:
            return QRectF(self._frame)
        area = QRectF(self.rect()).adjusted(8, 8, -8, -28)
        w = min(area.width(), area.height() * self.edit.aspect)
        h = w / self.edit.aspect
        rect = QRectF(0, 0, w, h)
        rect.moveCenter(area.center())
        return rect

    def joint_position(self, index: int) -> QPointF | None:
        """Widget coordinates of joint ``index`` (None when it is missing)."""
        return joint_points(self.edit.pose, self.frame_rect())[index]

    def to_normalised(self, pos: QPointF) -> tuple[float, float]:
        r = self.frame_rect()
        return (pos.y() - r.top()) / r.height(), (pos.x() - r.left()) / r.width()

    def joint_at(self, pos: QPointF) -> int | None:
        best, best_d = None, _PICK_RADIUS_PX
        for i, p in enumerate(joint_points(self.edit.pose, self.frame_rect())):
            if p is None:
                continue
            d = float(np.hypot(p.x() - pos.x(), p.y() - pos.y()))
            if d <= best_d:
                best, best_d = i, d
        return best

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(260, 380)

    # -- mouse -----------------------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._backdrop is not None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        joint = self.joint_at(event.position())
        if joint is None:
            return
        self.edit.begin_drag(joint)  # one undo step per drag, taken before the first move
        self._dragging = joint
        self.joint_selected.emit(joint)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._dragging is not None:
            y, x = self.to_normalised(event.position())
            self.move_joint(self._dragging, y, x, final=False)
            return
        hover = self.joint_at(event.position()) if self._backdrop is None else None
        if hover != self._hover:
            self._hover = hover
            self.setCursor(Qt.CursorShape.OpenHandCursor if hover is not None else Qt.CursorShape.ArrowCursor)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._dragging is not None and event.button() == Qt.MouseButton.LeftButton:
            y, x = self.to_normalised(event.position())
            joint, self._dragging = self._dragging, None
            self.move_joint(joint, y, x, final=True)

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt API
        """Right-click: hide the joint under the mouse, bring back a missing one, undo/redo, mirroring."""
        if self._backdrop is not None:
            return
        menu = QMenu(self)
        joint = self.joint_at(QPointF(event.pos()))
        if joint is not None:
            menu.addAction(f"Hide the {joint_label(joint)}", lambda j=joint: self.hide_joint(j))
        missing = self.edit.missing_joints()
        if missing:
            sub = menu.addMenu("Show a hidden joint")
            for i in missing:
                sub.addAction(joint_label(i).capitalize(), lambda j=i: self.restore_joint(j))
        menu.addSeparator()
        menu.addAction("Undo pose change", self.undo).setEnabled(self.can_undo())
        menu.addAction("Redo pose change", self.redo).setEnabled(self.edit.can_redo())
        mirror = menu.addAction("Mirror left and right while dragging")
        mirror.setCheckable(True)
        mirror.setChecked(self.mirror)
        mirror.toggled.connect(self.set_mirror)
        menu.exec(event.globalPos())

    # -- keyboard --------------------------------------------------------------------------------------------------
    def event(self, event) -> bool:  # noqa: A003 - Qt API
        # Claim Ctrl+Z / Ctrl+Shift+Z while the editor has focus, so they undo pose edits here rather than the
        # window's Edit > Undo (which undoes the input photo).
        if event.type() == event.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if event.matches(QKeySequence.StandardKey.Undo) or event.matches(QKeySequence.StandardKey.Redo):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.matches(QKeySequence.StandardKey.Undo):
            self.undo()
            return
        if event.matches(QKeySequence.StandardKey.Redo):
            self.redo()
            return
        key = event.key()
        step = 0.05 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 0.01
        moves = {Qt.Key.Key_Left: (0, -step), Qt.Key.Key_Right: (0, step),
                 Qt.Key.Key_Up: (-step, 0), Qt.Key.Key_Down: (step, 0)}
        selected = self.edit.selected
        if key in (Qt.Key.Key_BracketRight, Qt.Key.Key_N):
            self.select_joint(selected + 1)
        elif key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_P):
            self.select_joint(selected - 1)
        elif key in moves and self._backdrop is None:
            if self.edit.nudge(*moves[key]):
                self._changed()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.hide_joint(selected)
        elif key in (Qt.Key.Key_Insert, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.restore_joint(selected)
        elif key == Qt.Key.Key_M:
            self.set_mirror(not self.mirror)
        else:
            super().keyPressEvent(event)

    # -- drops (an IUV image or a pose CSV; the tab decides) -------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)

    # -- painting --------------------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = self.frame_rect()
        if self._overlay:
            self._paint_overlay(p, frame)
            p.end()
            return
        p.setPen(QPen(SELECTED if self.hasFocus() else FRAME_BORDER, 1))
        p.setBrush(FRAME_FILL)
        p.drawRoundedRect(frame, 6, 6)
        if self._backdrop is not None:
            img = self._backdrop
            fit = QRectF(0, 0, img.width(), img.height())
            scale = min(frame.width() / max(1, img.width()), frame.height() / max(1, img.height()))
            fit.setSize(fit.size() * scale)
            fit.moveCenter(frame.center())
            p.drawImage(fit, img)
            self._draw_hint(p, self._backdrop_caption or "DensePose IUV target")
            p.end()
            return
        if self._reference is not None:
            p.save()
            p.setOpacity(0.22)
            p.drawImage(frame, self._reference)
            p.restore()
        draw_silhouette(p, self.edit.pose, frame)
        self._draw_skeleton(p, frame)
        if self._hover is not None and self._dragging is None:
            hint = f"{joint_label(self._hover).capitalize()}: drag to move, right-click to hide"
        else:
            hint = f"{'Mirror on · ' if self.mirror else ''}Selected: {self._selected_name()}"
        self._draw_hint(p, hint)
        p.end()

    def _paint_overlay(self, p: QPainter, frame: QRectF) -> None:
        """Over a photo: the skeleton with a dark outline, and the hint on a light strip at the bottom."""
        self._draw_skeleton(p, frame, outline=True)
        if self._hover is not None and self._dragging is None:
            hint = f"{joint_label(self._hover).capitalize()}: drag it onto the person's {joint_label(self._hover)}"
        else:
            hint = f"Photo's pose · selected: {self._selected_name()}"
        draw_hint(p, QRectF(self.rect()).adjusted(12, self.height() - 34, -12, -12), hint, self.font(), panel=True)

    def _selected_name(self) -> str:
        name = joint_label(self.edit.selected)
        return name + _HIDDEN_NOTE if self.edit.is_missing(self.edit.selected) else name

    def _draw_hint(self, p: QPainter, text: str) -> None:
        draw_hint(p, QRectF(self.rect()).adjusted(8, self.height() - 24, -8, -4), text, self.font())

    def _draw_skeleton(self, p: QPainter, frame: QRectF, outline: bool = False) -> None:
        draw_skeleton(p, self.edit.pose, frame, selected=self.edit.selected, enlarged=(self._hover, self._dragging),
                      outline=outline)
