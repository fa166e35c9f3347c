"""ImageCanvas: shows one picture scaled to fit, takes dropped files and images, shows placeholder and errors."""

from __future__ import annotations


from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor, QDragEnterEvent, QDragLeaveEvent, QDropEvent, QFont, QImage, QPainter, QPaintEvent, QPen, QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

BORDER = QColor("#cfd3da")
BORDER_HOVER = QColor("#3b6fd8")
BACKGROUND = QColor("#ffffff")
PLACEHOLDER_TEXT = QColor("#8a9099")
ERROR_TEXT = QColor("#b3261e")


def pil_to_qimage(img: Image.Image) -> QImage:
    """An RGB copy of ``img`` as a QImage that owns its pixels."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    data = rgb.tobytes()
    qimg = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimg.copy()  # detach from ``data``, which Python may free


def qimage_to_png_bytes(qimg: QImage) -> bytes:
    """Encode a QImage (e.g. from the clipboard) as PNG so it goes through the one image loader."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    qimg.save(buffer, "PNG")
    buffer.close()
    return bytes(array.data())


class ImageCanvas(QWidget):
    """A picture area. Emits ``files_dropped(list[str])`` and ``image_dropped(QImage)``; loading is the tab's job."""

    files_dropped = Signal(list)
    image_dropped = Signal(QImage)

    def __init__(self, placeholder: str = "Drop a photo here", *, accept_drops: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._placeholder = placeholder
        self._image: Image.Image | None = None
        self._pixmap: QPixmap | None = None
        self._error: str | None = None
        self._busy: str | None = None
        self._hover = False
        self.setAcceptDrops(accept_drops)
        self.setMinimumSize(220, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # -- state ----------------------------------------------------------------------------------------------------
    def image(self) -> Image.Image | None:
        """The PIL image shown (None when empty)."""
        return self._image

    def has_image(self) -> bool:
        return self._image is not None

    def set_image(self, img: Image.Image | None) -> None:
        """Show ``img`` (None clears); clears any error."""
        self._image = img
        self._pixmap = QPixmap.fromImage(pil_to_qimage(img)) if img is not None else None
        self._error = None
        self.update()

    def clear(self) -> None:
        self.set_image(None)

    def set_error(self, message: str | None) -> None:
        """Show ``message`` over the canvas (None removes it); the image, if any, stays."""
        self._error = message
        self.update()

    def error_text(self) -> str | None:
        return self._error

    def set_busy(self, text: str | None) -> None:
        """Show a short "working" note (e.g. "Loading…"), or remove it with None."""
        self._busy = text
        self.update()

    def placeholder(self) -> str:
        return self._placeholder

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(420, 480)

    # -- drag and drop --------------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        mime = event.mimeData()
        if any(u.isLocalFile() for u in mime.urls()) or mime.hasImage():
            self._hover = True
            self.update()
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802
        self._hover = False
        self.update()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self._hover = False
        self.update()
        mime = event.mimeData()
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.files_dropped.emit(paths)
        elif mime.hasImage():
            event.acceptProposedAction()
            self.image_dropped.emit(QImage(mime.imageData()))
        else:
            event.ignore()

    # -- painting -------------------------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        frame = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        p.setBrush(BACKGROUND)
        pen = QPen(BORDER_HOVER if self._hover else BORDER, 2 if self._hover else 1)
        if self._pixmap is None:
            pen.setStyle(Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRoundedRect(frame, 8, 8)

        inner = frame.adjusted(10, 10, -10, -10)
        if self._pixmap is not None:
            size = self._pixmap.size().scaled(inner.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRectF(0, 0, size.width(), size.height())
            target.moveCenter(inner.center())
            p.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        elif not self._error and not self._busy:
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.25)
            p.setFont(font)
            p.setPen(PLACEHOLDER_TEXT)
            p.drawText(inner, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._placeholder)

        note, colour = (self._error, ERROR_TEXT) if self._error else (self._busy, PLACEHOLDER_TEXT)
        if note:
            p.setFont(self.font())
            box = inner.adjusted(12, 0, -12, 0)
            metrics = p.fontMetrics()
            bound = metrics.boundingRect(box.toRect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), note)
            panel = QRectF(bound).adjusted(-12, -8, 12, 8)
            if self._pixmap is not None:
                panel.moveBottom(inner.bottom() - 8)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(255, 255, 255, 235))
            p.drawRoundedRect(panel, 6, 6)
            p.setPen(colour)
            p.drawText(panel, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, note)
        p.end()
