"""Checkpoints are untrusted input: checksums, resume past damaged ones, no non-finite "good" state, full disks.

Damaged files are made in the test (cut, emptied, replaced by garbage, a byte flipped inside a tensor, a pickle
that would write a marker file if it were ever unpickled); none of them may stop a resume that has an older
intact checkpoint, and none may bring torch's advice to switch its safety off to the user.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from test_trainer_loop import events_of, make_run
from training import checkpoint as ckpt
from training import runner

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MARKER_VALUE = 1.2345678


def _flip_inside_tensor(path: Path) -> None:
    """Flip one byte in the middle of the marker tensor's stored data (torch stores tensors uncompressed)."""
    data = bytearray(path.read_bytes())
    needle = torch.full((4,), MARKER_VALUE).numpy().tobytes()
    at = data.find(needle)
    assert at > 0, "the marker tensor's bytes are not in the file"
    data[at + 5] ^= 0x10
    path.write_bytes(bytes(data))


class _Payload:
    """Unpickling this would call os.system: the checkpoint loader must refuse before it gets there."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _damage(path: Path, how: str, marker: Path) -> None:
    if how == "zero-byte":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "garbage":
        path.write_bytes(os.urandom(4096))
    elif how == "flipped":
        _flip_inside_tensor(path)
    elif how == "pickle":
        with open(path, "wb") as f:
            torch.save({"format": "fashionstudio-checkpoint", "evil": _Payload(marker)}, f)
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["zero-byte", "truncated", "garbage", "flipped", "pickle"])
def test_load_refuses_damaged_checkpoints_with_a_sentence(tmp_path, how):
    path = tmp_path / "step_00000003.pt"
    ckpt.atomic_save({"w": torch.full((4,), MARKER_VALUE), "step": 3}, path)
    assert torch.equal(ckpt.load_checkpoint(path)["w"], torch.full((4,), MARKER_VALUE))
    marker = tmp_path / "pwned"
    _damage(path, how, marker)
    with pytest.raises(ckpt.CheckpointDamaged) as info:
        ckpt.load_checkpoint(path)
    text = str(info.value)
    assert text.startswith("'step_00000003.pt' ")
    assert "weights_only" not in text and "weights only" not in text.lower() and "Traceback" not in text
    assert not marker.exists()


def test_checksum_covers_every_value_and_the_checksum_itself(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 7, "lr": 1e-3, "name": "G", "nested": [1, (2, "x")]}
    digest = ckpt.payload_digest(state)
    assert digest == ckpt.payload_digest({**state, ckpt.CHECKSUM_KEY: "anything"})
    for change in ({"step": 8}, {"lr": 1e-4}, {"name": "D"}, {"nested": [1, (2, "y")]},
                   {"w": torch.arange(6.0).reshape(3, 2)}, {"w": torch.arange(6.0).reshape(2, 3).double()}):
        assert ckpt.payload_digest({**state, **change}) != digest, change
    path = tmp_path / "c.pt"
    ckpt.atomic_save(state, path)
    raw = torch.load(path, weights_only=True)
    raw[ckpt.CHECKSUM_KEY] = "sha256:" + "0" * 64  # a wrong stored checksum is caught too
    torch.save(raw, path)
    with pytest.raises(ckpt.CheckpointDamaged, match="checksum"):
        ckpt.load_checkpoint(path)


def _trained_run(tmp_path: Path, name: str = "run") -> Path:
    """A tiny run stopped at step 7, with checkpoints at steps 3, 6 and 7 (keep_last 3)."""
    run = make_run(tmp_path, name, steps=9, log={"checkpoint_every": 3, "keep_last": 3})
    assert runner.main(["run", str(run), "--until", "7"]) == 0
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [3, 6, 7]
    return run


def _put_marker_tensor(path: Path) -> None:
    """Re-save a checkpoint with one recognisable tensor, so a flipped byte lands in tensor data."""
    state = ckpt.load_checkpoint(path)
    state["trainer"]["extra"] = {"probe": torch.full((4,), MARKER_VALUE)}
    ckpt.atomic_save(state, path)


@pytest.mark.parametrize("how", ["zero-byte", "truncated", "garbage", "flipped", "pickle"])
def test_resume_falls_back_to_the_newest_checkpoint_that_verifies(tmp_path, capsys, how):
    run = _trained_run(tmp_path)
    newest = run / "checkpoints" / ckpt.step_name(7)
    _put_marker_tensor(newest)
    marker = tmp_path / "pwned"
    _damage(newest, how, marker)
    capsys.readouterr()
    assert runner.main(["resume", str(run)]) == 0
    err = capsys.readouterr().err
    assert "step_00000007.pt" in err and "weights_only" not in err and "Traceback" not in err
    assert not marker.exists()
    resumed = [e for e in events_of(run) if e["kind"] == "status" and e["status"] == "resumed"][-1]
    assert resumed["step"] == 6
    assert any("step_00000007.pt" in n for n in resumed["notes"])
    assert (run / "checkpoints" / ("step_00000007.pt" + ckpt.DAMAGED_SUFFIX)).is_file()  # kept, out of the way
    assert ckpt.load_checkpoint(ckpt.latest_checkpoint(run))["step"] == 9
    assert events_of(run)[-1]["status"] == "finished"


def test_resume_with_no_intact_checkpoint_names_each_one(tmp_path, capsys):
    run = _trained_run(tmp_path)
    for step, how in ((3, "garbage"), (6, "zero-byte"), (7, "truncated")):
        _damage(run / "checkpoints" / ckpt.step_name(step), how, tmp_path / "m")
    capsys.readouterr()
    assert runner.main(["resume", str(run)]) == runner.EXIT_CONFIG
    err = capsys.readouterr().err
    assert all(ckpt.step_name(s) in err for s in (3, 6, 7)) and "Traceback" not in err
    assert "no usable checkpoint" in events_of(run)[-1]["message"]


def test_non_finite_weights_are_skipped_on_resume_and_never_saved(tmp_path, capsys):
    run = _trained_run(tmp_path)
    newest = run / "checkpoints" / ckpt.step_name(7)
    state = ckpt.load_checkpoint(newest)
    first = next(iter(state["trainer"]["networks"]["G"]))
    state["trainer"]["networks"]["G"][first] = state["trainer"]["networks"]["G"][first] * float("nan")
    torch.save(state, newest)  # an older-format checkpoint (no checksum) holding NaN weights
    assert runner.main(["resume", str(run), "--until", "8"]) == 0
    assert "NaN or infinite" in capsys.readouterr().err
    resumed = [e for e in events_of(run) if e["kind"] == "status" and e["status"] == "resumed"][-1]
    assert resumed["step"] == 6

    # The loop itself refuses to write a non-finite state as a checkpoint, and pruning keeps the last good one.
    from test_trainer_loop import TinyTrainer  # noqa: F401  (registers the tiny family)
    from training.config import load_config
    from fashionstudio.core.run_folder import EventWriter
    from training.trainers.loop import Loop

    cfg = load_config(run)
    loop = Loop(TinyTrainer(cfg, torch.device("cpu")), run, EventWriter(run, echo=False))
    path, good, _ = ckpt.newest_verified(run)
    loop.restore(path, good)
    before = sorted(p.name for p in (run / "checkpoints").iterdir())
    with torch.no_grad():
        next(loop.t.nets["G"].parameters()).fill_(float("inf"))
    loop.t.step += 1
    assert loop.save_checkpoint() == loop.checkpoints.last == f"checkpoints/{path.name}"
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == before
    loop.events.close()


def test_export_of_a_damaged_best_checkpoint_uses_the_newest_intact_one(tmp_path, capsys):
    from training.export import export_run

    run = _trained_run(tmp_path)
    _damage(run / "checkpoints" / ckpt.BEST, "truncated", tmp_path / "m")
    out = export_run(run, tmp_path / "model.safetensors")
    assert out.is_file()
    err = capsys.readouterr().err
    assert "'best.pt'" in err and "step_00000007.pt" in err
    _damage(run / "checkpoints" / ckpt.step_name(7), "garbage", tmp_path / "m")
    with pytest.raises(ckpt.CheckpointDamaged, match="step_00000007.pt"):  # a file asked for by name: no swap
        export_run(run, tmp_path / "other.safetensors", which=str(run / "checkpoints" / ckpt.step_name(7)))


def test_prune_never_deletes_the_protected_checkpoint(tmp_path):
    for step in (1, 2, 3, 4):
        ckpt.atomic_save({"step": step}, tmp_path / "checkpoints" / ckpt.step_name(step))
    ckpt.prune(tmp_path, keep_last=2, protect=tmp_path / "checkpoints" / ckpt.step_name(1))
    assert [s for s, _ in ckpt.list_checkpoints(tmp_path)] == [1, 3, 4]


def _enospc_after_first_checkpoint(monkeypatch):
    """From the second checkpoint on, writes into a checkpoint file fail as on a full disk once the tensor data
    comes (torch swallows that OSError and raises a RuntimeError of its own: "unexpected pos")."""
    real_open = open
    calls = {"n": 0}

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def write(self, data):
            if len(data) < 64:  # the zip headers still fit
                return self.f.write(data)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if "w" in mode and "b" in mode:
            calls["n"] += 1
            if calls["n"] > 1:
                return FullDisk(f)
        return f

    monkeypatch.setattr(ckpt, "open", fake_open, raising=False)


def test_disk_full_during_a_checkpoint_exits_3_with_the_disk_sentence(tmp_path, monkeypatch, capsys):
    run = make_run(tmp_path, steps=9, log={"checkpoint_every": 3, "keep_last": 3})
    _enospc_after_first_checkpoint(monkeypatch)
    code = runner.main(["run", str(run)])
    err = capsys.readouterr().err
    assert code == runner.EXIT_IO, err
    assert "No space left on device" in err and "Free disk space" in err and "Traceback" not in err
    error = [e for e in events_of(run) if e["kind"] == "error"][-1]
    assert error["error"] == "io" and error["step"] == 6  # the step it really failed at
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [3]
    assert not [p.name for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]  # no temp file
    monkeypatch.undo()
    assert ckpt.verify(run / "checkpoints" / ckpt.step_name(3))["step"] == 3


def _mount_small_tmpfs(folder: Path, size: str) -> str | None:
    """Mount a small tmpfs on ``folder``; the reason it cannot be done here, or None."""
    if sys.platform != "linux" or not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        return "a real small filesystem needs Linux and root to mount a tmpfs"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    return None if done.returncode == 0 else f"cannot mount a tmpfs here: {done.stderr.strip()}"


@pytest.mark.slow
def test_a_really_full_filesystem_exits_3_and_keeps_the_checkpoints(tmp_path, capsys):
    mount = tmp_path / "small"
    reason = _mount_small_tmpfs(mount, "4m")
    if reason:
        pytest.skip(reason)
    try:
        # wide enough that a checkpoint (~1 MB) is written in large pieces: torch then reports a full disk as
        # a RuntimeError ("unexpected pos"), which must still come out as the disk sentence
        run = make_run(mount, steps=9, arch={"width": 384}, log={"checkpoint_every": 3, "keep_last": 3})
        assert runner.main(["run", str(run), "--until", "3"]) == 0
        kept = (run / "checkpoints" / ckpt.step_name(3)).read_bytes()
        filler = mount / "filler"
        with open(filler, "wb") as f:  # fill the disk, then give back a little room: events fit, a checkpoint not
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        os.truncate(filler, max(0, filler.stat().st_size - 16384))
        capsys.readouterr()
        assert runner.main(["resume", str(run)]) == runner.EXIT_IO
        assert "Free disk space" in capsys.readouterr().err
        assert (run / "checkpoints" / ckpt.step_name(3)).read_bytes() == kept
        assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
