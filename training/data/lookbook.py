"""LookBook garment-extraction pairs (PixelDTGAN): a person wearing a garment and the garment's flat image.

Processed layout ``ROOT/Img/id_<pid>/{0.jpg, 1.jpg, ..., flat.jpg}`` (or ROOT pointing at ``Img`` itself), or the
raw layout ``ROOT/ImgHQ/PID<pid>_CLEAN<0|1>_IID<iid>.jpg`` (CLEAN1 = the product flat). A product is kept when it
has a flat and at least one person photo. Split by product. ``flat_other`` is a real flat of a different
product, re-drawn every epoch, for the association discriminator.

Optional ground truth beside the processed layout (the synthetic atelier writes it; LookBook itself has none):
``ROOT/Anno/keypoints/id_<pid>.csv`` (the pose-transfer CSV format, one row per photo name and ``flat.jpg``: the
joints of the person and of the flat's layout) and ``ROOT/Anno/flat_masks/id_<pid>.png`` (the flat garment's
mask). Items always carry ``person_kp``, ``flat_kp`` (18x2 (y, x) model pixels, -1 missing), ``flat_mask``
(1xRxR in {0, 1}) and ``has_anno``; without the files the joints are missing and the mask is the flat's non-white
pixels.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from fashionstudio.core.poses import PoseFormatError, empty_pose, read_pose_csv_with_frame, scale_keypoints

from .common import (IMAGE_EXTENSIONS, DatasetError, SkipReport, check_split, identity_split, load_or_flag,
                     require_dir, square, to_tensor)

RAW_RE = re.compile(r"^PID(\d+)_CLEAN([01])_IID(\d+)\.(jpg|jpeg|png)$", re.IGNORECASE)


def scan_products(root: Path) -> tuple[dict[str, dict], list[str]]:
    """{pid: {"flats": [...], "people": [...]}} from the processed or raw layout, plus incomplete product ids."""
    products: dict[str, dict] = {}
    img = root / "Img" if (root / "Img").is_dir() else root
    item_dirs = sorted(p for p in img.glob("id_*") if p.is_dir())
    if item_dirs:
        for d in item_dirs:
            files = [f for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_EXTENSIONS]
            flats = [f for f in files if f.stem.startswith("flat")]
            people = [f for f in files if f not in flats]
            products[d.name] = {"flats": flats, "people": people}
    else:
        raw = root / "ImgHQ" if (root / "ImgHQ").is_dir() else root
        for f in sorted(raw.iterdir()):
            m = RAW_RE.match(f.name)
            if m:
                entry = products.setdefault(f"PID{m.group(1)}", {"flats": [], "people": []})
                entry["flats" if m.group(2) == "1" else "people"].append(f)
        if not products:
            raise DatasetError(f"{root}: no LookBook data; expected Img/id_<pid>/{{0.jpg, ..., flat.jpg}} folders "
                               f"or raw ImgHQ/PID<pid>_CLEAN<0|1>_IID<iid>.jpg files")
    incomplete = [pid for pid, e in products.items() if not e["flats"] or not e["people"]]
    return {pid: e for pid, e in products.items() if pid not in incomplete}, incomplete


class LookBookPairs(SkipReport, Dataset):
    """Item: person, flat, flat_other (3xRxR in [-1,1]) and the product id."""

    def __init__(self, root, split: str = "train", resolution: int = 64, seed: int = 42, test_fraction: float = 0.1):
        self.root = Path(root)
        require_dir(self.root, "a LookBook folder (Img/id_<pid>/{k.jpg, flat.jpg} or ImgHQ/PID*_CLEAN*_IID*.jpg)")
        self.split, self.resolution, self.seed = check_split(split), int(resolution), seed
        self._init_skips()
        products, self.incomplete = scan_products(self.root)
        if not products:
            raise DatasetError(f"{self.root}: no complete LookBook product (each needs flat.jpg and at least one "
                               f"person photo; {len(self.incomplete)} incomplete)")
        keep = identity_split(products, split, test_fraction, seed)
        self.products = {pid: products[pid] for pid in sorted(keep)}
        self.identities = list(self.products)
        self.pairs = [(pid, person, flat) for pid, e in self.products.items() for person in e["people"]
                      for flat in e["flats"][:1]]
        self.epoch = 0
        if len(products) < 2:
            raise DatasetError(f"{self.root}: only {len(products)} complete product(s); the association "
                               f"discriminator needs flats of at least two different products")
        # Unassociated flats come from the same split; a tiny split borrows from the whole set (they are
        # negatives only, never targets).
        self._negatives = self.products if len(self.products) >= 2 else products
        self._negative_ids = sorted(self._negatives)
        if not self.pairs:
            raise DatasetError(f"{self.root}: split {split!r} is empty ({len(products)} products)")

    def set_epoch(self, epoch: int) -> None:
        """Re-draw the unassociated flats for a new epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.pairs)

    def _img(self, path: Path):
        return to_tensor(square(load_or_flag(path))[0], self.resolution)

    def _keypoints(self, pid: str, name: str, size: tuple[int, int]) -> np.ndarray:
        """The joints of image ``name`` of product ``pid`` in model pixels, or a missing pose without a file."""
        path = self.root / "Anno" / "keypoints" / f"{pid}.csv"
        if not path.is_file():
            return empty_pose()
        try:
            poses, frame = read_pose_csv_with_frame(path)
        except PoseFormatError as exc:
            raise DatasetError(str(exc)) from None
        if name not in poses:
            return empty_pose()
        frame = frame or size
        if frame[0] != frame[1]:
            raise DatasetError(f"{path}: keypoints of a {frame[0]}x{frame[1]} frame; LookBook images are square")
        return scale_keypoints(poses[name], frame, (self.resolution, self.resolution))

    def _flat_mask(self, pid: str, flat: torch.Tensor) -> tuple[torch.Tensor, bool]:
        path = self.root / "Anno" / "flat_masks" / f"{pid}.png"
        if path.is_file():
            with Image.open(path) as im:
                m = im.convert("L").resize((self.resolution, self.resolution), Image.NEAREST)
            return torch.from_numpy((np.asarray(m) > 127).astype(np.float32))[None], True
        return ((flat + 1) / 2).amin(dim=0, keepdim=True).lt(0.94).float(), False

    def _load(self, index: int) -> dict:
        pid, person, flat = self.pairs[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        others = self._negative_ids
        other = others[int(rng.integers(len(others) - 1))]
        if other == pid:  # draw among the others without building a list per item
            other = others[-1]
        flat_img = self._img(flat)
        size = (self.resolution, self.resolution)
        mask, has_mask = self._flat_mask(pid, flat_img)
        person_kp = self._keypoints(pid, person.name, size)
        flat_kp = self._keypoints(pid, flat.name, size)
        return {"person": self._img(person), "flat": flat_img,
                "flat_other": self._img(self._negatives[other]["flats"][0]), "product": pid, "product_other": other,
                "person_kp": torch.from_numpy(person_kp), "flat_kp": torch.from_numpy(flat_kp),
                "flat_mask": mask, "has_anno": torch.tensor(float(has_mask))}

    def __getitem__(self, index: int) -> dict:
        return self._with_retry(index, self._load)
