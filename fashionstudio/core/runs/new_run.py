"""A new run: what the "New run" dialog offers (families, presets, dataset kinds, devices), the preset values it
pre-fills, the checks of its answers (each problem a sentence) and the ``config.toml`` it writes."""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionstudio.core import registry
from fashionstudio.core.run_folder import (CONFIG_FILE, DEFAULT_ATELIER_SIZE, DEFAULT_BATCH_SIZE, DEFAULT_LOG,
                                          DEFAULT_STEPS, to_toml)
from fashionstudio.core.runs.discovery import read_toml_table
from fashionstudio.families import Family

DATA_KIND_LABELS = {
    "atelier": "Synthetic atelier (generated)",
    "inshop": "DeepFashion In-shop folder",
    "lookbook": "LookBook folder",
    "shoes_bags": "Shoes/handbags HDF5 folder",
    "images": "Folder or .zip of images",
    "fisb": "Fashion Synthesis G2.h5",
}
PRESETS = ("demo", "studio", "thesis")
DEVICES = ("auto", "cpu", "cuda", "mps")

_NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")


class RunSetupError(ValueError):
    """What is wrong with a new run's settings, as a sentence for the person filling in the dialog."""


@dataclass
class RunSpec:
    """What the "New run" dialog asks for. ``arch``/``loss``/``log`` are optional overrides of the preset."""

    name: str
    family: str
    preset: str = "demo"
    data_kind: str = "atelier"
    data_path: str = ""
    atelier_size: int = DEFAULT_ATELIER_SIZE
    steps: int = DEFAULT_STEPS
    batch_size: int = DEFAULT_BATCH_SIZE
    resolution: int | None = None
    device: str = "auto"
    seed: int = 0
    sample_every: int | None = None
    checkpoint_every: int | None = None
    log_every: int | None = None
    eval_every: int | None = None
    arch: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)

    def to_config(self) -> dict[str, Any]:
        """The run's config.toml table: only what differs from the preset, so the preset stays in charge."""
        cfg: dict[str, Any] = {"family": self.family, "preset": self.preset, "seed": self.seed,
                               "device": self.device, "steps": self.steps, "batch_size": self.batch_size}
        if self.resolution:
            cfg["resolution"] = self.resolution
        if self.arch:
            cfg["arch"] = dict(self.arch)
        data: dict[str, Any] = {"kind": self.data_kind}
        if self.data_kind == "atelier":
            data["size"] = self.atelier_size
        else:
            data["path"] = self.data_path
        cfg["data"] = data
        if self.loss:
            cfg["loss"] = dict(self.loss)
        log = {k: getattr(self, k) for k in ("log_every", "sample_every", "checkpoint_every", "eval_every")
               if getattr(self, k) is not None}
        if log:
            cfg["log"] = log
        return cfg


def trainable_families() -> dict[str, Family]:
    """The families a new run can train (New-run dialog order): those declaring a trainer and dataset kinds."""
    return {f.name: f for f in registry.families() if f.trainer is not None and f.data_kinds}


def validate_run_spec(spec: RunSpec, runs_dir: str | os.PathLike) -> None:
    """Raise :class:`RunSetupError` with a specific sentence for the first problem found."""
    name = spec.name.strip()
    if not name:
        raise RunSetupError("Give the run a name, for example \"shoes-bags-first-try\".")
    if not _NAME_OK.match(name) or len(name) > 80:
        raise RunSetupError(f"The run name \"{name}\" can only use letters, digits, spaces, dots, dashes and "
                            "underscores (up to 80 characters), because it becomes a folder name.")
    if (Path(runs_dir) / name).exists():
        raise RunSetupError(f"There is already a run called \"{name}\" in {runs_dir}; choose another name.")
    families = trainable_families()
    if spec.family not in families:
        raise RunSetupError(f"Unknown model family \"{spec.family}\"; choose one of {', '.join(families)}.")
    if spec.preset not in PRESETS:
        raise RunSetupError(f"Unknown preset \"{spec.preset}\"; choose one of {', '.join(PRESETS)}.")
    kinds = families[spec.family].data_kinds
    if spec.data_kind == "atelier":
        if spec.atelier_size < 8:
            raise RunSetupError("The synthetic atelier needs at least 8 generated examples.")
    else:
        if spec.data_kind not in kinds:
            raise RunSetupError(f"{families[spec.family].display_label} trains on {' or '.join(kinds)} data, "
                                f"not \"{spec.data_kind}\".")
        if not spec.data_path.strip():
            raise RunSetupError("Choose the dataset folder (or use the synthetic atelier).")
        path = Path(spec.data_path).expanduser()
        if not path.exists():
            raise RunSetupError(f"The dataset folder \"{path}\" does not exist.")
    if spec.steps <= 0:
        raise RunSetupError("The number of training steps must be at least 1.")
    if spec.batch_size <= 0:
        raise RunSetupError("The batch size must be at least 1.")
    for what, every in (("sample grids", spec.sample_every), ("checkpoints", spec.checkpoint_every)):
        if every is not None and every < 0:
            raise RunSetupError(f"The steps between {what} must be 0 (never) or more, not {every}.")
    if spec.resolution is not None and (spec.resolution < 8 or spec.resolution & (spec.resolution - 1)):
        raise RunSetupError("The resolution must be a power of two such as 32, 64, 128 or 256.")
    if spec.device not in DEVICES and not re.match(r"^cuda:\d+$", spec.device):
        raise RunSetupError(f"Unknown device \"{spec.device}\"; use auto, cpu, cuda, cuda:N or mps.")


def create_run(runs_dir: str | os.PathLike, spec: RunSpec) -> Path:
    """Validate ``spec`` and write ``runs_dir/<name>/config.toml``; return the run folder."""
    validate_run_spec(spec, runs_dir)
    folder = Path(runs_dir) / spec.name.strip()
    try:
        folder.mkdir(parents=True)
        tmp = folder / (CONFIG_FILE + ".tmp")
        tmp.write_text(to_toml(spec.to_config()), encoding="utf-8")
        tmp.replace(folder / CONFIG_FILE)
    except OSError as exc:
        raise RunSetupError(f"Cannot create the run folder \"{folder}\": {exc.strerror or exc}.") from None
    return folder


def trainer_package_dir() -> Path | None:
    """The folder of the installed ``training`` package, found without importing it (the app never imports the
    trainer); None when no trainer is installed."""
    spec = importlib.util.find_spec("training")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def preset_file(preset: str, family: str) -> Path | None:
    """The trainer's preset file ``training/configs/<preset>/<family>.toml``; None without a trainer."""
    package = trainer_package_dir()
    return None if package is None else package / "configs" / preset / f"{family}.toml"


def preset_defaults(preset: str, family: str) -> dict[str, Any]:
    """The preset file's values (steps, batch size, atelier size, [log] intervals) to pre-fill the dialog; {}
    when there is no such file or it cannot be read."""
    path = preset_file(preset, family)
    return {} if path is None else read_toml_table(path)


def form_values(preset: str, family: str) -> dict[str, int]:
    """What the New-run form shows for a preset: its file's steps, batch size, atelier size and sample/checkpoint
    intervals, and config.toml's defaults (core.run_folder) for those it leaves out, as the trainer reads them."""
    d = preset_defaults(preset, family)
    data = d.get("data") if isinstance(d.get("data"), dict) else {}
    log = {**DEFAULT_LOG, **(d.get("log") if isinstance(d.get("log"), dict) else {})}
    return {"steps": int(d.get("steps", DEFAULT_STEPS)), "batch_size": int(d.get("batch_size", DEFAULT_BATCH_SIZE)),
            "atelier_size": int(data.get("size", DEFAULT_ATELIER_SIZE)),
            "sample_every": int(log["sample_every"]), "checkpoint_every": int(log["checkpoint_every"])}
