"""Stopping a trainer: the ``RUN_DIR/STOP`` file (the way on Windows), the file and SIGTERM together (what the
Train tab sends on Linux and macOS), and a SIGTERM that arrives once the run has finished."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_trainer_loop import PYTHON, REPO, events_of, make_run, subprocess_env
from fashionstudio.core.run_folder import STOP_FILE
from training import checkpoint as ckpt
from training.trainers.stop import StopRequested


def test_stop_file_and_signal_are_one_request(tmp_path):
    stop = StopRequested(stop_file=tmp_path / STOP_FILE)
    assert not stop.poll()
    (tmp_path / STOP_FILE).write_text("")
    assert stop.poll() and stop.reason == "stop-file"
    stop._handler(signal.SIGTERM, None)          # the tab's SIGTERM right after the file: absorbed, not "stop now"
    assert stop.reason == "stop-file"
    stop.clear_stop_file()
    assert not (tmp_path / STOP_FILE).exists()
    stop.clear_stop_file()                       # already gone: fine


def start_long_run(tmp_path: Path) -> tuple[Path, subprocess.Popen]:
    run = make_run(tmp_path, steps=100000, loss={"sleep": 0.02}, log={"checkpoint_every": 100000})
    proc = subprocess.Popen([PYTHON, "-m", "training", "run", str(run), "--allow-plugins"], env=subprocess_env(), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not any(e["kind"] == "scalars" for e in events_of(run)):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"the trainer did not log a step: {proc.communicate()[1][-2000:]}")
        time.sleep(0.05)
    return run, proc


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def assert_one_clean_stop(run: Path, reasons: tuple[str, ...]) -> None:
    ev = events_of(run)
    stopped = [e for e in ev if e["kind"] == "status" and e["status"] == "stopped"]
    assert len(stopped) == 1 and ev[-1] is stopped[0] and stopped[0]["reason"] in reasons
    state = ckpt.load_checkpoint(run / stopped[0]["checkpoint"])
    assert state["step"] == stopped[0]["step"] > 0
    assert not (run / STOP_FILE).exists()        # a resume must not stop at once


@pytest.mark.slow
def test_stop_file_alone_checkpoints_and_exits_0(tmp_path):
    run, proc = start_long_run(tmp_path)
    (run / STOP_FILE).write_text("")             # no signal at all, as on Windows
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert_one_clean_stop(run, ("stop-file",))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_stop_file_and_sigterm_together_stop_once(tmp_path):
    run, proc = start_long_run(tmp_path)
    (run / STOP_FILE).write_text("")             # what the Train tab does on Linux and macOS
    proc.send_signal(signal.SIGTERM)
    out, err = finish(proc)
    assert proc.returncode == 0, err
    assert_one_clean_stop(run, ("stop-file", "SIGTERM"))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")
def test_sigterm_after_the_run_finished_still_exits_0(tmp_path):
    """A Stop clicked as the run finishes: the SIGTERM lands after ``finished`` and must not turn exit 0 into
    death by signal (exit -15), which the Train tab would show as a crash."""
    run = make_run(tmp_path, steps=3, log={"sample_every": 0, "eval_every": 0})
    proc = subprocess.Popen([PYTHON, "-m", "training", "run", str(run), "--allow-plugins"], env=subprocess_env(), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            event = json.loads(line)
            if event["kind"] == "status" and event["status"] == "finished":
                sent_while_running = proc.poll() is None
                proc.send_signal(signal.SIGTERM)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert sent_while_running                    # the process was still exiting: the signal did land
    assert proc.returncode == 0, err
    assert events_of(run)[-1]["status"] == "finished"


def test_runner_called_from_code_gives_the_signal_handlers_back(tmp_path, capsys):
    from training import runner

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    run = make_run(tmp_path, steps=2, log={"sample_every": 0, "eval_every": 0})
    (run / STOP_FILE).write_text("")             # left over: stops before the first step, and is deleted
    assert runner.main(["run", str(run)]) == 0
    assert events_of(run)[-1]["reason"] == "stop-file" and not (run / STOP_FILE).exists()
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
