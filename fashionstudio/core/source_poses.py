"""The source photo's own pose: from the dataset annotations beside it, or as the designer marked it by hand.

Warping pose models need the pose of the person in the input photo as well as the target pose. It comes from:

1. a pose the designer marked on this photo (dragged onto it in the Pose tab), remembered per file in a small
   JSON store in the app's data folder, keyed by the SHA-256 of the file's bytes, so a renamed or moved copy of
   the photo keeps its pose and an edited photo does not inherit a stale one;
2. else the dataset's keypoint annotations beside the photo: a pose-transfer CSV (``*annotation*.csv``,
   ``name:keypoints_y:keypoints_x``) in the photo's folder or up to five folders above it, as the DeepFashion
   In-shop layout keeps ``fasion-resize-annotation-*.csv`` in its root. Names are matched as the Pose library
   does, including In-shop paths under their flattened pose-transfer name.

A hand-marked pose wins over an annotation: a designer marks a photo that has one only to correct it.

Poses are normalised (y, x) in [0, 1] of the photo's frame, -1 for a missing joint (core.pose_transfer).
Annotation pixels are normalised by the frame they were marked in (:func:`annotation_frame`): the one the CSV
declares; else the file's dataset frame (core.pose_frame) when the photo is that frame at another size (a
high-resolution copy of a 256 x 176 DeepFashion picture); else the photo's own pixel frame, as the trainer
reads In-shop annotations (training/data/inshop.py).

Qt-free; every file read here is data (JSON, CSV): nothing in them is executed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from fashionstudio.core.pose_frame import frame_from_image, infer_frame, keypoint_extent
from fashionstudio.core.poses import MISSING, NUM_KEYPOINTS, PoseFormatError, read_pose_csv_with_frame, visible
from fashionstudio.core.safe_json import SafeJsonError
from fashionstudio.core.safe_json import loads as safe_loads

log = logging.getLogger(__name__)

STORE_FILE_NAME = "source_poses.json"
STORE_FORMAT = "fashionstudio-source-poses"
MAX_STORED = 2000              # oldest marks are dropped beyond this: the store stays a small file
_MAX_STORE_BYTES = 16 << 20    # a larger "store" is not ours: ignored rather than parsed
_MAX_POSE_FILE_BYTES = 64 << 20
ANNOTATION_GLOB = "*annotation*.csv"
_CSV_CACHE_FILES = 8           # annotation files kept parsed (one dataset has two)
_ASPECT_TOLERANCE = 0.02       # a photo this close to a dataset frame's aspect is that frame resized
_SEARCH_DEPTH = 6              # the photo's folder and five above it (Img/<GENDER>/<Category>/id_X/ -> root)
_INSHOP_PATH = re.compile(r"(MEN|WOMEN)/([^/]+)/(id_\d+)/(\d+_\d+_[A-Za-z]+)\.(jpg|png)$")


class SourcePoseError(ValueError):
    """A source-pose file that cannot be used; the message is meant for a designer."""


@dataclass(frozen=True)
class SourcePose:
    """The pose of the person in a photo: normalised (y, x) (18, 2), where it came from, and a short label."""

    pose: np.ndarray
    origin: str  # "marked" (by the designer), "annotation" (a dataset CSV) or "file" (given explicitly)
    label: str   # "marked by you", "fasion-resize-annotation-train.csv", ...

    def describe(self) -> str:
        """'the pose you marked on this photo' / 'the pose annotated in fasion-resize-annotation-train.csv'."""
        if self.origin == "marked":
            return "the pose you marked on this photo"
        if self.origin == "annotation":
            return f"the pose annotated in {self.label}"
        return f"the pose from {self.label}"


# --- keys -------------------------------------------------------------------------------------------------------

def file_key(path: str | os.PathLike) -> str:
    """``sha256:<hex>`` of the file's bytes (streamed: a 60 MP photo is read in 1 MiB pieces)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def image_key(image: Any) -> str:
    """``pixels:<hex>`` for an image without a file (pasted): its mode, size and pixels."""
    digest = hashlib.sha256(f"{image.mode}:{image.width}x{image.height}:".encode())
    rows = max(1, (8 << 20) // max(1, image.width * len(image.getbands())))  # strips of ~8 MB, not one copy
    for top in range(0, image.height, rows):
        digest.update(image.crop((0, top, image.width, min(image.height, top + rows))).tobytes())
    return f"pixels:{digest.hexdigest()}"


def photo_key(path: str | os.PathLike | None, image: Any = None) -> str | None:
    """The store key of a photo: its file's hash, else its pixels' hash, else None. Raises OSError when the
    file cannot be read."""
    if path is not None:
        return file_key(path)
    if image is not None:
        return image_key(image)
    return None


# --- validation -------------------------------------------------------------------------------------------------

def check_normalised_pose(pose: Any) -> np.ndarray:
    """A float32 (18, 2) normalised pose: finite, each joint in [0, 1] or exactly missing. Raises
    SourcePoseError otherwise (a designer reads it)."""
    try:
        arr = np.asarray(pose, dtype=np.float32)
    except (TypeError, ValueError):
        raise SourcePoseError("The pose is not a list of numbers.") from None
    if arr.shape != (NUM_KEYPOINTS, 2):
        raise SourcePoseError(f"A pose needs 18 joints as (y, x) pairs, not an array of shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise SourcePoseError("The pose has joints with no number (NaN or infinity).")
    ok = visible(arr)
    if ((arr[ok] < 0) | (arr[ok] > 1)).any() or (arr[~ok] != MISSING).any():
        raise SourcePoseError("The pose has joints outside the photo (normalised coordinates go from 0 to 1, "
                              "-1 for a missing joint).")
    return arr.copy()


def normalise_pixels(keypoints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pixel (y, x) keypoints in a frame of ``size`` = (h, w) -> normalised, joints outside the frame missing."""
    kp = np.asarray(keypoints, dtype=np.float32).copy()
    ok = visible(kp)
    kp[ok, 0] = (kp[ok, 0] + 0.5) / size[0]
    kp[ok, 1] = (kp[ok, 1] + 0.5) / size[1]
    outside = ok & ((kp[:, 0] > 1) | (kp[:, 1] > 1))
    kp[~ok | outside] = MISSING
    return kp


# --- the hand-marked store --------------------------------------------------------------------------------------

class SourcePoseStore:
    """Poses marked by hand, ``{photo key: pose}``, in a JSON file (default: ``source_poses.json`` in the app's
    data folder). Thread-safe; each save rewrites the file atomically, merged with what is on disk so two
    windows do not erase each other's marks. A damaged store is kept aside as ``*.damaged`` and ignored."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        if path is None:
            from fashionstudio.core.applog import app_data_dir

            path = app_data_dir() / STORE_FILE_NAME
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] | None = None
        self._stamp: tuple[int, int] | None = None  # the file as last read or written by this store

    def _disk_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _read_disk(self) -> dict[str, dict[str, Any]]:
        self._stamp = self._disk_stamp()
        try:
            if self.path.stat().st_size > _MAX_STORE_BYTES:
                log.warning("source pose store %s is too large to be ours; ignored", self.path)
                return {}
            data = safe_loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, SafeJsonError) as exc:
            log.warning("source pose store %s is damaged (%s); kept aside as .damaged", self.path, exc)
            try:
                os.replace(self.path, self.path.with_name(self.path.name + ".damaged"))
            except OSError:
                pass
            return {}
        entries = data.get("poses") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            return {}
        good: dict[str, dict[str, Any]] = {}
        for key, entry in entries.items():
            try:
                check_normalised_pose(entry["pose"])
                good[str(key)] = {"pose": entry["pose"], "name": str(entry.get("name") or ""),
                                  "saved": str(entry.get("saved") or "")}
            except (SourcePoseError, KeyError, TypeError):
                log.info("source pose store: entry %s skipped (not a pose)", str(key)[:80])
        return good

    def _loaded(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            self._entries = self._read_disk()
        return self._entries

    def _merged(self) -> dict[str, dict[str, Any]]:
        """Our entries plus those another window saved since we last read or wrote the file."""
        mine = dict(self._loaded())
        if self._disk_stamp() != self._stamp:
            return {**self._read_disk(), **mine}
        return mine

    def get(self, key: str | None) -> np.ndarray | None:
        """The marked pose of ``key`` (normalised (18, 2)), or None."""
        if key is None:
            return None
        with self._lock:
            entry = self._loaded().get(key)
        return None if entry is None else np.asarray(entry["pose"], dtype=np.float32)

    def put(self, key: str, pose: np.ndarray, name: str = "") -> None:
        """Remember ``pose`` for ``key`` (``name``: the file name, for a person reading the JSON). Raises
        SourcePoseError for a pose that is not one, OSError when the file cannot be written."""
        arr = check_normalised_pose(pose)
        entry = {"pose": np.round(arr, 5).tolist(), "name": name,
                 "saved": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        with self._lock:
            entries = self._merged()
            entries[key] = entry
            self._entries = _newest(entries, MAX_STORED)
            self._write(self._entries)

    def forget(self, key: str | None) -> bool:
        """Forget the marked pose of ``key``; True when there was one."""
        if key is None:
            return False
        with self._lock:
            entries = self._merged()
            if key not in entries:
                return False
            del entries[key]
            self._entries = entries
            self._write(entries)
            return True

    def __len__(self) -> int:
        with self._lock:
            return len(self._loaded())

    def _write(self, entries: dict[str, dict[str, Any]]) -> None:
        from fashionstudio.core.atomic import atomic_write

        text = json.dumps({"format": STORE_FORMAT, "version": 1, "poses": entries}, separators=(",", ":"))
        with atomic_write(self.path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        self._stamp = self._disk_stamp()


def _newest(entries: dict[str, dict[str, Any]], limit: int) -> dict[str, dict[str, Any]]:
    if len(entries) <= limit:
        return entries
    keep = sorted(entries, key=lambda k: entries[k].get("saved", ""))[-limit:]
    return {k: entries[k] for k in keep}


# --- annotations beside the photo -------------------------------------------------------------------------------

def photo_annotation_names(path: Path) -> list[str]:
    """Names under which a photo may appear in a pose-transfer CSV: its file name, its stem with the usual
    extensions, and for an In-shop path its flattened name (Img/MEN/Denim/id_00000080/01_1_front.jpg ->
    fashionMENDenimid0000008001_1front.jpg)."""
    names = [path.name, path.stem, *(path.stem + s for s in (".jpg", ".png"))]
    m = _INSHOP_PATH.search(path.as_posix())
    if m:
        gender, category, item, stem, _ = m.groups()
        cut = stem.rindex("_")
        names.append(f"fashion{gender}{category}{item.replace('_', '')}{stem[:cut]}{stem[cut + 1:]}.jpg")
    return names


class _Annotations:
    """One keypoint CSV: its rows, the frame it declares (or None), and the frame its keypoints imply."""

    def __init__(self, rows: dict[str, np.ndarray], declared: tuple[int, int] | None) -> None:
        self.rows = rows
        self.declared = declared
        self.inferred = infer_frame(rows.values())
        self.extent = keypoint_extent(rows.values())

    def frame_for(self, size: tuple[int, int]) -> tuple[int, int]:
        return annotation_frame(size, self.declared, self.inferred, self.extent)


def annotation_frame(size: tuple[int, int], declared: tuple[int, int] | None, inferred: tuple[int, int],
                     extent: tuple[float, float] | None) -> tuple[int, int]:
    """The (h, w) frame a CSV's pixels live in, for a photo of ``size`` = (h, w) that one of its rows names:
    the declared frame; else the CSV's dataset frame ``inferred`` (core.pose_frame.infer_frame) when the photo
    has its aspect (the same picture at another resolution); else the photo itself, scaled up by a whole factor
    if the keypoints reach beyond it (the photo is a reduced copy)."""
    if declared is not None:
        return declared
    h, w = size
    if abs(inferred[1] / inferred[0] - w / h) <= _ASPECT_TOLERANCE * (w / h):
        return inferred
    return frame_from_image(size, extent)


class _CsvCache:
    """Rows of the annotation CSVs read so far, re-read when a file changes (a DeepFashion CSV has ~50k rows:
    reading it again for every photo opened from the dataset would cost a second each)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[Path, tuple[tuple[int, int], _Annotations]] = {}

    def rows(self, csv: Path) -> _Annotations:
        st = csv.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            hit = self._rows.get(csv)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        if st.st_size > _MAX_POSE_FILE_BYTES:
            raise PoseFormatError(f"{csv.name} is too large to be a keypoint CSV")
        rows = _Annotations(*read_pose_csv_with_frame(csv))
        with self._lock:
            self._rows.pop(csv, None)
            self._rows[csv] = (stamp, rows)
            while len(self._rows) > _CSV_CACHE_FILES:  # the oldest read goes first
                del self._rows[next(iter(self._rows))]
        return rows


_csv_cache = _CsvCache()


def annotation_files(photo_path: Path) -> Iterable[Path]:
    """Keypoint CSVs that may annotate ``photo_path``: ``*annotation*.csv`` in its folder and up to five above."""
    for folder in list(photo_path.parents)[:_SEARCH_DEPTH]:
        try:
            yield from sorted(folder.glob(ANNOTATION_GLOB))
        except OSError:
            continue


def find_annotation(photo_path: str | os.PathLike, size: tuple[int, int]) -> SourcePose | None:
    """The annotated pose of the photo at ``photo_path`` (its loaded image is ``size`` = (h, w) pixels) in a
    keypoint CSV beside it, or None. A CSV that is not a pose file is skipped (logged)."""
    path = Path(photo_path)
    names = photo_annotation_names(path)
    for csv in annotation_files(path):
        try:
            found = _csv_cache.rows(csv)
        except (PoseFormatError, UnicodeDecodeError, OSError) as exc:
            log.info("not a keypoint CSV: %s (%s)", csv, exc)
            continue
        for name in names:
            if name in found.rows:
                pose = normalise_pixels(found.rows[name], found.frame_for(size))
                if visible(pose).any():
                    return SourcePose(pose, "annotation", csv.name)
    return None


def find_source_pose(photo_path: str | os.PathLike | None, image: Any, store: SourcePoseStore | None,
                     key: str | None = None) -> SourcePose | None:
    """The source pose of a photo: the one marked by hand (``store``, by ``key`` or the photo's hash), else the
    annotation beside the file, else None. ``image`` is the loaded photo (its size sets the annotation's frame).
    Reads files: call it off the GUI thread."""
    if store is not None:
        if key is None:
            try:
                key = photo_key(photo_path, image)
            except OSError as exc:
                log.info("cannot hash %s for its marked pose: %s", photo_path, exc)
        marked = store.get(key)
        if marked is not None:
            return SourcePose(marked, "marked", "marked by you")
    if photo_path is not None and image is not None:
        return find_annotation(photo_path, (image.height, image.width))
    return None


# --- a source pose given as a file (the CLI's --source-pose) ----------------------------------------------------

def read_source_pose_file(path: str | os.PathLike, photo_path: str | os.PathLike, size: tuple[int, int]
                          ) -> np.ndarray:
    """The source pose of the photo at ``photo_path`` (loaded at ``size`` = (h, w)) from ``path``:

    * a pose-transfer CSV: the row named like the photo (as :func:`photo_annotation_names` spells it), or its
      only row; pixels in the photo's frame;
    * a JSON file: ``{"pose_yx_normalised": [[y, x], ...]}`` (what FashionStudio writes in an export's
      provenance and its source-pose store) or ``{"keypoints_y": [...], "keypoints_x": [...]}`` in pixels of
      ``"frame": [h, w]`` (default: the photo's size).

    Returns a normalised (18, 2) pose; raises SourcePoseError with a sentence naming the file.
    """
    p = Path(path)
    if not p.is_file():
        raise SourcePoseError(f"The source pose file '{p}' does not exist.")
    if p.stat().st_size > _MAX_POSE_FILE_BYTES:
        raise SourcePoseError(f"'{p.name}' is too large to be a pose file.")
    if p.suffix.lower() == ".json":
        return _pose_from_json(p, size)
    try:
        found = _Annotations(*read_pose_csv_with_frame(p))
    except UnicodeDecodeError:
        raise SourcePoseError(f"'{p.name}' is not a text file: give a keypoint CSV "
                              f"(name:keypoints_y:keypoints_x) or a JSON pose.") from None
    except PoseFormatError as exc:
        raise SourcePoseError(f"'{p.name}' is not a keypoint CSV FashionStudio can read: {exc}.") from None
    photo, rows = Path(photo_path), found.rows
    for name in photo_annotation_names(photo):
        if name in rows:
            return normalise_pixels(rows[name], found.frame_for(size))
    if len(rows) == 1:
        return normalise_pixels(next(iter(rows.values())), found.frame_for(size))
    raise SourcePoseError(f"'{p.name}' has {len(rows)} poses and none is named {photo.name}: give a CSV with "
                          f"this photo's row, or one with a single row.")


def _pose_from_json(p: Path, size: tuple[int, int]) -> np.ndarray:
    try:
        data = safe_loads(p.read_text(encoding="utf-8"), max_chars=_MAX_POSE_FILE_BYTES)
    except (UnicodeDecodeError, SafeJsonError) as exc:
        raise SourcePoseError(f"'{p.name}' is not a JSON file ({exc}).") from None
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]  # the provenance of a Pose export
    if not isinstance(data, dict):
        raise SourcePoseError(f"'{p.name}' holds no pose: expected an object with \"pose_yx_normalised\" or "
                              f"\"keypoints_y\" and \"keypoints_x\".")
    try:
        if "pose_yx_normalised" in data:
            return check_normalised_pose(data["pose_yx_normalised"])
        if "keypoints_y" in data and "keypoints_x" in data:
            kp = np.asarray([data["keypoints_y"], data["keypoints_x"]], dtype=np.float32).T
            frame = data.get("frame") or list(size)
            frame_hw = (float(frame[0]), float(frame[1]))
            if kp.shape != (NUM_KEYPOINTS, 2) or not np.isfinite(kp).all() or min(frame_hw) <= 0:
                raise ValueError("18 finite y and x values and a positive frame are needed")
            kp[~visible(kp)] = MISSING
            return normalise_pixels(kp, frame_hw)  # type: ignore[arg-type]
    except SourcePoseError as exc:
        raise SourcePoseError(f"'{p.name}': {exc}") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise SourcePoseError(f"'{p.name}' does not hold an 18-joint pose ({exc}).") from None
    raise SourcePoseError(f"'{p.name}' holds no pose: expected \"pose_yx_normalised\" (18 [y, x] pairs from 0 to "
                          f"1) or \"keypoints_y\" and \"keypoints_x\" (18 pixel values each).")


__all__ = [
    "ANNOTATION_GLOB", "MAX_STORED", "annotation_frame", "STORE_FILE_NAME", "SourcePose", "SourcePoseError", "SourcePoseStore",
    "annotation_files", "check_normalised_pose", "file_key", "find_annotation", "find_source_pose", "image_key",
    "normalise_pixels", "photo_annotation_names", "photo_key", "read_source_pose_file",
]
