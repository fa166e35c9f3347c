"""ImageCanvas: shows one picture scaled to fit, takes dropped files and images, shows placeholder and errors."""

from __future__ import annotations


from PIL import Image
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor, QDragEnterEvent, QDragLeaveEvent, QDropEvent, QFont, QImage, QPainter, QPaintEvent, QPen, QPixmap,
)
from PySide6.QtWidgets import QPushButton, QSizePolicy, QWidget

BORDER = QColor("#cfd3da")
BORDER_HOVER = QColor("#3b6fd8")
BACKGROUND = QColor("#ffffff")
PLACEHOLDER_TEXT = QColor("#8a9099")
ERROR_TEXT = QColor("#b3261e")
# Longest side of the picture a canvas keeps for painting: enough for a canvas on a 4K screen, and small enough
# that turning it into a pixmap on the GUI thread costs a few milliseconds even for a camera photo.
DISPLAY_LONGEST = 2048
# Small enough that the Pose tab's four pictures fit beside the side panel at the window's minimum width.
MIN_SIDE = 112


def pil_to_qimage(img: Image.Image) -> QImage:
    """An RGB copy of ``img`` as a QImage that owns its pixels."""
    rgb = img if img.mode == "RGB" else img.convert("RGB")
    data = rgb.tobytes()
    qimg = QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return qimg.copy()  # detach from ``data``, which Python may free


def display_qimage(img: Image.Image, longest: int = DISPLAY_LONGEST) -> QImage:
    """A copy of ``img`` for painting, its longest side at most ``longest`` pixels.

    Safe on a worker thread (a QImage, not a QPixmap): the loaders build it there, so a 63-megapixel photo is
    never converted on the GUI thread. Box reduction first keeps the cost near that of one pass over the pixels.
    """
    if max(img.size) > longest:
        factor = max(1, max(img.size) // longest)  # box-reduce to at most twice the target, then resample
        small = img.reduce(factor) if factor > 1 else img
        scale = longest / max(small.size)
        if scale < 1:
            small = small.resize((max(1, round(small.width * scale)), max(1, round(small.height * scale))),
                                 Image.Resampling.BILINEAR)
        img = small
    return pil_to_qimage(img)


def qimage_to_png_bytes(qimg: QImage) -> bytes:
    """Encode a QImage (e.g. from the clipboard) as PNG so it goes through the one image loader."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    qimg.save(buffer, "PNG")
    buffer.close()
    return bytes(array.data())


class ImageCanvas(QWidget):
    """A picture area. Emits ``files_dropped(list[str])`` and ``image_dropped(QImage)``; loading is the tab's job.

    With :meth:`set_sample_offer` an empty canvas also shows a "Try a sample" link that emits ``sample_requested``.
    """

    files_dropped = Signal(list)
    image_dropped = Signal(QImage)
    sample_requested = Signal()

    def __init__(self, placeholder: str = "Drop a photo here", *, accept_drops: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._placeholder = placeholder
        self._image: Image.Image | None = None
        self._pixmap: QPixmap | None = None
        self._display: QImage | None = None
        self._error: str | None = None
        self._busy: str | None = None
        self._hover = False
        self.setAcceptDrops(accept_drops)
        self.setMinimumSize(MIN_SIDE, MIN_SIDE)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.sample_button = QPushButton(self)
        self.sample_button.setObjectName("sampleLink")
        self.sample_button.setFlat(True)
        self.sample_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.sample_button.clicked.connect(self.sample_requested)
        self.sample_button.hide()
        self._sample_offer: str | None = None

    # -- state ----------------------------------------------------------------------------------------------------
    def image(self) -> Image.Image | None:
        """The PIL image shown (None when empty)."""
        return self._image

    def has_image(self) -> bool:
        return self._image is not None

    def set_image(self, img: Image.Image | None, display: QImage | None = None) -> None:
        """Show ``img`` (None clears); clears any error. ``display`` is a ready copy for painting (see
        :func:`display_qimage`; a loader builds it off the GUI thread); without it one is made here."""
        self._image = img
        if img is None:
            self._display = None
        else:
            self._display = display if display is not None else display_qimage(img)
        self._pixmap = QPixmap.fromImage(self._display) if self._display is not None else None
        self._error = None
        self._update_sample_button()
        self.update()

    def display_image(self) -> QImage | None:
        """The bounded copy of the picture that is painted (None when empty)."""
        return self._display

    def image_rect(self) -> QRectF | None:
        """Where the picture is drawn, in the canvas's coordinates (aspect kept, centred), or None when empty."""
        if self._pixmap is None:
            return None
        inner = QRectF(self.rect()).adjusted(11, 11, -11, -11)
        size = self._pixmap.size().scaled(inner.size().toSize(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(0, 0, size.width(), size.height())
        target.moveCenter(inner.center())
        return target

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
        self._update_sample_button()
        self.update()

    def set_sample_offer(self, text: str | None) -> None:
        """Offer a sample picture on the empty canvas with a link reading ``text`` (None removes the offer)."""
        self._sample_offer = text
        self.sample_button.setText(text or "")
        self.sample_button.adjustSize()
        self._place_sample_button()
        self._update_sample_button()

    def sample_offer(self) -> str | None:
        return self._sample_offer

    def _update_sample_button(self) -> None:
        self.sample_button.setVisible(bool(self._sample_offer) and self._image is None and not self._busy)

    def _place_sample_button(self) -> None:
        # A narrow canvas gets the short wording rather than a link cut off at both ends.
        text = self._sample_offer or ""
        self.sample_button.setText(text)
        if self.sample_button.sizeHint().width() > self.width() - 12:
            self.sample_button.setText(text.split(":")[0])
        hint = self.sample_button.sizeHint()
        self.sample_button.setGeometry((self.width() - hint.width()) // 2, self.height() - hint.height() - 24,
                                       hint.width(), hint.height())

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._place_sample_button()

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
        target = self.image_rect()
        if self._pixmap is not None and target is not None:
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
