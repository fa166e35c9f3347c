"""SeedWalk: dragging over the Generate image, or the arrow keys, walk smoothly between neighbouring seeds.

An event filter on the result canvas that moves a :class:`~fashionstudio.core.generate_state.GenerateSession`
along the seed lattice. Signals: ``will_change()`` before a drag or a walk starts (one undo step),
``moved()`` after each new position (the tab renders it), ``arrived()`` when a walk reaches its seed.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent

from fashionstudio.core.generate_state import GenerateSession
from fashionstudio.gui.canvas import ImageCanvas

DRAG_PIXELS_PER_SEED = 140  # dragging this far over the image moves one seed
FRAME_MS = 30               # between two positions of the walk to a neighbouring seed
_KEYS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}


class SeedWalk(QObject):
    will_change = Signal()
    moved = Signal()
    arrived = Signal()

    def __init__(self, canvas: ImageCanvas, session: Callable[[], GenerateSession], enabled: Callable[[], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._canvas = canvas
        self._session = session
        self._enabled = enabled
        self._drag_origin: tuple[QPointF, float, float] | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self._step)
        canvas.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        canvas.setCursor(Qt.CursorShape.OpenHandCursor)
        canvas.setToolTip("Drag over the image or use the arrow keys to walk to neighbouring seeds")
        canvas.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if obj is not self._canvas or not self._enabled():
            return False
        et, state = event.type(), self._session().state
        if et == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent) \
                and event.button() == Qt.MouseButton.LeftButton and self._canvas.has_image():
            if state.base_ws is None:
                self.will_change.emit()
                self._drag_origin = (event.position(), state.x, state.y)
                self._canvas.setCursor(Qt.CursorShape.ClosedHandCursor)
            return True
        if et == QEvent.Type.MouseMove and self._drag_origin is not None and isinstance(event, QMouseEvent):
            origin, x0, y0 = self._drag_origin
            delta = event.position() - origin
            self.move_to(x0 - delta.x() / DRAG_PIXELS_PER_SEED, y0 - delta.y() / DRAG_PIXELS_PER_SEED)
            return True
        if et == QEvent.Type.MouseButtonRelease and self._drag_origin is not None:
            self._drag_origin = None
            self._canvas.setCursor(Qt.CursorShape.OpenHandCursor)
            return True
        if et == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) and event.key() in _KEYS:
            self.walk(*_KEYS[event.key()])
            return True
        return False

    def move_to(self, x: float, y: float) -> None:
        if self._session().move_to(x, y):
            self.moved.emit()

    def walk(self, dx: int, dy: int) -> None:
        session = self._session()
        if session.state.base_ws is not None:
            return
        if not session.walk:
            self.will_change.emit()
        session.start_walk(dx, dy)
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _step(self) -> None:
        session = self._session()
        if not session.walk_step():
            self.timer.stop()
            return
        self.moved.emit()
        if not session.walk:
            self.timer.stop()
            self.arrived.emit()
