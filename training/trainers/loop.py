"""The training loop: runs a family :class:`~training.trainers.trainer.Trainer` in a run folder, the same way for
every family.

It keeps the cadence of scalar logs, sample grids, metrics and checkpoints, ends cleanly on a stop request (a signal
or the stop file) and on a non-finite loss (with the last good state saved), and runs the same on every process of
a multi-process run, where only the main one writes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from fashionstudio.core.run_folder import STOP_FILE, EventWriter
from training import checkpoint as ckpt
from training import distributed as dist_util
from training.data import DatasetError
from training.trainers.batches import BatchStream, DataOrder, held_out_dataset
from training.trainers.checkpoints import Checkpoints
from training.trainers.samples import eval_mode, save_grid
from training.trainers.stop import StopRequested
from training.trainers.trainer import NonFiniteLoss, Trainer


class Loop:
    """Runs a :class:`Trainer` in a run folder: the cadence of logs, samples, metrics and checkpoints."""

    def __init__(self, trainer: Trainer, run_dir: Path, events: EventWriter, until: int | None = None,
                 stop: StopRequested | None = None):
        self.t = trainer
        self.cfg = trainer.cfg
        self.run_dir = Path(run_dir)
        self.events = events
        self.until = until
        self.main = trainer.dist.is_main
        self.checkpoints = Checkpoints(trainer, self.run_dir, events)
        self._metrics_step = -1
        self.last_metrics: dict[str, float] = {}
        self.stop = stop or StopRequested(stop_file=self.run_dir / STOP_FILE)
        dataset = trainer.build_dataset(self.run_dir, "train")
        if len(dataset) == 0:
            raise DatasetError("The training dataset is empty.")
        self.order = DataOrder(len(dataset), self.cfg.batch_size, self.cfg.seed,
                               trainer.dist.rank, trainer.dist.world_size)
        self.stream = BatchStream(dataset, self.order, self.cfg.data.workers)
        held_out, self.fixed_split = held_out_dataset(trainer, self.run_dir, dataset)
        self.fixed = trainer.to_device(trainer.fixed_inputs(held_out, trainer.N_FIXED))
        self._sums: dict[str, float] = {}
        self._count = 0
        self._step_time = 0.0
        self._monitor_sum = 0.0
        self._monitor_n = 0

    # ----- checkpoints --------------------------------------------------------------------------------------
    def save_checkpoint(self, rng: dict[str, Any] | None = None, data: dict[str, int] | None = None) -> str | None:
        """The checkpoint of the current step (``rng``/``data``: the state to continue from, by default now's)."""
        if not self.main:
            return None
        if self.cfg.log.eval_every and self._metrics_step != self.t.step:
            self.write_metrics()  # best.pt is chosen on metrics of the weights being saved
        monitor = self._best_candidate()
        return self.checkpoints.save(rng or ckpt.capture_rng(), data or self.order.state_dict(), monitor,
                                     self.last_metrics)

    def _best_candidate(self) -> float | None:
        metric = getattr(self.t, "BEST_METRIC", None)
        if metric and metric in self.last_metrics:
            return self.last_metrics[metric]
        if self._monitor_n:
            value = self._monitor_sum / self._monitor_n
            self._monitor_sum, self._monitor_n = 0.0, 0
            return value
        return None

    def restore(self, path: Path, state: dict[str, Any] | None = None) -> None:
        """Continue from checkpoint ``path`` (``state``: its contents, when already loaded and verified)."""
        state = self.checkpoints.load(path, state)
        self.last_metrics = dict(state.get("metrics") or {})
        self.order.load_state_dict(state["data"])
        self.stream = BatchStream(self.stream.dataset, self.order, self.cfg.data.workers)
        ckpt.restore_rng(state["rng"])

    # ----- samples and metrics ------------------------------------------------------------------------------
    def write_sample(self) -> None:
        if not self.main:
            return
        with eval_mode(self.t):
            torch.manual_seed(self.cfg.seed + 2)  # the same noise for every grid of this run
            rows = self.t.sample_rows(self.fixed)
        rel = save_grid(self.run_dir, self.t.step, rows)
        self.events.emit("sample", self.t.step, path=rel, rows=[label for label, _ in rows])

    def write_metrics(self) -> None:
        if not self.main:
            return
        with eval_mode(self.t):
            torch.manual_seed(self.cfg.seed + 3)
            values = self.t.evaluate(self.fixed)
        self._metrics_step = self.t.step
        if values:
            self.last_metrics = values
            self.events.emit("metrics", self.t.step, values=values, split=self.fixed_split)

    # ----- the loop -----------------------------------------------------------------------------------------
    def _log(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self._sums[k] = self._sums.get(k, 0.0) + v
        self._count += 1
        if self.t.MONITOR and self.t.MONITOR in losses:
            self._monitor_sum += losses[self.t.MONITOR]
            self._monitor_n += 1
        if self.t.step % self.cfg.log.log_every and self.t.step != self.cfg.steps:
            return
        values = {f"loss/{k}": s / self._count for k, s in self._sums.items()}
        values.update({f"lr/{k}": v for k, v in self.t.current_lrs().items()})
        values.update({f"weight/{k}": self.t.weight(k) for k in self.cfg.schedules})
        images = self._count * self.cfg.batch_size * self.t.dist.world_size
        values["images_per_s"] = images / self._step_time if self._step_time > 0 else 0.0
        self._sums, self._count, self._step_time = {}, 0, 0.0
        self.events.emit("scalars", self.t.step, values=values)

    def _due(self, every: int) -> bool:
        return every > 0 and self.t.step % every == 0

    def run(self, resumed: bool = False) -> int:
        """Train to ``cfg.steps`` (or ``until``); return the process exit code. Call :meth:`restore` first
        to continue from a checkpoint."""
        # Handled until the last checkpoint and event are written; handlers installed by the caller (the runner
        # keeps them until the process exits) are the caller's to remove.
        installed = self.stop.install()
        try:
            return self._run(resumed)
        finally:
            if installed:
                self.stop.uninstall()

    def _run(self, resumed: bool) -> int:
        t = self.t
        status = "resumed" if resumed else "started"
        self.events.emit("status", t.step, status=status, family=self.cfg.family, preset=self.cfg.preset,
                         total_steps=self.cfg.steps, batch_size=self.cfg.batch_size,
                         world_size=t.dist.world_size, device=str(t.device), precision=t.precision,
                         channels_last=t.channels_last, notes=t.notes, fixed_inputs=self.fixed_split)
        if t.step == 0 and self.cfg.log.sample_every:
            self.write_sample()
        end = self.cfg.steps if self.until is None else min(self.until, self.cfg.steps)
        if dist_util.any_rank(self.stop.poll(), t.dist, t.device):  # asked to stop while data was prepared
            return self._stopped(self.checkpoints.last)
        while t.step < end:
            # What a checkpoint of the last good state needs, taken before this step changes anything.
            rng_before = ckpt.capture_rng()
            data_before = self.order.state_dict()
            t._stepped = False
            try:
                batch = t.to_device(self.stream.next())
                t.apply_lr_schedule()
                start = time.perf_counter()
                losses = t.train_step(batch)
                if t.scaler is not None:  # fp16: one scale update per step, after every optimiser stepped
                    t.scaler.update()
                if t.device.type == "cuda":
                    torch.cuda.synchronize(t.device)
                self._step_time += time.perf_counter() - start
            except NonFiniteLoss as exc:
                return self._non_finite(exc, rng_before, data_before)
            t.step += 1
            t.update_ema()
            t.step_plateau(losses)
            self._log(losses)
            if self._due(self.cfg.log.eval_every):
                self.write_metrics()
            if self._due(self.cfg.log.sample_every):
                self.write_sample()
            if dist_util.any_rank(self.stop.poll(), t.dist, t.device):
                return self._stopped(self.save_checkpoint())
            if self._due(self.cfg.log.checkpoint_every) and t.step < end:
                self.save_checkpoint()
        rel = self.save_checkpoint()
        if t.step >= self.cfg.steps:
            if self.cfg.log.sample_every and t.step % self.cfg.log.sample_every:
                self.write_sample()
            self.events.emit("status", t.step, status="finished", checkpoint=rel)
        else:
            self.events.emit("status", t.step, status="stopped", checkpoint=rel, reason=f"--until {self.until}")
        return 0

    def _stopped(self, checkpoint: str | None) -> int:
        """End on a stop request (signal or stop file): the stop file goes first, then the ``stopped`` event."""
        if self.main:
            self.stop.clear_stop_file()
        self.events.emit("status", self.t.step, status="stopped", checkpoint=checkpoint,
                         reason=self.stop.reason or "stop requested on another process")
        return 0

    def _non_finite(self, exc: NonFiniteLoss, rng: dict[str, Any], data: dict[str, int]) -> int:
        t = self.t
        rel = self.checkpoints.last
        if not t._stepped:
            # Nothing was updated in the failed step: the current weights are the last good state.
            rel = self.save_checkpoint(rng, data)
        self.events.emit("error", t.step, error="non_finite_loss", loss=exc.name, checkpoint=rel,
                         message=f"Training stopped at step {t.step + 1}: the loss '{exc.name}' became "
                                 f"{exc.value}. The last good state is in {rel or 'no checkpoint yet'}; lower "
                                 "the learning rates or use fp32, then resume.")
        return 1
