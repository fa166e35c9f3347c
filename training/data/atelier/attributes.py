"""The atelier's attribute vocabularies and colour palette: the single source of truth for every label it writes.

The metrics helper may build an "atelier" feature classifier on these names, so they are constants here and
nowhere else. :func:`colour_family` maps any RGB colour to its family by nearest palette colour.
"""

from __future__ import annotations

import numpy as np

# Colour families, each with a few catalogue shades (RGB). A sampled garment/shoe/bag colour is one shade plus a
# small jitter, and always classifies back to its own family (tests check it).
COLOUR_FAMILIES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "black": ((28, 28, 30), (45, 42, 48)),
    "white": ((242, 240, 232), (228, 226, 218)),
    "grey": ((128, 128, 132), (160, 160, 164)),
    "red": ((196, 32, 40), (160, 24, 36)),
    "pink": ((236, 130, 170), (220, 100, 150)),
    "orange": ((238, 124, 36), (220, 100, 30)),
    "yellow": ((240, 200, 40), (228, 182, 30)),
    "green": ((40, 140, 70), (90, 150, 60)),
    "blue": ((40, 100, 200), (70, 130, 220)),
    "navy": ((28, 40, 90), (36, 52, 110)),
    "purple": ((120, 60, 160), (150, 80, 180)),
    "brown": ((120, 72, 40), (150, 95, 55)),
    "beige": ((214, 192, 150), (200, 176, 130)),
}
COLOUR_FAMILY_NAMES: tuple[str, ...] = tuple(COLOUR_FAMILIES)
PATTERNS: tuple[str, ...] = ("solid", "stripes", "checks", "dots", "print")
FORMALITY: tuple[str, ...] = ("casual", "formal")

TOP_KINDS: tuple[str, ...] = ("tank", "tshirt", "longsleeve", "jacket")
BOTTOM_KINDS: tuple[str, ...] = ("trousers", "shorts", "skirt")
DRESS_KIND = "dress"
GARMENT_TYPES: tuple[str, ...] = TOP_KINDS + BOTTOM_KINDS + (DRESS_KIND,)

SHOE_KINDS: tuple[str, ...] = ("sneaker", "boot", "heel", "loafer")
BAG_KINDS: tuple[str, ...] = ("tote", "clutch", "shoulder", "backpack")
# Formality is carried by the kind, so "formal shoe -> formal bag" is a visible, learnable relation.
KIND_FORMALITY: dict[str, str] = {
    "sneaker": "casual", "boot": "casual", "heel": "formal", "loafer": "formal",
    "tote": "casual", "backpack": "casual", "clutch": "formal", "shoulder": "formal",
}

POSE_KINDS: tuple[str, ...] = (
    "standing", "walking", "arms_raised", "hands_on_hips", "one_hand_on_hip", "arms_out", "wave", "wide_stance",
)
VIEWS: tuple[str, ...] = ("front", "three_quarter_left", "three_quarter_right", "side_left", "side_right", "back")
# DeepFashion In-shop view names for the atelier's views.
INSHOP_VIEW: dict[str, str] = {
    "front": "front", "three_quarter_left": "front", "three_quarter_right": "front",
    "side_left": "side", "side_right": "side", "back": "back",
}
GENDERS: tuple[str, ...] = ("MEN", "WOMEN")
HAIR_STYLES: tuple[str, ...] = ("short", "long", "bun")

SKIN_TONES: tuple[tuple[int, int, int], ...] = (
    (247, 220, 196), (236, 198, 164), (214, 168, 128), (180, 128, 92), (140, 96, 66), (100, 68, 48),
)
HAIR_COLOURS: tuple[tuple[int, int, int], ...] = (
    (30, 24, 20), (70, 46, 30), (120, 80, 45), (196, 160, 100), (160, 70, 40), (150, 150, 150),
)
# Segmentation labels of the atelier's garment masks (``*_seg.png`` / in-memory label maps).
SEG_LABELS: dict[str, int] = {
    "background": 0, "skin": 1, "hair": 2, "top": 3, "bottom": 4, "dress": 5, "shoes": 6, "inner": 7, "shadow": 8,
}

_CENTRES = np.array([c for shades in COLOUR_FAMILIES.values() for c in shades], dtype=np.float32)
_CENTRE_FAMILY = np.array([i for i, shades in enumerate(COLOUR_FAMILIES.values()) for _ in shades])


def _to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0..255) to CIE Lab, so 'nearest colour' matches what a person sees."""
    c = np.asarray(rgb, dtype=np.float32) / 255.0
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]], np.float32)
    xyz = c @ m.T / np.array([0.95047, 1.0, 1.08883], np.float32)
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


_CENTRES_LAB = _to_lab(_CENTRES)


def colour_family_index(rgb: np.ndarray) -> np.ndarray:
    """Family index (into COLOUR_FAMILY_NAMES) of each RGB colour in an ``(..., 3)`` array."""
    lab = _to_lab(np.asarray(rgb, dtype=np.float32))
    d = ((lab[..., None, :] - _CENTRES_LAB) ** 2).sum(-1)
    return _CENTRE_FAMILY[np.argmin(d, axis=-1)]


_CENTRES_LAB_LIST = [tuple(float(v) for v in c) for c in _CENTRES_LAB]
_CENTRE_FAMILY_LIST = [int(i) for i in _CENTRE_FAMILY]


def _lab_scalar(r: float, g: float, b: float) -> tuple[float, float, float]:
    """Plain-float twin of _to_lab for one colour (numpy's per-call overhead dominates for a single pixel)."""
    def lin(c: float) -> float:
        c /= 255.0
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    lr, lg, lb = lin(r), lin(g), lin(b)
    x = (0.4124 * lr + 0.3576 * lg + 0.1805 * lb) / 0.95047
    y = 0.2126 * lr + 0.7152 * lg + 0.0722 * lb
    z = (0.0193 * lr + 0.1192 * lg + 0.9505 * lb) / 1.08883
    fx, fy, fz = ((t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116) for t in (x, y, z))
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def colour_family(rgb) -> str:
    """The colour family name ('red', 'navy', ...) of one RGB colour (0..255), by nearest palette shade in Lab."""
    r, g, b = (float(v) for v in np.asarray(rgb, dtype=np.float64).reshape(3))
    lab = _lab_scalar(r, g, b)
    best = min(range(len(_CENTRES_LAB_LIST)),
               key=lambda k: sum((a - c) ** 2 for a, c in zip(lab, _CENTRES_LAB_LIST[k])))
    return COLOUR_FAMILY_NAMES[_CENTRE_FAMILY_LIST[best]]


def sample_colour(rng: np.random.Generator, family: str, jitter: float = 8.0) -> tuple[int, int, int]:
    """A shade of ``family`` with a little random jitter that still classifies as ``family``."""
    shades = COLOUR_FAMILIES[family]
    base = np.array(shades[int(rng.integers(len(shades)))], dtype=np.float32)
    for _ in range(8):
        c = np.clip(base + rng.normal(0.0, jitter, 3), 0, 255).round()
        if colour_family(c) == family:
            return tuple(int(v) for v in c)
    return tuple(int(v) for v in base)


def pattern_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """The secondary colour of a pattern: a light tint of a dark colour, a darker shade of a light one."""
    c = np.array(rgb, dtype=np.float32)
    lum = 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]
    out = c * 0.55 + 255 * 0.45 if lum < 150 else c * 0.6
    return tuple(int(v) for v in out.round())
