"""How quickly the GUI answers the hand: prints one JSON object.

Figures (each also as a ratio against a baseline measured in the same run, because a shared machine is noisy;
latencies also as the median of per-move ratios against a baseline forward timed right after each move):

- ``launch``: subprocess start -> main window shown (offscreen), against a bare "python + PySide6 + empty
  QWidget shown" subprocess;
- ``generate_slider``: Generate tab, a semantic slider moved -> new image on the canvas and painted, median and
  p90 ms, at 64 px (``demo`` preset architecture) and 128 px (``studio``), with random weights unless
  ``resources/models/generate.safetensors`` matches; for a slider on all layers (every layer re-rendered) and
  on the fine layers (leading layers reused); against one bare ``G.synthesis`` forward of the same generator;
- ``event_loop_stall``: the longest gap of a 5 ms QTimer heartbeat while the Generate model loads (directions,
  thumbnails) and while sliders move, against the bare 64 px forward;
- ``pose_joint_drag``: Pose tab, ``set_joint`` -> refined result shown (median, p90), against one bare forward of
  the model's generators; null with a reason when the Pose tab has no ``set_joint``. ``--pose-model FILE`` (again
  for more files) drags with other pose models in the same run, as ``pose_joint_drag:<file name>``.

Usage: ``python benchmarks/ui_latency.py [--repeats 25] [--threads N] [--skip-launch] [--skip-pose]
[--pose-model FILE ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FASHIONSTUDIO_TESTING", "1")

CHILD_APP = r"""
import json, sys, time
from PySide6.QtCore import QTimer
from fashionstudio.gui.app import create_app
app = create_app([sys.argv[0]])
from fashionstudio.gui.main_window import MainWindow
w = MainWindow()
w.resize(1280, 800)
w.show()
def shown():
    print(json.dumps({"shown": time.time()}), flush=True)
    w.close()
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""

CHILD_BARE = r"""
import json, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication([sys.argv[0]])
w = QWidget()
w.resize(1280, 800)
w.show()
def shown():
    print(json.dumps({"shown": time.time()}), flush=True)
    app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


QUIET_S = 0.25  # between timed calls: longer than OpenMP's spin-wait after a parallel region


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _summary(values: list[float], base: list[float] | None = None) -> dict[str, float]:
    """Median and p90; with paired baseline samples also the median of the per-move ratios (robust to load
    that changes during the run)."""
    out = {"median_ms": round(statistics.median(values), 2), "p90_ms": round(_pct(values, 0.9), 2),
           "n": len(values)}
    if base:
        out["paired_ratio_median"] = round(statistics.median(v / b for v, b in zip(values, base)), 2)
    return out


# -- launch ---------------------------------------------------------------------------------------------------------
def _time_child(code: str, env: dict[str, str]) -> float:
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return (json.loads(line)["shown"] - t0) * 1000.0
    raise RuntimeError(f"child did not report: {out.stderr[-500:]}")


def measure_launch(repeats: int = 3) -> dict[str, Any]:
    env = dict(os.environ)
    env["FASHIONSTUDIO_HOME"] = tempfile.mkdtemp(prefix="fs-bench-home-")
    app_ms, bare_ms = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        bare_ms.append(_time_child(CHILD_BARE, env))
        app_ms.append(_time_child(CHILD_APP, env))
    app, bare = statistics.median(app_ms), statistics.median(bare_ms)
    return {"median_ms": round(app, 1), "runs_ms": [round(v, 1) for v in app_ms],
            "baseline": "python + PySide6 + empty QWidget shown", "baseline_ms": round(bare, 1),
            "ratio": round(app / bare, 2)}


# -- GUI helpers ----------------------------------------------------------------------------------------------------
class Heartbeat:
    """A 5 ms QTimer; ``max_gap_ms`` is the longest time the event loop did not run it (minus the interval)."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.max_gap_ms = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.max_gap_ms = max(self.max_gap_ms, (now - self.last) * 1000.0 - self.interval)
        self.last = now

    def start(self) -> None:
        self.last, self.max_gap_ms = None, 0.0
        self.timer.start()

    def pause(self) -> None:
        self.timer.stop()

    def resume(self) -> None:
        self.last = None  # the paused interval is not a stall
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return round(self.max_gap_ms, 1)


def wait_until(app: Any, predicate: Any, timeout_s: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.002)
    return False


def timed_moves(app: Any, tab: Any, move: Any, repeats: int, baseline: Any = None,
                beat: Heartbeat | None = None) -> tuple[list[float], list[float]]:
    """Call ``move(i)`` and time until the tab shows the new result and it is painted. After each move, time
    one call of ``baseline`` (so both samples see the same machine load; it runs on this thread, so the
    heartbeat ``beat`` pauses meanwhile). Returns (move ms, baseline ms)."""
    from PySide6.QtCore import QEventLoop, QTimer

    times, base = [], []
    for i in range(repeats):
        loop = QEventLoop()
        done = {"t": None}

        def on_result() -> None:
            tab.result_canvas.repaint()  # the image painted (what the app repaints), not just handed over
            done["t"] = time.perf_counter()
            loop.quit()

        tab.result_changed.connect(on_result)
        t0 = time.perf_counter()
        move(i)
        QTimer.singleShot(60_000, loop.quit)
        if done["t"] is None:
            loop.exec()
        tab.result_changed.disconnect(on_result)
        if done["t"] is None:
            raise RuntimeError("no result within 60 s")
        times.append((done["t"] - t0) * 1000.0)
        # let the worker go idle so each move is measured from a quiet start
        wait_until(app, lambda: not tab.worker.is_busy(), 30)
        if baseline is not None:
            # Same conditions as the move: on a pool thread (as the tab's worker), after the same quiet time
            # (OpenMP teams of other threads stop spinning), the GUI thread waiting meanwhile.
            from fashionstudio.gui.workers import executor

            wait_until(app, lambda: False, QUIET_S)
            if beat is not None:
                beat.pause()
            t0 = time.perf_counter()
            executor().submit(baseline, i).result()
            base.append((time.perf_counter() - t0) * 1000.0)
            if beat is not None:
                beat.resume()
        wait_until(app, lambda: False, QUIET_S)
    return times, base


def bare_forward(G: Any) -> Any:
    """One bare ``G.synthesis`` forward of new ws per call (inference mode, fp32), warmed up."""
    import torch

    with torch.inference_mode():
        ws = G.broadcast(G.mapping(torch.randn(1, G.z_dim))).contiguous()
        G.synthesis(ws)

    def run(i: int) -> None:
        with torch.inference_mode():
            G.synthesis(ws + 0.001 * (i + 1))

    return run


# -- Generate ---------------------------------------------------------------------------------------------------
def generate_model(preset: str, folder: Path) -> tuple[Path, str]:
    """The shipped generate model if it has this preset's resolution, else random weights of the preset."""
    import torch

    from fashionstudio.core.modelfile import read_model_info, save_model_file
    from fashionstudio.gui.model_manager import default_model_path
    from fashionstudio.models.stylegan2 import PRESETS, build

    shipped = default_model_path("generate")
    if shipped is not None and read_model_info(shipped)["resolution"] == PRESETS[preset]["resolution"]:
        return shipped, f"shipped model {shipped.name}"
    torch.manual_seed(0)
    G = build({"preset": preset}, which=["G"])["G"].eval()
    with torch.no_grad():
        G.w_avg.copy_(G.mapping(torch.randn(2000, G.z_dim)).mean(0))
    path = save_model_file(folder / f"generate_{preset}.safetensors", "stylegan2", {"G": G}, {"preset": preset},
                           resolution=PRESETS[preset]["resolution"], name=f"random {preset}")
    return path, f"{preset} preset architecture, random weights"


def measure_generate(app: Any, preset: str, folder: Path, repeats: int) -> dict[str, Any]:
    from fashionstudio.gui.model_manager import ModelManager
    from fashionstudio.gui.tabs.generate_tab import GenerateTab

    path, what = generate_model(preset, folder)
    tab = GenerateTab(ModelManager("cpu"))
    tab.resize(1200, 800)
    tab.show()
    beat = Heartbeat()
    beat.start()
    t0 = time.perf_counter()
    tab.open_model(path)
    if not wait_until(app, lambda: tab.sliders.count() >= 10 and tab.result_image() is not None
                      and tab.seed_grid.filled_count() == len(tab.seed_grid.seeds()) and not tab.is_busy(), 300):
        raise RuntimeError("the Generate tab did not get ready")
    load_ms = (time.perf_counter() - t0) * 1000.0
    stall_loading = beat.stop()

    G = tab.model.networks["G"]
    forward = bare_forward(G)
    beat.start()
    values = [1.5, -1.5]
    all_layers, base1 = timed_moves(app, tab, lambda i: tab.set_slider_value(0, values[i % 2] + 0.01 * i),
                                    repeats, forward, beat)
    stall_inference = beat.stop()
    # A slider on the fine layers: the renderer reuses the untouched leading layers.
    tab.sliders.set_layers(1, tab.layer_presets()["fine"])
    wait_until(app, lambda: not tab.is_busy(), 30)
    fine, base2 = timed_moves(app, tab, lambda i: tab.set_slider_value(1, values[i % 2] + 0.01 * i), repeats,
                              forward)
    base = statistics.median(base1 + base2)
    tab.shutdown()
    tab.deleteLater()
    s_all, s_fine = _summary(all_layers, base1), _summary(fine, base2)
    return {
        "resolution": int(G.resolution), "model": what, "model_ready_ms": round(load_ms, 1),
        "slider_all_layers": {**s_all, "ratio_to_baseline": round(s_all["median_ms"] / base, 2)},
        "slider_fine_layers": {**s_fine, "ratio_to_baseline": round(s_fine["median_ms"] / base, 2)},
        "baseline": "one bare G.synthesis forward (torch.inference_mode, fp32), timed after each move",
        "baseline_ms": round(base, 2),
        "stall_loading_ms": stall_loading, "stall_inference_ms": stall_inference,
    }


# -- Pose -------------------------------------------------------------------------------------------------------
def measure_pose(app: Any, folder: Path, repeats: int, model_path: str | None = None) -> dict[str, Any]:
    from fashionstudio.gui.tabs import pose_tab as pose_module

    if not hasattr(pose_module.PoseTab, "set_joint"):
        return {"median_ms": None, "reason": "fashionstudio/gui/tabs/pose_tab.py has no set_joint method"}
    import torch
    from PIL import Image

    from fashionstudio.core.modelfile import save_model_file
    from fashionstudio.gui.model_manager import ModelManager, default_model_path
    from fashionstudio.models.pgpg import PRESETS, build

    path = Path(model_path) if model_path else default_model_path("pose")
    what = f"shipped model {path.name}" if path is not None else "demo preset architecture, random weights"
    if path is None:
        torch.manual_seed(0)
        nets = build({"preset": "demo"}, which=["G1", "G2"])
        for n in nets.values():
            n.eval()
        path = save_model_file(folder / "pose_demo.safetensors", "pgpg", nets, {"preset": "demo"},
                               resolution=PRESETS["demo"]["resolution"], name="random demo")
    tab = pose_module.PoseTab(ModelManager("cpu"))
    tab.resize(1200, 800)
    tab.show()
    tab.open_model(path)
    if not wait_until(app, lambda: tab.model is not None, 120):
        return {"median_ms": None, "reason": "the Pose model did not load"}
    tab.set_source_image(Image.new("RGB", (176, 256), (214, 208, 200)))
    panel = getattr(tab, "source_pose_panel", None)
    warping = panel is not None and tab._needs_source_pose()
    if warping:  # a warping model also needs the photo's own pose: mark it as the standing target pose
        wait_until(app, lambda: not panel.is_looking_up(), 30)
        panel.use_pose(tab.target_pose(), "benchmark")
    wait_until(app, lambda: tab.result_image() is not None and not tab.is_busy(), 120)
    if tab.result_image() is None:
        return {"median_ms": None, "reason": "the Pose tab produced no result for a plain photo"}
    pose = tab.target_pose()
    joint = 4  # right wrist
    y0, x0 = float(pose[joint][0]), float(pose[joint][1])
    model = tab.model
    r = model.resolution
    src = torch.rand(1, 3, r, r) * 2 - 1
    if warping:
        from fashionstudio.core.pose_transfer import heatmap_sigma
        from fashionstudio.core.poses import render_heatmaps

        kp = (tab.target_pose() * r - 0.5).astype("float32")
        heat = torch.from_numpy(render_heatmaps(kp, r, heatmap_sigma(r)))[None]
        G = model.networks["G"]
        what_base = "one bare PoseWarp G forward"

        def forward(i: int) -> None:
            with torch.inference_mode():
                G(src, heat, heat)
    else:
        g1, g2 = model.networks["G1"], model.networks["G2"]
        cond = torch.rand(1, int(model.config.get("pose_channels", 18)), r, r)
        what_base = "one bare G1+G2 forward"

        def forward(i: int) -> None:
            with torch.inference_mode():
                g2(src, g1(src, cond))

    forward(0)
    times, base = timed_moves(app, tab, lambda i: tab.set_joint(joint, min(0.95, x0 + 0.01 * (i % 10 + 1)), y0),
                              repeats, forward)
    tab.shutdown()
    tab.deleteLater()
    s = _summary(times, base)
    b = statistics.median(base)
    return {**s, "model": what, "baseline": f"{what_base}, timed after each move", "baseline_ms": round(b, 2),
            "ratio_to_baseline": round(s["median_ms"] / b, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--skip-launch", action="store_true")
    parser.add_argument("--skip-pose", action="store_true")
    parser.add_argument("--pose-model", action="append", default=[],
                        help="a pose model file to drag with (repeatable; default: the shipped pose model)")
    parser.add_argument("--presets", default="demo,studio")
    args = parser.parse_args(argv)

    result: dict[str, Any] = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                                          "load_avg_start": [round(v, 2) for v in os.getloadavg()]}}
    if not args.skip_launch:
        result["launch"] = measure_launch()

    import torch
    from PySide6.QtWidgets import QApplication

    if args.threads:
        torch.set_num_threads(args.threads)
    result["machine"]["torch_threads"] = torch.get_num_threads()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    folder = Path(tempfile.mkdtemp(prefix="fs-bench-models-"))
    result["generate_slider"] = {}
    stalls_loading, stalls_inference, base64 = [], [], None
    for preset in [p for p in args.presets.split(",") if p]:
        r = measure_generate(app, preset, folder, args.repeats)
        result["generate_slider"][f"{r['resolution']}px"] = r
        stalls_loading.append(r["stall_loading_ms"])
        stalls_inference.append(r["stall_inference_ms"])
        if base64 is None:
            base64 = r["baseline_ms"]
    stall = max(stalls_loading + stalls_inference)
    result["event_loop_stall"] = {"max_ms": stall, "during_loading_ms": max(stalls_loading),
                                  "during_inference_ms": max(stalls_inference),
                                  "baseline": "one bare G.synthesis forward of the first preset",
                                  "baseline_ms": base64, "ratio": round(stall / base64, 2) if base64 else None}
    if args.skip_pose:
        result["pose_joint_drag"] = {"median_ms": None, "reason": "skipped (--skip-pose)"}
    else:
        try:
            result["pose_joint_drag"] = measure_pose(app, folder, args.repeats,
                                                     args.pose_model[0] if args.pose_model else None)
            for extra in args.pose_model[1:]:
                result[f"pose_joint_drag:{Path(extra).name}"] = measure_pose(app, folder, args.repeats, extra)
        except Exception as exc:  # the Pose tab belongs to another module: report, do not hide the rest
            result["pose_joint_drag"] = {"median_ms": None, "reason": f"{type(exc).__name__}: {exc}"}
    result["machine"]["load_avg_end"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
