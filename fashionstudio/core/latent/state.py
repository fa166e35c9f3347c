"""Everything that makes a Generate image, saved: :class:`GenerateState` and its JSON / PNG forms.

A state round-trips through a JSON dict stored in the exported PNG's text chunks, so opening the PNG restores
the editor (:func:`state_from_png`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionstudio.core.latent.directions import Direction
from fashionstudio.core.latent.encoding import (
    JSON_DAMAGE, ModelMismatchError, StateError, decode_array, encode_array, layer_range, parse_json,
)
from fashionstudio.core.latent.seeds import lattice_seed, seed_position

STATE_KIND = "fashionstudio-generate-state"
STATE_VERSION = 1


@dataclass
class GenerateState:
    """Everything that makes a Generate image. ``to_dict``/``from_dict`` round-trip through JSON.

    The base latent is the seed lattice position (``x``, ``y``) or, after projecting a photo, ``base_ws``
    ([num_ws, w_dim]) with its optimised ``base_noise`` (one [res, res] map per styled conv).
    """

    x: float = 0.0
    y: float = 0.0
    psi: float = 0.7
    psi_cutoff: int | None = None
    mix_seed: int | None = None
    mix_layers: tuple[int, int] = (0, 0)
    noise_strength: float = 1.0
    method: str = "sefa"
    directions: list[Direction] = field(default_factory=list)
    base_ws: np.ndarray | None = None
    base_noise: list[np.ndarray] | None = None
    model_sha256: str | None = None

    @property
    def seed(self) -> int:
        """The lattice seed nearest the current position."""
        return lattice_seed(round(self.x), round(self.y))

    def with_seed(self, seed: int) -> GenerateState:
        """A copy at ``seed`` (projection dropped)."""
        import copy

        out = copy.copy(self)
        out.x, out.y = seed_position(seed)
        out.base_ws, out.base_noise = None, None
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": STATE_KIND, "version": STATE_VERSION, "seed": self.seed, "x": self.x, "y": self.y,
            "psi": self.psi, "psi_cutoff": self.psi_cutoff, "mix_seed": self.mix_seed,
            "mix_layers": list(self.mix_layers), "noise_strength": self.noise_strength, "method": self.method,
            "sliders": {d.name: round(float(d.value), 4) for d in self.directions},
            "directions": [d.to_dict() for d in self.directions],
            "base_ws": None if self.base_ws is None else encode_array(self.base_ws.astype(np.float32)),
            "base_noise": None if self.base_noise is None else [encode_array(n.astype(np.float16))
                                                                 for n in self.base_noise],
            "model_sha256": self.model_sha256,
        }

    @classmethod
    def from_dict(cls, data: Any, *, num_ws: int | None = None, w_dim: int | None = None) -> GenerateState:
        """Rebuild a state; raises :class:`StateError` naming what is wrong when ``data`` is not usable."""
        if isinstance(data, str):
            try:
                data = parse_json(data)
            except StateError as exc:
                raise StateError(f"the stored Generate settings are damaged ({exc})") from None
        if not isinstance(data, dict) or data.get("kind") != STATE_KIND:
            raise StateError("the image holds no Generate settings")
        version = data.get("version", 0)
        if not isinstance(version, int) or isinstance(version, bool):
            raise StateError("the stored Generate settings are damaged (their version is not a number)")
        if version > STATE_VERSION:
            raise StateError("the Generate settings were written by a newer FashionStudio")
        try:
            mix_layers = layer_range(data.get("mix_layers", [0, 0]))
            directions = data.get("directions") or []
            if not isinstance(directions, list):
                raise ValueError("the directions are not a list")
            method = data.get("method", "sefa")
            if not isinstance(method, str):
                raise ValueError("the slider method is not text")
            sha = data.get("model_sha256")
            state = cls(
                x=float(data["x"]), y=float(data["y"]), psi=float(data["psi"]),
                psi_cutoff=None if data.get("psi_cutoff") is None else int(data["psi_cutoff"]),
                mix_seed=None if data.get("mix_seed") is None else int(data["mix_seed"]),
                mix_layers=(mix_layers[0], mix_layers[1]),
                noise_strength=float(data.get("noise_strength", 1.0)), method=method,
                directions=[Direction.from_dict(d, w_dim) for d in directions],
                model_sha256=sha if isinstance(sha, str) else None,
            )
            if data.get("base_ws") is not None:
                state.base_ws = decode_array(data["base_ws"], np.float32)
                if state.base_ws.ndim != 2:
                    raise ValueError("the projected latent is not a table of layers")
            if data.get("base_noise") is not None:
                if not isinstance(data["base_noise"], list):
                    raise ValueError("the projected noise is not a list of maps")
                state.base_noise = [decode_array(n, np.float32) for n in data["base_noise"]]
                if any(n.ndim != 2 for n in state.base_noise):
                    raise ValueError("a projected noise map is not an image")
        except ModelMismatchError as exc:
            raise ModelMismatchError(f"the stored Generate settings do not fit this model ({exc})") from None
        except StateError as exc:
            raise StateError(f"the stored Generate settings are damaged: {exc}") from None
        except JSON_DAMAGE as exc:
            raise StateError(f"the stored Generate settings are incomplete or damaged ({exc})") from None
        numbers = [state.x, state.y, state.psi, state.noise_strength]
        arrays = ([state.base_ws] if state.base_ws is not None else []) + list(state.base_noise or [])
        if not all(math.isfinite(v) for v in numbers) or not all(np.all(np.isfinite(a)) for a in arrays):
            raise StateError("the stored Generate settings hold numbers that are not finite")
        if state.base_ws is not None and num_ws is not None and w_dim is not None \
                and tuple(state.base_ws.shape) != (num_ws, w_dim):
            raise ModelMismatchError(f"the stored projected latent is {list(state.base_ws.shape)}, but this generator "
                             f"needs [{num_ws}, {w_dim}]: it was made with a different model")
        return state



def state_summary(state: GenerateState) -> dict[str, Any]:
    """The short, human-readable settings (seed, psi, mixing, named slider values) for PNG viewers and logs."""
    return {"seed": state.seed, "psi": state.psi, "psi_cutoff": state.psi_cutoff, "mix_seed": state.mix_seed,
            "mix_layers": list(state.mix_layers), "noise_strength": state.noise_strength,
            "sliders": {d.name: round(float(d.value), 3) for d in state.directions if d.value},
            "projected": state.base_ws is not None}


def state_from_png(path: str | os.PathLike, *, num_ws: int | None = None,
                   w_dim: int | None = None) -> GenerateState | None:
    """The Generate state stored in a PNG exported by FashionStudio, or None when the file holds none.

    Raises :class:`StateError` when the PNG carries FashionStudio Generate settings that are damaged, and
    ValueError when the file is not a readable image (callers then load it as a photo, which reports why).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                return None
            im.load()
            text = dict(getattr(im, "text", {}) or {})
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    candidates = []
    for key in ("fashionstudio", "settings"):
        if key in text:
            candidates.append((key, text[key]))
    if not candidates:
        return None
    damaged = False
    for key, raw in candidates:
        try:
            data = parse_json(raw)
        except StateError:
            damaged = True
            continue
        if not isinstance(data, dict):
            damaged = True
            continue
        if key == "fashionstudio":
            if data.get("tool") not in (None, "generate"):
                return None  # another tool's export: a photo like any other
            data = data.get("settings")
        # The tab writes {summary..., "state": state}; older CLI exports hold the state itself as the settings.
        stored = data.get("state") if isinstance(data, dict) and "state" in data else \
            data if isinstance(data, dict) and data.get("kind") == STATE_KIND else None
        if stored is not None:
            try:
                return GenerateState.from_dict(stored, num_ws=num_ws, w_dim=w_dim)
            except StateError as exc:
                raise StateError(f"'{path.name}' holds FashionStudio Generate settings, but {exc}.") from None
        damaged = damaged or data is not None
    if damaged:
        raise StateError(f"'{path.name}' holds FashionStudio settings, but they are damaged, so its Generate "
                         "state cannot be restored.")
    return None

