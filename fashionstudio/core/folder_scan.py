"""What a batch folder holds: the pictures a batch reads, and every other entry with the reason it is left out.

A designer who drops 40 iPhone photos into a folder and gets 12 results must be told where the other 28 went,
and what to do about them. Qt-free.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
READABLE = "JPEG, PNG, WebP, BMP, TIFF or GIF"

# Formats designers meet that FashionStudio does not read, with what to do instead.
UNREAD_FORMATS: dict[str, str] = {
    ".heic": "is a HEIC photo (the iPhone camera's format), which FashionStudio cannot read: export it as JPEG "
             "(on an iPhone, Settings > Camera > Formats > Most Compatible; on a Mac, Preview > File > Export)",
    ".heif": "is a HEIF photo, which FashionStudio cannot read: export it as JPEG or PNG",
    ".avif": "is an AVIF image, which FashionStudio cannot read: convert it to PNG or JPEG",
    ".svg": "is a vector drawing (SVG), not a picture made of pixels: export it as PNG",
    ".psd": "is a Photoshop document: export it as PNG or JPEG",
    ".raw": "is a camera RAW file: develop it to JPEG or TIFF first",
    ".cr2": "is a Canon RAW file: develop it to JPEG or TIFF first",
    ".nef": "is a Nikon RAW file: develop it to JPEG or TIFF first",
    ".dng": "is a DNG RAW file: develop it to JPEG or TIFF first",
}


@dataclass
class FolderScan:
    """The pictures to read (sorted by name) and ``(entry name, reason sentence)`` for everything else."""

    images: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _special_kind(mode: int) -> str | None:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return None


def skip_reason(path: Path) -> str | None:
    """Why a batch leaves out the folder entry ``path`` (a sentence), or None when it is a picture to read."""
    name = path.name
    if name.startswith("."):
        return f"'{name}' is a hidden file (its name starts with a dot), left out."
    try:
        link = path.is_symlink()
        mode = path.stat().st_mode  # follows a link: a link to a picture is read like the picture
    except FileNotFoundError:
        target = os.readlink(path) if link else "?"
        return f"'{name}' is a link to '{target}', which does not exist."
    except OSError as exc:
        return f"'{name}' cannot be looked at ({exc.strerror or exc})."
    if stat.S_ISDIR(mode):
        what = "a link to a folder" if link else "a folder"
        return f"'{name}' is {what}: a batch reads only the pictures directly inside the folder it is given."
    special = _special_kind(mode)
    if special is not None:
        return f"'{name}' is {special}, not a file, so it was not read."
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return None
    if suffix in UNREAD_FORMATS:
        return f"'{name}' {UNREAD_FORMATS[suffix]}."
    return f"'{name}' is not a picture FashionStudio reads ({READABLE}), judging by its extension."


def scan_folder(folder: str | os.PathLike) -> FolderScan:
    """Sort the entries directly inside ``folder`` into pictures and skipped entries; raise ValueError with a
    sentence when the folder is missing or unreadable."""
    folder = Path(folder)
    if not folder.exists():
        raise ValueError(f"There is no folder at '{folder}'.")
    if not folder.is_dir():
        raise ValueError(f"'{folder}' is a file, not a folder of images.")
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise ValueError(f"The folder '{folder}' cannot be read ({exc.strerror or exc}).") from None
    scan = FolderScan()
    for entry in entries:
        reason = skip_reason(entry)
        if reason is None:
            scan.images.append(entry)
        else:
            scan.skipped.append((entry.name, reason))
    return scan


def no_images_sentence(folder: str | os.PathLike, scan: FolderScan) -> str:
    """The error for a folder without a single readable picture, naming what it holds instead."""
    text = f"The folder '{folder}' holds no images FashionStudio reads ({READABLE})"
    if scan.skipped:
        name, reason = scan.skipped[0]
        more = f" (and {len(scan.skipped) - 1} more left out)" if len(scan.skipped) > 1 else ""
        return f"{text}: {reason}{more}"
    return text + "."
