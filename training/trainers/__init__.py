"""One trainer per GAN family over the small common loop in :mod:`training.trainers.base`.

``get_trainer(family)`` returns the family's :class:`~training.trainers.base.Trainer` subclass; plug-ins (and
tests) add their own with :func:`register_trainer`.
"""

from __future__ import annotations

import importlib
from typing import Any

_BUILTIN = {
    "pgpg": "training.trainers.pgpg:PGPGTrainer",
    "pixeldtgan": "training.trainers.pixeldtgan:PixelDTGANTrainer",
    "cyclegan": "training.trainers.cyclegan:CycleGANTrainer",
    "stylegan2": "training.trainers.stylegan2:StyleGAN2Trainer",
    "posewarp": "training.trainers.posewarp:PoseWarpTrainer",
    "upscale": "training.trainers.upscale:UpscaleTrainer",
    "munit": "training.trainers.munit:MunitTrainer",
}
_REGISTERED: dict[str, Any] = {}


def register_trainer(family: str, cls: Any) -> None:
    _REGISTERED[family] = cls


def unregister_trainer(family: str) -> None:
    _REGISTERED.pop(family, None)


def get_trainer(family: str) -> Any:
    if family in _REGISTERED:
        return _REGISTERED[family]
    target = _BUILTIN.get(family)
    if target is None:
        known = ", ".join(sorted(set(_BUILTIN) | set(_REGISTERED)))
        raise KeyError(f"There is no trainer for the model family '{family}' (trainers exist for: {known}).")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)
