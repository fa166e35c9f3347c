"""The data a run trains on, batch by batch: a seeded, resumable order, the batch stream, and the fixed held-out
inputs every sample grid and metric uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from training.data import DatasetError


class DataOrder:
    """A resumable, seeded order of batches: epoch ``e`` is a permutation drawn from (seed, e).

    Each process takes every ``world_size``-th index of the permutation, so ranks see disjoint data. The state is
    just (epoch, position): the permutation is recomputed, never stored.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        per_rank = n // world_size
        if per_rank < batch_size:
            raise DatasetError(f"The dataset has {n} examples, fewer than one batch of {batch_size} per process "
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


def fixed_batch(dataset: Any, n: int, seed: int) -> dict[str, Any]:
    """``n`` items of ``dataset`` (all when it has fewer) chosen once from the run's seed, as one batch."""
    g = torch.Generator().manual_seed(seed + 1)
    idx = torch.randperm(len(dataset), generator=g)[: min(n, len(dataset))].tolist()
    return collate([dataset[i] for i in idx])


def held_out_dataset(trainer: Any, run_dir: Path, train: Any) -> tuple[Any, str]:
    """Where the fixed inputs come from, and its split: the held-out test split, or ``train`` when there is none."""
    try:
        held_out = trainer.build_dataset(run_dir, "test")
        if len(held_out) == 0:
            raise DatasetError("empty")
        return held_out, "test"
    except (DatasetError, FileNotFoundError, ValueError):
        return train, "train"
