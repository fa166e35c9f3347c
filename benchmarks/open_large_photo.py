"""How long opening a camera-sized photo holds the GUI thread: prints one JSON object.

A 63-megapixel JPEG (9720 x 6480) is opened on each image tab (Pose, Extract, Match; no model loaded, so only
loading and display run). Figures, per tab:

- ``gui_stall_ms``: the longest gap of a 5 ms QTimer heartbeat between ``open_image`` and the picture on the
  canvas (what a designer feels as a frozen window);
- ``gui_handler_ms``: the time spent in the GUI-thread handler that puts the decoded photo on the canvas;
- ``*_ratio``: both against ``decode_ms``, the worker-thread decode of the same file measured in the same run
  (the part that is allowed to take long, because it runs off the GUI thread);
- ``idle_stall_ms``: the longest heartbeat gap over one second with nothing to do (the machine's own jitter).

Usage: ``python benchmarks/open_large_photo.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FASHIONSTUDIO_TESTING", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def make_photo(path: Path) -> Path:
    """A 63 MP JPEG with detail (noise over a gradient), so decoding and scaling do real work."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (648, 972, 3), dtype=np.uint8)
    Image.fromarray(small).resize((9720, 6480), Image.Resampling.BILINEAR).save(path, quality=90)
    return path


def measure(tab, path: Path, app) -> tuple[float, float]:
    """Open ``path`` on ``tab``; return (longest heartbeat gap, GUI handler time) in ms."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def beat() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    handler_ms: list[float] = []
    original = tab._source_loaded

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        original(*args, **kwargs)
        handler_ms.append((time.perf_counter() - t0) * 1000)

    tab._source_loaded = timed
    heartbeat = QTimer()
    heartbeat.setInterval(5)
    heartbeat.timeout.connect(beat)
    tab.source_canvas.clear()
    heartbeat.start()
    tab.open_image(path)
    deadline = time.monotonic() + 60
    while not handler_ms and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.001)
    for _ in range(5):  # let the heartbeat see the paint that follows
        app.processEvents()
        time.sleep(0.006)
    heartbeat.stop()
    tab._source_loaded = original
    return max(gaps, default=0.0), handler_ms[0] if handler_ms else float("nan")


def idle_stall(app) -> float:
    """The longest 5 ms heartbeat gap over one idle second."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    clock = QElapsedTimer()
    clock.start()
    last, worst = [clock.nsecsElapsed()], [0.0]

    def beat() -> None:
        now = clock.nsecsElapsed()
        worst[0] = max(worst[0], (now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(beat)
    timer.start()
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    return worst[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from fashionstudio.core.images import load_image
    from fashionstudio.gui.app import create_app
    from fashionstudio.gui.model_manager import ModelManager
    from fashionstudio.gui.tabs.extract_tab import ExtractTab
    from fashionstudio.gui.tabs.match_tab import MatchTab
    from fashionstudio.gui.tabs.pose_tab import PoseTab

    app = create_app(["bench"])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FASHIONSTUDIO_HOME"] = str(Path(tmp) / "home")
        os.environ["FASHIONSTUDIO_MODELS"] = str(Path(tmp) / "no-models")
        photo = make_photo(Path(tmp) / "camera.jpg")
        decode = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            load_image(photo)
            decode.append((time.perf_counter() - t0) * 1000)
        decode_ms = statistics.median(decode)
        report: dict = {"photo": "9720 x 6480 JPEG (63 MP)", "decode_ms": round(decode_ms, 1),
                        "idle_stall_ms": round(idle_stall(app), 1), "tabs": {}}
        manager = ModelManager("cpu")
        for cls in (PoseTab, ExtractTab, MatchTab):
            tab = cls(manager)
            tab.resize(1200, 760)
            tab.show()
            app.processEvents()
            runs = [measure(tab, photo, app) for _ in range(args.repeats)]
            stall = statistics.median(r[0] for r in runs)
            handler = statistics.median(r[1] for r in runs)
            report["tabs"][cls.title] = {
                "gui_stall_ms": round(stall, 1), "gui_handler_ms": round(handler, 1),
                "gui_stall_ratio": round(stall / decode_ms, 3), "gui_handler_ratio": round(handler / decode_ms, 3),
            }
            tab.shutdown()
            tab.close()
        manager.shutdown()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
