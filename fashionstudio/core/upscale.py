"""Sharpen x4: the clean-and-upscale helper model behind every tool, without Qt.

Every tool's generator makes a small picture (64 px for the demo models); :class:`Sharpener` runs the ``upscale``
family's network on it and returns the picture ``scale`` times larger with the GAN speckle removed. The GUI and
the batch CLI share this module: they find the model with :func:`default_upscaler_path`, load it with
:func:`load_sharpener` (errors are one sentence a designer can act on, and the tools keep working at model
resolution), and put :meth:`Sharpener.provenance` into every sharpened export.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

UPSCALE_TOOL = "upscale"          # the model file is resources/models/upscale.safetensors (a helper, not a tab)
MAX_INPUT_SIDE = 512              # a larger "result" is not a generator output: sharpening it would be slow


class SharpenError(ValueError):
    """The sharpening model cannot be used; the message is one sentence for the status bar."""


def default_upscaler_path() -> Path | None:
    """The shipped (or user-installed) upscaler, found like every tool's default model; None without one."""
    from fashionstudio.core.default_models import default_model_path

    return default_model_path(UPSCALE_TOOL)


def missing_sentence() -> str:
    return ("Sharpen x4 is off: no sharpening model (upscale.safetensors) was found, so results stay at the "
            "model's own size.")


class Sharpener:
    """A loaded upscaler. :meth:`sharpen` is thread-safe (one image at a time) and never touches Qt."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.net = model.networks["G"]
        self.scale = int(model.config.get("scale", 4))
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.model.name

    def provenance(self) -> dict[str, Any]:
        """What an export records about the sharpening: the model file, its checksum and the factor."""
        return {"model": self.model.path.name, "model_sha256": self.model.sha256, "name": self.model.name,
                "family": self.model.family, "scale": self.scale}

    def sharpen(self, img: Image.Image) -> Image.Image:
        """``img`` made ``scale`` times larger and cleaned; any size up to :data:`MAX_INPUT_SIDE` per side."""
        import torch

        if max(img.size) > MAX_INPUT_SIDE:
            raise SharpenError(f"Sharpen x4 works on results up to {MAX_INPUT_SIDE} px; this one is "
                               f"{img.width} x {img.height}.")
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32)
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].div(127.5).sub(1.0)
        with self._lock, torch.inference_mode():
            device = next(self.net.parameters()).device
            y = self.net(x.to(device)).clamp(-1, 1)[0].cpu()
        out = y.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        return Image.fromarray(np.ascontiguousarray(out), "RGB")


def not_a_sharpener(model: Any) -> str | None:
    """The sentence for a loaded model that cannot sharpen (a family the upscale tool does not run, or no
    generator), or None when it can."""
    from fashionstudio.core import registry

    if model.family in registry.tool_families(UPSCALE_TOOL) and "G" in model.networks:
        return None
    return (f"Sharpen x4 is off: {model.path.name} is a {model.family} model, not a sharpening (upscale) model; "
            "results stay at the model's own size.")


def load_sharpener(path: str | Path | None = None, device: Any = "cpu") -> Sharpener:
    """Load the upscaler at ``path`` (default: :func:`default_upscaler_path`). Raises :class:`SharpenError` with a
    sentence when there is none, the file is damaged, or it is another family's model."""
    from fashionstudio.core.modelfile import ModelFileError, load_model_file

    path = Path(path) if path is not None else default_upscaler_path()
    if path is None or not path.is_file():
        raise SharpenError(missing_sentence())
    try:
        model = load_model_file(path, device=device)
    except ModelFileError as exc:
        raise SharpenError(f"Sharpen x4 is off: the sharpening model {path.name} could not be used ({_clause(exc)}); "
                           "results stay at the model's own size.") from None
    refusal = not_a_sharpener(model)
    if refusal:
        raise SharpenError(refusal)
    model.networks["G"].eval()
    return Sharpener(model)


def _clause(exc: BaseException) -> str:
    """An error's sentence as a clause inside another sentence."""
    text = str(exc).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def sharpen_files(paths: list[Path], sharpener: Sharpener) -> int:
    """Rewrite each written PNG sharpened, its provenance kept and the upscaler added (the batch CLI's step after
    a tool wrote its outputs at model resolution). Returns how many were sharpened."""
    from fashionstudio.core.provenance import read_provenance, save_png_with_provenance

    done = 0
    for path in paths:
        path = Path(path)
        info = read_provenance(path) or {}
        with Image.open(path) as img:
            small = img.convert("RGB")
        info["upscaler"] = {**sharpener.provenance(), "from_size": list(small.size)}
        save_png_with_provenance(sharpener.sharpen(small), path, info)
        done += 1
    return done
