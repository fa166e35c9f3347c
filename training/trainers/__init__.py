"""One trainer per GAN family over one common loop.

``trainer`` holds the :class:`~training.trainers.trainer.Trainer` base class a family subclasses, ``loop`` the
training loop that runs it in a run folder, ``batches`` the data order and the fixed held-out inputs, ``samples``
the sample grids, ``checkpoints`` what a checkpoint holds and how a run continues from one, ``stop`` the stop
requests (signals, stop file), ``data_adapter`` which dataset a family reads.

``get_trainer(family)`` returns the Trainer subclass the family's declaration
(:class:`fashionstudio.families.Family`, ``trainer``) names; plug-ins declare theirs with
``fashionstudio.core.registry.register``.
"""

from __future__ import annotations

from typing import Any

from fashionstudio.core import registry
from fashionstudio.families import resolve


def get_trainer(family: str) -> Any:
    spec = registry.family(family) if family in registry.known_families() else None
    if spec is None or spec.trainer is None:
        known = ", ".join(f.name for f in registry.families() if f.trainer is not None)
        raise KeyError(f"There is no trainer for the model family '{family}' (trainers exist for: {known}).")
    return resolve(spec.trainer)
