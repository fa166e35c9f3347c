"""The "Sharpen x4" option of a tool tab: a check box, and the sharpened copy of the tab's result.

The result canvas first shows the generator's own picture (model resolution), so dragging a slider or a joint
stays live. When results stop changing for :data:`SETTLE_MS`, the shown picture is sharpened on a worker thread
(never the GUI thread) and replaces it, if it is still the one shown. The upscaler is the model manager's
``upscale`` key (``resources/models/upscale.safetensors``); when it is missing or unusable the box is disabled,
the tab keeps working at model resolution and the status bar gets one sentence saying why.
"""

from __future__ import annotations

import logging
from typing import Any

from PIL import Image
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QCheckBox

from fashionstudio.core.upscale import UPSCALE_TOOL, SharpenError, Sharpener, missing_sentence, not_a_sharpener
from fashionstudio.gui.workers import LatestWinsWorker

log = logging.getLogger(__name__)
SETTLE_MS = 150  # no new result for this long = the input has settled (a drag sends one every few tens of ms)
_REMEMBERED = 24  # sharpened pictures whose origin is kept: more than the tab's undo history holds


class SharpenHelper(QObject):
    """Per tab: owns the check box, the settle timer and the sharpening worker."""

    sharpened = Signal(float)  # the result canvas now shows a sharpened picture; milliseconds it took
    unavailable = Signal(str)  # the sentence for the status bar

    def __init__(self, tab: Any, manager: Any) -> None:
        super().__init__(tab)
        self.tab, self.manager = tab, manager
        self.sharpener: Sharpener | None = None
        self.message = ""
        # id(sharpened) -> (sharpened, the model-resolution picture it came from), newest last: a picture brought
        # back by undo is still known as sharpened (for its provenance and for unticking the box).
        self._made: dict[int, tuple[Image.Image, Image.Image]] = {}
        self.check = QCheckBox("Sharpen x4")
        self.check.setObjectName("sharpenCheck")
        self.check.setChecked(True)
        self.check.setEnabled(False)
        self.check.setToolTip("Shows and exports the result four times larger, cleaned by the sharpening model.")
        self.check.toggled.connect(self._on_toggled)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SETTLE_MS)
        self.timer.timeout.connect(self._submit)
        self.worker = LatestWinsWorker(self)
        self.worker.result_ready.connect(self._on_sharpened)
        self.worker.failed.connect(lambda _id, message: self._give_up(message))
        manager.ready.connect(self._on_ready)
        manager.failed.connect(lambda key, message: key == UPSCALE_TOOL and self._give_up(
            f"Sharpen x4 is off: the sharpening model could not be used ({message.rstrip('.')}); results stay "
            "at the model's own size."))
        manager.no_model.connect(lambda key: key == UPSCALE_TOOL and self._give_up(missing_sentence()))
        manager.unloaded.connect(lambda key: key == UPSCALE_TOOL and self._set_sharpener(None))

    # -- the model ------------------------------------------------------------------------------------------------
    def ensure(self) -> None:
        """Load the upscaler (once; the manager shares it between tabs)."""
        if self.sharpener is None and not self.message:
            self.manager.ensure(UPSCALE_TOOL)

    def _on_ready(self, key: str, model: Any) -> None:
        if key != UPSCALE_TOOL:
            return
        refusal = not_a_sharpener(model)
        if refusal:
            self._give_up(refusal)
            return
        self.message = ""
        self._set_sharpener(Sharpener(model))
        self.check.setToolTip(f"Shows and exports the result {self.sharpener.scale} times larger, cleaned by "
                              f"{model.name}.")
        self.schedule()

    def _set_sharpener(self, sharpener: Sharpener | None) -> None:
        self.sharpener = sharpener
        self.check.setEnabled(sharpener is not None)

    def _give_up(self, sentence: str) -> None:
        """The upscaler cannot be used: show the model-resolution result and say so once."""
        self._restore_base()
        self._set_sharpener(None)
        self.check.setToolTip(sentence)
        if sentence != self.message:
            self.message = sentence
            self.unavailable.emit(sentence)

    def is_on(self) -> bool:
        return self.sharpener is not None and self.check.isChecked()

    # -- the result -----------------------------------------------------------------------------------------------
    def _origin(self) -> Image.Image | None:
        """The model-resolution picture behind the shown one when the shown one is a sharpened picture."""
        shown = self.tab.result_canvas.image()
        entry = self._made.get(id(shown)) if shown is not None else None
        return entry[1] if entry is not None and entry[0] is shown else None

    def shows_sharpened(self) -> bool:
        return self._origin() is not None

    def on_result_changed(self) -> None:
        """A new (model-resolution) result is on the canvas: sharpen it once results settle."""
        self.schedule()

    def schedule(self) -> None:
        if self.is_on() and self.tab.result_canvas.image() is not None and not self.shows_sharpened():
            self.timer.start()

    def _submit(self) -> None:
        base, sharpener = self.tab.result_canvas.image(), self.sharpener
        if base is None or sharpener is None or not self.is_on() or self.shows_sharpened():
            return
        self.worker.submit(lambda: (base, sharpener.sharpen(base)),
                           tune_key=getattr(sharpener.model, "sha256", None))

    def _on_sharpened(self, _request_id: int, result: tuple[Image.Image, Image.Image], elapsed_ms: float) -> None:
        base, sharp = result
        if not self.is_on() or self.tab.result_canvas.image() is not base:
            return  # the result moved on (or the box was unticked) while this one was sharpened
        self._made[id(sharp)] = (sharp, base)
        while len(self._made) > _REMEMBERED:
            del self._made[next(iter(self._made))]
        self.tab.result_canvas.set_image(sharp)
        self.sharpened.emit(elapsed_ms)

    def _restore_base(self) -> None:
        base = self._origin()
        if base is not None:
            self.tab.result_canvas.set_image(base)

    def _on_toggled(self, on: bool) -> None:
        if on:
            self.schedule()
        else:
            self.timer.stop()
            self.worker.cancel_pending()
            self._restore_base()

    # -- export ---------------------------------------------------------------------------------------------------
    def provenance(self) -> dict[str, Any]:
        """The export's record of sharpening: the upscaler and the size it started from, or why there was none."""
        base = self._origin()
        if base is not None and self.sharpener is not None:
            return {"upscaler": {**self.sharpener.provenance(), "from_size": list(base.size)}}
        reason = ("off" if self.sharpener is not None and not self.check.isChecked()
                  else "pending" if self.sharpener is not None else "unavailable")
        return {"upscaler": None, "upscaler_note": reason}

    def shutdown(self, timeout_s: float = 10.0) -> None:
        self.timer.stop()
        self.worker.shutdown(timeout_s)


__all__ = ["SETTLE_MS", "SharpenError", "SharpenHelper"]
