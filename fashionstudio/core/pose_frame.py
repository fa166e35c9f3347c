"""The frame (image height, width) the pixel keypoints of a pose CSV live in, so they can be normalised.

A pose-transfer CSV stores pixel coordinates but not the size of the images they were marked on. Reading every
file as the DeepFashion 256 x 176 frame squashes poses marked on smaller pictures (the synthetic atelier's own
64 px annotations) into the top-left corner. Every row of an annotation file shares one frame, found in this
order:

1. **declared**: a ``# frame: HxW`` line after the header (written by :func:`fashionstudio.core.poses.write_pose_csv`
   when given a frame);
2. **an image of a row** beside the CSV (``NAME``, ``<stem>.png|jpg|jpeg|webp``, or in ``thumbnails/``): its size
   when it holds the keypoints, else its aspect scaled up by a whole factor until it does (library thumbnails
   are smaller than the frame they show);
3. **inferred** from the keypoints of all rows: the smallest common dataset frame that holds them all, else a
   frame just around them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

# (h, w) of the frames pose datasets use: the atelier's square sizes, Market-1501, DeepFashion (fashion-resize)
# and its larger variants. Sorted by area, so the first that holds a file's keypoints is the tightest.
KNOWN_FRAMES: tuple[tuple[int, int], ...] = tuple(sorted(
    {(64, 64), (128, 64), (128, 128), (256, 176), (256, 256), (512, 352), (512, 512), (1024, 704), (1024, 1024)},
    key=lambda hw: (hw[0] * hw[1], hw)))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MAX_PROBED_ROWS = 50  # rows whose image is looked for beside the CSV (a large file has thousands)


def keypoint_extent(rows: Iterable[np.ndarray]) -> tuple[float, float] | None:
    """(max y, max x) over the present joints of every pose, or None when no joint is present."""
    my = mx = -1.0
    for kp in rows:
        arr = np.asarray(kp, dtype=np.float32).reshape(-1, 2)
        ok = (arr[:, 0] >= 0) & (arr[:, 1] >= 0)
        if ok.any():
            my = max(my, float(arr[ok, 0].max()))
            mx = max(mx, float(arr[ok, 1].max()))
    return None if my < 0 else (my, mx)


def infer_frame(rows: Iterable[np.ndarray]) -> tuple[int, int]:
    """The smallest :data:`KNOWN_FRAMES` entry holding every present joint of ``rows``; a frame 8% larger than
    the joints when none does; DeepFashion's 256 x 176 for poses without any joint."""
    extent = keypoint_extent(rows)
    if extent is None:
        return (256, 176)
    my, mx = extent
    for h, w in KNOWN_FRAMES:
        if my <= h and mx <= w:
            return (h, w)
    return (math.ceil(my * 1.08) + 1, math.ceil(mx * 1.08) + 1)


def image_for_row(csv_path: Path, name: str) -> Path | None:
    """An image beside the CSV (or in its ``thumbnails/``) named like a row, if there is one."""
    stem = Path(name).stem
    for base in (csv_path.parent, csv_path.parent / "thumbnails"):
        if Path(name).suffix.lower() in IMAGE_SUFFIXES and (base / name).is_file():
            return base / name
        for suffix in IMAGE_SUFFIXES:
            if (base / f"{stem}{suffix}").is_file():
                return base / f"{stem}{suffix}"
    return None


def frame_from_image(size_hw: tuple[int, int], extent: tuple[float, float] | None) -> tuple[int, int]:
    """An image of ``size_hw`` gives the frame: itself when it holds the joints, else scaled by a whole factor."""
    h, w = size_hw
    if extent is None:
        return (h, w)
    k = max(1, math.ceil(max(extent[0] / h, extent[1] / w)))
    return (h * k, w * k)


def csv_frame(csv_path: str | os.PathLike, rows: Mapping[str, np.ndarray],
              declared: tuple[int, int] | None = None) -> tuple[tuple[int, int], str]:
    """(frame (h, w), how it was found: "declared" | "image" | "inferred") for the rows of one pose CSV."""
    from PIL import Image

    if declared is not None:
        return declared, "declared"
    path = Path(csv_path)
    extent = keypoint_extent(rows.values())
    for name in list(rows)[:MAX_PROBED_ROWS]:
        image = image_for_row(path, name)
        if image is None:
            continue
        try:
            with Image.open(image) as im:
                size = (im.height, im.width)
        except (OSError, ValueError, Image.DecompressionBombError):  # unreadable: try the next row
            continue
        if size[0] > 0 and size[1] > 0:
            return frame_from_image(size, extent), "image"
    return infer_frame(rows.values()), "inferred"
