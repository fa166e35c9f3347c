"""The self-test of a tool tab (``--self-test``, Help > Self-test): load the tab's model and run one inference
through the same path a click takes, and report what happened as a dict."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEventLoop, QTimer

if TYPE_CHECKING:
    from fashionstudio.gui.tool_tab import ToolTab


def run_self_test(tab: ToolTab, timeout_s: float = 120.0) -> dict[str, Any]:
    """Load ``tab``'s model (if one exists) and run one inference through ``tab.trigger``.

    ``status`` is "ok", "no-model" or "error" (with ``message``: for a tab that refused its sample input, the
    sentence it gave the user).
    """
    manager, tool = tab.manager, tab.tool
    report: dict[str, Any] = {"tool": tool}
    path = manager.model_path(tool)
    if path is None:
        from fashionstudio.core.default_models import model_search_dirs

        folders = ", ".join(str(f) for f in model_search_dirs()) or "no folder"
        return {**report, "status": "no-model",
                "message": f"No {tab.title or tool} model was found (looked for {tool}.safetensors "
                           f"in {folders}), so nothing was tested."}
    report["model"] = str(path)
    is_mine = lambda key, *_: key == tool  # noqa: E731 (the manager serves every tab)

    def start_load() -> bool:
        if tab.model is not None:
            return False
        manager.load(tool, path)
        return True

    kind, args = wait_for(manager.ready, manager.failed, start_load, timeout_s, accept=is_mine)
    if kind == "error":
        return {**report, "status": "error", "message": args[1]}
    if tab.model is None:
        return {**report, "status": "error", "message": "the model did not load in time"}

    if tab.needs_source and tab.source_image() is None:
        tab.source_canvas.set_image(tab.sample_input())
    said: list[str] = []

    def hear(sentence: str) -> None:
        said.append(sentence)

    tab.status_message.connect(hear)
    t0 = time.perf_counter()
    try:
        kind, args = wait_for(tab.worker.result_ready, tab.worker.failed, lambda: tab.trigger() is not None,
                              timeout_s)
    finally:
        tab.status_message.disconnect(hear)
    if kind == "skipped":
        return {**report, "status": "error",
                "message": said[-1] if said else "the tab did not run on its sample input"}
    if kind == "error":
        return {**report, "status": "error", "message": args[1]}
    if kind == "timeout":
        return {**report, "status": "error", "message": "the inference did not finish in time"}
    return {**report, "status": "ok", "inference_ms": round(args[2], 1),
            "wall_ms": round((time.perf_counter() - t0) * 1000, 1)}


def wait_for(ok: Any, failed: Any, start: Callable[[], bool], timeout_s: float,
             accept: Callable[..., bool] = lambda *args: True) -> tuple[str, tuple | None]:
    """Call ``start`` and spin an event loop until ``ok`` or ``failed`` emits (with arguments ``accept`` takes) or
    ``timeout_s`` passes. Returns ("ok" | "error", the signal's arguments), ("timeout", None), or ("skipped", None)
    when ``start`` says there is nothing to wait for."""
    outcome: dict[str, tuple] = {}
    loop = QEventLoop()

    def slot_for(kind: str) -> Callable[..., None]:
        def slot(*args: Any) -> None:
            if accept(*args):
                outcome.setdefault(kind, args)
                loop.quit()
        return slot

    on_ok, on_failed = slot_for("ok"), slot_for("error")
    ok.connect(on_ok)
    failed.connect(on_failed)
    try:
        if not start():
            return "skipped", None
        if not outcome:
            QTimer.singleShot(int(timeout_s * 1000), loop.quit)
            loop.exec()
    finally:
        ok.disconnect(on_ok)
        failed.disconnect(on_failed)
    for kind in ("error", "ok"):
        if kind in outcome:
            return kind, outcome[kind]
    return "timeout", None
