"""18-keypoint poses (COCO/OpenPose order): names, skeleton limbs, the pose-transfer CSV format, heatmaps.

Qt-free and torch-free (numpy + Pillow only) so that the app's Pose tab, the trainer's readers and the synthetic
atelier share one definition of a pose.

Conventions
-----------
* A pose is a float array of shape ``(18, 2)`` holding **(y, x)** pixel coordinates, in the same order as the
  DeepFashion pose-transfer CSV (``keypoints_y``, ``keypoints_x``). A missing joint is ``(-1, -1)``.
* Coordinates are in the frame of an image of ``size = (height, width)``.
* The CSV format (``fasion-resize-annotation-*.csv``, reference/anchors.md §B5) is
  ``name:keypoints_y:keypoints_x`` with one row ``<name>: [y0,...,y17]: [x0,...,x17]`` of JSON integer lists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

KEYPOINT_NAMES: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
MISSING = -1

# The 17 OpenPose limbs (pairs of keypoint indices) used to draw a skeleton, trunk first.
LIMBS: tuple[tuple[int, int], ...] = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
# One RGB colour per limb, OpenPose-like rainbow so left and right are told apart at a glance.
LIMB_COLOURS: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170),
)
# Index permutation that swaps every left joint with its right twin (used when mirroring an image).
FLIP_PERMUTATION: tuple[int, ...] = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)

CSV_HEADER = "name:keypoints_y:keypoints_x"


class PoseFormatError(ValueError):
    """A pose file or array that does not follow the 18-keypoint (y, x) convention."""


def empty_pose() -> np.ndarray:
    """A pose with every joint missing."""
    return np.full((NUM_KEYPOINTS, 2), float(MISSING), dtype=np.float32)


def as_pose(keypoints: Iterable) -> np.ndarray:
    """Validate and convert to a float32 ``(18, 2)`` (y, x) array; raise PoseFormatError otherwise."""
    arr = np.asarray(keypoints, dtype=np.float32)
    if arr.shape != (NUM_KEYPOINTS, 2):
        raise PoseFormatError(f"a pose needs 18 keypoints as (y, x) pairs, got an array of shape {arr.shape}")
    return arr


def visible(keypoints: np.ndarray) -> np.ndarray:
    """Boolean ``(18,)``: which joints are present (not -1)."""
    kp = np.asarray(keypoints)
    return (kp[:, 0] >= 0) & (kp[:, 1] >= 0)


def scale_keypoints(keypoints: np.ndarray, from_size: tuple[int, int], to_size: tuple[int, int]) -> np.ndarray:
    """Rescale (y, x) keypoints from an image of ``from_size`` (h, w) to ``to_size`` (h, w); missing stay -1.

    Pixel centres are mapped onto pixel centres, so a round trip is exact up to float rounding.
    """
    kp = as_pose(keypoints).copy()
    sy = to_size[0] / from_size[0]
    sx = to_size[1] / from_size[1]
    ok = visible(kp)
    kp[ok, 0] = (kp[ok, 0] + 0.5) * sy - 0.5
    kp[ok, 1] = (kp[ok, 1] + 0.5) * sx - 0.5
    return kp


def pad_keypoints(keypoints: np.ndarray, top: float, left: float) -> np.ndarray:
    """Shift present keypoints by a padding (or, with negative values, a crop) of the image."""
    kp = as_pose(keypoints).copy()
    ok = visible(kp)
    kp[ok, 0] += top
    kp[ok, 1] += left
    return kp


def mirror_keypoints(keypoints: np.ndarray, width: int) -> np.ndarray:
    """The pose of the horizontally flipped image: x -> width-1-x, and left/right joints swap names."""
    kp = as_pose(keypoints).copy()
    ok = visible(kp)
    kp[ok, 1] = (width - 1) - kp[ok, 1]
    return kp[list(FLIP_PERMUTATION)]


def render_heatmaps(keypoints: np.ndarray, size: tuple[int, int] | int, sigma: float = 6.0) -> np.ndarray:
    """18 Gaussian heatmaps ``(18, H, W)`` float32 in [0, 1], peak 1 at each present joint, zeros for a missing one.

    ``size`` is (H, W) (or one int for a square) in the keypoints' own frame; scale the keypoints first with
    :func:`scale_keypoints` if the heatmaps are wanted at another resolution. Separable, so it costs O(18(H+W)).
    """
    h, w = (size, size) if isinstance(size, int) else size
    kp = as_pose(keypoints)
    ok = visible(kp)
    ys = np.arange(h, dtype=np.float32)[None, :]
    xs = np.arange(w, dtype=np.float32)[None, :]
    inv = 1.0 / (2.0 * float(sigma) ** 2)
    gy = np.exp(-((ys - kp[:, :1]) ** 2) * inv)  # (18, H)
    gx = np.exp(-((xs - kp[:, 1:]) ** 2) * inv)  # (18, W)
    gy[~ok] = 0.0
    return (gy[:, :, None] * gx[:, None, :]).astype(np.float32, copy=False)


def pose_mask(keypoints: np.ndarray, size: tuple[int, int] | int, thickness: float | None = None) -> np.ndarray:
    """A rough body mask ``(H, W)`` uint8 {0,1} from the skeleton: thick limbs plus a filled torso and head.

    Used as the (1+M) loss weight when no DensePose map is available (PG2's morphological pose mask).
    """
    from PIL import Image, ImageDraw

    h, w = (size, size) if isinstance(size, int) else size
    kp = as_pose(keypoints)
    ok = visible(kp)
    t = thickness if thickness is not None else max(2.0, 0.06 * h)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    torso = [i for i in (2, 5, 11, 8) if ok[i]]
    if len(torso) >= 3:
        draw.polygon([(float(kp[i, 1]), float(kp[i, 0])) for i in torso], fill=1)
    for a, b in LIMBS:
        if ok[a] and ok[b]:
            draw.line([(float(kp[a, 1]), float(kp[a, 0])), (float(kp[b, 1]), float(kp[b, 0]))], fill=1,
                      width=int(round(t)))
    r = t * 0.5
    for i in np.flatnonzero(ok):
        y, x = float(kp[i, 0]), float(kp[i, 1])
        draw.ellipse([x - r, y - r, x + r, y + r], fill=1)
    if ok[0]:  # head: the nose marks its centre
        r = 1.3 * t
        y, x = float(kp[0, 0]), float(kp[0, 1])
        draw.ellipse([x - r, y - r, x + r, y + r], fill=1)
    return np.asarray(img, dtype=np.uint8)


def draw_skeleton(keypoints: np.ndarray, size: tuple[int, int] | int, image=None, width: int | None = None):
    """Draw the coloured OpenPose skeleton on ``image`` (a PIL RGB image, copied) or on black; returns PIL."""
    from PIL import Image, ImageDraw

    h, w = (size, size) if isinstance(size, int) else size
    canvas = image.convert("RGB").copy() if image is not None else Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    kp = as_pose(keypoints)
    ok = visible(kp)
    lw = width if width is not None else max(1, round(h / 64))
    for (a, b), colour in zip(LIMBS, LIMB_COLOURS):
        if ok[a] and ok[b]:
            draw.line([(float(kp[a, 1]), float(kp[a, 0])), (float(kp[b, 1]), float(kp[b, 0]))], fill=colour, width=lw)
    r = lw * 1.2
    for i in np.flatnonzero(ok):
        y, x = float(kp[i, 0]), float(kp[i, 1])
        draw.ellipse([x - r, y - r, x + r, y + r], fill=LIMB_COLOURS[min(i, len(LIMB_COLOURS) - 1)])
    return canvas


# --- the pose-transfer CSV format -------------------------------------------------------------------------------

def format_pose_row(name: str, keypoints: np.ndarray) -> str:
    """One CSV row ``name: [y...]: [x...]`` with integer coordinates (rounded) and -1 for missing joints."""
    if ":" in name:
        raise PoseFormatError(f"an image name in a pose CSV cannot contain ':' (got {name!r})")
    kp = as_pose(keypoints)
    ok = visible(kp)
    ys = [int(round(float(v))) if o else MISSING for v, o in zip(kp[:, 0], ok)]
    xs = [int(round(float(v))) if o else MISSING for v, o in zip(kp[:, 1], ok)]
    return f"{name}: {json.dumps(ys)}: {json.dumps(xs)}"


def write_pose_csv(path: str | os.PathLike, poses: Mapping[str, np.ndarray]) -> None:
    """Write ``{image name: (18,2) pose}`` as a pose-transfer annotation CSV (rows in the mapping's order)."""
    lines = [CSV_HEADER] + [format_pose_row(name, kp) for name, kp in poses.items()]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_pose_row(line: str, where: str = "") -> tuple[str, np.ndarray]:
    """Parse one ``name: [y...]: [x...]`` row; raise PoseFormatError naming ``where`` on a bad row."""
    parts = line.rsplit(":", 2)
    if len(parts) != 3:
        raise PoseFormatError(f"{where}: expected 'name: [y0,...,y17]: [x0,...,x17]', got {line[:80]!r}")
    name = parts[0].strip()
    try:
        ys = json.loads(parts[1])
        xs = json.loads(parts[2])
    except json.JSONDecodeError as exc:
        raise PoseFormatError(f"{where}: keypoint lists of {name!r} are not JSON lists ({exc.msg})") from None
    if not (isinstance(ys, list) and isinstance(xs, list)) or len(ys) != NUM_KEYPOINTS or len(xs) != NUM_KEYPOINTS:
        raise PoseFormatError(f"{where}: {name!r} needs 18 y and 18 x values")
    kp = np.asarray([ys, xs], dtype=np.float32).T
    kp[~visible(kp)] = MISSING
    return name, kp


def read_pose_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a pose-transfer annotation CSV into ``{image name: (18,2) float32 (y, x)}``."""
    p = Path(path)
    if not p.is_file():
        raise PoseFormatError(f"{p}: pose annotation file not found")
    lines = p.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].replace(" ", "") != CSV_HEADER:
        raise PoseFormatError(f"{p}: expected the header line '{CSV_HEADER}'")
    poses: dict[str, np.ndarray] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if line.strip():
            name, kp = parse_pose_row(line, where=f"{p}:{lineno}")
            poses[name] = kp
    return poses
