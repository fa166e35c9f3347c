"""Checkpoints in ``RUN_DIR/checkpoints/``: everything a run needs to continue exactly where it stopped.

A checkpoint is a ``torch.save`` of a dict of tensors, numbers, strings, lists and dicts only, so it loads with
``torch.load(weights_only=True)`` (no arbitrary unpickling). Files are ``step_00001200.pt``; ``best.pt`` is a
copy of the one with the best monitored value. Writing goes to a temporary file in the same folder, is fsynced,
then renamed over the final name (``os.replace`` is atomic), so a run killed at any instant leaves every
previous checkpoint intact and never a torn one under a final name.
"""

from __future__ import annotations

import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashionstudio.core.atomic import atomic_write

CHECKPOINT_DIR = "checkpoints"
BEST = "best.pt"
_STEP_FILE = re.compile(r"^step_(\d{8,})\.pt$")


def step_name(step: int) -> str:
    return f"step_{step:08d}.pt"


def atomic_save(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """``torch.save`` ``state`` to ``path`` through a temporary file + fsync + rename."""
    path = Path(path)
    with atomic_write(path, durable=True) as tmp, open(tmp, "wb") as f:
        torch.save(state, f)
    return path


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` over ``dst`` atomically (used for best.pt)."""
    with atomic_write(dst, durable=True) as tmp:
        shutil.copyfile(src, tmp)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint without unpickling arbitrary objects."""
    return torch.load(path, map_location="cpu", weights_only=True)


def list_checkpoints(run_dir: str | os.PathLike) -> list[tuple[int, Path]]:
    """(step, path) of the run's step checkpoints, oldest first (temporary files are ignored)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _STEP_FILE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def prune(run_dir: str | os.PathLike, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` step checkpoints (best.pt is a separate file and stays)."""
    for _, path in list_checkpoints(run_dir)[:-keep_last]:
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
