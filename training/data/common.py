"""Shared reader plumbing: clear dataset errors, image decoding to [-1, 1] tensors, identity splits, skip-and-report."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile

log = logging.getLogger("training.data")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
# Dataset photos are at most a few megapixels; a file that declares more (a decompression bomb: a few KB of PNG that
# decodes to gigabytes) is skipped before anything is decoded.
MAX_IMAGE_PIXELS = 40_000_000
SPLITS = ("train", "test", "all")


class DatasetError(ValueError):
    """The data cannot feed the run: a dataset folder that is missing, wrong or incomplete (the message names the
    path and what was expected), fewer examples than one batch, or a ``[data]`` setting that does not fit."""


def require_dir(path: Path, what: str) -> Path:
    if not path.exists():
        raise DatasetError(f"{path}: not found; expected {what}")
    if not path.is_dir():
        raise DatasetError(f"{path}: is a file; expected a folder with {what}")
    return path


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise DatasetError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def identity_split(identities, split: str, test_fraction: float = 0.1, seed: int = 42) -> set:
    """The identities of ``split``: a seeded shuffle of the sorted identities, the last ``test_fraction`` is test.

    Splitting identities (products, people) rather than images or pairs keeps anyone out of both sets.
    """
    ids = sorted(set(identities))
    if split == "all":
        return set(ids)
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = int(round(len(ids) * test_fraction))
    if len(ids) >= 2:
        n_test = min(max(n_test, 1), len(ids) - 1)
    test = {ids[i] for i in order[:n_test]}
    return test if split == "test" else set(ids) - test


def open_rgb(source) -> Image.Image:
    """Decode an image fully (so a truncated file fails here, not later) and convert to RGB; refuse one that
    declares more than :data:`MAX_IMAGE_PIXELS` before decoding it."""
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    with Image.open(source) as im:
        w, h = im.size
        if w * h > MAX_IMAGE_PIXELS:
            raise ValueError(f"it declares {w} x {h} pixels, more than the {MAX_IMAGE_PIXELS:,} a training image "
                             "may have (a damaged file or a decompression bomb)")
        im.load()
        return im.convert("RGB")


def square(img: Image.Image, fit: str = "pad", fill=(255, 255, 255)) -> tuple[Image.Image, tuple[int, int, float]]:
    """Make an image square: pad with white (default, keeps head and feet) or centre-crop.

    Returns the image and (top, left, 1) offsets of the original inside it (negative when cropped).
    """
    w, h = img.size
    if w == h:
        return img, (0, 0, 1.0)
    s = max(w, h) if fit == "pad" else min(w, h)
    top, left = (s - h) // 2, (s - w) // 2
    if fit == "pad":
        canvas = Image.new("RGB", (s, s), fill)
        canvas.paste(img, (left, top))
        return canvas, (top, left, 1.0)
    return img.crop((-left, -top, -left + s, -top + s)), (top, left, 1.0)


def to_tensor(img: Image.Image, resolution: int | None = None) -> torch.Tensor:
    """RGB PIL -> float tensor 3xHxW in [-1, 1] (resized with bicubic-antialiasing when needed)."""
    if resolution is not None and img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1).div_(127.5).sub_(1.0)


def array_to_tensor(arr: np.ndarray) -> torch.Tensor:
    """uint8 HxWx3 -> 3xHxW float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1).div_(127.5).sub_(1.0)


class SkipReport:
    """Mixin: remember unreadable files, log each once, and retry the next index instead of failing the run."""

    max_skips = 32

    def _init_skips(self) -> None:
        self.skipped: dict[str, str] = {}

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    def _note_skip(self, path, exc: Exception) -> None:
        key = str(path)
        if key not in self.skipped:
            self.skipped[key] = f"{type(exc).__name__}: {exc}"
            log.warning("skipping unreadable image %s (%s); %d skipped so far", key, exc, len(self.skipped))

    def _with_retry(self, index: int, load):
        n = len(self)  # type: ignore[arg-type]
        last: Exception | None = None
        for attempt in range(min(self.max_skips, n)):
            i = (index + attempt) % n
            try:
                return load(i)
            except _Unreadable as exc:
                self._note_skip(exc.path, exc.cause)
                last = exc.cause
        raise DatasetError(f"{getattr(self, 'root', '?')}: {self.max_skips} images in a row are unreadable "
                           f"(last: {last}); is this the right folder?")


class _Unreadable(Exception):
    def __init__(self, path, cause: Exception):
        super().__init__(str(cause))
        self.path, self.cause = path, cause


def load_or_flag(path, opener=open_rgb):
    """Open an image; wrap any decoding problem so the dataset can skip and report it."""
    try:
        return opener(path)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        # DecompressionBombError is a plain Exception: Pillow raises it from Image.open for the largest bombs
        raise _Unreadable(path, exc) from None
