"""PoseEditor: the target-pose skeleton editor of the Pose tab.

The 18 joints (COCO/OpenPose order) are drawn as a coloured skeleton over a faint mannequin silhouette built from
the same joints, inside a frame with the source photo's aspect ratio. Joints are dragged with the mouse; with
mirroring on, the left/right twin of the dragged joint follows, reflected about the neck's vertical line. The
editor keeps its own undo stack (Ctrl+Z / Ctrl+Shift+Z while it has focus).

The pose is normalised (y, x) in [0, 1] of the frame, -1 for a missing joint (see core.pose_transfer).

With ``overlay=True`` the same editor marks the pose of the person in a photo: it is laid over the input canvas
(transparent, no frame or mannequin), its frame is the rectangle where the canvas draws the photo
(``set_frame_rect``), and the skeleton gets a dark outline so it reads on any picture.

Keyboard: ] or N / [ or P select the next / previous joint, arrow keys move it (Shift: five times further),
Delete hides it (marks it missing), Insert or Enter puts a missing joint back, M toggles mirroring.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor, QFont, QImage, QKeyEvent, QKeySequence, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QMenu, QSizePolicy, QWidget

from fashionstudio.core.pose_transfer import default_target_pose, refit_pose
from fashionstudio.core.poses import FLIP_PERMUTATION, KEYPOINT_NAMES, LIMB_COLOURS, LIMBS, NUM_KEYPOINTS

MISSING = -1.0
_UNDO_LIMIT = 100
_PICK_RADIUS_PX = 14.0
_SILHOUETTE = QColor(120, 128, 140, 40)
_FRAME_FILL = QColor("#fbfbfc")
_FRAME_BORDER = QColor("#cfd3da")
_TEXT = QColor("#6b717b")
_SELECTED = QColor("#3b6fd8")
_OUTLINE = QColor(20, 22, 28, 170)
_HINT_PANEL = QColor(255, 255, 255, 225)


def joint_label(index: int) -> str:
    """'left elbow' for KEYPOINT_NAMES' 'left_elbow'."""
    return KEYPOINT_NAMES[index].replace("_", " ")


def _joint_colour(index: int) -> QColor:
    # The colour of the limb that ends at this joint, so a joint matches the bone leading to it.
    for (a, b), rgb in zip(LIMBS, LIMB_COLOURS):
        if b == index:
            return QColor(*rgb)
    return QColor(*LIMB_COLOURS[0])


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
        self._aspect = 176 / 256
        self._pose = default_target_pose(self._aspect)
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._selected = 1  # the neck: a joint every pose has, in the middle of the figure
        self._dragging: int | None = None
        self._hover: int | None = None
        self._coalesce: int | None = None  # joint whose keyboard/scripted moves merge into one undo step
        self._backdrop: QImage | None = None
        self._backdrop_caption = ""
        self._reference: QImage | None = None  # the input photo, drawn faintly so the pose can be placed on it
        self.mirror = False
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

    # -- pose state ------------------------------------------------------------------------------------------------
    def pose(self) -> np.ndarray:
        """A copy of the pose: (18, 2) float32 normalised (y, x), -1 for a missing joint."""
        return self._pose.copy()

    def set_pose(self, pose: np.ndarray, *, undoable: bool = True) -> None:
        """Replace the whole pose (library pick, reset, a photo's own pose)."""
        pose = np.asarray(pose, dtype=np.float32).reshape(NUM_KEYPOINTS, 2).copy()
        if undoable:
            self._push_undo()
        self._pose = pose
        self._backdrop = None
        self.update()
        self.pose_changed.emit(True)

    def aspect(self) -> float:
        return self._aspect

    def set_aspect(self, aspect: float) -> None:
        """Match the frame to a new photo's aspect ratio (w/h); the pose is refitted, not stretched."""
        if aspect <= 0 or abs(aspect - self._aspect) < 1e-6:
            return
        self._pose = refit_pose(self._pose, self._aspect, aspect)
        self._undo = [refit_pose(p, self._aspect, aspect) for p in self._undo]
        self._redo = [refit_pose(p, self._aspect, aspect) for p in self._redo]
        self._aspect = aspect
        self.update()

    def selected_joint(self) -> int:
        return self._selected

    def select_joint(self, index: int) -> None:
        self._selected = int(index) % NUM_KEYPOINTS
        self._coalesce = None
        self.update()
        self.joint_selected.emit(self._selected)

    def is_dragging(self) -> bool:
        return self._dragging is not None

    def move_joint(self, index: int, y: float, x: float, *, final: bool = True, coalesce: bool = False) -> None:
        """Put joint ``index`` at normalised (y, x) (clamped to the frame); with ``mirror`` its twin follows.
        ``coalesce`` merges consecutive moves of one joint into a single undo step (arrow keys, scripts)."""
        index = int(index)
        if not 0 <= index < NUM_KEYPOINTS:
            raise IndexError(f"joint index must be 0..17, got {index}")
        if coalesce:
            if self._coalesce != index:
                self._push_undo()
                self._coalesce = index
        y = float(np.clip(y, 0.0, 1.0))
        x = float(np.clip(x, 0.0, 1.0))
        self._pose[index] = (y, x)
        if self.mirror:
            self._mirror_twin(index)
        self.update()
        self.pose_changed.emit(final)

    def _mirror_twin(self, index: int) -> None:
        twin = FLIP_PERMUTATION[index]
        if twin == index:
            return
        axis = self._pose[1, 1] if self._pose[1, 1] >= 0 else 0.5  # the neck's vertical line, else the middle
        y, x = self._pose[index]
        self._pose[twin] = (y, float(np.clip(2 * axis - x, 0.0, 1.0)))

    def hide_joint(self, index: int) -> None:
        """Mark a joint missing (the network then gets an empty heatmap for it)."""
        if self._pose[index, 0] < 0:
            return
        self._push_undo()
        self._pose[index] = (MISSING, MISSING)
        self.update()
        self.pose_changed.emit(True)

    def restore_joint(self, index: int) -> None:
        """Bring a missing joint back where the standing pose has it (mirrored twin's place if it has one)."""
        if self._pose[index, 0] >= 0:
            return
        self._push_undo()
        twin = FLIP_PERMUTATION[index]
        axis = self._pose[1, 1] if self._pose[1, 1] >= 0 else 0.5
        if twin != index and self._pose[twin, 0] >= 0:
            self._pose[index] = (self._pose[twin, 0], np.clip(2 * axis - self._pose[twin, 1], 0, 1))
        else:
            self._pose[index] = default_target_pose(self._aspect)[index]
        self.update()
        self.pose_changed.emit(True)

    # -- undo ------------------------------------------------------------------------------------------------------
    def _push_undo(self) -> None:
        self._undo.append(self._pose.copy())
        del self._undo[:-_UNDO_LIMIT]
        self._redo.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def clear_undo(self) -> None:
        """Forget the undo and redo history (the pose now belongs to another picture)."""
        self._undo.clear()
        self._redo.clear()
        self._coalesce = None

    def undo(self) -> bool:
        """Go back one pose edit (a whole drag is one edit). False when there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(self._pose.copy())
        self._pose = self._undo.pop()
        self._coalesce = None
        self.update()
        self.pose_changed.emit(True)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(self._pose.copy())
        self._pose = self._redo.pop()
        self._coalesce = None
        self.update()
        self.pose_changed.emit(True)
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
        w = min(area.width(), area.height() * self._aspect)
        h = w / self._aspect
        rect = QRectF(0, 0, w, h)
        rect.moveCenter(area.center())
        return rect

    def joint_position(self, index: int) -> QPointF | None:
        """Widget coordinates of joint ``index`` (None when it is missing)."""
        y, x = self._pose[index]
        if y < 0 or x < 0:
            return None
        r = self.frame_rect()
        return QPointF(r.left() + x * r.width(), r.top() + y * r.height())

    def to_normalised(self, pos: QPointF) -> tuple[float, float]:
        r = self.frame_rect()
        return (pos.y() - r.top()) / r.height(), (pos.x() - r.left()) / r.width()

    def joint_at(self, pos: QPointF) -> int | None:
        best, best_d = None, _PICK_RADIUS_PX
        for i in range(NUM_KEYPOINTS):
            p = self.joint_position(i)
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
        self._push_undo()  # one undo step per drag, taken before the first move
        self._coalesce = None
        self._dragging = joint
        self._selected = joint
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
        missing = [i for i in range(NUM_KEYPOINTS) if self._pose[i, 0] < 0]
        if missing:
            sub = menu.addMenu("Show a hidden joint")
            for i in missing:
                sub.addAction(joint_label(i).capitalize(), lambda j=i: self.restore_joint(j))
        menu.addSeparator()
        menu.addAction("Undo pose change", self.undo).setEnabled(self.can_undo())
        menu.addAction("Redo pose change", self.redo).setEnabled(bool(self._redo))
        mirror = menu.addAction("Mirror left and right while dragging")
        mirror.setCheckable(True)
        mirror.setChecked(self.mirror)
        mirror.toggled.connect(self.set_mirror)
        menu.exec(event.globalPos())

    def set_mirror(self, on: bool) -> None:
        if on != self.mirror:
            self.mirror = on
            self.update()
            self.mirror_changed.emit(on)

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
        if key in (Qt.Key.Key_BracketRight, Qt.Key.Key_N):
            self.select_joint(self._selected + 1)
        elif key in (Qt.Key.Key_BracketLeft, Qt.Key.Key_P):
            self.select_joint(self._selected - 1)
        elif key in moves and self._backdrop is None:
            y, x = self._pose[self._selected]
            if y >= 0:
                dy, dx = moves[key]
                self.move_joint(self._selected, y + dy, x + dx, coalesce=True)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.hide_joint(self._selected)
        elif key in (Qt.Key.Key_Insert, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.restore_joint(self._selected)
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
        p.setPen(QPen(_SELECTED if self.hasFocus() else _FRAME_BORDER, 1))
        p.setBrush(_FRAME_FILL)
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
        self._draw_silhouette(p, frame)
        self._draw_skeleton(p, frame)
        if self._hover is not None and self._dragging is None:
            hint = f"{joint_label(self._hover).capitalize()}: drag to move, right-click to hide"
        else:
            name = joint_label(self._selected)
            if self._pose[self._selected, 0] < 0:
                name += " (hidden: Insert or right-click brings it back)"
            hint = f"{'Mirror on · ' if self.mirror else ''}Selected: {name}"
        self._draw_hint(p, hint)
        p.end()

    def _paint_overlay(self, p: QPainter, frame: QRectF) -> None:
        """Over a photo: the skeleton with a dark outline, and the hint on a light strip at the bottom."""
        self._draw_skeleton(p, frame, outline=True)
        if self._hover is not None and self._dragging is None:
            hint = f"{joint_label(self._hover).capitalize()}: drag it onto the person's {joint_label(self._hover)}"
        else:
            name = joint_label(self._selected)
            if self._pose[self._selected, 0] < 0:
                name += " (hidden: Insert or right-click brings it back)"
            hint = f"Photo's pose · selected: {name}"
        box = QRectF(self.rect()).adjusted(12, self.height() - 34, -12, -12)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(_HINT_PANEL)
        p.drawRoundedRect(box, 5, 5)
        p.setPen(_TEXT)
        p.setFont(QFont(self.font()))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter,
                   p.fontMetrics().elidedText(hint, Qt.TextElideMode.ElideRight, int(box.width()) - 8))

    def _draw_hint(self, p: QPainter, text: str) -> None:
        p.setPen(_TEXT)
        font = QFont(self.font())
        p.setFont(font)
        box = QRectF(self.rect()).adjusted(8, self.height() - 24, -8, -4)
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                                                 int(box.width())))

    def _point(self, i: int, frame: QRectF) -> QPointF | None:
        y, x = self._pose[i]
        if y < 0 or x < 0:
            return None
        return QPointF(frame.left() + x * frame.width(), frame.top() + y * frame.height())

    def _draw_silhouette(self, p: QPainter, frame: QRectF) -> None:
        """A faint mannequin from the joints: thick rounded limbs, a torso and a head, one translucent fill."""
        pts = [self._point(i, frame) for i in range(NUM_KEYPOINTS)]
        thick = frame.height() * 0.07
        path = QPainterPath()
        torso = [pts[i] for i in (2, 5, 11, 8) if pts[i] is not None]
        if len(torso) >= 3:
            path.addPolygon(QPolygonF(torso))
            path.closeSubpath()
        outline = QPainterPath()
        for a, b in LIMBS:
            if pts[a] is not None and pts[b] is not None and a not in (14, 15, 16, 17) and b not in (14, 15, 16, 17):
                outline.moveTo(pts[a])
                outline.lineTo(pts[b])
        if pts[0] is not None:
            head = thick * 1.15
            path.addEllipse(pts[0], head, head * 1.2)
        p.setPen(QPen(_SILHOUETTE, thick, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                      Qt.PenJoinStyle.RoundJoin))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(outline)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(_SILHOUETTE)
        p.drawPath(path)

    def _draw_skeleton(self, p: QPainter, frame: QRectF, outline: bool = False) -> None:
        pts = [self._point(i, frame) for i in range(NUM_KEYPOINTS)]
        width = max(2.0, frame.height() / 110)
        if outline:  # a dark casing under the coloured bones, so yellow on a light dress still shows
            p.setPen(QPen(_OUTLINE, width + 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            for a, b in LIMBS:
                if pts[a] is not None and pts[b] is not None:
                    p.drawLine(pts[a], pts[b])
        for (a, b), rgb in zip(LIMBS, LIMB_COLOURS):
            if pts[a] is not None and pts[b] is not None:
                p.setPen(QPen(QColor(*rgb), width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
                p.drawLine(pts[a], pts[b])
        radius = max(4.0, frame.height() / 80)
        for i, pt in enumerate(pts):
            if pt is None:
                continue
            selected = i == self._selected
            r = radius * (1.45 if selected or i == self._hover or i == self._dragging else 1.0)
            rim = _SELECTED if selected else (_OUTLINE if outline else QColor(255, 255, 255))
            p.setPen(QPen(rim, 2.5 if selected else 1.5))
            p.setBrush(_joint_colour(i))
            p.drawEllipse(pt, r, r)
