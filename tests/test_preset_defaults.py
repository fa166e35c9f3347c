"""One owner per default: a preset file (``training/configs/<preset>/<family>.toml``) states only what its preset
changes. The owners are the config dataclasses (run-level keys, [data], [optim] but lr, [log]), the family
trainer's ``DEFAULT_LR`` / ``DEFAULT_LOSS`` / ``DEFAULT_SCHEDULES`` and the model's ``PRESETS[preset]`` ([arch])."""

from __future__ import annotations

import inspect
import tomllib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from fashionstudio.core import registry
from training.config import PRESET_DIR, RunConfig, config_from_dict, deep_merge, merge_family_defaults
from training.trainers import get_trainer

PRESET_FILES = sorted(PRESET_DIR.glob("*/*.toml"))


def owner_defaults(family: str, preset: str) -> dict[str, Any]:
    """Every default a run of ``family`` / ``preset`` gets before its preset file, in the preset files' layout."""
    owners = asdict(RunConfig(family=family))
    del owners["family"], owners["preset"]  # the file's path states them
    trainer = get_trainer(family)
    owners["optim"]["lr"] = dict(trainer.DEFAULT_LR)
    owners["loss"] = dict(trainer.DEFAULT_LOSS)
    owners["schedules"] = dict(trainer.DEFAULT_SCHEDULES)
    owners["arch"] = dict(inspect.getmodule(registry.get_builder(family)).PRESETS.get(preset, {}))
    return owners


def restated(table: dict[str, Any], owners: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys of ``table`` whose value is the one their owner already gives (tables compared key by key)."""
    found = []
    for key, value in table.items():
        if key not in owners:
            continue
        default = owners[key]
        if isinstance(value, dict) and isinstance(default, dict) and value:
            found += restated(value, default, f"{prefix}{key}.")
        elif value == default:
            found.append(f"{prefix}{key} = {value!r}")
    return found


def _read(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        return tomllib.load(f)


def test_the_detector_finds_a_restated_value():
    owners = owner_defaults("cyclegan", "demo")
    table = {"steps": 8000, "loss": {"cycle": owners["loss"]["cycle"], "texture": 10.0},
             "optim": {"lr": {"G": owners["optim"]["lr"]["G"], "D": 1.0}, "betas": list(owners["optim"]["betas"])},
             "log": {"keep_last": owners["log"]["keep_last"] + 1}, "arch": {"g_base": owners["arch"]["g_base"]}}
    assert sorted(restated(table, owners)) == sorted([
        f"loss.cycle = {owners['loss']['cycle']!r}", f"optim.lr.G = {owners['optim']['lr']['G']!r}",
        f"optim.betas = {owners['optim']['betas']!r}", f"arch.g_base = {owners['arch']['g_base']!r}"])


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_preset_file_states_only_what_differs_from_the_owners(path):
    preset, family = path.parent.name, path.stem
    table = _read(path)
    assert not {"family", "preset"} & set(table), f"{path}: its path already says the family and the preset"
    found = restated(table, owner_defaults(family, preset))
    assert not found, f"{path} restates its owners' defaults (delete these lines): {'; '.join(found)}"


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_owners_are_where_a_run_gets_its_defaults(path):
    """A run with only family and preset gets exactly the owners' defaults overlaid by its preset file, so the
    owners above are the whole story (no value comes from anywhere else)."""
    preset, family = path.parent.name, path.stem
    cfg = config_from_dict({"family": family, "preset": preset})
    trainer = get_trainer(family)
    merge_family_defaults(cfg, trainer.DEFAULT_LR, trainer.DEFAULT_LOSS, trainer.DEFAULT_SCHEDULES)
    got = cfg.to_dict()
    owners = owner_defaults(family, preset)
    expected = deep_merge(owners, _read(path))
    expected.update(family=family, preset=preset)
    del expected["arch"]  # the loader keeps only the overrides; the trainer lays them on the model's preset
    assert got.pop("arch") == _read(path).get("arch", {})
    assert got == expected


@pytest.mark.parametrize("path", PRESET_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_the_new_run_form_shows_what_the_trainer_will_use(path):
    """The app cannot import training.config: its form values come from core.run_folder's defaults under the
    preset file, and must be the numbers a run with only family and preset trains with."""
    from fashionstudio.core.runs import form_values

    preset, family = path.parent.name, path.stem
    cfg = config_from_dict({"family": family, "preset": preset})
    assert form_values(preset, family) == {
        "steps": cfg.steps, "batch_size": cfg.batch_size, "atelier_size": cfg.data.size,
        "sample_every": cfg.log.sample_every, "checkpoint_every": cfg.log.checkpoint_every}
