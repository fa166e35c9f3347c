"""Results exported as PNG carry their provenance (model file, its hash, settings) in PNG text chunks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin

from fashionstudio.core import safe_json
from fashionstudio.core.atomic import atomic_write

PROVENANCE_KEY = "fashionstudio"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def save_png_with_provenance(img: Image.Image, path: str | os.PathLike, info: dict[str, Any]) -> Path:
    """Write ``img`` as PNG to ``path`` atomically with ``info`` in its text chunks; return the path.

    The whole ``info`` goes as JSON under the ``fashionstudio`` key; ``model``, ``model_sha256``, ``settings``
    and the input's familiarity status are repeated as their own keys so any PNG viewer shows them.
    """
    path = Path(path)
    meta = PngImagePlugin.PngInfo()
    meta.add_text(PROVENANCE_KEY, _json(info))
    for key in ("model", "model_sha256"):
        if info.get(key) is not None:
            meta.add_text(key, str(info[key]))
    if "settings" in info:
        meta.add_text("settings", _json(info["settings"]))
    if isinstance(info.get("familiarity"), dict):  # "unfamiliar": the input was unlike the model's training data
        meta.add_text("input_familiarity", str(info["familiarity"].get("status", "unknown")))
    meta.add_text("Software", str(info.get("software", "FashionStudio")))
    with atomic_write(path) as tmp:
        img.save(tmp, format="PNG", pnginfo=meta)
    return path


class ProvenanceError(ValueError):
    """A file whose provenance cannot be read because it is not a readable image; the message is a sentence."""


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """Return the provenance stored in a PNG by :func:`save_png_with_provenance` ({} when it has none).

    The file is user input: a file that is not a readable image raises :class:`ProvenanceError`; text chunks
    that are damaged, deeply nested or of the wrong type are ignored (the separate keys are tried instead)."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            text = _text_chunks(im)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types (zlib, struct, bomb, ValueError) on bad files
        raise ProvenanceError(f"'{path.name}' is not a readable PNG image ({exc.__class__.__name__}: "
                              f"{str(exc)[:120]}).") from None
    data = _json_or_none(text.get(PROVENANCE_KEY))
    if isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key in ("model", "model_sha256"):
        if key in text:
            out[key] = text[key]
    if "settings" in text:
        settings = _json_or_none(text["settings"])
        out["settings"] = settings if settings is not None else text["settings"]
    return out


def _text_chunks(im: Image.Image) -> dict[str, str]:
    """The image's text chunks as str -> str. Chunks before the pixel data (where this module writes them) come
    without decoding the picture; only when the provenance key is not among them is the picture loaded to find
    chunks written after it."""
    info = dict(im.info)
    if PROVENANCE_KEY not in info and hasattr(im, "text"):
        info.update(getattr(im, "text", {}) or {})
    return {k: str(v) for k, v in info.items() if isinstance(k, str) and isinstance(v, str)}


def _json_or_none(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return safe_json.loads(raw, allow_nan=True)  # a NaN metric in settings is harmless
    except safe_json.SafeJsonError:
        return None


def as_png_path(path: str | os.PathLike) -> Path:
    """``path`` with a ``.png`` suffix (an export is always a PNG, whatever name was typed)."""
    path = Path(path)
    return path if path.suffix.lower() == ".png" else path.with_suffix(".png")
