"""Results exported as PNG carry their provenance (model file, its hash, settings) in PNG text chunks."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin, UnidentifiedImageError

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


def read_provenance(path: str | os.PathLike) -> dict[str, Any]:
    """Return the provenance stored in a PNG by :func:`save_png_with_provenance` ({} when it has none)."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            im.load()
            text = dict(getattr(im, "text", {}) or {})
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ValueError(f"'{path.name}' is not a readable PNG image ({exc}).") from None
    raw = text.get(PROVENANCE_KEY)
    if raw is not None:
        try:
            data = json.loads(raw)
            if isinstance(data, dict):
                return data
        except json.JSONDecodeError:
            pass
    out: dict[str, Any] = {}
    for key in ("model", "model_sha256"):
        if key in text:
            out[key] = text[key]
    if "settings" in text:
        try:
            out["settings"] = json.loads(text["settings"])
        except json.JSONDecodeError:
            out["settings"] = text["settings"]
    return out
