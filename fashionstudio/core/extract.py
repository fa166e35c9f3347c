"""The Extract tool's pipeline: a photo of a dressed person -> the garment alone as a catalogue image.

Qt-free, usable from a script or the CLI::

    from fashionstudio.core.extract import GarmentExtractor
    from fashionstudio.core.modelfile import load_model_file

    extractor = GarmentExtractor(load_model_file("extract.safetensors"))
    result = extractor.run(photo, background=(240, 236, 228))
    result.garment.save("garment.png")

Steps: the photo (any aspect ratio) is letterboxed onto the model's square on a backdrop matched to its border;
the generator draws the garment on the near-white background it was trained on (LookBook product shots); the
garment's mask is the one the model predicts when it predicts one (FlatWarp: so a white garment on the white
flat stays whole), else it is estimated from that background — near-white pixels connected to the image border
are backdrop, so a white collar inside the garment stays garment (PixelDTGAN) — and the garment is composited
onto the chosen background colour with soft edges.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from fashionstudio.core.letterbox import RGB, backdrop_colour, letterbox
from fashionstudio.core.images import pil_to_tensor, tensor_to_pil
from fashionstudio.core.pipeline_common import (WARNING_KEY, BatchReport, check_finite, check_tool, colour_hex,
                                                flat_output_warning, network_device, process_folder,
                                                run_generator)

WHITE: RGB = (255, 255, 255)
# Distance from the model's backdrop (max over channels, 0..255): below SOFT a pixel is pure backdrop, above
# HARD it is garment; in between it is an anti-aliased edge.
SOFT, HARD = 10.0, 40.0


@dataclass
class ExtractResult:
    """One extraction: the catalogue image, the generator's own output, the garment mask and the settings."""

    garment: Image.Image   # composited on ``background``, the model's resolution
    raw: Image.Image       # the generator's output, on its own near-white background
    mask: Image.Image      # "L": 255 = garment, 0 = backdrop
    background: RGB
    warning: str | None = None  # a sentence when the generator's output is one flat colour

    def settings(self) -> dict[str, Any]:
        return {"background": colour_hex(self.background)}


def model_backdrop(raw: Image.Image) -> np.ndarray:
    """The generated image's backdrop colour (float RGB): its border median when light (a model's off-white),
    else pure white."""
    ref = np.array(backdrop_colour(raw), dtype=np.float32)
    return ref if ref.min() >= 200 else np.full(3, 255.0, dtype=np.float32)


def garment_mask(raw: Image.Image) -> Image.Image:
    """Estimate the garment's mask ("L", 255 = garment) from a generated image on a near-white backdrop.

    Only backdrop-coloured pixels connected to the border count as backdrop, so light parts inside the garment
    stay. The garment's outline pixels, which the generator blends with the backdrop, get a partial alpha: how
    far they are from the backdrop relative to the garment pixels next to them.
    """
    arr = np.asarray(raw.convert("RGB"), dtype=np.float32)
    dist = np.abs(arr - model_backdrop(raw)).max(axis=2)
    outside = _connected_to_border(dist < HARD)
    alpha = np.where(outside, np.clip((dist - SOFT) / (HARD - SOFT), 0.0, 1.0), 1.0)
    inside_dist = np.where(outside, 0.0, dist)
    padded_out, padded_in = np.pad(outside, 1), np.pad(inside_dist, 1)
    h, w = dist.shape
    touches_outside = np.zeros_like(outside)
    local_max = np.zeros_like(dist)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            window = (slice(1 + dy, 1 + dy + h), slice(1 + dx, 1 + dx + w))
            touches_outside |= padded_out[window]
            local_max = np.maximum(local_max, padded_in[window])
    outline = ~outside & touches_outside
    alpha[outline] = np.clip(dist[outline] / np.maximum(local_max[outline], 1.0), 0.0, 1.0)
    return Image.fromarray(np.round(alpha * 255).astype(np.uint8), "L")


def _connected_to_border(mask: np.ndarray) -> np.ndarray:
    """The True pixels of ``mask`` reachable from the image border through 4-connected True pixels."""
    reach = np.zeros_like(mask)
    reach[0, :], reach[-1, :], reach[:, 0], reach[:, -1] = mask[0, :], mask[-1, :], mask[:, 0], mask[:, -1]
    while True:  # grow until stable: a few dozen cheap numpy steps at model resolution
        grown = reach.copy()
        grown[1:] |= reach[:-1]
        grown[:-1] |= reach[1:]
        grown[:, 1:] |= reach[:, :-1]
        grown[:, :-1] |= reach[:, 1:]
        grown &= mask
        if np.array_equal(grown, reach):
            return reach
        reach = grown


def composite(raw: Image.Image, mask: Image.Image, background: RGB) -> Image.Image:
    """The garment of ``raw`` over a plain ``background`` colour, where ``mask`` says so.

    Partly transparent pixels are un-mixed from the model's backdrop first (``raw = a*garment + (1-a)*backdrop``),
    so a garment on a dark background gets no light fringe: ``out = raw + (1-a) * (background - backdrop)``.
    """
    arr = np.asarray(raw.convert("RGB"), dtype=np.float32)
    a = np.asarray(mask, dtype=np.float32)[..., None] / 255.0
    bg = np.array(background, dtype=np.float32)
    out = arr + (1.0 - a) * (bg - model_backdrop(raw))
    out = np.where(a > 0, out, bg)  # pure backdrop becomes exactly the chosen colour
    return Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8), "RGB")


class GarmentExtractor:
    """Runs a loaded Extract model file (PixelDTGAN, FlatWarp) on photos. Thread-safe for concurrent ``run`` calls
    (eval mode)."""

    def __init__(self, model: Any) -> None:
        check_tool(model, "extract")
        self.model = model
        self.G = model.networks["G"]
        self.resolution = model.resolution

    def _predicted(self, square: Image.Image) -> tuple[Image.Image, Image.Image]:
        """The generator's flat and the mask it predicted ("L")."""
        parts = self.G.parts(pil_to_tensor(square).to(network_device(self.G)))
        check_finite(parts["output"], self.model.name)
        alpha = (parts["mask"][0, 0].float().clamp(0, 1) * 255).round().byte().cpu().numpy()
        return tensor_to_pil(parts["output"][0]), Image.fromarray(alpha, "L")

    def run(self, photo: Image.Image, background: RGB = WHITE) -> ExtractResult:
        """Extract the garment of ``photo`` onto ``background``. Call inside ``torch.inference_mode()``."""
        square, _ = letterbox(photo, self.resolution)
        if hasattr(self.G, "parts"):  # a model that predicts the flat's mask
            raw, mask = self._predicted(square)
        else:
            (raw,) = run_generator(self.G, [square], self.model.name)
            mask = garment_mask(raw)
        return ExtractResult(composite(raw, mask, background), raw, mask, tuple(background),  # type: ignore[arg-type]
                             flat_output_warning(raw, self.model.name, source=square))

    def run_folder(self, in_dir: str | os.PathLike, out_dir: str | os.PathLike, background: RGB = WHITE, *,
                   progress: Callable[[int, int, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   check: Callable[[Image.Image, str], dict[str, Any] | None] | None = None) -> BatchReport:
        """Extract every image of ``in_dir`` into ``out_dir`` (``<name>.png`` with provenance); unreadable files
        are listed in the report's ``skipped`` and never stop the batch. ``check``: see ``process_folder``."""
        import torch

        def convert(img: Image.Image) -> list[tuple[str, Image.Image, dict[str, Any]]]:
            result = self.run(img, background)
            return [("", result.garment, {**result.settings(), WARNING_KEY: result.warning})]

        with torch.inference_mode():
            return process_folder(in_dir, out_dir, convert, model=self.model, tool="extract",
                                  progress=progress, cancel=cancel, check=check)
