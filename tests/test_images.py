"""The one image loader on a table of real odd inputs, written by the test, plus tensors and provenance."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionstudio.core import images
from fashionstudio.core.images import ImageLoadError, load_image, load_image_bytes
from fashionstudio.core.provenance import read_provenance, save_png_with_provenance

RED, BLUE, WHITE, BLACK = (255, 0, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def _close(pixel, expected, tol=12):
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel, expected))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height (8-bit RGB) with a tiny, unusable payload: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def _png_rgb16(arr: np.ndarray) -> bytes:
    """A real 16-bit-per-channel RGB PNG (Pillow cannot write these, so encode it by hand)."""
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(raw)) + _png_chunk(b"IEND", b"")


def _halves(size, left, right, mode="RGB"):
    im = Image.new(mode, size, left)
    im.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return im


# -- writers: each returns the file it wrote --------------------------------------------------------------------------
def cmyk_jpeg(d: Path) -> Path:
    p = d / "cmyk.jpg"
    Image.new("CMYK", (32, 24), (0, 255, 255, 0)).save(p, quality=95)  # pure red in CMYK
    return p


def gray16_png(d: Path) -> Path:
    p = d / "gray16.png"
    arr = np.full((20, 30), 65535, dtype=np.uint16)
    arr[:, :15] = 32896  # 128 * 257: mid grey once scaled to 8 bit
    Image.fromarray(arr).save(p)
    return p


def rgb16_png(d: Path) -> Path:
    p = d / "rgb16.png"
    arr = np.zeros((10, 12, 3), dtype=np.uint16)
    arr[..., 0] = 65535
    arr[..., 2] = 257 * 64
    p.write_bytes(_png_rgb16(arr))
    return p


def palette_png_transparent(d: Path) -> Path:
    p = d / "palette.png"
    im = Image.new("P", (40, 20), 0)
    im.putpalette([0, 255, 0] + [0, 0, 0] + [0] * (254 * 3))  # index 0 green (but transparent), 1 black
    im.paste(1, (20, 0, 40, 20))
    im.save(p, transparency=0)
    return p


def rgba_png(d: Path) -> Path:
    p = d / "rgba.png"
    im = Image.new("RGBA", (20, 20), (0, 0, 255, 0))
    im.paste((0, 0, 255, 255), (10, 0, 20, 20))
    im.save(p)
    return p


def exif_rotated_jpeg(d: Path) -> Path:
    p = d / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    _halves((40, 20), RED, BLUE).save(p, exif=exif, quality=95)
    return p


def animated_gif(d: Path) -> Path:
    p = d / "anim.gif"
    frames = [Image.new("RGB", (16, 12), RED), Image.new("RGB", (16, 12), BLUE)]
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return p


def webp(d: Path) -> Path:
    p = d / "photo.webp"
    Image.new("RGB", (24, 24), BLUE).save(p, lossless=True)
    return p


def bmp(d: Path) -> Path:
    p = d / "photo.bmp"
    Image.new("RGB", (9, 7), RED).save(p)
    return p


def tiff_gray(d: Path) -> Path:
    p = d / "gray.tif"
    Image.new("L", (8, 8), 200).save(p)
    return p


def bilevel_png(d: Path) -> Path:
    p = d / "bilevel.png"
    Image.new("1", (8, 8), 1).save(p)
    return p


def truncated_jpeg(d: Path) -> Path:
    p = d / "truncated.jpg"
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buf, "JPEG", quality=90)
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    return p


def zero_bytes(d: Path) -> Path:
    p = d / "empty.jpg"
    p.write_bytes(b"")
    return p


def text_as_png(d: Path) -> Path:
    p = d / "notes.png"
    p.write_text("These are my notes for the spring collection, not a picture.\n")
    return p


def huge_declared(d: Path) -> Path:
    p = d / "bomb.png"
    p.write_bytes(_png_header_only(30000, 30000))  # 900 MP: Pillow's own bomb limit
    return p


def over_our_limit(d: Path) -> Path:
    p = d / "big.png"
    p.write_bytes(_png_header_only(9000, 9000))  # 81 MP: above our 80 MP limit, below Pillow's warning
    return p


def icns_like_other_format(d: Path) -> Path:
    p = d / "picture.png"
    Image.new("RGB", (8, 8), RED).save(p, format="PPM")  # a real image, in a format we do not take
    return p


# -- expectations -----------------------------------------------------------------------------------------------------
def expect_red(im):
    assert _close(im.getpixel((im.width // 2, im.height // 2)), RED, tol=30)


OK_CASES = {
    "cmyk_jpeg": (cmyk_jpeg, (32, 24), expect_red),
    "gray16_png": (gray16_png, (30, 20), lambda im: (
        _close(im.getpixel((2, 2)), (128, 128, 128), 1) and _close(im.getpixel((25, 2)), WHITE, 0)) or
        pytest.fail(f"16-bit grey scaled wrongly: {im.getpixel((2, 2))}, {im.getpixel((25, 2))}")),
    "rgb16_png": (rgb16_png, (12, 10), lambda im: _close(im.getpixel((3, 3)), (255, 0, 64), 1) or
                  pytest.fail(f"{im.getpixel((3, 3))}")),
    "palette_png_transparent": (palette_png_transparent, (40, 20), lambda im: (
        _close(im.getpixel((5, 10)), WHITE, 0) and _close(im.getpixel((35, 10)), BLACK, 0)) or
        pytest.fail(f"transparent index not on white: {im.getpixel((5, 10))}, {im.getpixel((35, 10))}")),
    "rgba_png": (rgba_png, (20, 20), lambda im: (
        _close(im.getpixel((2, 2)), WHITE, 0) and _close(im.getpixel((15, 2)), BLUE, 0)) or pytest.fail("alpha")),
    # Orientation 6 turns the 40x20 red|blue picture into 20x40 with red on top.
    "exif_rotated_jpeg": (exif_rotated_jpeg, (20, 40), lambda im: (
        _close(im.getpixel((10, 5)), RED, 40) and _close(im.getpixel((10, 35)), BLUE, 40)) or
        pytest.fail(f"not rotated: top {im.getpixel((10, 5))}, bottom {im.getpixel((10, 35))}")),
    "animated_gif": (animated_gif, (16, 12), expect_red),
    "webp": (webp, (24, 24), lambda im: _close(im.getpixel((3, 3)), BLUE, 0) or pytest.fail("webp")),
    "bmp": (bmp, (9, 7), expect_red),
    "tiff_gray": (tiff_gray, (8, 8), lambda im: _close(im.getpixel((3, 3)), (200, 200, 200), 0) or pytest.fail("tif")),
    "bilevel_png": (bilevel_png, (8, 8), lambda im: _close(im.getpixel((3, 3)), WHITE, 0) or pytest.fail("1-bit")),
}

ERROR_CASES = {
    "truncated_jpeg": (truncated_jpeg, "damaged or cut short"),
    "zero_bytes": (zero_bytes, "is empty (0 bytes)"),
    "text_as_png": (text_as_png, "is not an image"),
    "huge_declared": (huge_declared, "is too large"),
    "over_our_limit": (over_our_limit, "9000 x 9000 pixels (81 megapixels)"),
    "other_format": (icns_like_other_format, "which FashionStudio does not open"),
}


@pytest.mark.parametrize("case", sorted(OK_CASES))
def test_odd_inputs_load_as_rgb(tmp_path, case):
    writer, size, check = OK_CASES[case]
    im = load_image(writer(tmp_path))
    assert im.mode == "RGB"
    assert im.size == size
    check(im)


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_inputs_raise_one_readable_error(tmp_path, case):
    writer, phrase = ERROR_CASES[case]
    path = writer(tmp_path)
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    message = str(info.value)
    assert phrase in message
    assert path.name in message  # the designer learns which file


def test_size_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    """The over-limit file has a payload that could never decode; the error must come from the declared size."""
    calls = []
    monkeypatch.setattr(Image.Image, "load", lambda self: calls.append(1))
    with pytest.raises(ImageLoadError, match="too large"):
        load_image(over_our_limit(tmp_path))
    assert not calls


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="no file"):
        load_image(tmp_path / "nothing.jpg")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_bytes_loader_matches_file_loader(tmp_path):
    path = exif_rotated_jpeg(tmp_path)
    from_bytes = load_image_bytes(path.read_bytes(), "clip")
    assert np.array_equal(np.asarray(from_bytes), np.asarray(load_image(path)))
    with pytest.raises(ImageLoadError, match="'clip' is empty"):
        load_image_bytes(b"", "clip")
    with pytest.raises(ImageLoadError, match="not an image"):
        load_image_bytes(b"hello there", "clip")


def test_tensor_round_trip():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    im = Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
    t = images.pil_to_tensor(im)
    assert t.shape == (1, 3, 6, 5) and t.dtype == torch.float32
    assert float(t.min()) >= -1 and float(t.max()) <= 1
    assert np.array_equal(np.asarray(images.tensor_to_pil(t)), np.asarray(im))
    # out-of-range values are clamped, one-channel tensors become grey RGB
    grey = images.tensor_to_pil(torch.full((1, 4, 4), 3.0))
    assert grey.mode == "RGB" and grey.getpixel((0, 0)) == WHITE
    assert images.pil_to_tensor(im, size=8).shape == (1, 3, 8, 8)


def test_provenance_round_trip(tmp_path):
    info = {"model": "pose.safetensors", "model_sha256": "ab" * 32, "settings": {"seed": 7, "truncation": 0.7},
            "tool": "pose", "source": Path("photo.jpg")}
    out = save_png_with_provenance(Image.new("RGB", (8, 8), RED), tmp_path / "out.png", info)
    back = read_provenance(out)
    assert back["model_sha256"] == "ab" * 32
    assert back["settings"] == {"seed": 7, "truncation": 0.7}
    assert back["source"] == "photo.jpg"
    with Image.open(out) as im:  # readable keys for any PNG viewer
        assert im.text["model"] == "pose.safetensors"
        assert im.text["model_sha256"] == "ab" * 32
    assert list(tmp_path.iterdir()) == [out]  # no temp file left behind
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(plain)
    assert read_provenance(plain) == {}
