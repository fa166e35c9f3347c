"""The sample pictures that ship in ``resources/samples/`` (drawn by the synthetic atelier, see
``tools/make_samples.py``): something to drop for a designer who has no photo at hand."""

from __future__ import annotations

from pathlib import Path

from fashionstudio.core.resources import resource_path

# name -> what the link on an empty canvas calls it
SAMPLES: dict[str, str] = {
    "person": "a dressed person",
    "flat": "a flat garment",
    "shoe": "a shoe",
    "bag": "a handbag",
}


def sample_path(name: str) -> Path:
    """The shipped PNG of sample ``name`` (a key of :data:`SAMPLES`); raises ResourceNotFoundError if missing."""
    if name not in SAMPLES:
        raise KeyError(f"There is no sample called {name!r}; the samples are {', '.join(SAMPLES)}.")
    return resource_path("samples", f"{name}.png")
