"""The one image loader: every picture a user gives us goes through :func:`load_image` or :func:`load_image_bytes`.

It accepts JPEG, PNG, WebP, BMP, TIFF and GIF (first frame), applies the EXIF orientation, composites
transparency on white and converts palette, 16-bit, grayscale and CMYK images to 8-bit RGB. Anything it cannot
turn into a picture (damaged, cut short, not an image, empty, absurdly large) raises :class:`ImageLoadError`
whose message is a sentence a designer can act on.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger(__name__)

# Larger than any camera photo a designer drops (a 60 MP camera), far below what would exhaust memory.
MAX_PIXELS = 80_000_000
# Pillow format names we accept -> the name we tell the user. MPO is what many cameras call their JPEGs.
SUPPORTED_FORMATS = {
    "JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "BMP": "BMP", "DIB": "BMP",
    "TIFF": "TIFF", "GIF": "GIF",
}
FORMATS_SENTENCE = "JPEG, PNG, WebP, BMP, TIFF and GIF"
WHITE = (255, 255, 255)


class ImageLoadError(ValueError):
    """An image that cannot be used. The message is meant for a designer."""


def load_image(path: str | os.PathLike) -> Image.Image:
    """Load the image at ``path`` as an 8-bit RGB PIL image (oriented, transparency on white)."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise ImageLoadError(f"There is no file at '{path}' (was it moved or renamed?).")
    if path.is_dir():
        raise ImageLoadError(f"'{name}' is a folder, not an image.")
    if path.stat().st_size == 0:
        raise ImageLoadError(f"'{name}' is empty (0 bytes): the copy or download did not finish.")
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise ImageLoadError(f"'{name}' cannot be read ({exc.strerror or exc}).") from None
    with f:
        return _decode(f, name)


def load_image_bytes(data: bytes, name: str = "the pasted image") -> Image.Image:
    """Load an image from encoded bytes (clipboard, network), with the same checks as :func:`load_image`."""
    if not data:
        raise ImageLoadError(f"'{name}' is empty: there is no image data in it.")
    return _decode(io.BytesIO(data), name)


def _damaged(name: str) -> ImageLoadError:
    return ImageLoadError(
        f"'{name}' is damaged or cut short (an interrupted download or copy?), so it cannot be opened."
    )


def _too_large(name: str, size: tuple[int, int] | None) -> ImageLoadError:
    if size:
        mp = size[0] * size[1] / 1e6
        what = f"{size[0]} x {size[1]} pixels ({mp:.0f} megapixels)"
    else:
        what = "far too many pixels"
    return ImageLoadError(
        f"'{name}' is too large: it declares {what}, and FashionStudio opens images up to "
        f"{MAX_PIXELS // 1_000_000} megapixels. Scale it down first."
    )


def _decode(fp: IO[bytes], name: str) -> Image.Image:
    with warnings.catch_warnings():
        # Pillow's own bomb check warns first and errors at twice its limit; both mean "too large" to us.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp)
        except UnidentifiedImageError:
            raise ImageLoadError(
                f"'{name}' is not an image FashionStudio can read (it reads {FORMATS_SENTENCE}); it may be "
                "another kind of file with an image's name."
            ) from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_large(name, None) from None
        except (OSError, SyntaxError, ValueError, EOFError, struct.error):
            raise _damaged(name) from None

    fmt = im.format or ""
    if fmt not in SUPPORTED_FORMATS:
        raise ImageLoadError(
            f"'{name}' is a {fmt or 'kind of'} image, which FashionStudio does not open; use {FORMATS_SENTENCE}."
        )
    width, height = im.size
    # Checked on the declared size, before a single pixel is decoded.
    if width * height > MAX_PIXELS:
        raise _too_large(name, (width, height))
    if width < 1 or height < 1:
        raise _damaged(name)
    try:
        im.seek(0)  # animated GIF/WebP/TIFF: the first frame
        im.load()
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError):
        raise _damaged(name) from None
    im = _apply_orientation(im, name)
    try:
        return _to_rgb(im)
    except (OSError, ValueError) as exc:
        raise ImageLoadError(f"'{name}' uses a colour format FashionStudio cannot convert ({im.mode}: {exc}).") from None


def _apply_orientation(im: Image.Image, name: str) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im) or im
    except Exception:  # a broken EXIF block should not cost the user the picture
        log.warning("ignoring unreadable EXIF orientation in %s", name, exc_info=True)
        return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB, compositing transparency on white."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        im = _high_depth_to_l(im)
        mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return im.copy() if im.readonly else im
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        out = Image.new("RGB", rgba.size, WHITE)
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    if mode == "1":
        im = im.convert("L")
    return im.convert("RGB")


def _high_depth_to_l(im: Image.Image) -> Image.Image:
    """16-bit or 32-bit grayscale to 8-bit "L" by scaling the full range (Pillow's own convert clips at 255)."""
    arr = np.asarray(im)
    if im.mode.startswith("I;16"):
        scaled = arr.astype(np.float64) / 257.0
    elif im.mode == "F":
        arr = arr.astype(np.float64)
        scaled = arr * 255.0 if arr.size and np.nanmax(arr) <= 1.0 else arr
    else:  # "I": 32-bit ints, in practice 16-bit data (TIFF, older Pillow PNGs) or plain 8-bit
        arr = arr.astype(np.float64)
        scaled = arr / 257.0 if arr.size and arr.max() > 255 else arr
    scaled = np.nan_to_num(scaled, nan=0.0)
    return Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8))


def pil_to_tensor(img: Image.Image, size: int | tuple[int, int] | None = None, device: Any = None) -> Any:
    """PIL image -> float tensor [1, 3, H, W] in [-1, 1] (optionally resized to ``size`` = side or (w, h))."""
    import torch

    img = img.convert("RGB") if img.mode != "RGB" else img
    if size is not None:
        wh = (size, size) if isinstance(size, int) else tuple(size)
        if img.size != wh:
            img = img.resize(wh, Image.Resampling.BICUBIC)
    arr = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    t = torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()
    return t.to(device) if device is not None else t


def tensor_to_pil(t: Any) -> Image.Image:
    """Float tensor [1, C, H, W] or [C, H, W] in [-1, 1] (C = 1 or 3) -> 8-bit RGB PIL image (values clamped)."""
    import torch

    t = t.detach().to("cpu", torch.float32)
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"tensor_to_pil takes one image, got a batch of {t.shape[0]}.")
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise ValueError(f"tensor_to_pil needs [1|3, H, W], got shape {tuple(t.shape)}.")
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    arr = ((t.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(arr)
