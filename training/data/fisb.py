"""DeepFashion Fashion Synthesis Benchmark (``G2.h5``, renamed ``Img.h5`` by the thesis) for StyleGAN.

``ih``: mean-subtracted float images stored C×W×H; ``ih_mean``: the mean image. Decoding (as the thesis):
``img = max(ih_mean)·ih[i] + ih_mean; img /= img.max()``, then axes swapped to H×W×C. Optional ``crops.json``
(per-image ``h_from/h_until/w_from/w_until``) and ``backgrounds.json`` (``{hex: [indices]}``, with ``min_color``
keeping only backgrounds at least that light) beside the file. Unlike the thesis's loader, nothing is clamped
to [0, 1] after normalising.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from .common import DatasetError, array_to_tensor, check_split, identity_split

H5_NAMES = ("G2.h5", "Img.h5")


class FashionSynthesis(Dataset):
    def __init__(self, root, split: str = "all", resolution: int = 128, min_color: str | None = None,
                 hflip: bool = False, seed: int = 42, test_fraction: float = 0.1):
        import h5py

        p = Path(root)
        if p.is_dir():
            found = [p / n for n in H5_NAMES if (p / n).is_file()]
            if not found:
                raise DatasetError(f"{p}: no Fashion Synthesis file; expected G2.h5 (or Img.h5) with 'ih' and 'ih_mean'")
            p = found[0]
        elif not p.is_file():
            raise DatasetError(f"{p}: not found; expected the Fashion Synthesis G2.h5 file or its folder")
        self.path, self.resolution, self.hflip = p, int(resolution), bool(hflip)
        check_split(split)
        try:
            with h5py.File(p, "r") as f:
                if "ih" not in f or "ih_mean" not in f:
                    raise DatasetError(f"{p}: expected datasets 'ih' and 'ih_mean' (FashionGAN G2.h5 layout), "
                                       f"found {sorted(f.keys())}")
                n = int(f["ih"].shape[0])
                self.mean = f["ih_mean"][:].astype(np.float32)
        except OSError as exc:
            raise DatasetError(f"{p}: not a readable HDF5 file ({exc})") from None
        self.scale = float(self.mean.max())
        crops_file = p.parent / "crops.json"
        self.crops = json.loads(crops_file.read_text()) if crops_file.is_file() else None
        indices = list(range(n))
        bg_file = p.parent / "backgrounds.json"
        if min_color is not None:
            if not bg_file.is_file():
                raise DatasetError(f"{bg_file}: needed for min_color={min_color!r} but not found")
            bgs = json.loads(bg_file.read_text())
            light = {i for hexc, ids in bgs.items() if hexc.lower() >= min_color.lower() for i in ids}
            indices = [i for i in indices if i in light]
        keep = identity_split(indices, split, test_fraction, seed)
        self.indices = [i for i in indices if i in keep]
        self._f = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getstate__(self):
        return {**self.__dict__, "_f": None}

    def decode(self, i: int) -> np.ndarray:
        """Image ``i`` of the file as uint8 H×W×3."""
        import h5py

        if self._f is None:
            self._f = h5py.File(self.path, "r")
        x = self.scale * self._f["ih"][i].astype(np.float32) + self.mean
        x /= max(float(x.max()), 1e-6)
        return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8).swapaxes(2, 0)

    def __getitem__(self, index: int) -> dict:
        i = self.indices[index]
        arr = self.decode(i)
        if self.crops is not None:
            c = self.crops[i]
            arr = arr[c["h_from"]:c["h_until"], c["w_from"]:c["w_until"]]
        img = Image.fromarray(np.ascontiguousarray(arr))
        if img.size != (self.resolution, self.resolution):
            img = img.resize((self.resolution, self.resolution), Image.BICUBIC)
        if self.hflip and np.random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        return {"image": array_to_tensor(np.asarray(img)), "index": i}
