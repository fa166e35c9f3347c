"""The model manager: loads model files off the GUI thread, keeps them within a memory budget, tells the tabs.

Keys are tool names ("pose", "extract", "match", "generate"), or any string a test or plug-in chooses. Each key
has at most one loaded model. Signals (all emitted on the GUI thread):

- ``loading(key)``                  a load started
- ``ready(key, LoadedModel)``       the model is loaded and on the device
- ``failed(key, message)``          the load failed; ``message`` is a sentence for the user
- ``no_model(key)``                 there is no model file for this key yet (no demo model, none opened)
- ``unloaded(key)``                 evicted to respect the memory budget (reloaded by ``ensure`` on next use)
- ``device_changed(description, reason)``
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from fashionstudio.core import registry
from fashionstudio.core.default_models import MODEL_SUFFIX, default_model_path, model_search_dirs  # noqa: F401
from fashionstudio.gui.workers import error_sentence, run_in_background

log = logging.getLogger(__name__)

NO_MODEL_MESSAGE = "No model loaded: open a model file (File > Open model...)"
DEFAULT_BUDGET_BYTES = 2 * 1024**3


class ModelManager(QObject):
    """Loads, caches (LRU within ``budget_bytes``) and serves the models of the tool tabs."""

    loading = Signal(str)
    ready = Signal(str, object)
    failed = Signal(str, str)
    no_model = Signal(str)
    unloaded = Signal(str)
    device_changed = Signal(str, str)

    _device_from_thread = Signal(str, str)

    def __init__(self, device_preference: str = "auto", budget_bytes: int = DEFAULT_BUDGET_BYTES,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.budget_bytes = int(budget_bytes)
        self._preference = device_preference or "auto"
        self._device: Any = None
        self._device_description: str | None = None
        self._device_reason: str | None = None
        self._device_lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[Any, int]] = OrderedDict()  # key -> (LoadedModel, nbytes); LRU first
        self._paths: dict[str, Path] = {}  # key -> the file chosen for it (user's choice beats the default)
        self._generation: dict[str, int] = {}
        self._in_flight: dict[str, Any] = {}  # key -> Future
        self._closed = False
        self._device_from_thread.connect(self._on_device_picked)

    # -- device -------------------------------------------------------------------------------------------------
    @property
    def device_preference(self) -> str:
        return self._preference

    @property
    def device_description(self) -> str | None:
        return self._device_description

    @property
    def device(self) -> Any:
        """The torch.device in use (None until picked: ``start()`` or the first load picks it)."""
        return self._device

    def start(self) -> None:
        """Pick the device in the background (this is where torch gets imported, after the window shows)."""
        run_in_background(self._resolve_device, context=self)

    def set_device_preference(self, preference: str) -> None:
        """Switch device (auto/cpu/cuda/mps): re-pick in the background and reload the loaded models there."""
        with self._device_lock:
            self._preference = preference
            self._device = None
        keys = list(self._cache)
        if keys:
            for key in keys:
                self.load(key, self._paths.get(key))
        else:
            self.start()

    def _resolve_device(self) -> Any:
        """Worker-thread side: pick the device once per preference."""
        from fashionstudio.core.devices import pick_device

        with self._device_lock:
            if self._device is None:
                try:
                    device, description, reason = pick_device(self._preference)
                except ValueError:  # a damaged setting must not leave the app without a device
                    device, description, reason = pick_device("auto")
                    reason += f" (the device setting '{self._preference}' is not valid)"
                self._device = device
                log.info("device: %s (%s)", description, reason)
                try:
                    self._device_from_thread.emit(description, reason)
                except RuntimeError:
                    pass
            return self._device

    @Slot(str, str)
    def _on_device_picked(self, description: str, reason: str) -> None:
        self._device_description, self._device_reason = description, reason
        if not self._closed:
            self.device_changed.emit(description, reason)

    # -- models -------------------------------------------------------------------------------------------------
    def model_path(self, key: str) -> Path | None:
        """The file used for ``key``: the one the user opened, else the default demo model, else None."""
        return self._paths.get(key) or default_model_path(key)

    def get(self, key: str) -> Any:
        """The loaded model of ``key`` (marked most recently used), or None."""
        entry = self._cache.get(key)
        if entry is None:
            return None
        self._cache.move_to_end(key)
        return entry[0]

    def is_loading(self, key: str) -> bool:
        return key in self._in_flight

    def is_idle(self) -> bool:
        """No load in flight and the device known."""
        return not self._in_flight and self._device_description is not None

    def loaded_keys(self) -> list[str]:
        """Loaded keys, least recently used first."""
        return list(self._cache)

    def total_bytes(self) -> int:
        return sum(n for _, n in self._cache.values())

    def ensure(self, key: str) -> None:
        """Make sure ``key`` has a model: ready again if cached, load if known, else ``no_model``."""
        if key in self._cache:
            self._cache.move_to_end(key)
            self.ready.emit(key, self._cache[key][0])
            return
        if key in self._in_flight:
            return
        path = self.model_path(key)
        if path is None:
            self.no_model.emit(key)
            return
        self.load(key, path)

    def load(self, key: str, path: str | os.PathLike | None = None) -> None:
        """Load ``path`` (default: ``model_path(key)``) for ``key`` in the background; a newer load supersedes."""
        if self._closed:
            return
        path = Path(path) if path is not None else self.model_path(key)
        if path is None:
            self.no_model.emit(key)
            return
        self._paths[key] = path
        generation = self._generation.get(key, 0) + 1
        self._generation[key] = generation

        def job() -> tuple[Any, int]:
            from fashionstudio.core.modelfile import ModelFileError, load_model_file, read_model_info

            meta = read_model_info(path)
            mismatch = registry.tool_family_error(key, meta["family"], path.name)
            if mismatch:
                raise ModelFileError(mismatch)
            device = self._resolve_device()
            model = load_model_file(path, device=device)
            return model, model.nbytes()

        def done(result: tuple[Any, int]) -> None:
            if self._generation.get(key) != generation or self._closed:
                return  # superseded by a newer load of the same key
            self._in_flight.pop(key, None)
            model, nbytes = result
            self._cache[key] = (model, nbytes)
            self._cache.move_to_end(key)
            self._evict_beyond_budget(keep=key)
            log.info("loaded %s for %s (%.1f MB)", path, key, nbytes / 1e6)
            self.ready.emit(key, model)

        def fail(exc: BaseException) -> None:
            if self._generation.get(key) != generation or self._closed:
                return
            self._in_flight.pop(key, None)
            if self._paths.get(key) == path:
                # Do not retry a file that failed: back to the model still in use, else the default model.
                in_use = self._cache.get(key)
                if in_use is not None:
                    self._paths[key] = in_use[0].path
                else:
                    del self._paths[key]
            from fashionstudio.core.modelfile import ModelFileError

            log.warning("could not load %s for %s: %s", path, key, exc,
                        exc_info=None if isinstance(exc, ModelFileError) else exc)
            self.failed.emit(key, error_sentence(exc))

        self.loading.emit(key)
        self._in_flight[key] = run_in_background(job, done, fail, context=self)

    def unload(self, key: str) -> None:
        """Drop ``key``'s model from the cache (the memory returns once no tab holds a reference)."""
        if self._cache.pop(key, None) is not None:
            self._free_device_memory()
            self.unloaded.emit(key)

    def _evict_beyond_budget(self, keep: str) -> None:
        while self.total_bytes() > self.budget_bytes and len(self._cache) > 1:
            oldest = next(k for k in self._cache if k != keep)
            log.info("unloading %s to stay within the %.0f MB model budget", oldest, self.budget_bytes / 1e6)
            self.unload(oldest)

    def _free_device_memory(self) -> None:
        import sys

        torch = sys.modules.get("torch")
        if torch is not None and self._device is not None and getattr(self._device, "type", "") == "cuda":
            torch.cuda.empty_cache()

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop reporting and wait (up to ``timeout_s`` in total) for loads in flight, so the app exits cleanly."""
        import time

        self._closed = True
        deadline = time.monotonic() + timeout_s
        for future in list(self._in_flight.values()):
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                pass
        self._in_flight.clear()
