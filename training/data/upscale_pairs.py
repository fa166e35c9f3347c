"""Training pairs for the upscaler: clean pictures at the output size, degraded on the fly into GAN-like inputs.

Item: ``{"lr": 3 x R x R, "hr": 3 x sR x sR}`` in [-1, 1] (``s`` the scale, ``R`` the model's input size, or
``crop / s`` when training on random ``crop`` px squares of the pictures: the network is fully convolutional, and
a quarter of the picture costs a quarter of the step). The
clean pictures are every picture of one or more datasets read with the project's readers: person photos and
flats (In-shop, LookBook, image folders) and shoes and bags (iGAN HDF5), so one upscaler serves every tool. The
degradation (:mod:`training.data.degrade`) is drawn from (seed, epoch, index): a new one each epoch, the same
one on resume.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from training.data.degrade import degrade


class _Pictures:
    """The clean pictures of one dataset folder as a flat list: (reader, index, key) entries."""

    def __init__(self, kind: str, path: Path, split: str, resolution: int) -> None:
        from training.data import make_dataset

        if kind == "shoes_bags":
            self.reader = make_dataset("shoes_bags", path, split=split, resolution=resolution)
            self.entries = [(i, key) for i in range(len(self.reader)) for key in ("A", "B")]
        else:
            folder = Path(path)
            if kind == "lookbook" and (folder / "Img").is_dir():
                folder = folder / "Img"  # the processed photos and flats (ImgHQ holds the same pictures again)
            self.reader = make_dataset("images", folder, split=split, resolution=resolution)
            self.entries = [(i, "image") for i in range(len(self.reader))]

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, i: int) -> torch.Tensor:
        index, key = self.entries[i]
        return self.reader[index][key]


class UpscalePairs(Dataset):
    """(degraded small, clean large) pairs over the pictures of ``sources`` [(kind, folder), ...]."""

    def __init__(self, sources: list[tuple[str, Path]], split: str = "train", resolution: int = 64,
                 scale: int = 4, seed: int = 0, clean_share: float = 0.25, crop: int = 0) -> None:
        self.resolution, self.scale, self.seed = int(resolution), int(scale), int(seed)
        self.crop = int(crop) if int(crop) < self.resolution * self.scale else 0  # a larger crop: whole pictures
        if self.crop and (self.crop % self.scale or self.crop < self.scale):
            raise ValueError(f"[data] options crop = {crop} must be a multiple of the scale ({self.scale}), "
                             f"at least {self.scale}.")
        self.clean_share = float(clean_share)
        self.split = split
        self.parts = [_Pictures(kind, Path(path), split, self.resolution * self.scale) for kind, path in sources]
        self.index = [(p, i) for p, part in enumerate(self.parts) for i in range(len(part))]
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        p, i = self.index[index]
        hr = self.parts[p][i]
        # Held-out pairs keep one degradation for good: metrics then compare like with like across evaluations.
        epoch = 0 if self.split == "test" else self.epoch
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch * 7919 + index) % 2**63)
        if self.crop and self.split != "test":  # held-out pairs stay whole pictures
            top, left = (int(torch.randint(0, (side - self.crop) // self.scale + 1, (), generator=g)) * self.scale
                         for side in hr.shape[-2:])
            hr = hr[:, top:top + self.crop, left:left + self.crop]
        lr = degrade(hr[None], self.scale, g, self.clean_share)[0]
        return {"lr": lr, "hr": hr}
