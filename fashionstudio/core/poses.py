"""18-keypoint poses (COCO/OpenPose order): names, skeleton limbs, the pose-transfer CSV format, heatmaps.

Qt-free and torch-free (numpy + Pillow only) so that the app's Pose tab, the trainer's readers and the synthetic
atelier share one definition of a pose.

Conventions
-----------
* A pose is a float array of shape ``(18, 2)`` holding **(y, x)** pixel coordinates, in the same order as the
  DeepFashion pose-transfer CSV (``keypoints_y``, ``keypoints_x``). A missing joint is ``(-1, -1)``.
* Coordinates are in the frame of an image of ``size = (height, width)``.
* The CSV format (``fasion-resize-annotation-*.csv``, the pose-transfer community's DeepFashion split) is
  ``name:keypoints_y:keypoints_x`` with one row ``<name>: [y0,...,y17]: [x0,...,x17]`` of JSON integer lists.
  FashionStudio also reads (and writes, when asked) an optional ``# frame: HxW`` line right after the header
  that declares the image size the coordinates belong to (see :mod:`fashionstudio.core.pose_frame`).
* Pose files are user input: every failure to read one (missing, unreadable, not UTF-8, too large, malformed or
  absurd values) is a :class:`PoseFormatError` whose message names the file and line.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from fashionstudio.core.safe_json import SafeJsonError
from fashionstudio.core.safe_json import loads as safe_loads

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
MAX_CSV_BYTES = 256 * 1024 * 1024  # DeepFashion's largest annotation file is ~8 MB
MAX_COORDINATE = 100_000.0  # pixels; anything beyond is not a position in a picture
_FRAME_LINE = re.compile(r"#\s*frame\s*:\s*(\d{1,5})\s*x\s*(\d{1,5})\s*$", re.IGNORECASE)


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
    return f"{name}: {_int_list(ys)}: {_int_list(xs)}"


def _int_list(values: list[int]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def write_pose_csv(path: str | os.PathLike, poses: Mapping[str, np.ndarray],
                   frame: tuple[int, int] | None = None) -> None:
    """Write ``{image name: (18,2) pose}`` as a pose-transfer annotation CSV (rows in the mapping's order).

    With ``frame`` (h, w), a ``# frame: HxW`` line after the header declares the images' size; leave it out for
    files other pose-transfer code must read (it does not expect the line)."""
    lines = [CSV_HEADER] + ([f"# frame: {int(frame[0])}x{int(frame[1])}"] if frame else [])
    lines += [format_pose_row(name, kp) for name, kp in poses.items()]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def parse_pose_row(line: str, where: str = "") -> tuple[str, np.ndarray]:
    """Parse one ``name: [y...]: [x...]`` row; raise PoseFormatError naming ``where`` on a bad row."""
    parts = line.rsplit(":", 2)
    if len(parts) != 3:
        raise PoseFormatError(f"{where}: expected 'name: [y0,...,y17]: [x0,...,x17]', got {line[:80]!r}")
    name = parts[0].strip()
    shown = name if len(name) <= 60 else name[:57] + "..."
    try:
        ys = safe_loads(parts[1], max_depth=2, max_chars=4096)
        xs = safe_loads(parts[2], max_depth=2, max_chars=4096)
    except SafeJsonError as exc:
        raise PoseFormatError(f"{where}: the keypoint lists of {shown!r} are not lists of numbers ({exc})") from None
    if not (isinstance(ys, list) and isinstance(xs, list)) or len(ys) != NUM_KEYPOINTS or len(xs) != NUM_KEYPOINTS:
        raise PoseFormatError(f"{where}: {shown!r} needs 18 y and 18 x values")
    for v in ys + xs:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise PoseFormatError(f"{where}: {shown!r} has a keypoint value {str(v)[:20]!r} that is not a number")
        if not math.isfinite(v) or abs(v) > MAX_COORDINATE:
            raise PoseFormatError(f"{where}: {shown!r} has a keypoint value {str(v)[:20]} that is not a pixel "
                                  "position")
    kp = np.asarray([ys, xs], dtype=np.float32).T
    kp[~visible(kp)] = MISSING
    return name, kp


def read_pose_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a pose-transfer annotation CSV into ``{image name: (18,2) float32 (y, x)}``."""
    return read_pose_csv_with_frame(path)[0]


def read_pose_csv_with_frame(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], tuple[int, int] | None]:
    """Read a pose CSV: ``({image name: (18,2) float32 (y, x)}, declared frame (h, w) or None)``.

    Raises :class:`PoseFormatError` naming the file (and line) for every way the file can be unusable."""
    p = Path(path)
    lines = _read_lines(p)
    if not lines or lines[0].replace(" ", "").lstrip("\ufeff") != CSV_HEADER:
        raise PoseFormatError(f"{p}: expected the header line '{CSV_HEADER}'")
    poses: dict[str, np.ndarray] = {}
    frame: tuple[int, int] | None = None
    for lineno, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            match = _FRAME_LINE.match(stripped)
            if match and lineno == 2:
                frame = (int(match.group(1)), int(match.group(2)))
                if min(frame) < 1:
                    raise PoseFormatError(f"{p}:{lineno}: the declared frame {frame[0]}x{frame[1]} is empty")
            continue
        name, kp = parse_pose_row(line, where=f"{p}:{lineno}")
        poses[name] = kp
    return poses, frame


def _read_lines(p: Path) -> list[str]:
    if not p.is_file():
        raise PoseFormatError(f"{p}: pose annotation file not found" if not p.exists()
                              else f"{p}: not a file, so it cannot be a pose annotation file")
    try:
        if p.stat().st_size > MAX_CSV_BYTES:
            raise PoseFormatError(f"{p}: too large for a pose annotation file ({p.stat().st_size // 2**20} MB)")
        return p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise PoseFormatError(f"{p}: not a text file (not UTF-8), so it cannot be a pose CSV") from None
    except OSError as exc:
        raise PoseFormatError(f"{p}: cannot be read ({exc.strerror or exc})") from None
