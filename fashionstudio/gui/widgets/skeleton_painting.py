"""Drawing an 18-joint pose with QPainter: the coloured skeleton, the faint mannequin built from the same joints,
and the one-line hint under the frame (widgets.pose_editor paints with these)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen, QPolygonF

from fashionstudio.core.poses import LIMB_COLOURS, LIMBS, NUM_KEYPOINTS

SILHOUETTE = QColor(120, 128, 140, 40)
FRAME_FILL = QColor("#fbfbfc")
FRAME_BORDER = QColor("#cfd3da")
TEXT = QColor("#6b717b")
SELECTED = QColor("#3b6fd8")
OUTLINE = QColor(20, 22, 28, 170)
HINT_PANEL = QColor(255, 255, 255, 225)
_FACE = (14, 15, 16, 17)  # eyes and ears: the mannequin has a head there, no limbs


def joint_colour(index: int) -> QColor:
    # The colour of the limb that ends at this joint, so a joint matches the bone leading to it.
    for (a, b), rgb in zip(LIMBS, LIMB_COLOURS):
        if b == index:
            return QColor(*rgb)
    return QColor(*LIMB_COLOURS[0])


def joint_points(pose: np.ndarray, frame: QRectF) -> list[QPointF | None]:
    """Where each joint of a normalised (y, x) pose lies in ``frame`` (None for a missing joint)."""
    points: list[QPointF | None] = []
    for i in range(NUM_KEYPOINTS):
        y, x = pose[i]
        points.append(None if y < 0 or x < 0 else
                      QPointF(frame.left() + x * frame.width(), frame.top() + y * frame.height()))
    return points


def draw_silhouette(p: QPainter, pose: np.ndarray, frame: QRectF) -> None:
    """A faint mannequin from the joints: thick rounded limbs, a torso and a head, one translucent fill."""
    pts = joint_points(pose, frame)
    thick = frame.height() * 0.07
    path = QPainterPath()
    torso = [pts[i] for i in (2, 5, 11, 8) if pts[i] is not None]
    if len(torso) >= 3:
        path.addPolygon(QPolygonF(torso))
        path.closeSubpath()
    outline = QPainterPath()
    for a, b in LIMBS:
        if pts[a] is not None and pts[b] is not None and a not in _FACE and b not in _FACE:
            outline.moveTo(pts[a])
            outline.lineTo(pts[b])
    if pts[0] is not None:
        head = thick * 1.15
        path.addEllipse(pts[0], head, head * 1.2)
    p.setPen(QPen(SILHOUETTE, thick, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(outline)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(SILHOUETTE)
    p.drawPath(path)


def draw_skeleton(p: QPainter, pose: np.ndarray, frame: QRectF, *, selected: int, enlarged: tuple[int | None, ...],
                  outline: bool = False) -> None:
    """Bones in their limb colours and a dot per joint; ``selected`` gets a blue rim, it and the ``enlarged``
    joints (hovered, dragged) a larger dot. ``outline`` puts a dark casing under the bones (over a photo)."""
    pts = joint_points(pose, frame)
    width = max(2.0, frame.height() / 110)
    if outline:  # a dark casing under the coloured bones, so yellow on a light dress still shows
        p.setPen(QPen(OUTLINE, width + 2.5, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
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
        is_selected = i == selected
        r = radius * (1.45 if is_selected or i in enlarged else 1.0)
        rim = SELECTED if is_selected else (OUTLINE if outline else QColor(255, 255, 255))
        p.setPen(QPen(rim, 2.5 if is_selected else 1.5))
        p.setBrush(joint_colour(i))
        p.drawEllipse(pt, r, r)


def draw_hint(p: QPainter, box: QRectF, text: str, font: QFont, *, panel: bool = False) -> None:
    """One line of ``text`` centred in ``box``, elided to fit; ``panel`` puts a light strip behind it."""
    width = int(box.width())
    if panel:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(HINT_PANEL)
        p.drawRoundedRect(box, 5, 5)
        width -= 8
    p.setPen(TEXT)
    p.setFont(QFont(font))
    p.drawText(box, Qt.AlignmentFlag.AlignCenter, p.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight,
                                                                             width))
