"""One trainer per run folder: a second `run`/`resume` is refused with the first one's pid, and the Train tab shows
a run another process trains as "Running elsewhere"."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from fashionstudio.core.runlock import RunLock, lock_holder
from fashionstudio.core.runs import summarize_run
from test_trainer_loop import PYTHON, REPO, events_of, make_run, subprocess_env
from training import checkpoint as ckpt
from training import runner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _start_slow_trainer(run: Path) -> subprocess.Popen:
    proc = subprocess.Popen([PYTHON, "-m", "training", "run", str(run), "--allow-plugins"], env=subprocess_env(),
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(e["kind"] == "status" for e in events_of(run)):
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the trainer did not start"
        time.sleep(0.1)
    return proc


def test_a_second_trainer_on_the_same_folder_is_refused_with_the_first_ones_pid(tmp_path, capsys):
    run = make_run(tmp_path, steps=400, loss={"sleep": 0.05}, log={"checkpoint_every": 50})
    first = _start_slow_trainer(run)
    try:
        before = (run / "events.jsonl").read_bytes()
        assert lock_holder(run)["pid"] == first.pid
        for command in ("run", "resume"):
            assert runner.main([command, str(run)]) == runner.EXIT_LOCKED
            err = capsys.readouterr().err
            assert f"process {first.pid}" in err and "already being trained" in err
        after = (run / "events.jsonl").read_bytes()
        assert after.startswith(before)  # the refused trainers wrote nothing into the first one's log
        assert all(e.get("kind") != "error" for e in map(json.loads, after.splitlines()))
    finally:
        (run / "STOP").write_text("stop")
        first.wait(120)
    assert first.returncode == 0
    assert lock_holder(run) is None  # released at exit
    assert runner.main(["resume", str(run), "--until", str(ckpt.load_checkpoint(
        ckpt.latest_checkpoint(run))["step"] + 1)]) == 0


def test_the_lock_dies_with_a_killed_trainer(tmp_path):
    run = make_run(tmp_path, steps=400, loss={"sleep": 0.05})
    proc = _start_slow_trainer(run)
    assert lock_holder(run) is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert lock_holder(run) is None  # nothing stale to clean up by hand
    assert summarize_run(run).state != "elsewhere"


def test_train_tab_shows_a_locked_run_as_running_elsewhere(qtbot, tmp_path, isolated_home):
    from fashionstudio.gui.tabs.train_tab import TrainTab

    runs = tmp_path / "runs"
    runs.mkdir()
    run = make_run(runs, "copied")
    lock = RunLock(run, "resume")
    lock.acquire()
    holder = json.loads((run / ".lock-holder.json").read_text())
    # an impostor pid: the holder is some other process, not one this tab started
    (run / ".lock-holder.json").write_text(json.dumps({**holder, "pid": 424242}))
    try:
        tab = TrainTab(None, runs_dir=runs)
        qtbot.addWidget(tab)
        tab.refresh_runs()
        qtbot.waitUntil(lambda: tab.run_list.run_model.rowCount() == 1, timeout=20000)
        tab.select_run(run)
        qtbot.waitUntil(lambda: tab.state_of(run) == "elsewhere", timeout=20000)
        assert tab.run_list.run_model.item(0, 1).text() == "Running elsewhere"
        assert not tab.start_button.isEnabled() and not tab.resume_button.isEnabled()
        assert "424242" in tab.banner.text()
        assert tab.start_run(run) is None and run not in tab.processes
    finally:
        lock.release()
    tab.refresh_runs()
    qtbot.waitUntil(lambda: tab.state_of(run) != "elsewhere", timeout=20000)
    tab.shutdown()
