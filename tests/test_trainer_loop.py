"""The common training loop, config, events and checkpoints, exercised with a tiny plug-in family.

The tiny family ("tinygan") lives in this module so that a subprocess can import it as a plug-in
(``plugins = ["test_trainer_loop"]`` with this folder on PYTHONPATH).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from fashionstudio.core import registry
from fashionstudio.families import Family
from fashionstudio.core.run_folder import EventWriter, read_events
from training import checkpoint as ckpt
from training import runner
from training.config import ConfigError, config_from_dict, load_config, schedule_value, to_toml
from training.trainers.trainer import Trainer

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable

# ----- the tiny family ------------------------------------------------------------------------------------------
PRESETS = {"demo": {"width": 4, "resolution": 8}}
NETWORKS = ("G", "D")
INFERENCE_NETWORKS = ("G",)


class TinyG(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.Dropout2d(0.2), nn.Conv2d(width, 3, 3, padding=1))

    def forward(self, x):
        return torch.tanh(self.body(x))


class TinyD(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                  nn.utils.parametrizations.spectral_norm(nn.Conv2d(width, 1, 1)))

    def forward(self, x):
        return self.body(x)


def build(config, which=None):
    nets = {"G": lambda: TinyG(config["width"]), "D": lambda: TinyD(config["width"])}
    return {name: nets[name]() for name in (which or NETWORKS)}


class PairSet(torch.utils.data.Dataset):
    """x -> y where y is x negated and darkened: a local mapping a small conv can learn."""

    def __init__(self, n: int, res: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.rand(n, 3, res, res, generator=g) * 2 - 1
        self.y = -self.x * 0.5

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "y": self.y[i]}


class TinyTrainer(Trainer):
    DEFAULT_LR = {"G": 1e-2, "D": 1e-2}
    DEFAULT_LOSS = {"l1": 10.0, "nan_at": 0, "sleep": 0.0}
    DEFAULT_SCHEDULES = {"adv": [[0, 0.0], [4, 1.0]]}
    EMA_NETWORKS = ("G",)
    MONITOR = "l1"

    def make_optimizers(self):
        return {"G": self.adam("G", self.nets["G"].parameters()), "D": self.adam("D", self.nets["D"].parameters())}

    def build_dataset(self, run_dir, split):
        return PairSet(self.cfg.data.size if split == "train" else 6, self.arch["resolution"],
                       seed=100 if split == "train" else 200)

    def train_step(self, batch):
        G, D = self.nets["G"], self.nets["D"]
        if self.cfg.loss["sleep"]:
            time.sleep(self.cfg.loss["sleep"])
        fake = G(batch["x"])
        # D first, on a detached fake.
        d_loss = ((D(batch["y"]) - 1) ** 2).mean() + (D(fake.detach()) ** 2).mean()
        if self.cfg.loss["nan_at"] and self.step + 1 == self.cfg.loss["nan_at"]:
            d_loss = d_loss * float("nan")
        values = self.check_finite({"D": d_loss})
        self.update("D", d_loss)
        self.set_requires_grad(["D"], False)
        l1 = (fake - batch["y"]).abs().mean()
        g_loss = self.weight("l1") * l1 + self.weight("adv") * ((D(fake) - 1) ** 2).mean()
        self.set_requires_grad(["D"], True)
        values.update(self.check_finite({"G": g_loss, "l1": l1}))
        self.update("G", g_loss)
        dump = os.environ.get("TINY_DUMP_DIR")
        if dump and self.step + 1 == self.cfg.steps:
            torch.save({k: v.clone() for k, v in G.state_dict().items()}, Path(dump) / f"rank{self.dist.rank}.pt")
        return values

    @torch.no_grad()
    def sample_rows(self, fixed):
        return [("input", fixed["x"]), ("target", fixed["y"]), ("output", self.inference_net("G")(fixed["x"]))]

    @torch.no_grad()
    def evaluate(self, fixed):
        return {"l1": float((self.inference_net("G")(fixed["x"]) - fixed["y"]).abs().mean())}


registry.register(Family("tinygan", build=build, trainer=TinyTrainer))  # a plug-in's one registration call


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ----- helpers --------------------------------------------------------------------------------------------------
def make_run(tmp_path: Path, name: str = "run", **over) -> Path:
    cfg = {"family": "tinygan", "preset": "demo", "seed": 3, "steps": 8, "batch_size": 4,
           "plugins": ["test_trainer_loop"],
           "data": {"size": 10}, "optim": {"ema_half_life": 20.0},
           "log": {"log_every": 2, "sample_every": 4, "checkpoint_every": 3, "keep_last": 2, "eval_every": 4}}
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    run = tmp_path / name
    run.mkdir()
    (run / "config.toml").write_text(to_toml(cfg))
    return run


def events_of(run: Path) -> list[dict]:
    return read_events(run / "events.jsonl")[0]


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(REPO), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


# ----- config ---------------------------------------------------------------------------------------------------
def test_minimal_config_gets_defaults_and_family_checks(tmp_path):
    cfg = config_from_dict({"family": "tinygan", "preset": "demo"})
    assert cfg.seed == 0 and cfg.precision == "fp32" and cfg.data.kind == "atelier"
    run = make_run(tmp_path, loss={"l1": 2})
    cfg = load_config(run)
    from training.config import merge_family_defaults

    merge_family_defaults(cfg, TinyTrainer.DEFAULT_LR, TinyTrainer.DEFAULT_LOSS, TinyTrainer.DEFAULT_SCHEDULES)
    assert cfg.loss["l1"] == 2.0 and isinstance(cfg.loss["l1"], float) and cfg.optim.lr == {"G": 1e-2, "D": 1e-2}
    bad = load_config(make_run(tmp_path, "typo", loss={"l2": 1.0}))
    with pytest.raises(ConfigError, match="'l2'"):
        merge_family_defaults(bad, TinyTrainer.DEFAULT_LR, TinyTrainer.DEFAULT_LOSS, TinyTrainer.DEFAULT_SCHEDULES)


@pytest.mark.parametrize("raw, match", [
    ({"family": "tinygan", "stepz": 3}, "unknown key"),
    ({"family": "tinygan", "precision": "fp8"}, "precision"),
    ({"family": "tinygan", "steps": 0}, "positive"),
    ({"family": "tinygan", "schedules": {"lambda_recon": [[5, 1]]}}, "starting at 0"),
    ({"family": "tinygan", "data": {"sise": 3}}, "unknown key"),
    ({"family": "tinygan", "log": {"keep_last": "3"}}, "keep_last"),
    ({"preset": "demo"}, "family"),
])
def test_bad_configs_get_a_sentence(raw, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(raw)


def test_schedule_and_toml_round_trip(tmp_path):
    points = [[0, 1], [30, 5], [60, 10]]
    assert [schedule_value(points, s) for s in (0, 29, 30, 59, 60, 1000)] == [1, 1, 5, 5, 10, 10]
    table = {"family": "pgpg", "steps": 5, "optim": {"lr": {"G": 1e-4}, "betas": [0.5, 0.999]},
             "schedules": {"lambda_recon": points}, "data": {"path": 'a "b"\\c'}}
    import tomllib

    assert tomllib.loads(to_toml(table)) == table


# ----- events ---------------------------------------------------------------------------------------------------
def test_events_reader_waits_for_a_complete_line(tmp_path, capsys):
    w = EventWriter(tmp_path)
    w.emit("scalars", 3, values={"loss/G": 1.5, "bad": float("nan")})
    events, offset = read_events(tmp_path)
    assert [e["kind"] for e in events] == ["scalars"] and events[0]["values"]["bad"] == "nan"
    assert json.loads(capsys.readouterr().out)["step"] == 3  # echoed on stdout
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write('{"kind": "status", "st')  # a writer caught mid-line
    more, offset2 = read_events(tmp_path, offset)
    assert more == [] and offset2 == offset
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write('atus": "finished", "step": 4}\n')
    more, _ = read_events(tmp_path, offset2)
    assert more == [{"kind": "status", "status": "finished", "step": 4}]
    with pytest.raises(ValueError):
        w.emit("gossip", 0)


def test_events_reader_in_bounded_chunks_never_splits_a_line(tmp_path, capsys):
    w = EventWriter(tmp_path, echo=False)
    for step in range(1, 41):
        w.emit("scalars", step, values={"loss/G": step / 10})
    w.emit("status", 41, status="finished", checkpoint=None, note="x" * 3000)   # one line longer than a chunk
    w.close()
    steps, offset, reads = [], 0, 0
    while True:
        events, new_offset = read_events(tmp_path, offset, max_bytes=500)
        if new_offset == offset:
            break
        reads += 1
        assert 0 < len(events) and new_offset - offset <= 500 + 3100    # a chunk, or the one long line whole
        steps += [e["step"] for e in events]
        offset = new_offset
    assert steps == list(range(1, 42)) and reads > 5
    assert offset == (tmp_path / "events.jsonl").stat().st_size
    assert read_events(tmp_path)[0] == read_events(tmp_path / "events.jsonl", 0, max_bytes=10**9)[0]


# ----- checkpoints ----------------------------------------------------------------------------------------------
def test_interrupted_checkpoint_write_leaves_previous_intact(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "step_00000001.pt"
    ckpt.atomic_save({"w": torch.arange(4.0), "rng": ckpt.capture_rng()}, path)
    before = path.read_bytes()

    def torn_save(obj, f):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # killed mid-write

    monkeypatch.setattr(torch, "save", torn_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.atomic_save({"w": torch.zeros(4)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left behind
    state = ckpt.load_checkpoint(path)  # weights_only load of tensors and RNG lists
    assert torch.equal(state["w"], torch.arange(4.0))


def test_rng_state_round_trips(tmp_path):
    import random

    import numpy as np

    state = ckpt.capture_rng()
    ckpt.atomic_save({"rng": state}, tmp_path / "r.pt")
    a = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.restore_rng(ckpt.load_checkpoint(tmp_path / "r.pt")["rng"])
    b = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


# ----- the loop -------------------------------------------------------------------------------------------------
def final_state(run: Path) -> dict:
    return ckpt.load_checkpoint(ckpt.latest_checkpoint(run))


def test_resume_gives_the_same_weights_as_a_straight_run(tmp_path, capsys):
    straight = make_run(tmp_path, "straight")
    assert runner.main(["run", str(straight)]) == 0
    split = make_run(tmp_path, "split")
    assert runner.main(["run", str(split), "--until", "5"]) == 0
    assert events_of(split)[-1]["status"] == "stopped"
    assert runner.main(["resume", str(split)]) == 0

    a, b = final_state(straight), final_state(split)
    assert a["step"] == b["step"] == 8
    for part in ("networks", "ema", "optimizers"):
        for net, sd in a["trainer"][part].items():
            flat_a = torch.utils._pytree.tree_leaves(sd)
            flat_b = torch.utils._pytree.tree_leaves(b["trainer"][part][net])
            assert len(flat_a) == len(flat_b)
            for x, y in zip(flat_a, flat_b):
                assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y, (part, net)
    ev = events_of(straight)
    kinds = [e["kind"] for e in ev]
    assert kinds[0] == "status" and ev[0]["status"] == "started" and ev[-1]["status"] == "finished"
    scalars = [e for e in ev if e["kind"] == "scalars"]
    assert {"loss/G", "loss/D", "loss/l1", "lr/G", "lr/D", "weight/adv", "images_per_s"} <= set(scalars[0]["values"])
    assert scalars[0]["values"]["weight/adv"] == 0.0 and scalars[-1]["values"]["weight/adv"] == 1.0
    samples = [e for e in ev if e["kind"] == "sample"]
    assert [e["step"] for e in samples] == [0, 4, 8] and (straight / samples[-1]["path"]).is_file()
    assert any(e["kind"] == "metrics" for e in ev)
    # keep_last=2 plus best.pt
    names = sorted(p.name for p in (straight / "checkpoints").iterdir())
    assert len([n for n in names if n.startswith("step_")]) == 2 and "best.pt" in names
    # a second `run` in the same folder refuses instead of overwriting
    assert runner.main(["run", str(straight)]) == runner.EXIT_CONFIG


def test_loss_goes_down_and_export_matches_ema_generator(tmp_path, capsys):
    run = make_run(tmp_path, steps=40, log={"eval_every": 10, "checkpoint_every": 40})
    assert runner.main(["run", str(run)]) == 0
    metrics = [e["values"]["l1"] for e in events_of(run) if e["kind"] == "metrics"]
    assert metrics[-1] < metrics[0] * 0.8

    from fashionstudio.core.modelfile import load_model_file
    from training.export import export_run

    from training import export

    assert export.main(["export", str(tmp_path / "nowhere")]) == 2  # no checkpoint: a sentence, exit 2
    assert export.main(["export", str(run), "--out", str(tmp_path / "cli.safetensors")]) == 0
    assert load_model_file(tmp_path / "cli.safetensors").meta["training"]["checkpoint"] == "best.pt"
    out = export_run(run, tmp_path / "tiny.safetensors", which="latest")
    model = load_model_file(out)
    assert list(model.networks) == ["G"] and model.meta["training"]["steps"] == 40
    assert model.meta["training"]["ema"] == ["G"]
    state = final_state(run)
    ema = TinyG(4)
    ema.load_state_dict(state["trainer"]["ema"]["G"])
    raw = TinyG(4)
    raw.load_state_dict(state["trainer"]["networks"]["G"])
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    with torch.no_grad():
        assert torch.equal(model.networks["G"](x), ema.eval()(x))
        assert not torch.equal(model.networks["G"](x), raw.eval()(x))


def test_non_finite_loss_checkpoints_last_good_state(tmp_path, capsys):
    run = make_run(tmp_path, loss={"nan_at": 4}, log={"checkpoint_every": 100})
    assert runner.main(["run", str(run)]) == 1
    err = events_of(run)[-1]
    assert err["kind"] == "error" and err["error"] == "non_finite_loss" and err["loss"] == "D"
    assert err["checkpoint"] == "checkpoints/step_00000003.pt"
    state = ckpt.load_checkpoint(run / err["checkpoint"])
    assert state["step"] == 3
    assert all(torch.isfinite(t).all() for t in state["trainer"]["networks"]["G"].values() if t.is_floating_point())


def test_unwritable_checkpoint_folder_is_an_error_not_a_hang(tmp_path, capsys):
    run = make_run(tmp_path)
    (run / "checkpoints").write_text("a file where the folder should be")
    assert runner.main(["run", str(run)]) == runner.EXIT_IO
    err = events_of(run)[-1]
    assert err["kind"] == "error" and err["error"] == "io" and "checkpoints" in err["message"]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_full_disk_for_events_reports_on_stderr(tmp_path):
    run = make_run(tmp_path)
    (run / "events.jsonl").symlink_to("/dev/full")
    proc = subprocess.run([PYTHON, "-m", "training", "run", str(run), "--allow-plugins"], env=subprocess_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == runner.EXIT_IO
    assert "No space left on device" in proc.stderr


def test_missing_folder_and_nothing_to_resume(tmp_path, capsys):
    assert runner.main(["run", str(tmp_path / "nope")]) == runner.EXIT_CONFIG
    run = make_run(tmp_path)
    assert runner.main(["resume", str(run)]) == runner.EXIT_CONFIG
    assert "no checkpoint" in events_of(run)[-1]["message"]


@pytest.mark.slow
def test_sigterm_finishes_the_step_checkpoints_and_exits_0(tmp_path):
    run = make_run(tmp_path, steps=100000, loss={"sleep": 0.02}, log={"checkpoint_every": 100000})
    proc = subprocess.Popen([PYTHON, "-m", "training", "run", str(run), "--allow-plugins"], env=subprocess_env(), cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if any(e["kind"] == "scalars" for e in events_of(run)):
                break
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    last = events_of(run)[-1]
    assert last["kind"] == "status" and last["status"] == "stopped" and last["reason"] == "SIGTERM"
    assert '"status":"stopped"' in out  # echoed on stdout too
    state = ckpt.load_checkpoint(run / last["checkpoint"])
    assert state["step"] == last["step"] > 0


@pytest.mark.slow
def test_two_cpu_processes_train_in_step(tmp_path):
    run = make_run(tmp_path, steps=4, batch_size=2, log={"sample_every": 2, "checkpoint_every": 2})
    dump = tmp_path / "dump"
    dump.mkdir()
    env = subprocess_env() | {"TINY_DUMP_DIR": str(dump)}
    proc = subprocess.run([PYTHON, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "training", "run", str(run), "--allow-plugins"], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ev = events_of(run)
    started = [e for e in ev if e.get("status") == "started"]
    assert len(started) == 1 and started[0]["world_size"] == 2  # only rank 0 writes
    assert ev[-1]["status"] == "finished"
    r0, r1 = torch.load(dump / "rank0.pt"), torch.load(dump / "rank1.pt")
    for k in r0:
        if "running" not in k and "num_batches" not in k:  # BN statistics are per process
            assert torch.equal(r0[k], r1[k]), k
    assert final_state(run)["step"] == 4


def test_speed_options_on_cpu_are_honoured_or_refused_with_a_note(tmp_path, capsys):
    run = make_run(tmp_path, precision="fp16", channels_last=True, device="cpu")
    assert runner.main(["run", str(run), "--until", "1"]) == 0
    started = events_of(run)[0]
    assert started["precision"] == "fp32" and started["device"] == "cpu" and started["channels_last"] is True
    assert any("fp16" in n and "CUDA" in n for n in started["notes"])


def test_bf16_trains_on_cpu_with_fp32_weights(tmp_path, capsys):
    """bf16 autocast runs on a CPU too (the trainer used to force fp32 there); weights and checkpoints stay fp32."""
    run = make_run(tmp_path, precision="bf16", steps=2, device="cpu")
    assert runner.main(["run", str(run)]) == 0
    started = events_of(run)[0]
    assert started["precision"] == "bf16"
    state = final_state(run)
    weights = [v for k, v in state["trainer"]["networks"]["G"].items() if v.is_floating_point()]
    assert weights and all(v.dtype == torch.float32 for v in weights)


@pytest.mark.parametrize("flags, speedup, expected", [([], None, "fp32"), (["amx_bf16"], 3.0, "bf16"),
                                                      (["avx512_bf16"], 1.05, "fp32")])
def test_auto_precision_follows_the_measurement(monkeypatch, flags, speedup, expected):
    from training import precision

    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda cpuinfo=None: flags)

    def probe(device_str, repeats=3):
        assert flags, "no probe where the CPU says it has no native bf16"
        return speedup

    monkeypatch.setattr(precision, "bf16_speedup", probe)
    chosen, notes = precision.resolve_precision("auto", torch.device("cpu"))
    assert chosen == expected and notes and notes[0].startswith(f"precision auto: {expected}")


def test_cpu_bf16_flags_are_read_from_cpuinfo():
    from training.precision import bf16_speedup, cpu_bf16_flags

    info = "processor: 0\nflags\t\t: fpu sse avx2 avx512f amx_bf16 amx_tile\n\nflags : fpu avx512_bf16\n"
    assert cpu_bf16_flags(info) == ["amx_bf16", "avx512_bf16"]
    assert cpu_bf16_flags("flags : fpu sse avx2 fma\n") == []
    assert bf16_speedup("cpu", repeats=1) > 0  # the probe itself runs


def test_warm_start_takes_networks_from_a_model_file_and_a_checkpoint(tmp_path, capsys):
    from training.export import export_run
    from training.warm_start import warm_start

    source = make_run(tmp_path, "source", steps=6)
    assert runner.main(["run", str(source)]) == 0
    model_file = export_run(source, tmp_path / "source.safetensors", which="latest")
    state = final_state(source)

    # A whole run warm-started from the model file: G starts from the file's (EMA) weights, D fresh, and the
    # status event says so.
    run = make_run(tmp_path, "warm", steps=2, seed=11, init={"from": str(model_file)})
    assert runner.main(["run", str(run)]) == 0
    notes = next(e for e in events_of(run) if e.get("status") == "started")["notes"]
    assert f"G: weights from {model_file}" in notes and f"D: not in {model_file}, starts fresh" in notes

    # The weights themselves: G from the model file's EMA G, D from the checkpoint (an explicit entry wins).
    nets = build(PRESETS["demo"])
    notes = warm_start(nets, {"from": str(model_file), "D": "../source/checkpoints/" +
                              ckpt.latest_checkpoint(source).name}, run)
    for k, v in nets["G"].state_dict().items():
        assert torch.equal(v, state["trainer"]["ema"]["G"][k]), k
    for k, v in nets["D"].state_dict().items():
        assert torch.equal(v, state["trainer"]["networks"]["D"][k]), k
    assert len(notes) == 2


@pytest.mark.parametrize("init, match", [
    ({"X": "a.pt"}, "does not have"),
    ({"G": "missing.safetensors"}, "no file at"),
    ({"G": "junk.pt"}, "neither a FashionStudio model file nor a run checkpoint"),
    ({"G": "wide.safetensors"}, "another architecture"),
])
def test_warm_start_refuses_bad_sources_before_touching_weights(tmp_path, capsys, init, match):
    from training.config import ConfigError
    from training.export import export_run
    from training.warm_start import warm_start

    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    wide = make_run(tmp_path, "wide", steps=2, arch={"width": 6})
    assert runner.main(["run", str(wide)]) == 0
    export_run(wide, tmp_path / "wide.safetensors", which="latest")
    nets = build(PRESETS["demo"])
    before = {k: v.clone() for k, v in nets["G"].state_dict().items()}
    with pytest.raises(ConfigError, match=match):
        warm_start(nets, init, tmp_path)
    assert all(torch.equal(v, before[k]) for k, v in nets["G"].state_dict().items())
    # In a run the same refusal is a config error (exit 2) with the sentence on the events stream.
    run = make_run(tmp_path, "bad", steps=2, init={k: str(tmp_path / v) for k, v in init.items()})
    assert runner.main(["run", str(run)]) == runner.EXIT_CONFIG
