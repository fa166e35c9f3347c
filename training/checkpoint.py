"""Checkpoints in ``RUN_DIR/checkpoints/``: everything a run needs to continue exactly where it stopped.

A checkpoint is a ``torch.save`` of a dict of tensors, numbers, strings, lists and dicts only, so it loads with
``torch.load(weights_only=True)`` (no arbitrary unpickling). Files are ``step_00001200.pt``; ``best.pt`` is a
copy of the one with the best monitored value. Writing goes to a temporary file in the same folder, is fsynced,
then renamed over the final name (``os.replace`` is atomic), so a run killed at any instant leaves every
previous checkpoint intact and never a torn one under a final name.

Every checkpoint also carries ``checksum``: a SHA-256 of its payload (every key, number, string and tensor byte,
in order). :func:`load_checkpoint` recomputes it, so bytes flipped on disk or in a copy are caught before the
weights are used; :func:`newest_verified` is what ``resume`` starts from: the newest checkpoint that loads,
matches its checksum and holds only finite weights, with the ones it skipped named. A checkpoint is a file from a
run folder, so it is untrusted input: every way it can fail becomes a :class:`CheckpointDamaged` sentence.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashionstudio.core.atomic import atomic_write
from fashionstudio.core.run_folder import BEST_CHECKPOINT as BEST
from fashionstudio.core.run_folder import CHECKPOINT_DIR, checkpoint_step
from fashionstudio.core.run_folder import checkpoint_name as step_name


CHECKSUM_KEY = "checksum"
DAMAGED_SUFFIX = ".damaged"


class CheckpointDamaged(ValueError):
    """A checkpoint file that cannot be used; ``reason`` completes a sentence that starts with the file's name."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"'{Path(path).name}' {reason}.")
        self.path = Path(path)
        self.reason = reason


def _feed(h: Any, obj: Any) -> None:
    """Hash ``obj`` with its type and structure, so that equal payloads and only they give equal digests."""
    if isinstance(obj, torch.Tensor):
        data = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{data.dtype}{tuple(obj.shape)}".encode())
        if data.numel():
            h.update(data.view(torch.uint8).numpy())
    elif isinstance(obj, dict):
        h.update(b"D%d" % len(obj))
        for key, value in obj.items():  # pickling keeps insertion order, so the loaded dict walks the same way
            _feed(h, key)
            _feed(h, value)
    elif isinstance(obj, (list, tuple)):
        h.update(b"L%d" % len(obj))
        for value in obj:
            _feed(h, value)
    elif isinstance(obj, bool) or obj is None:
        h.update(f"B{obj}".encode())
    elif isinstance(obj, int):
        h.update(f"I{obj}".encode())
    elif isinstance(obj, float):
        h.update(f"F{obj.hex()}".encode())
    elif isinstance(obj, str):
        h.update(b"S%d:" % len(obj) + obj.encode("utf-8", "surrogatepass"))
    elif isinstance(obj, bytes):
        h.update(b"Y%d:" % len(obj) + obj)
    else:  # torch.dtype, torch.Size subclasses etc.: their repr is stable
        h.update(f"O{type(obj).__name__}:{obj!r}".encode())


def payload_digest(state: dict[str, Any]) -> str:
    """The checksum stored in a checkpoint: SHA-256 over everything in ``state`` but the checksum itself."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != CHECKSUM_KEY})
    return "sha256:" + h.hexdigest()


class _RecordingWriter:
    """A file wrapper that keeps the OSError of a failed write: torch.save turns it into a RuntimeError that
    no longer says "disk full", and the runner needs the original to give the disk sentence (exit 3)."""

    def __init__(self, f: Any):
        self._f = f
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._f.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self._f.flush()


def atomic_save(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` ``state`` (with its checksum) to ``path`` through a temporary file + fsync + rename.

    A write that fails (a full disk) raises the ``OSError`` itself and leaves every existing file as it was."""
    path = Path(path)
    state = {**state, CHECKSUM_KEY: payload_digest(state)}
    with atomic_write(path, durable=True) as tmp, open(tmp, "wb") as f:
        writer = _RecordingWriter(f)
        try:
            torch.save(state, writer)
        except RuntimeError:
            if writer.error is not None:
                raise writer.error from None
            raise
    return path


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` over ``dst`` atomically (used for best.pt)."""
    with atomic_write(dst, durable=True) as tmp:
        shutil.copyfile(src, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint without unpickling arbitrary objects and check its stored checksum (older checkpoints,
    written before checksums, have none). Every failure is a :class:`CheckpointDamaged` whose sentence names the
    file; torch's own message (with its advice to switch the safety off) never reaches the user."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CheckpointDamaged(path, f"cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise CheckpointDamaged(path, "is empty (0 bytes): it was cut off while being written or copied")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc):
            raise CheckpointDamaged(path, "holds Python objects besides weights and numbers, so it was not "
                                          "loaded (loading it could run code); it is not a FashionStudio "
                                          "checkpoint") from None
        raise CheckpointDamaged(path, "is damaged (its contents cannot be decoded)") from None
    except MemoryError:
        raise CheckpointDamaged(path, "declares more data than this machine can hold; it is damaged") from None
    except Exception:  # torch raises many types (RuntimeError, EOFError, ValueError...) for cut or foreign files
        raise CheckpointDamaged(path, "is not a readable checkpoint (cut off, damaged or not a PyTorch "
                                      "file)") from None
    if not isinstance(state, dict):
        raise CheckpointDamaged(path, "is not a FashionStudio checkpoint")
    stored = state.pop(CHECKSUM_KEY, None)
    if stored is not None and stored != payload_digest(state):
        raise CheckpointDamaged(path, "does not match the checksum stored in it: it was damaged on disk or "
                                      "while being copied")
    return state


def first_non_finite(state: dict[str, Any]) -> str | None:
    """The first network weight (``networks/G/conv.weight``) that is NaN or infinite, or None: a state like that
    is never saved as a good checkpoint nor resumed from."""
    trainer = state.get("trainer")
    if not isinstance(trainer, dict):
        return None
    for part in ("networks", "ema"):
        for net, weights in (trainer.get(part) or {}).items():
            for name, tensor in (weights or {}).items():
                if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() \
                        and not bool(torch.isfinite(tensor).all()):
                    return f"{part}/{net}/{name}"
    return None


def verify(path: Path) -> dict[str, Any]:
    """Load ``path`` and require finite weights; raise :class:`CheckpointDamaged` otherwise."""
    state = load_checkpoint(path)
    bad = first_non_finite(state)
    if bad is not None:
        raise CheckpointDamaged(path, f"holds NaN or infinite weights ({bad})")
    return state


def newest_verified(run_dir: str | os.PathLike) -> tuple[Path | None, dict[str, Any] | None,
                                                         list[CheckpointDamaged]]:
    """The newest step checkpoint that verifies, its state, and the newer ones that did not (newest first)."""
    skipped: list[CheckpointDamaged] = []
    for _, path in reversed(list_checkpoints(run_dir)):
        try:
            return path, verify(path), skipped
        except CheckpointDamaged as exc:
            skipped.append(exc)
    return None, None, skipped


def set_aside(path: Path) -> Path | None:
    """Rename a damaged checkpoint to ``<name>.damaged`` (kept for inspection, out of resume's and pruning's
    way); None when the folder does not allow it."""
    target = path.with_name(path.name + DAMAGED_SUFFIX)
    try:
        os.replace(path, target)
    except OSError:
        return None
    return target


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of the run's step checkpoints, oldest first (temporary files are ignored)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        step = checkpoint_step(p.name)
        if step is not None:
            found.append((step, p))
    return sorted(found)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def prune(run_dir: str | os.PathLike, keep_last: int, protect: Path | None = None) -> None:
    """Delete all but the newest ``keep_last`` step checkpoints (best.pt is a separate file and stays);
    ``protect`` (the last checkpoint known to verify) is never deleted."""
    keep = {Path(protect).name} if protect is not None else set()
    for _, path in list_checkpoints(run_dir)[:-keep_last]:
        if path.name in keep:
            continue
        path.unlink(missing_ok=True)
    for stale in (Path(run_dir) / CHECKPOINT_DIR).glob(".*.tmp"):  # left by a run killed mid-write
        stale.unlink(missing_ok=True)


# RNG states are stored as tensors and plain lists so that weights_only loading accepts them.
def capture_rng() -> dict[str, Any]:
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(("MT19937", np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
