"""The Train tab reads run folders on workers only: a tick opens, lists and stats nothing under the runs folder on
the GUI thread, a folder that stalls holds one worker and never the window, and asking again while a read runs
reads once more (the newest read wins)."""

from __future__ import annotations

import builtins
import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from fashionstudio.core import run_facts
from fashionstudio.gui.train.folder_reader import FolderReader
from test_train_tab import chart_points, hand_made_run, make_tab, write


@pytest.fixture(autouse=True)
def _env(isolated_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONSTUDIO_RUNS", str(tmp_path / "runs"))


class GuiThreadFileAccess:
    """Records opens, listings and stats of paths under ``root`` made on the main (GUI) thread while ``active``."""

    def __init__(self, root: Path) -> None:
        self.root = os.fsdecode(root)
        self.active = False
        self.hits: list[tuple[str, str]] = []

    def _wrap(self, name: str, real):
        def spy(path, *args, **kwargs):
            if self.active and threading.current_thread() is threading.main_thread() \
                    and isinstance(path, (str, bytes, os.PathLike)) and os.fsdecode(path).startswith(self.root):
                self.hits.append((name, os.fsdecode(path)))
            return real(path, *args, **kwargs)
        return spy

    def install(self, monkeypatch) -> None:
        for module, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "listdir"), (os, "scandir"),
                             (os, "stat")):
            monkeypatch.setattr(module, name, self._wrap(f"{module.__name__}.{name}", getattr(module, name)))


def _record_reader_threads(monkeypatch) -> list[threading.Thread]:
    threads: list[threading.Thread] = []
    real = run_facts.read_run_facts

    def reader(path, *args, **kwargs):
        threads.append(threading.current_thread())
        return real(path, *args, **kwargs)

    monkeypatch.setattr(run_facts, "read_run_facts", reader)
    return threads


def test_ticks_read_no_run_folder_on_the_gui_thread(qtbot, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    run = hand_made_run(runs, "live", n=10, end=None, sample=True)
    (run / "console.log").write_text("$ python -m training run live\n")
    other = hand_made_run(runs, "other", n=5)
    tab = make_tab(qtbot, runs)
    qtbot.waitUntil(lambda: tab.run_list.run_model.rowCount() == 2, timeout=10_000)
    tab.select_run(run)
    tab.run_list.run_model.set_checked(run, True)
    tab.run_list.run_model.set_checked(other, True)
    qtbot.waitUntil(lambda: chart_points(tab, "loss/G") == 15 and run in tab.state.facts
                    and tab.samples.shown_step == 10, timeout=10_000)
    assert "$ python -m training run live" in tab.console_view.toPlainText()
    assert not tab.resume_button.isEnabled() and "Has a checkpoint" not in tab.run_info.text()

    threads = _record_reader_threads(monkeypatch)
    # the trainer writes a checkpoint and more events (the test writes them before it starts watching)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_00000011.pt").write_bytes(b"x")
    now = time.time()
    write(run / "events.jsonl", [{"time": now, "kind": "scalars", "step": 11, "values": {"loss/G": 0.1}},
                                 {"time": now, "kind": "checkpoint", "step": 11, "path": "checkpoints/step_00000011.pt"},
                                 {"time": now, "kind": "status", "step": 11, "status": "stopped"}])
    spy = GuiThreadFileAccess(runs)
    spy.install(monkeypatch)
    spy.active = True
    read_before = tab.state.facts[run].read_at
    tab.tail()                       # what the tail timer does every half second
    tab.refresh_runs()               # and the refresh timer every few seconds
    qtbot.waitUntil(lambda: chart_points(tab, "loss/G") == 16 and tab.state.facts[run].read_at > read_before
                    and tab.resume_button.isEnabled() and not tab._refreshing, timeout=10_000)
    qtbot.wait(1200)                 # two more timer ticks of each kind of read
    spy.active = False
    assert spy.hits == [], f"the GUI thread touched the run folder: {spy.hits[:5]}"
    assert threads and all(t is not threading.main_thread() for t in threads)
    assert "Has a checkpoint" in tab.run_info.text() and "Stopped" in tab.run_heading.text()
    assert "Resume" in tab.banner.text() and not tab.start_button.isEnabled()


def test_a_stalled_run_folder_never_freezes_the_window(qtbot, tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    stalled = hand_made_run(runs, "on-a-stalled-share", n=10)
    local = hand_made_run(runs, "local", n=10)
    (local / "checkpoints").mkdir()
    (local / "checkpoints" / "step_00000010.pt").write_bytes(b"x")
    release = threading.Event()
    reads = {stalled: 0, local: 0}
    real = run_facts.read_run_facts

    def reader(path, *args, **kwargs):
        reads[path] += 1
        if path == stalled:
            release.wait(5)        # a share that answers after seconds (or, were this the GUI thread, a frozen window)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(run_facts, "read_run_facts", reader)
    tab = make_tab(qtbot, runs)
    qtbot.waitUntil(lambda: tab.run_list.run_model.rowCount() == 2, timeout=10_000)
    beats: list[float] = []
    heartbeat = QTimer()
    heartbeat.setInterval(10)
    heartbeat.timeout.connect(lambda: beats.append(time.perf_counter()))
    heartbeat.start()
    tab.select_run(stalled)
    for _ in range(8):             # ticks go on asking for the stalled folder
        tab.tail()
        qtbot.wait(50)
    assert reads[stalled] == 1     # one read in flight holds one worker; the asking does not pile up
    assert tab.details_view.toPlainText().endswith("(reading…)")
    assert tab.run_heading.text().startswith("on-a-stalled-share")
    tab.select_run(local)          # the rest of the tab carries on meanwhile
    qtbot.waitUntil(lambda: "Has a checkpoint" in tab.run_info.text(), timeout=10_000)
    assert 'family = "pgpg"' in tab.details_view.toPlainText()
    assert not release.is_set()
    heartbeat.stop()
    gaps = np.diff(beats) * 1000
    assert gaps.max() < 2000, f"the window stalled {gaps.max():.0f} ms"
    release.set()
    qtbot.waitUntil(lambda: stalled in tab.state.facts, timeout=10_000)
    qtbot.wait(200)
    assert reads[stalled] <= 2     # at most the one read asked for while the first was stuck


def test_asking_while_a_read_runs_reads_once_more_and_whoever_asked_gets_that_read(qtbot, tmp_path, monkeypatch):
    run = hand_made_run(tmp_path / "runs", "r", n=3)
    gate = threading.Event()
    started: list[float] = []
    real = run_facts.read_run_facts

    def reader(path, *args, **kwargs):
        started.append(time.monotonic())
        gate.wait(10)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(run_facts, "read_run_facts", reader)
    folder_reader = FolderReader()
    got, called = [], []
    folder_reader.facts_read.connect(lambda facts: got.append(facts))
    folder_reader.request(run, lambda: called.append(("first", len(got))))
    qtbot.waitUntil(lambda: len(started) == 1, timeout=5_000)
    for i in range(5):
        folder_reader.request(run, lambda i=i: called.append((i, len(got))))
    gate.set()
    qtbot.waitUntil(lambda: len(got) == 2 and not folder_reader.busy(), timeout=10_000)
    qtbot.wait(100)
    assert len(started) == 2
    assert called == [("first", 1)] + [(i, 2) for i in range(5)]   # each after a read that began after it asked
    assert got[1].read_at > got[0].read_at
