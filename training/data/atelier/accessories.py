"""Shoes (profile, toe to the left, like UT-Zappos) and handbags (front view, like iGAN's Amazon bags) on white.

Each item is drawn as labels (main material, sole, trim, darker panel, metal) at 4x and coloured with numpy, like
the mannequins. The main material carries the colour family and pattern, and covers most of the object, so the
dominant colour of the image is the labelled colour family.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from . import attributes as A
from .figure import colourise
from .garments import Garment

MAIN, SOLE, TRIM, DARK, METAL = 1, 2, 3, 4, 5


@dataclass
class Accessory:
    image: Image.Image
    labels: dict   # kind, colour_family, pattern, formality, rgb
    mask: np.ndarray  # (H, W) uint8 drawing labels at output size


def sample_style(rng: np.random.Generator, kinds: tuple[str, ...]) -> dict:
    """Kind, colour family, pattern and formality of one shoe or bag (formality follows the kind)."""
    kind = str(kinds[int(rng.integers(len(kinds)))])
    family = str(A.COLOUR_FAMILY_NAMES[int(rng.integers(len(A.COLOUR_FAMILY_NAMES)))])
    pattern = "solid" if rng.random() < 0.5 else str(A.PATTERNS[1 + int(rng.integers(len(A.PATTERNS) - 1))])
    return {"kind": kind, "colour_family": family, "pattern": pattern, "formality": A.KIND_FORMALITY[kind]}


def _poly(d: ImageDraw.ImageDraw, pts, lab: int, s: float, dx: float = 0.0, dy: float = 0.0) -> None:
    d.polygon([((x + dx) * s, (y + dy) * s) for x, y in pts], fill=lab)


def _shoe(d: ImageDraw.ImageDraw, kind: str, s: float, rng: np.random.Generator) -> None:
    j = lambda: float(rng.uniform(-0.015, 0.015))  # noqa: E731
    if kind == "sneaker":
        _poly(d, [(0.1, 0.64), (0.12, 0.55), (0.2, 0.5), (0.4 + j(), 0.45), (0.56, 0.34 + j()), (0.8, 0.33),
                  (0.88, 0.45), (0.89, 0.64)], MAIN, s)
        _poly(d, [(0.07, 0.63), (0.92, 0.63), (0.92, 0.72), (0.12, 0.73), (0.07, 0.69)], SOLE, s)
        _poly(d, [(0.36, 0.56), (0.66, 0.44), (0.72, 0.47), (0.42, 0.6)], TRIM, s)  # side stripe
        for k in range(4):  # laces
            x = 0.42 + 0.045 * k
            d.line([(x * s, (0.46 - 0.03 * k) * s), ((x + 0.04) * s, (0.43 - 0.03 * k) * s)], fill=TRIM,
                   width=max(1, int(s * 0.012)))
    elif kind == "boot":
        top = 0.12 + j()
        _poly(d, [(0.1, 0.66), (0.12, 0.56), (0.22, 0.5), (0.42, 0.46), (0.5, top), (0.8, top), (0.82, 0.5),
                  (0.84, 0.66)], MAIN, s)
        _poly(d, [(0.08, 0.65), (0.86, 0.65), (0.86, 0.7), (0.1, 0.7)], SOLE, s)
        _poly(d, [(0.68, 0.69), (0.85, 0.69), (0.85, 0.76), (0.69, 0.76)], SOLE, s)
        _poly(d, [(0.5, top), (0.8, top), (0.8, top + 0.06), (0.5, top + 0.06)], DARK, s)  # cuff
    elif kind == "heel":
        _poly(d, [(0.06, 0.62), (0.1, 0.55), (0.22, 0.5), (0.4, 0.48), (0.5 + j(), 0.5), (0.66, 0.4), (0.76, 0.32),
                  (0.82, 0.32), (0.83, 0.42), (0.76, 0.46), (0.6, 0.56), (0.4, 0.63)], MAIN, s)
        _poly(d, [(0.06, 0.62), (0.4, 0.63), (0.6, 0.56), (0.76, 0.46), (0.83, 0.42), (0.83, 0.45), (0.6, 0.59),
                  (0.4, 0.66), (0.08, 0.65)], SOLE, s)
        _poly(d, [(0.74, 0.44), (0.82, 0.42), (0.79, 0.75), (0.77, 0.75)], SOLE, s)  # stiletto
    else:  # loafer
        _poly(d, [(0.1, 0.66), (0.12, 0.56), (0.24, 0.48), (0.46 + j(), 0.43), (0.6, 0.41), (0.84, 0.42),
                  (0.87, 0.52), (0.87, 0.66)], MAIN, s)
        _poly(d, [(0.08, 0.65), (0.89, 0.65), (0.89, 0.7), (0.1, 0.7)], SOLE, s)
        _poly(d, [(0.72, 0.68), (0.88, 0.68), (0.88, 0.74), (0.72, 0.74)], SOLE, s)
        _poly(d, [(0.38, 0.45), (0.56, 0.42), (0.57, 0.48), (0.39, 0.51)], DARK, s)  # penny strap
        d.ellipse([0.46 * s, 0.45 * s, 0.5 * s, 0.48 * s], fill=METAL)


def _rounded(d: ImageDraw.ImageDraw, box, r: float, lab: int, s: float) -> None:
    d.rounded_rectangle([box[0] * s, box[1] * s, box[2] * s, box[3] * s], radius=r * s, fill=lab)


def _bag(d: ImageDraw.ImageDraw, kind: str, s: float, rng: np.random.Generator) -> None:
    j = lambda: float(rng.uniform(-0.02, 0.02))  # noqa: E731
    w = max(1, int(s * 0.035))
    if kind == "tote":
        d.arc([0.3 * s, 0.14 * s, 0.48 * s, 0.62 * s], 180, 360, fill=TRIM, width=w)
        d.arc([0.52 * s, 0.14 * s, 0.7 * s, 0.62 * s], 180, 360, fill=TRIM, width=w)
        _poly(d, [(0.2 + j(), 0.38), (0.8, 0.38), (0.88, 0.86), (0.12, 0.86)], MAIN, s)
        _poly(d, [(0.2, 0.38), (0.8, 0.38), (0.81, 0.43), (0.19, 0.43)], DARK, s)
    elif kind == "clutch":
        _rounded(d, (0.1, 0.36 + j(), 0.9, 0.72), 0.05, MAIN, s)
        _poly(d, [(0.1, 0.38), (0.9, 0.38), (0.5, 0.58)], DARK, s)
        d.ellipse([0.47 * s, 0.54 * s, 0.53 * s, 0.6 * s], fill=METAL)
    elif kind == "shoulder":
        d.arc([0.22 * s, 0.04 * s, 0.78 * s, 0.9 * s], 180, 360, fill=TRIM, width=max(1, int(s * 0.025)))
        _rounded(d, (0.2, 0.44 + j(), 0.8, 0.86), 0.1, MAIN, s)
        _rounded(d, (0.2, 0.44, 0.8, 0.6), 0.08, DARK, s)
        d.rectangle([0.47 * s, 0.57 * s, 0.53 * s, 0.63 * s], fill=METAL)
    else:  # backpack
        d.arc([0.38 * s, 0.08 * s, 0.62 * s, 0.3 * s], 180, 360, fill=TRIM, width=w)
        _rounded(d, (0.24 + j(), 0.18, 0.76, 0.9), 0.14, MAIN, s)
        _rounded(d, (0.33, 0.58, 0.67, 0.84), 0.06, DARK, s)
        d.rectangle([0.24 * s, 0.45 * s, 0.76 * s, 0.48 * s], fill=DARK)


def render_accessory(rng: np.random.Generator, style: dict, size: int = 64, ss: int = 4) -> Accessory:
    """One shoe (kinds in attributes.SHOE_KINDS) or bag (BAG_KINDS), centred on white."""
    kind, formal = style["kind"], style["formality"] == "formal"
    colour = A.sample_colour(rng, style["colour_family"])
    big = size * ss
    lab_img = Image.new("L", (big, big), 0)
    d = ImageDraw.Draw(lab_img)
    (_shoe if kind in A.SHOE_KINDS else _bag)(d, kind, big, rng)
    labels = np.asarray(lab_img)
    c = np.asarray(colour, np.float32)
    lut = np.zeros((32, 3), np.float32)
    lut[MAIN] = c
    lut[DARK] = c * 0.78
    lut[METAL] = (212, 175, 55)
    if kind in A.SHOE_KINDS:
        lut[SOLE] = (40, 32, 28) if formal else (236, 236, 232)
        lut[TRIM] = (250, 250, 248) if style["colour_family"] not in ("white", "beige", "yellow") else (40, 40, 44)
    else:
        lut[TRIM] = c * 0.7
    g = Garment(kind=kind, colour=colour, family=style["colour_family"], pattern=style["pattern"],
                secondary=A.pattern_colour(colour), vertical=bool(rng.random() < 0.5), period=1.0)
    unit = big * float(rng.uniform(0.07, 0.09))
    image = colourise(labels, lut, {MAIN: g} if g.pattern != "solid" else {}, unit,
                      np.full(3, 255.0, np.float32), ss, outline=0.8)
    centre = slice(ss // 2, None, ss)
    return Accessory(image=image, labels={**style, "rgb": list(colour)}, mask=labels[centre, centre].copy())
