"""Any image collection (a folder, searched recursively, or a .zip) for StyleGAN: item {"image"}."""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

from PIL import Image
from torch.utils.data import Dataset

from .common import (IMAGE_EXTENSIONS, DatasetError, SkipReport, check_split, identity_split, load_or_flag, open_rgb,
                     square, to_tensor)


MAX_MEMBER_BYTES = 256 << 20


class ImageFolder(SkipReport, Dataset):
    """Images as 3xRxR in [-1,1]; non-square ones are padded with white (``fit="pad"``) or centre-cropped.

    ``hflip=True`` mirrors each image with probability 1/2 (a free doubling of a small collection).
    """

    def __init__(self, root, split: str = "all", resolution: int = 64, hflip: bool = False, fit: str = "pad",
                 seed: int = 42, test_fraction: float = 0.1):
        self.root = Path(root)
        self.split, self.resolution, self.hflip, self.fit = check_split(split), int(resolution), bool(hflip), fit
        if fit not in ("pad", "crop"):
            raise DatasetError(f"unknown fit {fit!r}; expected 'pad' or 'crop'")
        self._init_skips()
        self._zip = None
        if not self.root.exists():
            raise DatasetError(f"{self.root}: not found; expected a folder or .zip of images")
        if self.root.is_file():
            if not zipfile.is_zipfile(self.root):
                raise DatasetError(f"{self.root}: not a folder or a .zip archive of images")
            with zipfile.ZipFile(self.root) as z:
                names = sorted(n for n in z.namelist() if n.lower().endswith(IMAGE_EXTENSIONS)
                               and not n.startswith("__MACOSX"))
        else:
            names = sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                           if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not names:
            raise DatasetError(f"{self.root}: no images found; expected files ending in "
                               f"{', '.join(IMAGE_EXTENSIONS)}")
        keep = identity_split(names, split, test_fraction, seed)
        self.names = [n for n in names if n in keep]

    def __len__(self) -> int:
        return len(self.names)

    def _open(self, name: str) -> Image.Image:
        if self.root.is_file():
            if self._zip is None:
                self._zip = zipfile.ZipFile(self.root)
            size = self._zip.getinfo(name).file_size
            if size > MAX_MEMBER_BYTES:  # read into memory whole: a zip bomb member would exhaust it
                raise ValueError(f"it unpacks to {size:,} bytes, more than an image file may have "
                                 f"({MAX_MEMBER_BYTES:,})")
            return open_rgb(io.BytesIO(self._zip.read(name)))
        return open_rgb(self.root / name)

    def __getstate__(self):
        return {**self.__dict__, "_zip": None}

    def _load(self, index: int) -> dict:
        name = self.names[index]
        img, _ = square(load_or_flag(name, self._open), self.fit)
        if self.hflip and random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        return {"image": to_tensor(img, self.resolution), "name": name}

    def __getitem__(self, index: int) -> dict:
        return self._with_retry(index, self._load)
