"""Outfits: what a mannequin wears (kinds, colours, patterns) and how each garment is sampled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import attributes as A


@dataclass(frozen=True)
class Garment:
    kind: str                         # one of attributes.GARMENT_TYPES, or "shoes"
    colour: tuple[int, int, int]
    family: str
    pattern: str
    secondary: tuple[int, int, int]
    vertical: bool = False            # stripe direction
    period: float = 0.42              # pattern period in head units
    length: float = 0.5               # skirt/dress length: 0 = mini, 1 = mid-calf


@dataclass(frozen=True)
class Outfit:
    top: Garment | None               # None when wearing a dress
    bottom: Garment | None
    dress: Garment | None
    shoes: Garment
    inner: tuple[int, int, int]       # the shirt visible inside an open jacket

    @property
    def main(self) -> Garment:
        """The outfit's catalogue garment (the top, or the dress): the one LookBook flats show."""
        return self.dress if self.dress is not None else self.top  # type: ignore[return-value]

    def labels(self) -> dict:
        """JSON-able attribute labels."""
        def g(x: Garment | None):
            return None if x is None else {"type": x.kind, "colour_family": x.family, "pattern": x.pattern,
                                           "rgb": list(x.colour)}
        return {"top": g(self.top), "bottom": g(self.bottom), "dress": g(self.dress), "shoes": g(self.shoes)}


def sample_garment(rng: np.random.Generator, kind: str, families=A.COLOUR_FAMILY_NAMES,
                   pattern_p: float = 0.45) -> Garment:
    family = str(families[int(rng.integers(len(families)))])
    colour = A.sample_colour(rng, family)
    patterned = rng.random() < pattern_p
    pattern = str(A.PATTERNS[1 + int(rng.integers(len(A.PATTERNS) - 1))]) if patterned else "solid"
    return Garment(kind=kind, colour=colour, family=family, pattern=pattern, secondary=A.pattern_colour(colour),
                   vertical=bool(rng.random() < 0.3), period=float(rng.uniform(0.34, 0.5)),
                   length=float(rng.uniform(0.0, 1.0)))


_NEUTRAL_BOTTOMS = ("black", "navy", "grey", "beige", "blue", "white", "brown")
_SHOE_FAMILIES = ("black", "white", "brown", "beige", "red", "navy")


def sample_outfit(rng: np.random.Generator, gender: str, top_only: bool = False) -> Outfit:
    """A plausible outfit; ``top_only`` (LookBook) always has a top or dress as the catalogue garment."""
    dress_p = 0.0 if gender == "MEN" else 0.25
    if rng.random() < dress_p:
        dress = sample_garment(rng, A.DRESS_KIND)
        top = bottom = None
    else:
        dress = None
        top = sample_garment(rng, str(A.TOP_KINDS[int(rng.integers(len(A.TOP_KINDS)))]))
        bottoms = ("trousers", "shorts") if gender == "MEN" else A.BOTTOM_KINDS
        bkind = str(bottoms[int(rng.integers(len(bottoms)))])
        # Bottoms are mostly plain neutrals, so the top stays the catalogue garment and reads clearly.
        bottom = sample_garment(rng, bkind, families=_NEUTRAL_BOTTOMS, pattern_p=0.12)
        if bottom.family == top.family:
            bottom = sample_garment(rng, bkind, families=tuple(f for f in _NEUTRAL_BOTTOMS if f != top.family),
                                    pattern_p=0.0)
    shoes = sample_garment(rng, "shoes", families=_SHOE_FAMILIES, pattern_p=0.0)
    inner = (240, 238, 232) if rng.random() < 0.6 else (40, 40, 44)
    return Outfit(top=top, bottom=bottom, dress=dress, shoes=shoes, inner=inner)


def recolour_outfit(rng: np.random.Generator, outfit: Outfit) -> Outfit:
    """Another colour group of the same product: the catalogue garment in a new colour family, same cut."""
    main = outfit.main
    families = tuple(f for f in A.COLOUR_FAMILY_NAMES if f != main.family)
    family = str(families[int(rng.integers(len(families)))])
    colour = A.sample_colour(rng, family)
    new = Garment(kind=main.kind, colour=colour, family=family, pattern=main.pattern,
                  secondary=A.pattern_colour(colour), vertical=main.vertical, period=main.period, length=main.length)
    if outfit.dress is not None:
        return Outfit(top=None, bottom=None, dress=new, shoes=outfit.shoes, inner=outfit.inner)
    return Outfit(top=new, bottom=outfit.bottom, dress=None, shoes=outfit.shoes, inner=outfit.inner)
