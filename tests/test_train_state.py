"""The Train tab's Qt-free parts: reading a run folder's facts (bounded, never blocking on odd files), the state
that decides what a run is and when to read again (never touching a file), and what is shown for a run."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from fashionstudio.core import run_display
from fashionstudio.core.run_facts import CONFIG_TEXT_MAX, RunFacts, read_config, read_run_facts
from fashionstudio.core.runs import RunLog, RunSummary, parse_events
from fashionstudio.core.train_state import FACTS_MAX_AGE_S, TrainState


def _run(root: Path, name: str = "r", config: str = 'family = "cyclegan"\npreset = "demo"\n') -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.toml").write_text(config)
    return run


def _log(run: Path, events: list[dict]) -> RunLog:
    log = RunLog(run)
    log.apply(parse_events(events, 0, False))
    return log


# ----- reading a folder ---------------------------------------------------------------------------------------------
def test_facts_hold_config_checkpoints_console_and_mtime(tmp_path):
    run = _run(tmp_path)
    (run / "checkpoints").mkdir()
    (run / "checkpoints" / "step_00000010.pt").write_bytes(b"x")
    (run / "console.log").write_text("".join(f"line {i}\n" for i in range(500)) + "! boom\n")
    (run / "events.jsonl").write_text("{}\n")
    before = time.monotonic()
    facts = read_run_facts(run)
    assert facts.read_at >= before and facts.family == "cyclegan" and facts.config["preset"] == "demo"
    assert facts.config_text.startswith('family = "cyclegan"') and facts.config_problem == ""
    assert facts.has_checkpoint
    assert len(facts.console_tail) == 300 and facts.console_tail[-1] == "! boom"
    assert facts.events_mtime == pytest.approx((run / "events.jsonl").stat().st_mtime)

    empty = tmp_path / "empty"
    empty.mkdir()
    facts = read_run_facts(empty)
    assert (facts.config, facts.config_text, facts.has_checkpoint, facts.console_tail, facts.events_mtime) == \
        ({}, None, False, (), None)


def test_odd_config_files_give_a_reason_not_an_error(tmp_path):
    bad = _run(tmp_path, "bad-bytes", config="")
    (bad / "config.toml").write_bytes(b'family = "pgpg"\n\xff\xfe = 1\n')
    config, text, problem = read_config(bad)
    assert config == {} and "\ufffd" in text and problem == "is not valid TOML"
    huge = _run(tmp_path, "huge", config="# " + "x" * (CONFIG_TEXT_MAX + 10) + '\nfamily = "pgpg"\n')
    config, text, problem = read_config(huge)
    assert config == {} and len(text) == CONFIG_TEXT_MAX and "only its start is shown" in problem
    folder = tmp_path / "folder-named-config"
    (folder / "config.toml").mkdir(parents=True)
    assert read_config(folder) == ({}, None, "is not a regular file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are a POSIX thing")
def test_a_fifo_called_config_toml_is_never_waited_on(tmp_path):
    run = tmp_path / "hostile"
    run.mkdir()
    os.mkfifo(run / "config.toml")
    os.mkfifo(run / "console.log")
    result: list[RunFacts] = []
    reader = threading.Thread(target=lambda: result.append(read_run_facts(run)), daemon=True)
    reader.start()
    reader.join(5)
    if reader.is_alive():  # unblock the open so the thread can end, then fail
        with open(run / "config.toml", "wb"), open(run / "console.log", "wb"):
            pass
        pytest.fail("reading a run folder waited on a FIFO")
    facts = result[0]
    assert facts.config == {} and facts.config_text is None and facts.config_problem == "is not a regular file"
    assert facts.console_tail == ()
    assert "is not a regular file" in run_display.config_pane(run, facts)


# ----- the state ------------------------------------------------------------------------------------------------
STARTED = {"time": 1_790_000_000.0, "kind": "status", "step": 0, "status": "started", "total_steps": 10,
           "device": "cpu", "batch_size": 2}


def test_state_of_uses_the_mtimes_workers_saw_and_never_stats(tmp_path, monkeypatch):
    run = _run(tmp_path)
    state = TrainState()
    state.logs[run] = _log(run, [STARTED, {"time": 1_790_000_001.0, "kind": "scalars", "step": 1,
                                           "values": {"loss/G": 1.0}}])

    stats: list[str] = []
    real_stat = os.stat

    def spy(path, *args, **kwargs):
        stats.append(os.fsdecode(path))
        return real_stat(path, *args, **kwargs)

    states = []
    with monkeypatch.context() as m:
        m.setattr(os, "stat", spy)                  # Path.stat goes through os.stat
        states.append(state.state_of(run))          # only the events' own old times are known: stale
        state.note_mtime(run, time.time())
        states.append(state.state_of(run))          # the reader saw the file written just now
        state.facts[run] = RunFacts(path=run, read_at=time.monotonic(), events_mtime=time.time() - 3600)
        states.append(state.state_of(run))          # the newest mtime any read saw counts
    assert stats == []
    assert states == ["crashed", "running", "running"]
    state.processes[run] = SimpleNamespace(pid=1, exit_code=1, stderr_tail=["Traceback", "ValueError: x"],
                                           is_running=lambda: False)
    assert state.state_of(run) == "crashed"
    view = state.view(run)
    assert view.banner_kind == "error" and view.banner.startswith("This run ended without finishing: ValueError: x")
    assert state.actions(run) == run_display.Actions(start=True, folder=True)


def test_the_newer_read_wins(tmp_path):
    run = _run(tmp_path)
    state = TrainState()
    assert state.set_facts(RunFacts(path=run, read_at=10.0, has_checkpoint=True))
    assert not state.set_facts(RunFacts(path=run, read_at=9.0, has_checkpoint=False))   # began earlier: dropped
    assert state.has_checkpoint(run)
    # a run-list refresh that began after the folder read knows better, and the other way round
    state.set_summaries([RunSummary(path=run, family="cyclegan", has_checkpoint=False)], read_at=11.0)
    assert not state.has_checkpoint(run)
    assert state.set_facts(RunFacts(path=run, read_at=12.0, has_checkpoint=True))
    assert state.has_checkpoint(run)
    assert state.summaries[run].has_checkpoint is False     # until the row is brought up to date
    summary, _ = state.refresh_summary(run)
    assert summary.has_checkpoint is True


def test_summaries_merge_the_full_log_and_drop_vanished_runs(tmp_path):
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b")
    state = TrainState()
    state.logs[a] = _log(a, [STARTED, {"time": 1_790_000_005.0, "kind": "scalars", "step": 7, "values": {"x": 1}},
                             {"time": 1_790_000_006.0, "kind": "status", "step": 7, "status": "stopped"}])
    state.logs[b] = _log(b, [STARTED])
    state.set_facts(RunFacts(path=b, read_at=0.5))
    state.note_mtime(b, 1.0)
    merged = state.set_summaries([RunSummary(path=a, last_step=3, steps=99)], read_at=1.0)
    assert (merged[0].last_step, merged[0].steps, merged[0].state) == (7, 10, "stopped")
    assert a in state.logs and b not in state.logs and b not in state.facts and b not in state.mtimes


def test_folder_reads_are_due_when_missing_or_old(tmp_path):
    run = _run(tmp_path)
    state = TrainState()
    assert state.facts_due(run, now=100.0)
    state.set_facts(RunFacts(path=run, read_at=100.0))
    assert not state.facts_due(run, now=100.0 + FACTS_MAX_AGE_S / 2)
    assert state.facts_due(run, now=100.0 + FACTS_MAX_AGE_S)


def test_followed_runs_and_their_colours(tmp_path):
    a, b, c = (tmp_path / n for n in "abc")
    state = TrainState()
    state.processes[c] = SimpleNamespace(pid=1, exit_code=None, stderr_tail=[], is_running=lambda: True)
    assert state.watched([a], current=b) == [a, b, c]
    assert state.plotted([], current=b) == [b] and state.plotted([a, c], current=b) == [a, c]
    palette = ["red", "green", "blue"]
    assert state.assign_colours([a, b], palette) == {a: "red", b: "green"}
    assert state.assign_colours([b, c], palette) == {b: "green", c: "red"}   # b keeps its colour
    state.colours[c] = "green"                                               # a clash is resolved
    assert sorted(state.assign_colours([b, c], palette).values()) == ["green", "red"]


# ----- what is shown ------------------------------------------------------------------------------------------
def test_banners_and_buttons_for_each_state(tmp_path):
    run = _run(tmp_path)
    err = {"time": 1_790_000_002.0, "kind": "error", "step": 4, "error": "data", "message": "no dataset"}
    log = _log(run, [STARTED, err])
    assert run_display.crash_message(log, [], [], True) == (
        "This run stopped with an error at step 4: no dataset  It has a checkpoint: fix the cause, then “Resume”.")
    no_err = _log(run, [STARTED])
    assert run_display.crash_message(no_err, [], ["x", "! RuntimeError: out of memory", "y"], False) == \
        "This run ended without finishing: RuntimeError: out of memory"
    assert run_display.crash_message(no_err, [], [], False).endswith("(the process was killed or the machine stopped).")
    text, kind = run_display.banner(run, "stopped", None, log, False, [], [])
    assert kind == "info" and "before its first checkpoint" in text
    copied = RunSummary(path=run, copied_from="gpu-box", last_step=40)
    assert "training on gpu-box" in run_display.banner(run, "copied", copied, None, True, [], [])[0]
    assert run_display.banner(run, "finished", None, log, True, [], []) == (None, "info")

    assert run_display.actions(True, "stopped", False, True, "cyclegan", False) == run_display.Actions(
        resume=True, use=True, folder=True)
    assert run_display.actions(True, "running", True, False, "cyclegan", False) == run_display.Actions(
        stop=True, folder=True)
    assert run_display.actions(True, "elsewhere", False, True, "cyclegan", False).stop_tip == \
        run_display.ELSEWHERE_TIP
    assert not run_display.actions(True, "finished", False, True, "no-such-family", False).use
    assert not run_display.actions(True, "finished", False, True, "cyclegan", True).use       # exporting now


def test_details_lines(tmp_path):
    run = _run(tmp_path)
    log = _log(run, [{**STARTED, "notes": ["bf16 is slow here"]},
                     {"time": 1_790_000_003.0, "kind": "scalars", "step": 3, "values": {"a": 1}}])
    log.skipped = {"invalid": 2}
    lines = run_display.info_lines("cyclegan", log, True)
    assert lines[1:4] == ["Step 3 of 10", "Device: cpu, fp32, batch 2", "Note: bf16 is slow here"]
    assert lines[4].startswith("Last event ") and "Left out 2 unreadable" in lines[5]
    assert lines[-1] == "Has a checkpoint (can resume and export)"
    assert run_display.info_lines("", None, False) == ["Family: ?"]
    assert run_display.heading("a/b", "copied") == "a/b — Copied mid-run"
    assert run_display.config_pane(run, None).endswith("(reading…)")
    assert run_display.config_pane(run, read_run_facts(run)).endswith('family = "cyclegan"\npreset = "demo"\n')
