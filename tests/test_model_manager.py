"""Model manager and latest-wins worker: loads never block the GUI thread, the LRU budget holds, bursts collapse."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

from fashionstudio.core import registry
from fashionstudio.families import Family
from fashionstudio.core.modelfile import save_model_file
from fashionstudio.gui.model_manager import NO_MODEL_MESSAGE, ModelManager, default_model_path
from fashionstudio.gui.workers import LatestWinsWorker

FAMILY = "fs_test_tiny"
BUILD_THREADS: list[str] = []


def _build(config, which=None):
    """A tiny test family whose builder can be made slow (the sleep releases the GIL like real I/O does)."""
    BUILD_THREADS.append(threading.current_thread().name)
    time.sleep(config.get("sleep", 0.0))
    return {"G": nn.Linear(config["width"], config["width"])}


@pytest.fixture(autouse=True)
def _env(isolated_home):
    registry.register(Family(FAMILY, build=_build))
    BUILD_THREADS.clear()
    yield
    registry.unregister(FAMILY)


def tiny_model(path, width=16, sleep=0.0):
    cfg = {"width": width, "sleep": sleep}
    return save_model_file(path, FAMILY, _build({**cfg, "sleep": 0}), cfg, resolution=8, name=path.stem)


@pytest.fixture
def manager(qtbot):
    m = ModelManager("cpu", budget_bytes=10**9)
    yield m
    m.shutdown()


def test_slow_load_keeps_the_gui_thread_responsive(qtbot, manager, tmp_path):
    path = tiny_model(tmp_path / "slow.safetensors", sleep=1.0)
    from PySide6.QtCore import QTimer

    beats: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    timer.start()
    with qtbot.waitSignal(manager.loading, timeout=1000):
        manager.load("slow", path)
    t0 = time.perf_counter()
    with qtbot.waitSignal(manager.ready, timeout=10_000) as ready:
        pass
    timer.stop()
    assert time.perf_counter() - t0 > 0.9  # the load really took its second
    gaps = [b - a for a, b in zip(beats, beats[1:])]
    assert len(beats) > 50
    assert max(gaps) < 0.100, f"GUI thread stalled for {max(gaps) * 1000:.0f} ms"
    key, model = ready.args
    assert key == "slow" and model.name == "slow"
    assert BUILD_THREADS and BUILD_THREADS[-1] != threading.main_thread().name
    assert manager.get("slow") is model
    assert manager.device_description.startswith("CPU")
    assert next(iter(model.networks["G"].parameters())).device.type == "cpu"


def test_lru_budget_unloads_the_least_recently_used(qtbot, tmp_path):
    paths = {k: tiny_model(tmp_path / f"{k}.safetensors") for k in "abc"}
    one = (16 * 16 + 16) * 4
    m = ModelManager("cpu", budget_bytes=int(2.5 * one))
    try:
        for key in "ab":
            with qtbot.waitSignal(m.ready, timeout=10_000):
                m.load(key, paths[key])
        assert m.loaded_keys() == ["a", "b"] and m.total_bytes() == 2 * one
        assert m.get("a") is not None  # touching "a" makes "b" the least recently used
        unloaded: list[str] = []
        m.unloaded.connect(unloaded.append)
        with qtbot.waitSignal(m.ready, timeout=10_000):
            m.load("c", paths["c"])
        assert unloaded == ["b"]
        assert m.loaded_keys() == ["a", "c"] and m.get("b") is None
        assert m.total_bytes() <= m.budget_bytes
        with qtbot.waitSignal(m.ready, timeout=10_000):  # ensure() brings the evicted model back
            m.ensure("b")
        assert unloaded == ["b", "a"]
    finally:
        m.shutdown()


def test_a_single_model_over_budget_still_loads(qtbot, tmp_path):
    m = ModelManager("cpu", budget_bytes=10)
    try:
        with qtbot.waitSignal(m.ready, timeout=10_000):
            m.load("big", tiny_model(tmp_path / "big.safetensors"))
        assert m.loaded_keys() == ["big"]
    finally:
        m.shutdown()


def test_failures_and_missing_models_are_reported(qtbot, manager, tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_text("not a model")
    with qtbot.waitSignal(manager.failed, timeout=10_000) as failed:
        manager.load("x", junk)
    assert failed.args[0] == "x" and "junk.safetensors" in failed.args[1]
    assert manager.get("x") is None and not manager.is_loading("x")

    # a model of the wrong family for a tool is refused with a sentence naming both
    with qtbot.waitSignal(manager.failed, timeout=10_000) as failed:
        manager.load("pose", tiny_model(tmp_path / "tiny.safetensors"))
    assert "Pose tool needs a pgpg or posewarp model" in failed.args[1]

    assert default_model_path("pose") is None
    with qtbot.waitSignal(manager.no_model, timeout=1000) as missing:
        manager.ensure("pose")
    assert missing.args == ["pose"]
    assert NO_MODEL_MESSAGE.startswith("No model loaded")


def test_default_model_is_found_by_tool_name(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    path = tiny_model(folder / "extract.safetensors")
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(folder))
    assert default_model_path("extract") == path
    assert default_model_path("pose") is None


def test_newer_load_of_the_same_key_wins(qtbot, manager, tmp_path):
    slow = tiny_model(tmp_path / "first.safetensors", sleep=0.5)
    fast = tiny_model(tmp_path / "second.safetensors")
    names: list[str] = []
    manager.ready.connect(lambda key, model: names.append(model.name))
    manager.load("k", slow)
    manager.load("k", fast)
    qtbot.waitUntil(lambda: names == ["second"], timeout=5000)
    qtbot.wait(700)  # the slow first load finishes meanwhile and must be dropped
    assert names == ["second"] and manager.get("k").name == "second"


def test_burst_of_requests_runs_a_handful_and_ends_with_the_last(qtbot):
    worker = LatestWinsWorker()
    results: list[int] = []
    worker.result_ready.connect(lambda rid, result, ms: results.append(result))
    ran: list[int] = []

    def job(i):
        def run():
            ran.append(i)
            assert torch.is_inference_mode_enabled()
            time.sleep(0.03)
            return i
        return run

    ids = [worker.submit(job(i)) for i in range(50)]
    assert ids == list(range(1, 51))
    qtbot.waitUntil(lambda: bool(results) and results[-1] == 49 and not worker.is_busy(), timeout=5000)
    qtbot.wait(100)
    assert len(ran) <= 5, f"ran {len(ran)} of 50 requests"
    assert results[-1] == 49 and ran[-1] == 49
    assert results == sorted(results)
    assert worker.runs == len(ran)
    assert worker.shutdown(1.0)


def test_worker_reports_failures_readably(qtbot):
    worker = LatestWinsWorker(use_inference_mode=False)

    def boom():
        raise RuntimeError("the generator exploded")

    with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
        worker.submit(boom)
    assert "the generator exploded" in failed.args[1]
    assert "log" in failed.args[1]


def test_shutdown_drops_pending_and_waits_for_running(qtbot):
    worker = LatestWinsWorker(use_inference_mode=False)
    ran: list[int] = []
    delivered: list[int] = []
    worker.result_ready.connect(lambda rid, res, ms: delivered.append(res))

    started = threading.Event()

    def job(i, delay):
        def run():
            started.set()
            time.sleep(delay)
            ran.append(i)
            return i
        return run

    worker.submit(job(1, 0.3))
    assert started.wait(5)
    worker.submit(job(2, 0.0))  # waits behind the running request
    assert worker.shutdown(5.0)
    qtbot.wait(50)
    assert ran == [1] and delivered == []  # pending dropped, nothing reported after shutdown
    assert worker.submit(job(3, 0)) == -1
