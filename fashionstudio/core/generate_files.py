"""The files the Generate tab opens and writes, without Qt: a dropped file and the favourites folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image


def read_generate_file(path: str | Path, num_ws: int | None = None, w_dim: int | None = None) -> tuple[str, Any]:
    """("state", GenerateState) for a FashionStudio Generate PNG (checked against a generator of ``num_ws`` x
    ``w_dim`` when given), else ("photo", image) to project."""
    from fashionstudio.core.images import load_image
    from fashionstudio.core.latent import state_from_png

    state = state_from_png(Path(path), num_ws=num_ws, w_dim=w_dim)
    if state is not None:
        return "state", state
    return "photo", load_image(Path(path))


def write_favourites(folder: str | Path, kept: list[tuple[Image.Image, tuple[Any, dict[str, Any]], str]]) -> list[Path]:
    """Write each (image, (state, provenance), caption) as ``favourite_NN_seedS.png`` with its provenance (it
    reopens with its settings); a name already taken gets ``_2``, ``_3``... so nothing is overwritten."""
    from fashionstudio.core.provenance import save_png_with_provenance

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (img, (state, prov), _caption) in enumerate(kept, 1):
        stem = f"favourite_{i:02d}_seed{state.seed}"
        path, n = folder / f"{stem}.png", 1
        while path.exists():
            n += 1
            path = folder / f"{stem}_{n}.png"
        written.append(save_png_with_provenance(img, path, prov))
    return written
