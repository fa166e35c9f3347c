"""The common training loop shared by the four families, and the :class:`Trainer` base class they extend.

A family trainer says what its networks, optimisers and one training step are; this module does the rest the
same way for all of them: data order, logging, sample grids from fixed inputs, checkpoints and resume, signals,
non-finite losses, several processes, autocast and channels_last.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fashionstudio.core import registry
from fashionstudio.core.run_folder import STOP_FILE, EventWriter
from training import checkpoint as ckpt
from training import distributed as dist_util
from training.config import RunConfig, merge_family_defaults, schedule_value
from training.precision import resolve_precision

CHECKPOINT_FORMAT = "fashionstudio-checkpoint"
CHECKPOINT_VERSION = 1


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite; ``name`` says which."""

    def __init__(self, name: str, value: float):
        super().__init__(f"The loss '{name}' became {value} (not a finite number).")
        self.name = name
        self.value = value


class DataError(RuntimeError):
    """The dataset cannot feed this run (too small, missing, wrong kind); the message is for a person."""


def family_module(family: str) -> Any:
    """The module that defines ``family``'s networks (for PRESETS / NETWORKS / INFERENCE_NETWORKS)."""
    return inspect.getmodule(registry.get_builder(family))


def resolve_arch(cfg: RunConfig) -> dict[str, Any]:
    """The architecture config: the family's preset, the run's [arch] overrides, then ``resolution``."""
    presets = getattr(family_module(cfg.family), "PRESETS", {})
    if cfg.preset not in presets:
        raise ValueError(f"The {cfg.family} family has no '{cfg.preset}' preset "
                         f"(it has: {', '.join(presets) or 'none'}).")
    arch = copy.deepcopy(presets[cfg.preset])
    arch.update(copy.deepcopy(cfg.arch))
    if cfg.resolution is not None:
        arch["resolution"] = cfg.resolution
    return arch


class DataOrder:
    """A resumable, seeded order of batches: epoch ``e`` is a permutation drawn from (seed, e).

    Each process takes every ``world_size``-th index of the permutation, so ranks see disjoint data. The state is
    just (epoch, position): the permutation is recomputed, never stored.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        per_rank = n // world_size
        if per_rank < batch_size:
            raise DataError(f"The dataset has {n} examples, fewer than one batch of {batch_size} per process "
                            f"({world_size} process(es)). Use more data or a smaller batch_size.")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.batches_per_epoch = per_rank // batch_size
        self.epoch = 0
        self.position = 0

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.n, generator=g)[self.rank::self.world_size].tolist()
        b = self.batch_size
        return [perm[i * b:(i + 1) * b] for i in range(self.batches_per_epoch)]

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    return torch.utils.data.default_collate(items)


class BatchStream:
    """Yields batches in :class:`DataOrder`; recreated from the order's state on resume."""

    def __init__(self, dataset: Any, order: DataOrder, workers: int = 0):
        self.dataset, self.order, self.workers = dataset, order, workers
        self._it: Iterator[Any] | None = None

    def _loader(self) -> Iterator[Any]:
        if hasattr(self.dataset, "set_epoch"):  # e.g. shoes/bags re-paired, unassociated flats redrawn
            self.dataset.set_epoch(self.order.epoch)
        batches = self.order.epoch_batches(self.order.epoch)[self.order.position:]
        # A generator of our own: a DataLoader without one draws its worker seed from the global RNG, which
        # would make a resumed run differ from a straight one.
        g = torch.Generator().manual_seed(self.order.seed * 7919 + self.order.epoch * 31 + self.order.position)
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=batches, num_workers=self.workers,
                                             collate_fn=collate, generator=g,
                                             persistent_workers=False)
        return iter(loader)

    def next(self) -> Any:
        if self._it is None:
            self._it = self._loader()
        try:
            batch = next(self._it)
        except StopIteration:
            self.order.epoch += 1
            self.order.position = 0
            self._it = self._loader()
            batch = next(self._it)
        self.order.position += 1
        return batch


class Trainer:
    """Base of a family trainer. Subclasses set the class attributes and implement the marked methods.

    Class attributes:
      ``DEFAULT_LR``: optimiser name -> learning rate (the names of [optim] lr),
      ``DEFAULT_LOSS``: loss weights and options (the keys of [loss]),
      ``DEFAULT_SCHEDULES``: step-wise schedules (the keys of [schedules]),
      ``EMA_NETWORKS``: networks that get an EMA copy when [optim] ema_half_life > 0,
      ``MONITOR``: the loss whose mean picks best.pt when there are no metrics,
      ``PLATEAU_LOSS``: optimiser name -> the loss its plateau scheduler watches.
    """

    DEFAULT_LR: dict[str, float] = {}
    DEFAULT_LOSS: dict[str, Any] = {}
    DEFAULT_SCHEDULES: dict[str, list[list[float]]] = {}
    EMA_NETWORKS: tuple[str, ...] = ()
    MONITOR: str | None = None
    PLATEAU_LOSS: dict[str, str] = {}
    N_FIXED = 8

    def __init__(self, cfg: RunConfig, device: torch.device, dist: dist_util.DistInfo | None = None):
        merge_family_defaults(cfg, self.DEFAULT_LR, self.DEFAULT_LOSS, self.DEFAULT_SCHEDULES)
        self.cfg = cfg
        self.device = device
        self.dist = dist or dist_util.DistInfo()
        self.notes: list[str] = []
        self.precision = self._resolve_precision()
        self.channels_last = bool(cfg.channels_last and device.type in ("cuda", "cpu"))
        if cfg.channels_last and not self.channels_last:
            self.notes.append(f"channels_last is not used on {device.type}; ignored.")
        self.arch = resolve_arch(cfg)
        torch.manual_seed(cfg.seed)  # weights are a function of the seed
        self.nets: dict[str, nn.Module] = registry.build_networks(cfg.family, self.arch)
        for net in self.nets.values():
            net.to(device)
            if self.channels_last:
                net.to(memory_format=torch.channels_last)
            dist_util.broadcast_module(net, self.dist)
            net.train()
        # Noise (dropout, latents) differs between processes but is fixed by the seed.
        torch.manual_seed(cfg.seed + 1_000_003 * self.dist.rank)
        np.random.seed((cfg.seed + 7 * self.dist.rank) % 2**32)
        random.seed(cfg.seed + 7 * self.dist.rank)
        self.ema: dict[str, nn.Module] = {}
        if cfg.optim.ema_half_life > 0:
            for name in self.EMA_NETWORKS:
                self.ema[name] = copy.deepcopy(self.nets[name]).eval().requires_grad_(False)
        self.optimizers: dict[str, torch.optim.Optimizer] = self.make_optimizers()
        self.base_lr = {name: cfg.optim.lr[name] for name in self.optimizers}
        self.plateau: dict[str, Any] = {}
        if cfg.optim.lr_schedule == "plateau":
            for name, opt in self.optimizers.items():
                self.plateau[name] = torch.optim.lr_scheduler.ReduceLROnPlateau(
                    opt, mode="min", factor=cfg.optim.plateau_factor, patience=cfg.optim.plateau_patience,
                    cooldown=cfg.optim.plateau_cooldown)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.step = 0
        self._stepped = False

    # ----- what a family implements -------------------------------------------------------------------------
    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step on ``batch`` (on the device); return the losses as floats."""
        raise NotImplementedError

    @torch.no_grad()
    def sample_rows(self, fixed: dict[str, torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
        """(label, N×3×H×W images in [-1, 1]) rows of the sample grid for the fixed inputs."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, fixed: dict[str, torch.Tensor]) -> dict[str, float]:
        """Metrics on the fixed held-out inputs (lower is better). None by default."""
        return {}

    def build_dataset(self, run_dir: Path, split: str) -> Any:
        """The dataset of ``split`` ("train" or "test"): items are dicts of tensors in [-1, 1]."""
        from training.trainers import data_adapter

        return data_adapter.family_dataset(self.cfg, run_dir, split, self.arch, self.dist)

    def fixed_inputs(self, dataset: Any, n: int) -> dict[str, torch.Tensor]:
        """The inputs every sample grid and metric uses, chosen once from the seed."""
        g = torch.Generator().manual_seed(self.cfg.seed + 1)
        idx = torch.randperm(len(dataset), generator=g)[: min(n, len(dataset))].tolist()
        return collate([dataset[i] for i in idx])

    def extra_state(self) -> dict[str, Any]:
        """Family state beyond networks/optimisers (e.g. StyleGAN2's path-length mean)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # ----- helpers for families -----------------------------------------------------------------------------
    def adam(self, name: str, params: Any) -> torch.optim.Optimizer:
        b1, b2 = self.cfg.optim.betas
        return torch.optim.Adam(list(params), lr=self.cfg.optim.lr[name], betas=(b1, b2))

    def weight(self, name: str) -> float:
        """A loss weight: scheduled (by step) if [schedules] has it, else the [loss] value."""
        if name in self.cfg.schedules:
            return schedule_value(self.cfg.schedules[name], self.step)
        return float(self.cfg.loss[name])

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in batch.items():
            if isinstance(v, torch.Tensor):
                v = v.to(self.device, non_blocking=True)
                if self.channels_last and v.dim() == 4:
                    v = v.contiguous(memory_format=torch.channels_last)
            out[k] = v
        return out

    def check_finite(self, losses: dict[str, torch.Tensor]) -> dict[str, float]:
        """Floats of ``losses``; raise :class:`NonFiniteLoss` (on every rank) if any is NaN or infinite."""
        values = {k: float(v.detach().float().item()) for k, v in losses.items()}
        bad = next((k for k, v in values.items() if not math.isfinite(v)), None)
        if dist_util.any_rank(bad is not None, self.dist, self.device):
            name = bad or "on another process"
            raise NonFiniteLoss(name, values.get(name, float("nan")))
        return values

    def update(self, opt_name: str, loss: torch.Tensor, params: list[nn.Parameter] | None = None) -> None:
        """Backward ``loss``, average gradients across processes, step optimiser ``opt_name``."""
        opt = self.optimizers[opt_name]
        if params is None:
            params = [p for group in opt.param_groups for p in group["params"]]
        opt.zero_grad(set_to_none=True)
        (self.scaler.scale(loss) if self.scaler else loss).backward()
        dist_util.average_gradients(params, self.dist)
        if self.scaler:
            self.scaler.step(opt)
        else:
            opt.step()
        self._stepped = True

    def update_ema(self) -> None:
        if not self.ema:
            return
        images = self.cfg.batch_size * self.dist.world_size
        beta = 0.5 ** (images / self.cfg.optim.ema_half_life)
        with torch.no_grad():
            for name, ema in self.ema.items():
                net = self.nets[name]
                for p_ema, p in zip(ema.parameters(), net.parameters()):
                    p_ema.lerp_(p.detach(), 1.0 - beta)
                for b_ema, b in zip(ema.buffers(), net.buffers()):
                    b_ema.copy_(b)

    def inference_net(self, name: str) -> nn.Module:
        """The network to sample and export with: the EMA copy when there is one."""
        return self.ema.get(name, self.nets[name])

    def set_requires_grad(self, names: tuple[str, ...] | list[str], flag: bool) -> None:
        for name in names:
            self.nets[name].requires_grad_(flag)

    # ----- state --------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "networks": {k: v.state_dict() for k, v in self.nets.items()},
            "ema": {k: v.state_dict() for k, v in self.ema.items()},
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "plateau": {k: v.state_dict() for k, v in self.plateau.items()},
            "scaler": self.scaler.state_dict() if self.scaler else {},
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for k, net in self.nets.items():
            net.load_state_dict(state["networks"][k])
        for k, net in self.ema.items():
            if k in state["ema"]:
                net.load_state_dict(state["ema"][k])
            else:  # EMA switched on at resume: start it from the current weights
                net.load_state_dict(self.nets[k].state_dict())
        for k, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][k])
        for k, sched in self.plateau.items():
            if k in state["plateau"]:
                sched.load_state_dict(state["plateau"][k])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.load_extra_state(state.get("extra", {}))

    # ----- learning rates -----------------------------------------------------------------------------------
    def apply_lr_schedule(self) -> None:
        if self.cfg.optim.lr_schedule != "linear_decay":
            return
        half = self.cfg.steps / 2
        factor = 1.0 if self.step < half else max(0.0, (self.cfg.steps - self.step) / max(half, 1))
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[name] * factor

    def step_plateau(self, losses: dict[str, float]) -> None:
        for name, sched in self.plateau.items():
            key = self.PLATEAU_LOSS.get(name)
            if key in losses:
                sched.step(losses[key])

    def current_lrs(self) -> dict[str, float]:
        return {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}

    # ----- precision ----------------------------------------------------------------------------------------
    def _resolve_precision(self) -> str:
        precision, notes = resolve_precision(self.cfg.precision, self.device)
        self.notes.extend(notes)
        return precision


def images_to_grid(rows: list[tuple[str, torch.Tensor]]) -> np.ndarray:
    """Rows of N×3×H×W images in [-1, 1] -> one H×W×3 uint8 grid (rows stacked, 2 px gaps)."""
    gap = 2
    n = max(t.shape[0] for _, t in rows)
    h, w = rows[0][1].shape[-2:]
    grid = np.full((len(rows) * (h + gap) - gap, n * (w + gap) - gap, 3), 255, np.uint8)
    for r, (_, images) in enumerate(rows):
        imgs = images.detach().float().cpu()
        if imgs.shape[1] == 1:
            imgs = imgs.expand(-1, 3, -1, -1)
        imgs = imgs[:, :3]
        if imgs.shape[-2:] != (h, w):
            imgs = torch.nn.functional.interpolate(imgs, size=(h, w), mode="bilinear", align_corners=False)
        arr = ((imgs.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for c in range(arr.shape[0]):
            grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = arr[c]
    return grid


class StopRequested:
    """Turns SIGTERM/SIGINT, or a ``STOP`` file in the run folder, into a flag the loop checks after each step.

    Signals often arrive in pairs (Ctrl+C reaches torchrun and its workers, which torchrun then signals again;
    ``timeout`` forwards its own; the Train tab writes ``STOP`` and sends SIGTERM), so repeats within ``grace``
    seconds are absorbed; a signal after that means "stop now" and interrupts (the last checkpoint on disk stays
    intact). The stop file is the one way to ask on Windows, where a console process gets no SIGTERM.
    """

    def __init__(self, grace: float = 5.0, stop_file: str | Path | None = None) -> None:
        self.flag = False
        self.reason = ""
        self.grace = grace
        self.stop_file = Path(stop_file) if stop_file is not None else None
        self._first = 0.0
        self._previous: dict[int, Any] = {}

    def request(self, reason: str) -> None:
        """Ask for a stop (a repeat while one is pending changes nothing)."""
        if self.flag:
            return
        self.flag = True
        self._first = time.monotonic()
        self.reason = reason

    def poll(self) -> bool:
        """Whether a stop was asked for; looks for the stop file (one stat) unless a signal already asked."""
        if not self.flag and self.stop_file is not None and os.path.exists(self.stop_file):
            self.request("stop-file")
        return self.flag

    def clear_stop_file(self) -> None:
        """Delete the stop file, so that the next ``resume`` of the run does not stop at once."""
        if self.stop_file is not None:
            try:
                self.stop_file.unlink(missing_ok=True)
            except OSError:  # read-only folder: the next run would stop at once, but this one ends cleanly
                pass

    def _handler(self, signum: int, frame: Any) -> None:
        if self.flag:
            if time.monotonic() - self._first > self.grace:
                raise KeyboardInterrupt
            return
        self.request(signal.Signals(signum).name)

    def install(self) -> bool:
        """Handle SIGTERM/SIGINT; False if they were handled already (or cannot be here, off the main thread)."""
        if self._previous:
            return False
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._previous[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread (e.g. called from a test worker thread)
                pass
        return bool(self._previous)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


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
        self.best_value: float | None = None
        self._metrics_step = -1
        self.last_checkpoint: str | None = None
        self.last_metrics: dict[str, float] = {}
        self.stop = stop or StopRequested(stop_file=self.run_dir / STOP_FILE)
        dataset = trainer.build_dataset(self.run_dir, "train")
        if len(dataset) == 0:
            raise DataError("The training dataset is empty.")
        self.order = DataOrder(len(dataset), self.cfg.batch_size, self.cfg.seed,
                               trainer.dist.rank, trainer.dist.world_size)
        self.stream = BatchStream(dataset, self.order, self.cfg.data.workers)
        try:
            held_out = trainer.build_dataset(self.run_dir, "test")
            if len(held_out) == 0:
                raise DataError("empty")
            self.fixed_split = "test"
        except (DataError, FileNotFoundError, ValueError):
            held_out, self.fixed_split = dataset, "train"
        self.fixed = trainer.to_device(trainer.fixed_inputs(held_out, trainer.N_FIXED))
        self._sums: dict[str, float] = {}
        self._count = 0
        self._step_time = 0.0
        self._monitor_sum = 0.0
        self._monitor_n = 0

    # ----- checkpoints --------------------------------------------------------------------------------------
    def checkpoint_state(self, rng: dict[str, Any], data: dict[str, int]) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "family": self.cfg.family, "step": self.t.step, "config": self.cfg.to_dict(), "arch": self.t.arch,
            "trainer": self.t.state_dict(), "rng": rng, "data": data,
            "best_value": self.best_value, "metrics": self.last_metrics,
        }

    def save_checkpoint(self, rng: dict[str, Any] | None = None, data: dict[str, int] | None = None) -> str | None:
        if not self.main:
            return None
        if self.cfg.log.eval_every and self._metrics_step != self.t.step:
            self.write_metrics()  # best.pt is chosen on metrics of the weights being saved
        value = self._best_candidate()
        best = value is not None and (self.best_value is None or value < self.best_value)
        if best:
            self.best_value = value
        state = self.checkpoint_state(rng or ckpt.capture_rng(), data or self.order.state_dict())
        bad = ckpt.first_non_finite(state)
        if bad is not None:  # never a "last good" state that cannot train: the previous checkpoint stays the last
            print(f"warning: not writing a checkpoint at step {self.t.step}: the weight {bad} is not a finite "
                  "number.", file=sys.stderr)
            return self.last_checkpoint
        rel = f"{ckpt.CHECKPOINT_DIR}/{ckpt.step_name(self.t.step)}"
        path = ckpt.atomic_save(state, self.run_dir / rel)
        if best:
            ckpt.atomic_copy(path, path.parent / ckpt.BEST)
        ckpt.prune(self.run_dir, self.cfg.log.keep_last, protect=path)
        self.last_checkpoint = rel
        self.events.emit("checkpoint", self.t.step, path=rel, best=best,
                         **({"monitor": value} if value is not None else {}))
        return rel

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
        self.last_metrics = dict(state.get("metrics") or {})
        self.order.load_state_dict(state["data"])
        self.stream = BatchStream(self.stream.dataset, self.order, self.cfg.data.workers)
        ckpt.restore_rng(state["rng"])
        self.last_checkpoint = f"{ckpt.CHECKPOINT_DIR}/{path.name}"

    # ----- samples and metrics ------------------------------------------------------------------------------
    def _eval_mode(self) -> contextlib.ExitStack:
        """Networks in eval mode and the global RNG untouched, so sampling never changes the training run."""
        stack = contextlib.ExitStack()
        devices = [self.t.device] if self.t.device.type == "cuda" else []
        stack.enter_context(torch.random.fork_rng(devices=devices))
        modes = {name: net.training for name, net in self.t.nets.items()}
        for net in self.t.nets.values():
            net.eval()
        stack.callback(lambda: [self.t.nets[n].train(m) for n, m in modes.items()])
        return stack

    def write_sample(self) -> None:
        if not self.main:
            return
        with self._eval_mode():
            torch.manual_seed(self.cfg.seed + 2)  # the same noise for every grid of this run
            rows = self.t.sample_rows(self.fixed)
        from PIL import Image

        rel = f"samples/step_{self.t.step:08d}.png"
        path = self.run_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("." + path.name + ".tmp")
        Image.fromarray(images_to_grid(rows)).save(tmp, format="PNG")
        tmp.replace(path)
        self.events.emit("sample", self.t.step, path=rel, rows=[label for label, _ in rows])

    def write_metrics(self) -> None:
        if not self.main:
            return
        with self._eval_mode():
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
            return self._stopped(self.last_checkpoint)
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
        rel = self.last_checkpoint
        if not t._stepped:
            # Nothing was updated in the failed step: the current weights are the last good state.
            rel = self.save_checkpoint(rng, data)
        self.events.emit("error", t.step, error="non_finite_loss", loss=exc.name, checkpoint=rel,
                         message=f"Training stopped at step {t.step + 1}: the loss '{exc.name}' became "
                                 f"{exc.value}. The last good state is in {rel or 'no checkpoint yet'}; lower "
                                 "the learning rates or use fp32, then resume.")
        return 1
