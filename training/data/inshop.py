"""DeepFashion In-shop Clothes Retrieval: pose-change pairs (PGPG / PoseGAN).

Layout: ``ROOT/Img/<MEN|WOMEN>/<Category>/id_XXXXXXXX/<group>_<k>_<view>.jpg`` (``img``/``img_highres`` also
accepted), or the pose-transfer papers' flattened ``ROOT/{train,test}/fashion<GENDER><Category>id<8 digits>...jpg``;
DensePose maps ``<same>_IUV.png``
beside each image (or under ``ROOT/Anno/dense pose/Img/...``); keypoints in ``ROOT/fasion-resize-annotation-*.csv``
(the pose-transfer community's flattened names). Pairs: the same item and group, views other than ``additional``
and ``flat``, both directions. The split is by item id, so no product appears in both train and test.

IUV files follow Detectron's ``cv2.imwrite`` convention: on disk B = part index I, G = U·255, R = V·255.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from fashionstudio.core.poses import (mirror_keypoints, pad_keypoints, pose_mask, read_pose_csv, render_heatmaps,
                                      scale_keypoints)
from .common import (DatasetError, SkipReport, _Unreadable, check_split, identity_split, load_or_flag, open_rgb,
                     require_dir, square, to_tensor)

NAME_RE = re.compile(r"^(\d+)_(\d+)_([A-Za-z]+)\.jpg$")
EXCLUDED_VIEWS = ("additional", "flat")
ANNOTATION_FILES = ("fasion-resize-annotation-train.csv", "fasion-resize-annotation-test.csv",
                    "fashion-resize-annotation-train.csv", "fashion-resize-annotation-test.csv")


FLAT_RE = re.compile(r"^fashion(MEN|WOMEN)(.+?)id(\d{8})(\d+)_(\d+)([A-Za-z]+)\.jpg$")
IMG_FOLDERS = ("Img", "img", "img_highres")


@dataclass(frozen=True)
class InShopImage:
    path: Path
    gender: str
    category: str
    item_id: str
    group: str
    view: str

    @property
    def flat_name(self) -> str:
        """The pose-transfer community's name for this photo (the key of the annotation CSVs)."""
        if self.path.name.startswith("fashion"):
            return self.path.name
        stem = self.path.name
        stem = stem[:stem.rindex("_")] + stem[stem.rindex("_") + 1:]
        return f"fashion{self.gender}{self.category}{self.item_id.replace('_', '')}{stem}"


def iuv_path(root: Path, img: InShopImage) -> Path | None:
    beside = img.path.with_name(img.path.stem + "_IUV.png")
    if beside.is_file():
        return beside
    for folder in IMG_FOLDERS:
        if (root / folder) in img.path.parents:
            rel = img.path.relative_to(root / folder)
            anno = root / "Anno" / "dense pose" / "Img" / rel.parent / (img.path.stem + "_IUV.png")
            return anno if anno.is_file() else None
    return None


def read_iuv(path) -> np.ndarray:
    """An IUV file as (H, W, 3) uint8 in semantic order (I, U, V)."""
    arr = np.asarray(open_rgb(path))
    return arr[..., ::-1].copy()


def _scan_tree(img_root: Path) -> tuple[list[InShopImage], list[str]]:
    images, odd = [], []
    for item_dir in sorted(img_root.glob("*/*/id_*")):
        if not item_dir.is_dir():
            continue
        gender, category = item_dir.parent.parent.name, item_dir.parent.name
        for f in sorted(item_dir.iterdir()):
            if f.name.endswith("_IUV.png") or f.suffix.lower() in (".json", ".txt"):
                continue
            m = NAME_RE.match(f.name)
            if m is None:
                odd.append(str(f))
                continue
            images.append(InShopImage(f, gender, category, item_dir.name, m.group(1), m.group(3).lower()))
    return images, odd


def _scan_flat(root: Path) -> tuple[list[InShopImage], list[str]]:
    """The pose-transfer papers' layout: flattened names in ROOT/train and ROOT/test (or ROOT itself)."""
    images, odd = [], []
    folders = [root / "train", root / "test"] if (root / "train").is_dir() or (root / "test").is_dir() else [root]
    for folder in folders:
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("fashion*")):
            m = FLAT_RE.match(f.name)
            if m is None:
                odd.append(str(f))
                continue
            images.append(InShopImage(f, m.group(1), m.group(2), f"id_{m.group(3)}", m.group(4), m.group(6).lower()))
    return images, odd


def scan_images(root: Path) -> tuple[list[InShopImage], list[str]]:
    """All photos of a DeepFashion In-shop folder, plus names that did not fit the naming scheme.

    Accepts ``ROOT/Img`` (or ``img``, ``img_highres``) as ``<MEN|WOMEN>/<Category>/id_XXXXXXXX/<g>_<k>_<view>.jpg``,
    or the pose-transfer papers' flattened ``ROOT/{train,test}/fashion<GENDER><Category>id<8 digits><g>_<k><view>.jpg``.
    """
    require_dir(root, "a DeepFashion In-shop folder")
    for folder in IMG_FOLDERS:
        if (root / folder).is_dir():
            images, odd = _scan_tree(root / folder)
            if not images:
                raise DatasetError(f"{root / folder}: no images named <group>_<k>_<view>.jpg in "
                                   f"<MEN|WOMEN>/<Category>/id_XXXXXXXX/ folders (DeepFashion In-shop layout)")
            return images, odd
    images, odd = _scan_flat(root)
    if not images:
        raise DatasetError(f"{root}: no DeepFashion In-shop photos; expected an Img/ folder laid out as "
                           f"Img/<MEN|WOMEN>/<Category>/id_XXXXXXXX/<group>_<k>_<view>.jpg, or the pose-transfer "
                           f"layout train/ and test/ with fashion<GENDER><Category>id<8 digits>..jpg files")
    return images, odd


def load_keypoints(root: Path) -> dict[str, np.ndarray]:
    found = [root / name for name in ANNOTATION_FILES if (root / name).is_file()]
    if not found:
        raise DatasetError(f"{root}: no keypoint annotations; expected fasion-resize-annotation-train.csv and/or "
                           f"fasion-resize-annotation-test.csv (name:keypoints_y:keypoints_x), or use pose='iuv'")
    poses: dict[str, np.ndarray] = {}
    for f in found:
        poses.update(read_pose_csv(f))
    return poses


class InShopPairs(SkipReport, Dataset):
    """Pose-change pairs. Item: src, tgt (3xRxR in [-1,1]), src_pose, tgt_pose (18 heatmaps or 3-ch IUV, [0,1]),
    tgt_mask (1xRxR in {0,1}), src_name, tgt_name."""

    def __init__(self, root, split: str = "train", resolution: int = 128, pose: str = "heatmaps",
                 sigma: float | None = None, seed: int = 42, test_fraction: float = 0.1,
                 keypoint_frame: tuple[int, int] | None = None, pairs: str = "groups", hflip: bool = False):
        self.root = Path(root)
        require_dir(self.root, "a DeepFashion In-shop folder (Img/, fasion-resize-annotation-*.csv)")
        self.split, self.resolution, self.pose = check_split(split), int(resolution), pose
        if pose not in ("heatmaps", "iuv"):
            raise DatasetError(f"unknown pose option {pose!r}; expected 'heatmaps' or 'iuv'")
        self.sigma = sigma if sigma is not None else max(1.0, 6.0 * resolution / 256)
        self.keypoint_frame = keypoint_frame
        self.hflip = bool(hflip)
        if self.hflip and pose == "iuv":
            raise DatasetError("hflip works with keypoint heatmaps only: mirroring a DensePose IUV map would also "
                               "need its left/right parts and U/V charts remapped")
        self._init_skips()
        images, self.odd_names = scan_images(self.root)
        self.keypoints = load_keypoints(self.root) if pose == "heatmaps" else {}
        own_split = "all" if pairs == "csv" else split  # with pairs='csv' the CSV file is the split
        keep = identity_split([im.item_id for im in images], own_split, test_fraction, seed)
        self.missing_pose: list[str] = []
        groups: dict[tuple[str, str], list[InShopImage]] = {}
        self.iuv: dict[Path, Path] = {}
        for im in images:
            if im.item_id not in keep or im.view in EXCLUDED_VIEWS:
                continue
            iuv = iuv_path(self.root, im)
            if iuv is not None:
                self.iuv[im.path] = iuv
            has_pose = (im.flat_name in self.keypoints) if pose == "heatmaps" else iuv is not None
            if not has_pose:
                self.missing_pose.append(str(im.path))
                continue
            groups.setdefault((im.item_id, im.group), []).append(im)
        self.pairs: list[tuple[InShopImage, InShopImage]] = []
        if pairs == "csv":  # the pose-transfer community's fixed split (PATN), e.g. to compare with papers
            self.pairs = self._csv_pairs(images, split)
        elif pairs == "groups":
            for members in groups.values():
                for a in members:
                    for b in members:
                        if a is not b:
                            self.pairs.append((a, b))
        else:
            raise DatasetError(f"unknown pairs option {pairs!r}; expected 'groups' or 'csv'")
        self.identities = sorted({im.item_id for pair in self.pairs for im in pair})
        if not self.pairs:
            raise DatasetError(f"{self.root}: no pose pairs in split {split!r} (two posable photos of the same item "
                               f"and group are needed; {len(self.missing_pose)} photos lack a "
                               f"{'keypoint annotation' if pose == 'heatmaps' else '_IUV.png'})")

    def _csv_pairs(self, images: list[InShopImage], split: str) -> list[tuple[InShopImage, InShopImage]]:
        import csv

        if split not in ("train", "test"):
            raise DatasetError("pairs='csv' reads fasion-resize-pairs-train.csv or -test.csv: use split 'train' or "
                               "'test'")
        f = self.root / f"fasion-resize-pairs-{split}.csv"
        if not f.is_file():
            raise DatasetError(f"{f}: not found; pairs='csv' needs the pose-transfer pairs file (header 'from,to')")
        by_name = {im.flat_name: im for im in images}
        out = []
        with open(f, newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows or [c.strip() for c in rows[0]] != ["from", "to"]:
            raise DatasetError(f"{f}: expected the header line 'from,to'")
        for row in rows[1:]:
            a, b = by_name.get(row[0].strip()), by_name.get(row[1].strip())
            if a is None or b is None:
                self.missing_pose.append(row[0] if a is None else row[1])
                continue
            if self.pose == "heatmaps" and not (a.flat_name in self.keypoints and b.flat_name in self.keypoints):
                continue
            if self.pose == "iuv" and not (a.path in self.iuv and b.path in self.iuv):
                continue
            out.append((a, b))
        return out

    def __len__(self) -> int:
        return len(self.pairs)

    def _image_and_pose(self, im: InShopImage, with_mask: bool, flip: bool = False) -> dict:
        raw = load_or_flag(im.path)
        img, (top, left, _) = square(raw)
        side, r = img.size[0], self.resolution
        if flip:  # mirror the photo, and below its keypoints (left and right joints swap names)
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        out = {"image": to_tensor(img, r)}
        mask = None
        iuv_file = self.iuv.get(im.path)
        if iuv_file is not None and (self.pose == "iuv" or with_mask):
            iuv_sq, _ = square(Image.fromarray(load_or_flag(iuv_file, read_iuv)), fill=(0, 0, 0))
            iuv = np.asarray(iuv_sq.resize((r, r), Image.NEAREST))
            mask = (iuv[..., 0] > 0).astype(np.float32)
            if flip:
                mask = np.ascontiguousarray(mask[:, ::-1])
            if self.pose == "iuv":
                scale = np.array([24.0, 255.0, 255.0], np.float32)
                out["pose"] = torch.from_numpy(iuv.astype(np.float32) / scale).permute(2, 0, 1).contiguous()
        if self.pose == "heatmaps":
            frame = self.keypoint_frame or raw.size[::-1]
            kp = scale_keypoints(self.keypoints[im.flat_name], frame, raw.size[::-1])
            kp = scale_keypoints(pad_keypoints(kp, top, left), (side, side), (r, r))
            if flip:
                kp = mirror_keypoints(kp, r)
            out["pose"] = torch.from_numpy(render_heatmaps(kp, r, self.sigma))
            if with_mask and mask is None:  # no DensePose map: PG2's skeleton mask
                mask = pose_mask(kp, r).astype(np.float32)
        elif "pose" not in out:
            raise _Unreadable(im.path, FileNotFoundError("its _IUV.png disappeared"))
        if with_mask:
            out["mask"] = torch.from_numpy(mask)[None]
        return out

    def _load(self, index: int) -> dict:
        a, b = self.pairs[index]
        flip = self.hflip and random.random() < 0.5  # one coin for both: the pair stays one person
        src = self._image_and_pose(a, with_mask=False, flip=flip)
        tgt = self._image_and_pose(b, with_mask=True, flip=flip)
        return {"src": src["image"], "tgt": tgt["image"], "src_pose": src["pose"], "tgt_pose": tgt["pose"],
                "tgt_mask": tgt["mask"], "src_name": str(a.path.relative_to(self.root)),
                "tgt_name": str(b.path.relative_to(self.root))}

    def __getitem__(self, index: int) -> dict:
        return self._with_retry(index, self._load)
