"""The Match tool's pipeline: a shoe -> a handbag in its style, or a handbag -> a shoe (DiscoGAN / CycleGAN).

Qt-free, usable from a script or the CLI::

    from fashionstudio.core.match import StyleMatcher
    from fashionstudio.core.modelfile import load_model_file

    matcher = StyleMatcher(load_model_file("match.safetensors"))
    result = matcher.run(shoe_photo, "shoe2bag", candidates=4)
    result.best.output.save("bag.png"); print(result.best.round_trip_l1)

The direction is always explicit ("shoe2bag" runs G_AB, "bag2shoe" runs G_BA): the tool never guesses what the
photo shows. Each translation is checked by its round trip (shoe -> bag -> shoe with the other generator): the
mean absolute difference between the input and its round trip (0 = identical, 1 = opposite) tells how much of
the input the match kept. Several candidates come from test-time variations of the input (mirror, small shifts
and zooms, a colour-preserving exposure/contrast change), all run as one batch and ranked by that agreement.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

from fashionstudio.core.letterbox import RGB, letterbox
from fashionstudio.core.pipeline_common import (WARNING_KEY, BatchReport, WrongModelError, check_tool,
                                                flat_output_warning, process_folder, run_generator)

# direction -> (forward generator, backward generator, what comes out)
DIRECTIONS: dict[str, tuple[str, str, str]] = {
    "shoe2bag": ("G_AB", "G_BA", "handbag"),
    "bag2shoe": ("G_BA", "G_AB", "shoe"),
}
MAX_CANDIDATES = 8


@dataclass(frozen=True)
class Variation:
    """A test-time change of the input square: ``shift`` (dx, dy) and ``zoom`` about the centre in fractions
    of the side, an optional mirror, and exposure/contrast factors that keep every hue."""

    name: str
    mirror: bool = False
    zoom: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    exposure: float = 1.0
    contrast: float = 1.0

    def apply(self, square: Image.Image, fill: RGB) -> Image.Image:
        img = ImageOps.mirror(square) if self.mirror else square
        if self.zoom != 1.0 or self.shift != (0.0, 0.0):
            n = img.width
            c = (n - 1) / 2
            # PIL's affine maps output -> input pixel: x_in = (x_out - c - dx) / zoom + c
            dx, dy = self.shift[0] * n, self.shift[1] * n
            a = 1.0 / self.zoom
            img = img.transform(img.size, Image.Transform.AFFINE,
                                (a, 0, c - a * (c + dx), 0, a, c - a * (c + dy)),
                                resample=Image.Resampling.BICUBIC, fillcolor=fill)
        if self.exposure != 1.0:
            img = ImageEnhance.Brightness(img).enhance(self.exposure)
        if self.contrast != 1.0:
            img = ImageEnhance.Contrast(img).enhance(self.contrast)
        return img

    def undo_orientation(self, img: Image.Image) -> Image.Image:
        """Show a result facing the same way as the user's photo (only the mirror is undone: a shifted or
        zoomed input is simply another framing)."""
        return ImageOps.mirror(img) if self.mirror else img


# The first is the photo as given; the rest are the candidates' variations, mild enough to keep the style.
VARIATIONS: tuple[Variation, ...] = (
    Variation("as given"),
    Variation("mirrored", mirror=True),
    Variation("zoomed in", zoom=1.08),
    Variation("zoomed out", zoom=0.92),
    Variation("shifted left", shift=(-0.04, 0.0)),
    Variation("shifted up", shift=(0.0, -0.04)),
    Variation("brighter", exposure=1.08),
    Variation("softer contrast", contrast=0.9),
)


@dataclass
class Candidate:
    """One translation: the varied input, the output, its round trip and their mean absolute difference."""

    variation: str
    input: Image.Image
    output: Image.Image
    round_trip: Image.Image
    round_trip_l1: float
    code: list[float] | None = None  # content/style models: the content (shape) code drawn for this candidate
    style_distance: float | None = None  # core.match_scores.style_distance of output vs input (0..1)
    shape_iou: float | None = None  # silhouette overlap of output and input (1: the input's outline kept)


@dataclass
class MatchResult:
    """Candidates best first (lowest round-trip difference); ``best`` is the first."""

    direction: str
    source: Image.Image  # the letterboxed input square
    candidates: list[Candidate]
    warning: str | None = None  # a sentence when the best output is one flat colour
    seed: int | None = None  # content/style models: the seed the candidates' shape codes were drawn from

    @property
    def best(self) -> Candidate:
        return self.candidates[0]

    @property
    def output_kind(self) -> str:
        return DIRECTIONS[self.direction][2]

    def settings(self, chosen: int = 0) -> dict[str, Any]:
        c = self.candidates[chosen]
        out = {"direction": self.direction, "candidate": chosen + 1, "of": len(self.candidates),
               "variation": c.variation, "round_trip_l1": round(c.round_trip_l1, 4)}
        if c.style_distance is not None:
            out["style_distance"] = round(c.style_distance, 4)
        if c.shape_iou is not None:
            out["shape_iou"] = round(c.shape_iou, 3)
        if c.code is not None:
            out["seed"], out["content_code"] = self.seed, [round(v, 5) for v in c.code]
        return out


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"Unknown match direction '{direction}': use shoe2bag or bag2shoe.")
    return direction


def round_trip_l1(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-size images on a 0..1 scale (the L1 of the [-1, 1] tensors / 2)."""
    x = np.asarray(a.convert("RGB"), dtype=np.float32)
    y = np.asarray(b.convert("RGB"), dtype=np.float32)
    return float(np.abs(x - y).mean() / 255.0)


def _score_pixels(found: list[Candidate]) -> None:
    """Fill each candidate's model-independent style distance and shape overlap (core.match_scores)."""
    from fashionstudio.core.match_scores import pil_batch, silhouette_iou, style_distance

    outs, ins = pil_batch([c.output for c in found]), pil_batch([c.input for c in found])
    for c, sd, iou in zip(found, style_distance(outs, ins).tolist(), silhouette_iou(outs, ins).tolist()):
        c.style_distance, c.shape_iou = sd, iou


def match_folder(model: Any, run: Callable[[Image.Image], MatchResult], in_dir: str | os.PathLike,
                 out_dir: str | os.PathLike, *, progress: Callable[[int, int, str], None] | None = None,
                 cancel: Callable[[], bool] | None = None,
                 check: Callable[[Image.Image, str], dict[str, Any] | None] | None = None) -> BatchReport:
    """A folder through a Match pipeline's ``run``: ``<name>.png`` the best candidate, ``<name>_2.png`` ... the
    rest, each with its settings and any flat-output warning (both Match pipelines write folders this way)."""
    import torch

    def convert(img: Image.Image) -> list[tuple[str, Image.Image, dict[str, Any]]]:
        result = run(img)
        return [("" if i == 0 else f"_{i + 1}", c.output,
                 {**result.settings(i), WARNING_KEY: flat_output_warning(c.output, model.name, c.input)})
                for i, c in enumerate(result.candidates)]

    with torch.inference_mode():
        return process_folder(in_dir, out_dir, convert, model=model, tool="match",
                              progress=progress, cancel=cancel, check=check)


def pipeline_class(model: Any) -> type:
    """The Match pipeline ``model``'s family declares (``pipeline``): :class:`StyleMatcher` for a translator per
    direction, ``ContentStyleMatcher`` for content/style codes; :class:`StyleMatcher`, which names what it needs,
    for a family that declares none."""
    from fashionstudio.core import registry
    from fashionstudio.families import resolve

    family = getattr(model, "family", None)
    declared = registry.family(family) if family in registry.known_families() else None
    return resolve(declared.pipeline) if declared is not None and declared.pipeline else StyleMatcher


def check_pipeline(model: Any, pipeline: type) -> None:
    """Raise WrongModelError unless ``model`` is a Match model whose family is run by ``pipeline``."""
    check_tool(model, "match")
    declared = pipeline_class(model)
    if declared is not pipeline:
        raise WrongModelError(f"'{model.path.name}' is a {model.family} model, which the {declared.__name__} "
                              f"pipeline runs, not {pipeline.__name__}.")


def make_matcher(model: Any) -> Any:
    """The Match pipeline for ``model`` (:func:`pipeline_class`)."""
    return pipeline_class(model)(model)


class StyleMatcher:
    """Runs a loaded CycleGAN model file in either direction. Thread-safe for concurrent calls (eval mode)."""

    seeded = False  # its candidates are test-time variations of the input, not drawn from a seed

    def __init__(self, model: Any) -> None:
        check_pipeline(model, StyleMatcher)
        self.model = model
        self.resolution = model.resolution

    def _nets(self, direction: str) -> tuple[Any, Any]:
        forward, backward, _ = DIRECTIONS[check_direction(direction)]
        return self.model.networks[forward], self.model.networks[backward]

    def translate(self, photo: Image.Image, direction: str) -> Image.Image:
        """One translation of the photo as given (no round trip, no candidates)."""
        forward, _ = self._nets(direction)
        square, _ = letterbox(photo, self.resolution)
        return run_generator(forward, [square], self.model.name)[0]

    def run(self, photo: Image.Image, direction: str, candidates: int = 4) -> MatchResult:
        """Translate ``photo`` in ``direction`` with ``candidates`` (1..8) ranked by round-trip agreement.

        With one candidate, that is the photo as given. With more, every variation is run (one batch per
        generator) and the ``candidates`` with the most faithful round trips are kept. Call inside
        ``torch.inference_mode()``."""
        forward, backward = self._nets(direction)
        if not 1 <= candidates <= MAX_CANDIDATES:
            raise ValueError(f"Ask for 1 to {MAX_CANDIDATES} candidates, not {candidates}.")
        square, _ = letterbox(photo, self.resolution)
        fill = tuple(int(v) for v in np.asarray(square)[0, 0])
        variations = VARIATIONS[:1] if candidates == 1 else VARIATIONS
        inputs = [v.apply(square, fill) for v in variations]  # type: ignore[arg-type]
        outputs = run_generator(forward, inputs, self.model.name)
        trips = run_generator(backward, outputs, self.model.name)
        found = [
            Candidate(v.name, v.undo_orientation(x), v.undo_orientation(y), v.undo_orientation(r),
                      round_trip_l1(x, r))
            for v, x, y, r in zip(variations, inputs, outputs, trips)
        ]
        found.sort(key=lambda c: c.round_trip_l1)  # stable: ties keep the photo as given first
        _score_pixels(found)
        kept = found[:candidates]
        return MatchResult(direction, square, kept,
                           flat_output_warning(kept[0].output, self.model.name, source=kept[0].input))

    def run_folder(self, in_dir: str | os.PathLike, out_dir: str | os.PathLike, direction: str, *,
                   candidates: int = 1, progress: Callable[[int, int, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   check: Callable[[Image.Image, str], dict[str, Any] | None] | None = None) -> BatchReport:
        """Match every image of ``in_dir`` into ``out_dir``: ``<name>.png`` (the best candidate), plus
        ``<name>_2.png`` ... for further candidates; unreadable files are reported, never fatal. ``check``: see
        ``process_folder``."""
        check_direction(direction)
        return match_folder(self.model, lambda img: self.run(img, direction, candidates), in_dir, out_dir,
                            progress=progress, cancel=cancel, check=check)
