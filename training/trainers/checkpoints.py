"""What a training run saves in a checkpoint and how it continues from one.

The payload is the trainer's state (networks, EMA copies, optimisers, schedulers, family extras), the step, the
config and architecture it was trained with, the RNG and data-order state taken before the next step, the best
monitored value and the last metrics. :mod:`training.checkpoint` writes and verifies the files (atomic, checksummed,
pruned); this module decides what goes in, when a checkpoint is also ``best.pt``, and which checkpoints a run
may continue from.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from fashionstudio.core.run_folder import EventWriter
from training import checkpoint as ckpt

CHECKPOINT_FORMAT = "fashionstudio-checkpoint"
CHECKPOINT_VERSION = 1


class Checkpoints:
    """The checkpoints of one run: ``last`` (run-relative path of the newest written or resumed from) and
    ``best_value`` (the lowest monitored value so far, the one ``best.pt`` holds)."""

    def __init__(self, trainer: Any, run_dir: Path, events: EventWriter):
        self.t = trainer
        self.cfg = trainer.cfg
        self.run_dir = Path(run_dir)
        self.events = events
        self.best_value: float | None = None
        self.last: str | None = None

    def payload(self, rng: dict[str, Any], data: dict[str, int], metrics: dict[str, float]) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "family": self.cfg.family, "step": self.t.step, "config": self.cfg.to_dict(), "arch": self.t.arch,
            "trainer": self.t.state_dict(), "rng": rng, "data": data,
            "best_value": self.best_value, "metrics": metrics,
        }

    def save(self, rng: dict[str, Any], data: dict[str, int], monitor: float | None,
             metrics: dict[str, float]) -> str | None:
        """Write the checkpoint of the current step (also as ``best.pt`` when ``monitor`` is the lowest so far),
        prune old ones and log it; return its run-relative path (the previous one when the weights are not
        finite, which is never written)."""
        best = monitor is not None and (self.best_value is None or monitor < self.best_value)
        if best:
            self.best_value = monitor
        state = self.payload(rng, data, metrics)
        bad = ckpt.first_non_finite(state)
        if bad is not None:  # never a "last good" state that cannot train: the previous checkpoint stays the last
            print(f"warning: not writing a checkpoint at step {self.t.step}: the weight {bad} is not a finite "
                  "number.", file=sys.stderr)
            return self.last
        rel = f"{ckpt.CHECKPOINT_DIR}/{ckpt.step_name(self.t.step)}"
        path = ckpt.atomic_save(state, self.run_dir / rel)
        if best:
            ckpt.atomic_copy(path, path.parent / ckpt.BEST)
        ckpt.prune(self.run_dir, self.cfg.log.keep_last, protect=path)
        self.last = rel
        self.events.emit("checkpoint", self.t.step, path=rel, best=best,
                         **({"monitor": monitor} if monitor is not None else {}))
        return rel

    def load(self, path: Path, state: dict[str, Any] | None = None) -> dict[str, Any]:
        """Load checkpoint ``path`` (``state``: its contents, when already loaded and verified) into the trainer,
        after checking it is a checkpoint of this run's family and architecture; return its contents (the caller
        restores the data order, metrics and RNG from them)."""
        state = ckpt.verify(path) if state is None else state
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"'{path.name}' is not a FashionStudio training checkpoint.")
        if state["family"] != self.cfg.family:
            raise ValueError(f"'{path.name}' is a {state['family']} checkpoint but config.toml trains "
                             f"{self.cfg.family}.")
        if state["arch"] != self.t.arch:
            raise ValueError(f"'{path.name}' was trained with a different architecture than config.toml now "
                             "describes; change [arch]/preset/resolution back to resume it.")
        self.t.load_state_dict(state["trainer"])
        self.t.step = int(state["step"])
        self.best_value = state.get("best_value")
        self.last = f"{ckpt.CHECKPOINT_DIR}/{path.name}"
        return state
