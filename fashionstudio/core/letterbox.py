"""Fit a photo of any aspect ratio into a model's square input, and cut the result back out.

Every image-to-image tool (Pose, Extract, Match, projection in Generate) uses this one geometry, so that a
keypoint, a pixel and a result crop always agree about where the photo sits in the square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from fashionstudio.core.poses import as_pose, visible

RGB = tuple[int, int, int]


def backdrop_colour(img: Image.Image) -> RGB:
    """The photo's backdrop: the per-channel median of its outermost ring of pixels (a foot or a strap touching
    the edge does not move a median)."""
    arr = np.asarray(img.convert("RGB") if img.mode != "RGB" else img)
    t = max(1, min(arr.shape[:2]) // 64)  # a slightly thicker ring on large photos
    ring = np.concatenate([arr[:t].reshape(-1, 3), arr[-t:].reshape(-1, 3),
                           arr[:, :t].reshape(-1, 3), arr[:, -t:].reshape(-1, 3)])
    return tuple(int(v) for v in np.median(ring, axis=0))  # type: ignore[return-value]


@dataclass(frozen=True)
class Letterbox:
    """Where a ``width`` x ``height`` photo sits in the model's ``resolution`` square: scaled to fit (aspect
    kept), centred, the rest filled with backdrop."""

    width: int
    height: int
    resolution: int

    @property
    def size(self) -> tuple[int, int]:
        """(w, h) of the photo inside the square, in model pixels (also the size of a result cut back out)."""
        k = self.resolution / max(self.width, self.height)
        return (min(self.resolution, max(1, round(self.width * k))),
                min(self.resolution, max(1, round(self.height * k))))

    @property
    def offset(self) -> tuple[int, int]:
        """(x, y) of the photo's top-left corner inside the square, in model pixels."""
        w, h = self.size
        return (self.resolution - w) // 2, (self.resolution - h) // 2

    @property
    def aspect(self) -> float:
        return self.width / self.height

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the photo inside the model's square."""
        (x, y), (w, h) = self.offset, self.size
        return x, y, x + w, y + h

    def keypoints_to_model(self, pose01: np.ndarray) -> np.ndarray:
        """Normalised photo (y, x) -> pixel (y, x) in the model's square (pixel centres on pixel centres)."""
        kp = as_pose(pose01).copy()
        ok = visible(kp)
        (x, y), (w, h) = self.offset, self.size
        kp[ok, 0] = kp[ok, 0] * h + y - 0.5
        kp[ok, 1] = kp[ok, 1] * w + x - 0.5
        return kp


def letterbox(img: Image.Image, resolution: int, fill: RGB | None = None) -> tuple[Image.Image, Letterbox]:
    """Scale ``img`` to fit a ``resolution`` square, centred on ``fill`` (default: the photo's backdrop colour, so
    the pad looks like more studio backdrop rather than a bar the network never saw); return square and geometry."""
    img = img.convert("RGB") if img.mode != "RGB" else img
    box = Letterbox(img.width, img.height, int(resolution))
    # Resize first and pad after: far cheaper for a large photo than padding it at full size.
    small = img.resize(box.size, Image.Resampling.BICUBIC, reducing_gap=3.0) if box.size != img.size else img
    square = Image.new("RGB", (box.resolution, box.resolution), fill if fill is not None else backdrop_colour(small))
    square.paste(small, box.offset)
    return square, box


def unletterbox(square: Image.Image, box: Letterbox, *, original_size: bool = False) -> Image.Image:
    """Cut the photo's region back out of a square result: at the model's detail, or scaled back to the photo's
    own size with ``original_size``."""
    if square.size != (box.resolution, box.resolution):
        square = square.resize((box.resolution, box.resolution), Image.Resampling.BICUBIC)
    out = square.crop(box.box)
    return out.resize((box.width, box.height), Image.Resampling.BICUBIC) if original_size else out
