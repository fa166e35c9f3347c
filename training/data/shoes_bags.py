"""Unpaired shoes and handbags (DiscoGAN / CycleGAN), from the iGAN HDF5 files.

``ROOT/shoes_64.hdf5`` and ``ROOT/handbags_64.hdf5`` (iGAN calls the latter ``handbag_64.hdf5``), each with one
dataset ``imgs`` of uint8 N×H×W×3. Optional ``<name>_labels.csv`` files carry the atelier's style labels.
Unlike the original code (shoe i always met bag i), ``set_epoch(e)`` draws a new random pairing every epoch.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from .common import DatasetError, array_to_tensor, check_split, require_dir

SHOE_NAMES = ("shoes_64.hdf5", "shoe_64.hdf5", "shoes_128.hdf5", "shoes_32.hdf5")
BAG_NAMES = ("handbags_64.hdf5", "handbag_64.hdf5", "handbags_128.hdf5", "handbags_32.hdf5")


def _find(root: Path, names: tuple[str, ...], what: str) -> Path:
    for n in names:
        if (root / n).is_file():
            return root / n
    globbed = sorted(root.glob(f"{what}*.hdf5")) + sorted(root.glob(f"{what}*.h5"))
    if globbed:
        return globbed[0]
    raise DatasetError(f"{root}: no {what} file; expected {names[0]} (iGAN HDF5 with a uint8 'imgs' dataset)")


def _check_h5(path: Path) -> int:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if "imgs" not in f:
                raise DatasetError(f"{path}: no dataset 'imgs'; expected the iGAN layout (imgs: uint8 N×H×W×3)")
            ds = f["imgs"]
            if ds.ndim != 4 or ds.shape[-1] != 3 or ds.dtype != np.uint8:
                raise DatasetError(f"{path}: 'imgs' is {ds.dtype} {ds.shape}; expected uint8 N×H×W×3")
            return int(ds.shape[0])
    except OSError as exc:
        raise DatasetError(f"{path}: not a readable HDF5 file ({exc})") from None


def read_labels(path: Path) -> list[dict] | None:
    """The atelier's labels CSV beside an HDF5 file (None for real data, which has none)."""
    lab = path.with_name(path.stem + "_labels.csv")
    if not lab.is_file():
        return None
    with open(lab, newline="") as f:
        rows = list(csv.DictReader(f))
    return [{"kind": r["kind"], "colour_family": r["colour_family"], "pattern": r["pattern"],
             "formality": r["formality"], "rgb": (int(r["r"]), int(r["g"]), int(r["b"]))} for r in rows]


class _H5Images:
    """Lazy per-process HDF5 access (h5py handles do not survive fork/pickle)."""

    def __init__(self, path: Path, in_memory_limit: int = 512 << 20):
        import h5py

        self.path = path
        self._f = None
        self.data = None
        with h5py.File(path, "r") as f:
            ds = f["imgs"]
            if ds.size <= in_memory_limit:
                self.data = ds[:]

    def __getitem__(self, i: int) -> np.ndarray:
        if self.data is not None:
            return self.data[i]
        if self._f is None:
            import h5py
            self._f = h5py.File(self.path, "r")
        return self._f["imgs"][i]

    def __getstate__(self):
        return {**self.__dict__, "_f": None}


class ShoesBags(Dataset):
    """Item: {"A": shoe, "B": bag} (3xRxR in [-1,1]) and their indices into labels_A / labels_B."""

    def __init__(self, root, split: str = "train", resolution: int = 64, seed: int = 42, test_fraction: float = 0.1):
        p = Path(root)
        self.root = p.parent if p.is_file() else p
        require_dir(self.root, "shoes_64.hdf5 and handbags_64.hdf5 (iGAN layout)")
        self.split, self.resolution, self.seed = check_split(split), int(resolution), seed
        self.path_A = _find(self.root, SHOE_NAMES, "shoe")
        self.path_B = _find(self.root, BAG_NAMES, "handbag")
        n_a, n_b = _check_h5(self.path_A), _check_h5(self.path_B)
        self.index_A = self._split(n_a, split, test_fraction, seed)
        self.index_B = self._split(n_b, split, test_fraction, seed + 1)
        if len(self.index_A) == 0 or len(self.index_B) == 0:
            raise DatasetError(f"{self.root}: split {split!r} is empty ({n_a} shoes, {n_b} bags)")
        labels_a, labels_b = read_labels(self.path_A), read_labels(self.path_B)
        self.labels_A = None if labels_a is None else [labels_a[i] for i in self.index_A]
        self.labels_B = None if labels_b is None else [labels_b[i] for i in self.index_B]
        self._A, self._B = _H5Images(self.path_A), _H5Images(self.path_B)
        self.set_epoch(0)

    @staticmethod
    def _split(n: int, split: str, test_fraction: float, seed: int) -> np.ndarray:
        if split == "all":
            return np.arange(n)
        order = np.random.default_rng(seed).permutation(n)
        n_test = min(max(int(round(n * test_fraction)), 1), n - 1) if n >= 2 else 0
        return np.sort(order[:n_test] if split == "test" else order[n_test:])

    def set_epoch(self, epoch: int) -> None:
        """A new random pairing of shoes and bags for ``epoch`` (every shoe and bag still appears once a cycle)."""
        self.epoch = int(epoch)
        rng = np.random.default_rng([self.seed, self.epoch])
        n = len(self)
        self._order_A = np.concatenate([rng.permutation(len(self.index_A)) for _ in range(-(-n // len(self.index_A)))])[:n]
        self._order_B = np.concatenate([rng.permutation(len(self.index_B)) for _ in range(-(-n // len(self.index_B)))])[:n]

    def __len__(self) -> int:
        return max(len(self.index_A), len(self.index_B))

    def _img(self, store: _H5Images, i: int):
        arr = store[int(i)]
        if arr.shape[0] != self.resolution:
            arr = np.asarray(Image.fromarray(arr).resize((self.resolution, self.resolution), Image.BICUBIC))
        return array_to_tensor(arr)

    def __getitem__(self, index: int) -> dict:
        a, b = int(self._order_A[index]), int(self._order_B[index])
        return {"A": self._img(self._A, self.index_A[a]), "B": self._img(self._B, self.index_B[b]),
                "A_index": a, "B_index": b}
