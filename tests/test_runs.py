"""fashionstudio.core.runs: run folders, new runs, incremental event reading, TensorBoard smoothing, decimation, run
state."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

from fashionstudio.core import runs
from fashionstudio.core.runs import (
    EmaState, GrowArray, MinMaxPyramid, RunLog, RunSetupError, RunSpec, Series, create_run, discover_runs,
    ema_smooth, infer_state,
)
from fashionstudio.core.run_folder import read_events


def tensorboard_ema(values, weight):
    """TensorBoard's smoothing written out the way its JavaScript does it, point by point."""
    last, n, out = 0.0, 0, []
    constant = all(v == values[0] for v in values)
    for v in values:
        if constant or not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n) if weight != 1 else last)
    return out


def test_ema_matches_hand_computed_debiased_values():
    # by hand, w = 0.5: last = 0.5, 1.75, 1.875  /  debias 0.5, 0.75, 0.875  ->  1, 2.333.., 2.142857..
    assert np.allclose(ema_smooth([1.0, 3.0, 2.0], 0.5), [1.0, 7 / 3, 15 / 7])
    rng = np.random.default_rng(0)
    values = list(rng.normal(size=500).cumsum())
    values[17] = math.nan
    values[200] = math.inf
    for w in (0.0, 0.3, 0.6, 0.9, 0.99, 0.999):
        got = ema_smooth(values, w)
        want = tensorboard_ema(values, w)
        assert np.allclose(got, want, rtol=1e-10, atol=1e-10, equal_nan=True), w
    assert list(ema_smooth([2.5] * 5, 0.9)) == [2.5] * 5


def test_ema_incremental_equals_batch_and_numpy_fallback():
    v = np.random.default_rng(1).normal(size=10_000)
    whole = ema_smooth(v, 0.95)
    state = EmaState(0.95)
    parts = np.concatenate([state.extend(v[:3]), state.extend(v[3:4000]), state.extend(v[4000:])])
    assert np.allclose(parts, whole, rtol=1e-12)
    fallback = EmaState(0.95)
    assert np.allclose(fallback._recurrence_numpy(v) / -np.expm1(np.arange(1, v.size + 1) * math.log(0.95)),
                       whole, rtol=1e-9)


def write_events(path: Path, events, partial: str = "") -> None:
    with open(path, "a", encoding="utf-8") as f:
        for ev in events:
            f.write(json.dumps(ev) + "\n")
        f.write(partial)


def scalar(step, **values):
    return {"time": 1000.0 + step, "kind": "scalars", "step": step, "values": values}


def test_incremental_reading_partial_last_line_and_appends(tmp_path):
    path = tmp_path / "events.jsonl"
    full = json.dumps(scalar(3, **{"loss/G": 0.5}))
    write_events(path, [{"time": 999.0, "kind": "status", "step": 0, "status": "started", "total_steps": 10},
                        scalar(1, **{"loss/G": 2.0}), scalar(2, **{"loss/G": "nan"})], partial=full[:20])
    log = RunLog(tmp_path)
    assert log.poll() == {"loss/G"}
    g = log.series["loss/G"]
    assert list(g.steps.view()) == [1, 2] and g.values.view()[0] == 2.0 and math.isnan(g.values.view()[1])
    assert log.offset == path.stat().st_size - 20           # the partial line is left for later
    assert log.poll() == set()                                # nothing complete yet
    with open(path, "a", encoding="utf-8") as f:             # the writer finishes the line and adds more
        f.write(full[20:] + "\nnot json\n")
        f.write(json.dumps({"time": 1005.0, "kind": "metrics", "step": 3, "values": {"fid": 12.5}}) + "\n")
    assert log.poll() == {"loss/G", "metrics/fid"}
    assert list(g.steps.view()) == [1, 2, 3] and g.values.view()[-1] == 0.5
    assert log.series["metrics/fid"].values.view().tolist() == [12.5]
    assert log.offset == path.stat().st_size
    assert log.total_steps == 10 and log.last_step == 3


def test_bounded_chunks_and_resume_purges_orphaned_points(tmp_path):
    path = tmp_path / "events.jsonl"
    write_events(path, [scalar(s, a=float(s)) for s in range(1, 201)])
    events, offset = read_events(path, 0, max_bytes=1000)
    assert 0 < len(events) < 200 and path.read_bytes()[offset - 1:offset] == b"\n"
    log = RunLog(tmp_path, max_bytes=1000)
    assert log.read_delta().more                               # stopped short of the end: read on at once
    log.poll()
    assert len(log.series["a"]) == 200
    # a resume from the step-150 checkpoint logs 151.. again: the old 151..200 are replaced
    write_events(path, [scalar(s, a=-float(s)) for s in range(151, 161)])
    log.poll()
    a = log.series["a"]
    assert len(a) == 160 and a.values.view()[149] == 150 and a.values.view()[150] == -151
    assert np.all(np.diff(a.steps.view()) > 0)


def test_pyramid_envelope_is_exact_and_bounded():
    rng = np.random.default_rng(2)
    values = rng.normal(size=200_003)
    values[1234] = 50.0
    src, pyramid = GrowArray(), MinMaxPyramid()
    pyramid.rebuild(src)
    for start in range(0, values.size, 30_001):  # appended in pieces, like a live run
        old = len(src)
        src.extend(values[start:start + 30_001])
        pyramid.update(old)
    idx, vals = pyramid.decimate(0, values.size, 1000)
    assert 2000 <= vals.size <= 8002
    assert vals.max() == 50.0 and vals.min() == values.min()
    i0, i1 = 100_000, 100_500
    idx, vals = pyramid.decimate(i0, i1, 1000)                 # few points: the raw ones
    assert np.array_equal(vals, values[i0:i1])
    fresh = MinMaxPyramid()
    fresh.rebuild(src)
    assert all(np.array_equal(a.view(), b.view(), equal_nan=True) for a, b in zip(fresh.mins, pyramid.mins))


def test_series_display_for_a_view_range_and_background_smoothing():
    s = Series(0.0)
    n = 100_000
    s.append(np.arange(1, n + 1), 1000 + np.arange(n) * 2.0, np.sin(np.arange(n) / 500))
    x, y = s.display("step", (50_000, 51_000))
    assert x.min() < 50_000 and x.max() > 51_000 and x.size < 5000
    x, y = s.display("relative")
    assert x[0] == 0 and abs(x[-1] - (n - 1) * 2 / 3600) < 1e-9
    job = s.smoothing_job(0.9)
    s.append([n + 1, n + 2], [0, 0], [5.0, 6.0])               # points arrive while the job runs elsewhere
    assert s.install_smoothing(job())
    assert np.allclose(s.smoothed.view(), ema_smooth(s.values.view(), 0.9))


def make_run(root: Path, name: str, events=(), config=None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(config or 'family = "cyclegan"\npreset = "demo"\nsteps = 10\n')
    if events:
        write_events(folder / "events.jsonl", events)
    return folder


def test_discover_runs_finds_hand_made_and_copied_in_folders(tmp_path):
    make_run(tmp_path, "a")
    make_run(tmp_path / "server1", "b")
    (tmp_path / "not-a-run").mkdir()
    only_events = tmp_path / "c"
    only_events.mkdir()
    write_events(only_events / "events.jsonl", [scalar(1, x=1.0)])
    found = discover_runs(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a", "c", "server1/b"]
    assert runs.read_run_config(found[0])["family"] == "cyclegan"
    assert discover_runs(tmp_path / "missing") == []


def test_state_inference(tmp_path):
    started = {"time": 1.0, "kind": "status", "step": 0, "status": "started"}
    cases = {
        "new": [],
        "finished": [started, {"time": 2.0, "kind": "status", "step": 5, "status": "finished"}],
        "stopped": [started, {"time": 2.0, "kind": "status", "step": 3, "status": "stopped"}],
        "crashed": [started, {"time": 2.0, "kind": "error", "step": 3, "error": "data", "message": "m"}],
    }
    for want, events in cases.items():
        log = RunLog(make_run(tmp_path, want, events))
        log.poll()
        assert infer_state(log) == want
    log = RunLog(make_run(tmp_path, "live", [started]))
    log.poll()
    assert infer_state(log, process_running=True) == "running"
    assert infer_state(log, process_running=False) == "crashed"            # our process died without a word
    assert infer_state(log, now=time.time()) == "running"                  # written just now from a terminal
    assert infer_state(log, now=time.time() + 3600) == "crashed"           # silent for an hour
    # an error followed by a resume is history, not the current state
    resumed = RunLog(make_run(tmp_path, "resumed", cases["crashed"] + [
        {"time": 3.0, "kind": "status", "step": 2, "status": "resumed"},
        {"time": 4.0, "kind": "status", "step": 9, "status": "finished"}]))
    resumed.poll()
    assert infer_state(resumed) == "finished"


def test_create_run_writes_a_config_the_trainer_reads(tmp_path):
    from training.config import load_config

    spec = RunSpec(name="shoes first", family="cyclegan", steps=7, batch_size=2, atelier_size=16,
                   resolution=32, log_every=1, arch={"g_base": 4})
    folder = create_run(tmp_path, spec)
    cfg = load_config(folder)
    assert (cfg.family, cfg.steps, cfg.batch_size, cfg.data.kind, cfg.data.size, cfg.resolution) == \
        ("cyclegan", 7, 2, "atelier", 16, 32)
    assert cfg.arch["g_base"] == 4 and cfg.log.log_every == 1


def test_the_new_run_dialog_reads_the_trainers_preset_file_without_importing_the_trainer():
    """The dialog pre-fills from training/configs/<preset>/<family>.toml, found without importing ``training``."""
    import subprocess
    import sys
    import tomllib

    from training.config import preset_path

    with open(preset_path("demo", "pgpg"), "rb") as f:
        want = tomllib.load(f)
    assert runs.preset_defaults("demo", "pgpg") == want and want["steps"] > 0
    assert runs.preset_defaults("no-such-preset", "pgpg") == {}
    code = ("import sys; from fashionstudio.core.runs import preset_defaults\n"
            "d = preset_defaults('demo', 'pgpg'); print(d['steps'], 'training' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(want["steps"]), "False"]


@pytest.mark.parametrize("change, words", [
    ({"name": "  "}, "Give the run a name"),
    ({"name": "a/b"}, "can only use letters"),
    ({"name": "taken"}, "already a run called"),
    ({"data_kind": "shoes_bags", "data_path": ""}, "Choose the dataset folder"),
    ({"data_kind": "shoes_bags", "data_path": "/no/such/folder"}, "does not exist"),
    ({"data_kind": "lookbook", "data_path": "/tmp"}, "not \"lookbook\""),
    ({"steps": 0}, "at least 1"),
    ({"resolution": 48}, "power of two"),
])
def test_bad_run_settings_get_a_specific_sentence(tmp_path, change, words):
    (tmp_path / "taken").mkdir()
    spec = RunSpec(name="ok", family="cyclegan")
    for k, v in change.items():
        setattr(spec, k, v)
    with pytest.raises(RunSetupError, match=words):
        create_run(tmp_path, spec)
    assert sorted(os.listdir(tmp_path)) == ["taken"]


def test_run_reading_stays_light():
    """The Train tab tails runs through this module and the run-folder protocol: neither may pull in torch or Qt."""
    import subprocess
    import sys

    code = ("import sys, fashionstudio.core.runs, fashionstudio.core.run_folder\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
@pytest.mark.parametrize("name", ["config.toml", "events.jsonl"])
def test_a_named_pipe_in_a_run_folder_is_refused_not_waited_on(tmp_path, name):
    """A copied-in run folder is untrusted: a FIFO in place of a file must not block the run list forever."""
    import threading

    run = make_run(tmp_path, "piped", events=[{"kind": "status", "status": "started", "step": 0}])
    (run / name).unlink(missing_ok=True)
    os.mkfifo(run / name)
    done: list = []
    reader = threading.Thread(target=lambda: done.append(runs.summarize_run(run)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    assert done, f"summarize_run blocked on a FIFO {name}"
    assert done[0].path == run
