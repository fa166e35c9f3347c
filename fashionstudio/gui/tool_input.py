"""ToolInput: the input picture of a tool tab and the undo history of input and result (mixed into ToolTab).

Opening (File > Open, paste, drop, the offered sample) decodes on a worker; when loads overlap, the one asked for
last wins, whichever finishes first. Each new input is undoable together with the result shown beside it.
Needs the ToolTab's ``source_canvas``, ``result_canvas``, ``worker``, signals and hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from PIL import Image
from PySide6.QtGui import QGuiApplication, QImage

from fashionstudio.core.undo import UndoStack
from fashionstudio.gui.canvas import display_qimage, qimage_to_png_bytes
from fashionstudio.gui.workers import error_sentence, run_in_background

log = logging.getLogger(__name__)
HISTORY_LIMIT = 20


class InputSnapshot(NamedTuple):
    """What undo brings back: the input (and its painting copy, its file) and the result shown with it."""

    source: Image.Image | None
    display: QImage | None
    path: Path | None
    result: Image.Image | None
    extra: Any  # a subclass's own part (ToolTab._history_extra), e.g. the Pose tab's coarse result


class ToolInput:
    """Input loading and undo for ToolTab; see the module docstring."""

    def _init_input(self) -> None:
        self.source_path: Path | None = None
        self._history: UndoStack[InputSnapshot] = UndoStack(HISTORY_LIMIT)  # no redo offered: undo pops
        self._opening = 0  # image loads in flight
        self._load_token = 0  # the newest image load; an older one finishing later is dropped (latest wins)
        self.source_canvas.files_dropped.connect(self._on_files_dropped)
        self.source_canvas.image_dropped.connect(self._on_image_dropped)
        self.source_canvas.sample_requested.connect(self.open_sample)

    # -- samples ---------------------------------------------------------------------------------------------------
    def sample_name(self) -> str | None:
        """The sample offered on the empty input now (a key of ``core.samples.SAMPLES``), or None."""
        return self.sample if self.needs_source else None

    def refresh_sample_offer(self) -> None:
        """Offer ``sample_name()`` on the empty input canvas (or nothing when it does not ship)."""
        from fashionstudio.core.resources import ResourceNotFoundError
        from fashionstudio.core.samples import SAMPLES, sample_path

        name = self.sample_name()
        try:
            offer = f"Try a sample: {SAMPLES[name]}" if name and sample_path(name) else None
        except (ResourceNotFoundError, KeyError):
            offer = None  # an installation without samples simply offers none
        self.source_canvas.set_sample_offer(offer)

    def open_sample(self) -> None:
        """Open the offered sample picture through the normal loading path."""
        from fashionstudio.core.samples import sample_path

        name = self.sample_name()
        if name:
            self.open_image(sample_path(name))

    # -- opening ---------------------------------------------------------------------------------------------------
    def open_image(self, path: str | Path) -> None:
        """Load ``path`` in the background and make it the input; errors appear on the canvas. When several loads
        overlap, the one asked for last wins, whichever finishes first."""
        from fashionstudio.core.images import load_image

        path = Path(path)
        self._start_load(f"Opening {path.name}…", lambda: load_image(path), path)

    def open_image_bytes(self, data: bytes, name: str = "the pasted image") -> None:
        from fashionstudio.core.images import load_image_bytes

        self._start_load("Opening the pasted image…", lambda: load_image_bytes(data, name), None)

    def _start_load(self, note: str, load: Callable[[], Image.Image], path: Path | None) -> None:
        self.source_canvas.set_busy(note)
        self._opening += 1
        self._load_token += 1
        token = self._load_token

        def decode() -> tuple[Image.Image, QImage]:
            img = load()
            return img, display_qimage(img)  # the display copy too, so the GUI thread only wraps a small one

        run_in_background(decode, lambda loaded: self._source_loaded(loaded, path, token),
                          lambda exc: self._source_failed(exc, token, path), context=self)

    def paste(self) -> None:
        """Take an image (or an image file) from the clipboard."""
        mime = QGuiApplication.clipboard().mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime is not None else []
        if files:
            self.open_image(files[0])
        elif mime is not None and mime.hasImage():
            self.open_image_bytes(qimage_to_png_bytes(QImage(mime.imageData())))
        else:
            self.status_message.emit("The clipboard holds no image to paste.")

    def set_source_image(self, img: Image.Image, path: Path | None = None, display: QImage | None = None) -> None:
        """Make ``img`` the input (undoable) and let the tool react; ``display`` is its ready painting copy."""
        self._push_history()
        self.source_path = path
        self.source_canvas.set_busy(None)
        self.source_canvas.set_image(img, display)
        self.result_canvas.clear()
        self._update_run_button()
        self.check_familiarity()
        self.on_source_changed()

    def source_image(self) -> Image.Image | None:
        return self.source_canvas.image()

    def _source_loaded(self, loaded: tuple[Image.Image, QImage], path: Path | None, token: int) -> None:
        self._opening -= 1
        if token != self._load_token:
            log.info("dropped an older image load (%s): a newer one was asked for", path)
            return
        img, display = loaded
        self.set_source_image(img, path, display)
        if path is not None:
            self.file_opened.emit(str(path))
            self.status_message.emit(f"Opened {path.name} ({img.width} x {img.height}).")

    def _source_failed(self, exc: BaseException, token: int, path: Path | None = None) -> None:
        self._opening -= 1
        if token != self._load_token:
            return  # a newer load is on its way; this one's error is no longer what the user asked about
        message = error_sentence(exc)
        if path is not None:
            from fashionstudio.core.folder_scan import UNREAD_FORMATS

            # An iPhone HEIC or an AVIF gets the format's name and the fix, not "not an image".
            advice = UNREAD_FORMATS.get(path.suffix.lower())
            if advice:
                message = f"'{path.name}' {advice}."
        self.source_canvas.set_busy(None)
        self.source_canvas.set_error(message)
        self.status_message.emit(message)

    def _on_files_dropped(self, paths: list[str]) -> None:
        if len(paths) > 1:
            self.status_message.emit(f"{len(paths)} files dropped: opening the first, {Path(paths[0]).name}.")
        self.open_image(paths[0])

    def _on_image_dropped(self, qimg: QImage) -> None:
        self.open_image_bytes(qimage_to_png_bytes(qimg), "the dropped image")

    # -- undo ------------------------------------------------------------------------------------------------------
    def _history_extra(self) -> Any:
        """A subclass's own part of the state undo brings back (restored by ``_restore_history_extra``)."""
        return None

    def _restore_history_extra(self, extra: Any) -> None:
        pass

    def _push_history(self) -> None:
        self._history.push(InputSnapshot(self.source_canvas.image(), self.source_canvas.display_image(),
                                         self.source_path, self.result_canvas.image(), self._history_extra()))

    def can_undo(self) -> bool:
        return self._history.can_undo()

    def undo(self) -> bool:
        """Go back to the previous input and result. Returns False when there is nothing to undo."""
        snapshot = self._history.pop()
        if snapshot is None:
            return False
        self.worker.cancel_pending()
        self.source_path = snapshot.path
        self.source_canvas.set_image(snapshot.source, snapshot.display)
        self.result_canvas.set_image(snapshot.result)
        self._restore_history_extra(snapshot.extra)
        self._update_run_button()
        self.check_familiarity()
        return True
