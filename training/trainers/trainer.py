"""The :class:`Trainer` base class a family trainer extends, and the architecture config it builds.

A family trainer says what its networks, optimisers and one training step are; the base class builds the networks
from the seed, and gives the family optimisers, loss weights (scheduled or fixed), autocast, channels_last,
non-finite loss checks, gradient averaging across processes, EMA copies, learning-rate schedules and its state for
a checkpoint. :class:`~training.trainers.loop.Loop` runs it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fashionstudio.core import registry
from training import distributed as dist_util
from training.config import RunConfig, merge_family_defaults, schedule_value
from training.precision import resolve_precision
from training.trainers import data_adapter
from training.trainers.batches import fixed_batch


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or infinite; ``name`` says which."""

    def __init__(self, name: str, value: float):
        super().__init__(f"The loss '{name}' became {value} (not a finite number).")
        self.name = name
        self.value = value


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
        return data_adapter.family_dataset(self.cfg, run_dir, split, self.arch, self.dist)

    def fixed_inputs(self, dataset: Any, n: int) -> dict[str, torch.Tensor]:
        """The inputs every sample grid and metric uses, chosen once from the seed."""
        return fixed_batch(dataset, n, self.cfg.seed)

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
