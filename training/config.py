"""``RUN_DIR/config.toml``: the schema of a training run, read with :mod:`tomllib` into dataclasses.

Every default has one owner:

- the run-level keys, [data], [log] and [optim] (but its lr): the dataclasses below;
- [optim] lr, [loss] and [schedules]: the family trainer's ``DEFAULT_LR``, ``DEFAULT_LOSS`` and
  ``DEFAULT_SCHEDULES`` (``training/trainers/<family>.py``; a thesis family's are the thesis's values);
- [arch]: the model's ``PRESETS[preset]`` (``fashionstudio/models/<family>.py``).

A run's config is layered: those defaults, then the preset file ``training/configs/<preset>/<family>.toml``, which
says only what that preset changes (``tests/test_preset_defaults.py`` refuses a value equal to its owner's), then
the run's own ``config.toml`` (tables merge key by key). The smallest valid run config is::

    family = "pgpg"
    preset = "demo"

All keys (the values are examples, not the defaults)::

    family = "pgpg"              # a family of fashionstudio.families.BUILTIN (or a plug-in family)
    preset = "demo"              # thesis | studio | demo: the architecture preset and the base training preset
    seed = 0                     # seeds weights, data order and noise; same seed, same run
    device = "auto"              # auto | cpu | cuda | cuda:N | mps
    precision = "fp32"           # fp32 | bf16 | fp16 | auto (autocast; see training/precision.py)
    channels_last = false        # NHWC memory format for convolutions (CUDA and CPU)
    steps = 2000                 # optimiser steps in total (a resumed run continues to this number)
    batch_size = 8               # images per step per process
    resolution = 64              # image size; overrides arch.resolution (unset: the architecture preset's)
    plugins = []                 # modules imported first (they may register families and trainers)

    [arch]                       # overrides of the family's architecture preset (fashionstudio.models.<f>.PRESETS)

    [data]
    kind = "atelier"             # atelier (generated) or a real-format reader kind of training.data
    path = ""                    # dataset folder; for atelier the cache folder ("" = RUN_DIR/data)
    size = 512                   # atelier only: how many examples to generate
    workers = 0                  # DataLoader worker processes (0 keeps resume bit-exact)
    options = {}                 # passed to the reader (e.g. pose = "iuv")

    [optim]
    lr = { G = 2e-4, D = 2e-4 }  # per optimiser (names are the family's)
    betas = [0.5, 0.999]         # Adam betas
    lr_schedule = "constant"     # constant | linear_decay (to 0 over the second half) | plateau
    plateau_factor = 0.99        # plateau: ReduceLROnPlateau per step on the monitored loss
    plateau_patience = 10
    plateau_cooldown = 200
    ema_half_life = 0            # images; >0 keeps an EMA generator

    [init]                       # warm start of a new run (ignored by resume): network -> weights file
    from = "match.safetensors"   # every network the file holds (an app model file holds the generators)
    G_BA = "runs/b/checkpoints/best.pt"  # or one network, from a model file or a run checkpoint
                                 # (relative paths are relative to the run folder; see training/warm_start.py)

    [loss]                       # family weights and options, e.g. pgpg: adversarial = "lsgan", g1_l1 = 1.0
    [schedules]                  # step-wise constant weights: lambda_recon = [[0, 1], [3000, 5], [6000, 10]]

    [log]
    log_every = 10               # steps between scalars events
    sample_every = 200           # steps between sample grids (0 = never)
    checkpoint_every = 500       # steps between checkpoints (a checkpoint is also written at stop and end)
    keep_last = 3                # checkpoints kept besides best.pt
    eval_every = 0               # steps between metrics events on fixed held-out inputs (0 = never)
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fashionstudio.core.run_folder import (  # noqa: F401 - CONFIG_FILE, to_toml: the run-folder protocol's
    CONFIG_FILE, DEFAULT_ATELIER_SIZE, DEFAULT_BATCH_SIZE, DEFAULT_LOG, DEFAULT_STEPS, to_toml,
)

PRESETS = ("thesis", "studio", "demo")
PRESET_DIR = Path(__file__).with_name("configs")
PRECISIONS = ("fp32", "bf16", "fp16", "auto")
LR_SCHEDULES = ("constant", "linear_decay", "plateau")
DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d{1,3})?)$")
# Bounds on what a config may ask for: generous for real work, far below what fills a disk or memory by mistake.
MAX_SEED = 2**32 - 1            # numpy's seed range
MAX_ATELIER_SIZE = 200_000      # synthetic examples (about 2 GB of PNGs at 64 px)
MAX_WORKERS = 64
MAX_RESOLUTION = 2048
MAX_BATCH_SIZE = 65_536
MAX_STEPS = 10**9


class ConfigError(ValueError):
    """A config.toml that cannot be used; the message names the key and what is expected."""


# The dataclasses' defaults are the defaults of every run-level key (the module docstring says who owns the rest).
@dataclass
class DataConfig:
    kind: str = "atelier"
    path: str = ""
    size: int = DEFAULT_ATELIER_SIZE
    workers: int = 0
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    lr: dict[str, float] = field(default_factory=dict)
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    lr_schedule: str = "constant"
    plateau_factor: float = 0.99      # the thesis's ReduceLROnPlateau settings
    plateau_patience: int = 10
    plateau_cooldown: int = 200
    ema_half_life: float = 0.0


@dataclass
class LogConfig:
    log_every: int = DEFAULT_LOG["log_every"]
    sample_every: int = DEFAULT_LOG["sample_every"]
    checkpoint_every: int = DEFAULT_LOG["checkpoint_every"]
    keep_last: int = DEFAULT_LOG["keep_last"]
    eval_every: int = DEFAULT_LOG["eval_every"]


@dataclass
class RunConfig:
    family: str
    preset: str = "demo"
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    channels_last: bool = False
    steps: int = DEFAULT_STEPS
    batch_size: int = DEFAULT_BATCH_SIZE
    resolution: int | None = None
    plugins: list[str] = field(default_factory=list)
    arch: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: dict[str, Any] = field(default_factory=dict)
    schedules: dict[str, list[list[float]]] = field(default_factory=dict)
    log: LogConfig = field(default_factory=LogConfig)
    init: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON/TOML-able copy (stored in checkpoints and in exported model files)."""
        return asdict(self)


_SECTIONS = {"data": DataConfig, "optim": OptimConfig, "log": LogConfig}
_TOP_TYPES: dict[str, type | tuple[type, ...]] = {
    "family": str, "preset": str, "seed": int, "device": str, "precision": str, "channels_last": bool,
    "steps": int, "batch_size": int, "resolution": int, "plugins": list, "arch": dict, "data": dict,
    "optim": dict, "loss": dict, "schedules": dict, "log": dict, "init": dict,
}


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``over``; nested tables merge key by key, everything else is replaced."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def preset_path(preset: str, family: str) -> Path:
    return PRESET_DIR / preset / f"{family}.toml"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"There is no config file at '{path}'.") from None
    except IsADirectoryError:
        raise ConfigError(f"'{path}' is a folder, not a config file.") from None
    except PermissionError:
        raise ConfigError(f"'{path}' cannot be read (permission denied).") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"'{path}' is not valid TOML: {exc}.") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"'{path}' is not UTF-8 text (byte {exc.start} cannot be read); save it as UTF-8.") \
            from None
    except RecursionError:
        raise ConfigError(f"'{path}' nests arrays or tables too deeply to be a run config.") from None


def load_config(path: str | Path) -> RunConfig:
    """Read ``path`` (a config.toml or a run folder), layer it on its preset file and validate it."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    return config_from_dict(_read_toml(path), source=str(path))


def config_from_dict(raw: dict[str, Any], source: str = "config.toml") -> RunConfig:
    """Build a validated :class:`RunConfig` from a parsed TOML table (layered on its preset file)."""
    family = raw.get("family")
    if not isinstance(family, str) or not family:
        raise ConfigError(f"{source} must say which model family to train, e.g. family = \"pgpg\".")
    preset = raw.get("preset", "demo")
    if not isinstance(preset, str):
        raise ConfigError(f"{source}: 'preset' must be a string, one of {', '.join(PRESETS)}.")
    base_file = preset_path(preset, family)
    merged = deep_merge(_read_toml(base_file), raw) if base_file.exists() else dict(raw)

    unknown = sorted(set(merged) - set(_TOP_TYPES))
    if unknown:
        raise ConfigError(f"{source} has unknown key(s) {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(sorted(_TOP_TYPES))}).")
    kwargs: dict[str, Any] = {}
    for key, value in merged.items():
        want = _TOP_TYPES[key]
        if want is int and isinstance(value, bool) or not isinstance(value, want):
            raise ConfigError(f"{source}: '{key}' must be a {getattr(want, '__name__', want)}, not {value!r}.")
        if key in _SECTIONS:
            kwargs[key] = _section(_SECTIONS[key], value, key, source)
        else:
            kwargs[key] = value
    cfg = RunConfig(**kwargs)
    _validate(cfg, source)
    return cfg


def _section(cls: type, table: dict[str, Any], name: str, source: str) -> Any:
    fields = cls.__dataclass_fields__
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: [{name}] has unknown key(s) {', '.join(map(repr, unknown))} "
                          f"(known: {', '.join(fields)}).")
    defaults = cls()
    for key, value in table.items():
        default = getattr(defaults, key)
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) if isinstance(default, float) \
            else isinstance(value, type(default)) and not (isinstance(default, int) and isinstance(value, bool))
        if not ok:
            raise ConfigError(f"{source}: [{name}] {key} must be a {type(default).__name__}, not {value!r}.")
    values = {k: (float(v) if isinstance(getattr(defaults, k), float) else v) for k, v in table.items()}
    return cls(**values)


def _validate(cfg: RunConfig, source: str) -> None:
    def positive(name: str, value: int) -> None:
        if value <= 0:
            raise ConfigError(f"{source}: '{name}' must be a positive number, not {value}.")

    def at_most(name: str, value: int, limit: int, why: str) -> None:
        if value > limit:
            raise ConfigError(f"{source}: '{name}' is {value:,}, more than {limit:,} ({why}).")

    positive("steps", cfg.steps)
    at_most("steps", cfg.steps, MAX_STEPS, "the most a run can take")
    positive("batch_size", cfg.batch_size)
    at_most("batch_size", cfg.batch_size, MAX_BATCH_SIZE, "images per step per process")
    if cfg.resolution is not None:
        positive("resolution", cfg.resolution)
        at_most("resolution", cfg.resolution, MAX_RESOLUTION, "pixels per side")
    if not 0 <= cfg.seed <= MAX_SEED:
        raise ConfigError(f"{source}: 'seed' must be a whole number from 0 to {MAX_SEED}, not {cfg.seed}.")
    if not DEVICE_PATTERN.match(cfg.device):
        raise ConfigError(f"{source}: 'device' must be auto, cpu, cuda, cuda:N or mps, not {cfg.device!r}.")
    for name, value in (("plateau_factor", cfg.optim.plateau_factor), ("ema_half_life", cfg.optim.ema_half_life)):
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{source}: [optim] {name} must be a finite number of 0 or more, not {value!r}.")
    for name in ("plateau_patience", "plateau_cooldown"):
        if getattr(cfg.optim, name) < 0:
            raise ConfigError(f"{source}: [optim] {name} must be 0 or more.")
    if cfg.precision not in PRECISIONS:
        raise ConfigError(f"{source}: precision must be one of {', '.join(PRECISIONS)}, not {cfg.precision!r}.")
    if cfg.optim.lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"{source}: [optim] lr_schedule must be one of {', '.join(LR_SCHEDULES)}, "
                          f"not {cfg.optim.lr_schedule!r}.")
    if len(cfg.optim.betas) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                                             for b in cfg.optim.betas):
        raise ConfigError(f"{source}: [optim] betas must be two numbers in [0, 1), e.g. [0.5, 0.999].")
    for name, lr in cfg.optim.lr.items():
        if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
            raise ConfigError(f"{source}: [optim] lr.{name} must be a positive finite number, not {lr!r}.")
    for name in ("log_every", "keep_last"):
        positive(f"log.{name}", getattr(cfg.log, name))
    for name in ("sample_every", "checkpoint_every", "eval_every"):
        if getattr(cfg.log, name) < 0:
            raise ConfigError(f"{source}: [log] {name} must be 0 (never) or a positive number of steps.")
    if cfg.data.size <= 0 or cfg.data.workers < 0:
        raise ConfigError(f"{source}: [data] size must be positive and workers 0 or more.")
    if cfg.data.size > MAX_ATELIER_SIZE:
        raise ConfigError(f"{source}: [data] size is {cfg.data.size:,}, more than the {MAX_ATELIER_SIZE:,} "
                          "synthetic examples the atelier generates (they are written to disk); use a smaller "
                          "size or a real dataset.")
    if cfg.data.workers > MAX_WORKERS:
        raise ConfigError(f"{source}: [data] workers is {cfg.data.workers}, more than {MAX_WORKERS} processes.")
    for name, value in cfg.loss.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{source}: [loss] {name} must be a finite number, not {value!r}.")
    for name, points in cfg.schedules.items():
        validate_schedule(name, points, source)
    for name, value in cfg.init.items():
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{source}: [init] {name} must be the path of a model file (.safetensors) or a "
                              f"run checkpoint (.pt), not {value!r}.")


def validate_schedule(name: str, points: Any, source: str = "config.toml") -> None:
    """A schedule is a list of [step, value] pairs with increasing steps, the first at step 0."""
    sentence = (f"{source}: schedule '{name}' must be a list of [step, value] pairs with increasing steps "
                f"starting at 0, e.g. [[0, 1], [3000, 5], [6000, 10]]")
    if not isinstance(points, list) or not points:
        raise ConfigError(sentence + ".")
    last = -1
    for point in points:
        if (not isinstance(point, list) or len(point) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                           for v in point)):
            raise ConfigError(sentence + f"; got {point!r}.")
        if point[0] <= last or (last < 0 and point[0] != 0):
            raise ConfigError(sentence + f"; got {points!r}.")
        last = point[0]


def validate_arch(arch: dict[str, Any], preset: dict[str, Any], family: str, source: str = "config.toml") -> None:
    """[arch] overrides must keep the type of the family preset's value (``g_base = "wide"`` is refused by name
    here, not by a TypeError deep inside the network code)."""
    for key, value in arch.items():
        if key not in preset:
            continue
        want = preset[key]
        if want is None:
            continue
        if isinstance(want, bool):
            ok = isinstance(value, bool)
        elif isinstance(want, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(want, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = isinstance(value, type(want))
        if not ok:
            raise ConfigError(f"{source}: [arch] {key} must be a {type(want).__name__} like the {family} preset's "
                              f"{want!r}, not {value!r}.")


def schedule_value(points: list[list[float]], step: int) -> float:
    """The value of a step-wise constant schedule at ``step`` (the last point at or before it)."""
    value = points[0][1]
    for at, v in points:
        if step >= at:
            value = v
    return float(value)


def merge_family_defaults(cfg: RunConfig, lr: dict[str, float], loss: dict[str, Any],
                          schedules: dict[str, list[list[float]]], source: str = "config.toml") -> None:
    """Fill the family's defaults into ``cfg`` and refuse names the family does not know (typos)."""
    for table, known, label in ((cfg.optim.lr, lr, "[optim] lr"), (cfg.loss, loss, "[loss]"),
                                (cfg.schedules, schedules, "[schedules]")):
        unknown = sorted(set(table) - set(known))
        if unknown:
            raise ConfigError(f"{source}: {label} has {', '.join(map(repr, unknown))}, which {cfg.family} does "
                              f"not use (it uses: {', '.join(sorted(known)) or 'none'}).")
    cfg.optim.lr = {**lr, **cfg.optim.lr}
    for key, value in loss.items():
        given = cfg.loss.get(key, value)
        if type(given) is not type(value) and not (isinstance(value, float) and isinstance(given, int)):
            raise ConfigError(f"{source}: [loss] {key} must be a {type(value).__name__}, not {given!r}.")
    cfg.loss = {**loss, **{k: (float(v) if isinstance(loss[k], float) else v) for k, v in cfg.loss.items()}}
    cfg.schedules = {**schedules, **cfg.schedules}
