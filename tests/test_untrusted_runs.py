"""Run folders are untrusted input: no code of theirs runs, every events field is checked, every config value that
would crash or exhaust the machine gets a sentence naming its key, and hostile dataset images are skipped.

The hostile files are made here; the "payload" of each only writes a marker file, and every test asserts that the
marker is absent (or, where the user consented, present: proof the test would notice).
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from fashionstudio.core.runs import RunLog, summarize_run
from test_trainer_loop import PYTHON, REPO, events_of, make_run, subprocess_env
from fashionstudio.core.run_folder import MAX_LINE_BYTES, read_events
from training import checkpoint as ckpt
from training import runner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def plant(folder: Path, module: str, marker: Path, fail: bool = True) -> None:
    """A module that, if it is ever imported, writes ``marker`` (and then fails, as a stand-in would)."""
    text = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    if fail:
        text += "raise ImportError('planted module')\n"
    (folder / f"{module}.py").write_text(text)


def cli(args: list[str], cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "training", *args], cwd=cwd, env=env or subprocess_env(),
                          capture_output=True, text=True, timeout=300)


# ----- code from a run folder -----------------------------------------------------------------------------------
def test_cli_started_inside_a_run_folder_does_not_import_its_numpy(tmp_path):
    run = tmp_path / "copied-run"
    run.mkdir()
    (run / "config.toml").write_text('family = "pgpg"\npreset = "demo"\n')
    marker = tmp_path / "numpy-ran"
    plant(run, "numpy", marker)
    done = cli(["export", str(run)], cwd=run)
    assert not marker.exists(), done.stderr
    assert done.returncode == 2 and "has no checkpoint" in done.stderr


def test_plugins_of_a_run_folder_need_explicit_consent(tmp_path):
    run = tmp_path / "copied-run"
    run.mkdir()
    (run / "config.toml").write_text('family = "cyclegan"\npreset = "demo"\nplugins = ["evil_plugin"]\n')
    marker = tmp_path / "plugin-ran"
    plant(run, "evil_plugin", marker)
    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([str(run), env["PYTHONPATH"]])  # even where it is importable
    done = cli(["run", str(run)], cwd=run, env=env)
    assert done.returncode == runner.EXIT_CONFIG and not marker.exists()
    assert "'evil_plugin'" in done.stderr and "--allow-plugins" in done.stderr and "Traceback" not in done.stderr
    assert not (run / "checkpoints").exists()

    # the user's explicit consent (started elsewhere: the working folder is never on the trainer's path)
    done = cli(["run", str(run), "--allow-plugins"], cwd=tmp_path, env=env)
    assert marker.exists()
    assert done.returncode == runner.EXIT_CONFIG and "cannot be imported" in done.stderr


def test_plugin_names_must_be_module_names(tmp_path, capsys):
    run = make_run(tmp_path, plugins=["../../evil.py"])
    assert runner.main(["run", str(run), "--allow-plugins"]) == runner.EXIT_CONFIG
    assert "module names" in capsys.readouterr().err


def _cyclegan_checkpoint(run: Path, plugins: list[str], family: str = "cyclegan") -> Path:
    from fashionstudio.core import registry
    from fashionstudio.models import cyclegan
    from training.trainers.checkpoints import CHECKPOINT_FORMAT, CHECKPOINT_VERSION

    arch = {**cyclegan.PRESETS["demo"], "resolution": 32, "g_base": 4, "d_base": 4, "g_res_blocks": 1}
    nets = registry.build_networks("cyclegan", arch)
    state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "family": family, "step": 5,
             "arch": arch, "config": {"family": family, "preset": "demo", "plugins": plugins, "batch_size": 2},
             "trainer": {"networks": {k: v.state_dict() for k, v in nets.items()}, "ema": {}}, "metrics": {}}
    return ckpt.atomic_save(state, run / "checkpoints" / ckpt.step_name(5))


def test_export_never_imports_the_plugins_a_checkpoint_names(tmp_path, monkeypatch):
    from training.export import export_run

    run = tmp_path / "run"
    marker = tmp_path / "export-plugin-ran"
    run.mkdir()
    plant(run, "evil_export_plugin", marker, fail=False)
    monkeypatch.syspath_prepend(str(run))  # importable, so only the exporter's refusal keeps it out
    _cyclegan_checkpoint(run, ["evil_export_plugin"])
    out = export_run(run, tmp_path / "m.safetensors", which="latest")
    assert out.is_file() and not marker.exists() and "evil_export_plugin" not in sys.modules

    other = tmp_path / "plugin-family"
    other.mkdir()
    _cyclegan_checkpoint(other, ["evil_export_plugin"], family="someones_family")
    with pytest.raises(ValueError, match="--allow-plugins"):
        export_run(other, tmp_path / "n.safetensors", which="latest")
    assert not marker.exists()


def test_train_tab_starts_trainers_with_a_safe_path_outside_the_run(qtbot, tmp_path, isolated_home):
    from fashionstudio.gui.tabs.train_tab import TrainTab
    from fashionstudio.gui.train.run_process import RunProcess

    runs = tmp_path / "runs"
    run = runs / "from-server"
    run.mkdir(parents=True)
    (run / "config.toml").write_text('family = "pgpg"\npreset = "demo"\n')
    marker = tmp_path / "numpy-ran"
    plant(run, "numpy", marker)

    proc = RunProcess(run, "export")
    program, args = proc.program_and_args()
    assert args[:3] == ["-P", "-m", "training"]
    assert proc.proc.processEnvironment().value("PYTHONSAFEPATH") == "1"
    cwd = Path(proc.proc.workingDirectory()).resolve()
    assert cwd != run.resolve() and run.resolve() not in cwd.parents

    tab = TrainTab(None, runs_dir=runs)
    qtbot.addWidget(tab)
    export = tab.use_model(run)  # the attack of the report: exporting a copied run ran its numpy.py
    qtbot.waitUntil(lambda: not export.is_running() and export.exit_code is not None, timeout=120000)
    assert export.exit_code == 2 and not marker.exists()
    assert "no checkpoint" in tab.banner.text()
    tab.shutdown()


def test_train_tab_asks_before_running_plugin_code(qtbot, tmp_path, monkeypatch, isolated_home):
    from fashionstudio.gui.tabs.train_tab import TrainTab

    runs = tmp_path / "runs"
    run = runs / "with-plugin"
    run.mkdir(parents=True)
    (run / "config.toml").write_text('family = "cyclegan"\npreset = "demo"\nplugins = ["evil_plugin"]\n')
    tab = TrainTab(None, runs_dir=runs)
    qtbot.addWidget(tab)
    asked = []
    monkeypatch.setattr(tab, "confirm_plugins", lambda path, plugins: asked.append(plugins) or False)
    assert tab.start_run(run) is None and run not in tab.processes
    assert asked == [["evil_plugin"]]
    monkeypatch.setattr(tab, "confirm_plugins", lambda path, plugins: True)
    proc = tab.start_run(run)
    assert proc is not None and "--allow-plugins" in proc.args
    qtbot.waitUntil(lambda: not proc.is_running() and proc.exit_code is not None, timeout=120000)
    assert proc.exit_code == runner.EXIT_CONFIG  # evil_plugin is not importable: the run folder is not on the path
    tab.shutdown()


# ----- events.jsonl ---------------------------------------------------------------------------------------------
def _lines(path: Path, *events) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for ev in events:
            f.write((ev if isinstance(ev, str) else json.dumps(ev)) + "\n")


def _good_run(root: Path, name: str, bad_lines: list[str] = ()) -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.toml").write_text('family = "pgpg"\npreset = "demo"\nsteps = 20\n')
    t0 = time.time() - 5
    _lines(run / "events.jsonl",
           {"time": t0, "kind": "status", "step": 0, "status": "started", "total_steps": 20},
           {"time": t0 + 1, "kind": "scalars", "step": 1, "values": {"loss/G": 1.0}},
           {"time": t0 + 2, "kind": "sample", "step": 1, "path": "samples/step_00000001.png", "rows": ["a"]},
           *bad_lines,
           {"time": t0 + 3, "kind": "scalars", "step": 2, "values": {"loss/G": 0.5, "odd": "abc"}},
           {"time": t0 + 4, "kind": "status", "step": 2, "status": "stopped"})
    return run


BAD_LINES = [
    '{"time": 1, "kind": "sample", "step": "abc", "path": "samples/x.png"}',
    '{"time": 1, "kind": "sample", "step": null, "path": "samples/x.png"}',
    '{"time": 1, "kind": "sample", "step": NaN, "path": "samples/x.png"}',
    '{"time": 1, "kind": "sample", "step": 3, "path": "../../../etc/passwd"}',
    '{"time": NaN, "kind": "scalars", "step": -4, "values": {"loss/G": 1}}',
    '{"time": 1, "kind": "status", "step": 1, "status": ["started"]}',
    '{"time": 1, "kind": "scalars", "step": 1, "values": [1, 2]}',
    '{"kind": "status", "step": 1, "status": "started", "notes": "' + "x" * 10 + '", "total_steps": "many"}',
    '[' * 5000 + ']' * 5000,
    '{"a": ' * 3000 + '1' + '}' * 3000,
    '\xff\xfe not json',
]


def test_odd_event_fields_never_empty_the_run_list(qtbot, tmp_path, isolated_home):
    runs = tmp_path / "runs"
    bad = _good_run(runs, "bad", BAD_LINES)
    _good_run(runs, "good")
    log = RunLog(bad)
    log.poll()
    assert [s[0] for s in log.samples] == [1] and log.last_status == "stopped"
    assert list(log.series["loss/G"].values.view()) == [1.0, 0.5] and "odd" not in log.series
    assert log.skipped["invalid"] == 10
    assert log.info["notes"] == [] and "total_steps" not in log.info  # the odd "started": wrong fields dropped
    assert summarize_run(bad).state == "stopped"

    from fashionstudio.gui.tabs.train_tab import TrainTab

    tab = TrainTab(None, runs_dir=runs)
    qtbot.addWidget(tab)
    tab.refresh_runs()
    qtbot.waitUntil(lambda: tab.run_list.run_model.rowCount() == 2, timeout=20000)
    tab.select_run(bad)
    tab.wait_read(bad)
    qtbot.waitUntil(lambda: "unreadable or over-long" in tab.run_info.text(), timeout=20000)
    tab.shutdown()


def test_over_long_lines_are_skipped_counted_and_never_read_twice(tmp_path):
    path = tmp_path / "events.jsonl"
    _lines(path, {"time": 1.0, "kind": "scalars", "step": 1, "values": {"a": 1.0}})
    with open(path, "ab") as f:
        f.write(b'{"time": 2, "kind": "scalars", "step": 2, "values": {"pad": "' + b"x" * (2 * MAX_LINE_BYTES))
    size = path.stat().st_size
    stats: dict[str, int] = {}
    events, offset = read_events(path, 0, max_bytes=1 << 16, stats=stats)
    assert [e["step"] for e in events] == [1]
    events, offset = read_events(path, offset, max_bytes=1 << 16, stats=stats)
    assert events == [] and offset == size and stats == {"too_long": 1}  # the next read starts at the end
    with open(path, "ab") as f:  # the writer finishes that line and goes on
        f.write(b'"}}\n' + json.dumps({"time": 3, "kind": "scalars", "step": 3, "values": {"a": 3.0}}).encode()
                + b"\n")
    events, _ = read_events(path, offset, max_bytes=1 << 16, stats=stats)
    assert [e["step"] for e in events] == [3] and stats["invalid"] == 1  # the line's tail is not an event

    whole = tmp_path / "whole.jsonl"  # an over-long line that ends within the file
    with open(whole, "wb") as f:
        f.write(b'{"kind": "scalars", "step": 1, "values": {"p": "' + b"y" * (MAX_LINE_BYTES + 10) + b'"}}\n')
        f.write(json.dumps({"time": 3, "kind": "status", "step": 3, "status": "finished"}).encode() + b"\n")
    stats = {}
    for max_bytes in (None, 1 << 16):
        events, offset, calls = [], 0, 0
        while offset < whole.stat().st_size and calls < 5:
            more, offset = read_events(whole, offset, max_bytes=max_bytes, stats=stats)
            events += more
            calls += 1
        assert [e["step"] for e in events] == [3] and offset == whole.stat().st_size
    assert stats == {"too_long": 2}


def test_a_long_run_killed_without_a_word_shows_as_crashed(tmp_path):
    run = tmp_path / "long"
    run.mkdir()
    (run / "config.toml").write_text('family = "pgpg"\npreset = "demo"\nsteps = 100000\n')
    t0 = time.time() - 7200
    _lines(run / "events.jsonl", {"time": t0, "kind": "status", "step": 0, "status": "started"},
           *({"time": t0 + s, "kind": "scalars", "step": s, "values": {"loss/G": 1.0, "loss/D": 0.5}}
             for s in range(1, 3000)))
    os.utime(run / "events.jsonl", (t0 + 3000, t0 + 3000))
    summary = summarize_run(run)  # reads only the file's last 64 KB: the "started" event is not in it
    assert summary.state == "crashed" and summary.last_step == 2999


# ----- config values ----------------------------------------------------------------------------------------------
CYCLEGAN = 'family = "cyclegan"\npreset = "demo"\n'


@pytest.mark.parametrize("text, key", [
    (CYCLEGAN + "seed = -1\n", "'seed'"),
    (CYCLEGAN + 'device = "tpu"\n', "'device'"),
    (CYCLEGAN + '[arch]\ng_base = "wide"\n', "g_base"),
    (CYCLEGAN + "[optim]\nlr = { G = inf }\n", "lr.G"),
    (CYCLEGAN + "[optim]\nlr = { D = nan }\n", "lr.D"),
    (CYCLEGAN + "[data]\nsize = 1000000000\n", "[data] size"),
    (CYCLEGAN + "[optim]\nema_half_life = inf\n", "ema_half_life"),
    (CYCLEGAN + '[schedules]\nlambda_cycle = [[0, nan]]\n', "lambda_cycle"),
    (CYCLEGAN + "batch_size = 100000000\n", "'batch_size'"),
])
def test_bad_config_values_get_a_sentence_naming_the_key(tmp_path, capsys, text, key):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(text)
    assert runner.main(["run", str(run)]) == runner.EXIT_CONFIG
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err
    assert events_of(run)[-1]["error"] == "config"


def test_a_config_that_is_not_utf8_gets_a_sentence(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_bytes(b'family = "cyclegan"\nname = "\xff\xfe"\n')
    assert runner.main(["run", str(run)]) == runner.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "UTF-8" in err and "config.toml" in err and "Traceback" not in err


def test_a_relative_run_folder_keeps_its_data_inside_it(tmp_path, monkeypatch):
    from training.trainers import data_adapter
    from training.data import DatasetError

    run = tmp_path / "runs" / "pose"
    run.mkdir(parents=True)
    (run / "config.toml").write_text(CYCLEGAN + "resolution = 32\n[arch]\ng_base = 4\nd_base = 4\n")
    seen = []

    def record(cfg, run_dir, kind, resolution, is_main=True):
        seen.append(data_adapter.atelier_folder(cfg, run_dir, kind, resolution))
        raise DatasetError("recorded")

    monkeypatch.setattr(data_adapter, "ensure_atelier", record)
    monkeypatch.chdir(tmp_path)
    assert runner.main(["run", "runs/pose"]) == runner.EXIT_DATA
    assert seen and seen[0].parent == run / "data"


# ----- synthetic data and dataset images --------------------------------------------------------------------------
def test_a_stop_during_atelier_generation_ends_it_within_an_item(tmp_path):
    from training.data import atelier

    calls = []

    def check() -> bool:
        calls.append(1)
        return len(calls) > 3

    with atelier.stop_when(check), pytest.raises(atelier.GenerationCancelled):
        atelier.generate("images", tmp_path / "out", 500, resolution=16)
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


@pytest.mark.slow
def test_sigterm_during_data_generation_stops_the_trainer(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(CYCLEGAN + "[data]\nsize = 100000\n")
    proc = subprocess.Popen([PYTHON, "-m", "training", "run", str(run)], cwd=REPO, env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list((run / "data").glob("*.partial/*.hdf5")) and not list((run / "data").glob("*.partial")):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)  # generating 100,000 pairs takes many minutes: only a prompt stop ends it in time
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    last = events_of(run)[-1]
    assert last["status"] == "stopped" and "generating" in last["reason"]
    assert not list((run / "data").glob("*/.complete"))


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A tiny PNG that declares ``width`` x ``height`` pixels (a decompression bomb's calling card)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
                     + chunk(b"IEND", b""))


def test_decompression_bomb_images_are_skipped_and_reported(tmp_path):
    from training.data.image_folder import ImageFolder

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(6):
        Image.new("RGB", (20, 24), (40 * i, 10, 10)).save(folder / f"{i:03d}.png")
    _png_header_only(folder / "bomb.png", 40000, 40000)    # Pillow's own DecompressionBombError (> 2x its limit)
    _png_header_only(folder / "huge.png", 8000, 6000)      # under Pillow's limit, over the dataset's
    data = ImageFolder(folder, "all", resolution=16)
    assert len(data) == 8
    items = [data[i] for i in range(len(data))]
    assert all(item["image"].shape == (3, 16, 16) for item in items)
    assert set(data.skipped) == {"bomb.png", "huge.png"}
    assert "pixels" in data.skipped["huge.png"] and "DecompressionBomb" in data.skipped["bomb.png"]


# ----- kill and resume ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_killed_at_random_instants_the_run_always_resumes_and_finishes(tmp_path):
    import random

    rng = random.Random(7)
    run = make_run(tmp_path, steps=60, loss={"sleep": 0.02}, log={"checkpoint_every": 4, "keep_last": 2,
                                                                     "sample_every": 0, "eval_every": 0})
    command = "run"
    kills = 0
    while kills < 8:
        proc = subprocess.Popen([PYTHON, "-m", "training", command, str(run), "--allow-plugins"], cwd=REPO,
                                env=subprocess_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        started = len([e for e in events_of(run) if e["kind"] == "status"])
        while len([e for e in events_of(run) if e["kind"] == "status"]) == started and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is not None:
            break  # finished before the kill
        proc.kill()
        proc.wait(30)
        kills += 1
        if ckpt.latest_checkpoint(run) is not None:
            command = "resume"
            assert ckpt.newest_verified(run)[0] is not None
    if proc.poll() is None or events_of(run)[-1].get("status") != "finished":
        done = subprocess.run([PYTHON, "-m", "training", command, str(run), "--allow-plugins"], cwd=REPO,
                              env=subprocess_env(), capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert kills >= 4
    assert events_of(run)[-1]["status"] == "finished"
    assert ckpt.verify(ckpt.latest_checkpoint(run))["step"] == 60
    assert not list((run / "checkpoints").glob("*.damaged"))  # SIGKILL never leaves a torn checkpoint
