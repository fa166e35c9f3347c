"""Latent-space editing for StyleGAN2 generators, without Qt: what the Generate tab drives live.

Pieces, in the order a frame is made:

- **Seeds.** ``seed -> z`` with NumPy's legacy ``RandomState(seed).randn`` (stable across NumPy and torch versions,
  the convention of NVIDIA's tools), ``z -> w`` through the mapping network, cached in :class:`LatentSpace`.
  Seeds sit on a 2-D lattice (``x + y * LATTICE_STRIDE``); a fractional position blends the four neighbouring
  seeds' w bilinearly, so dragging over the image walks smoothly through seed space (as the SG3 visualizer does).
- **Style mixing** replaces the ws in a layer range ``[start, stop)`` by a second seed's w; :func:`layer_presets`
  names the coarse / middle / fine ranges from ``num_ws``.
- **Truncation** ``w_avg + psi (w - w_avg)`` on the first ``cutoff`` ws (all when None).
- **Semantic directions**, computed from the loaded generator: SeFa (Shen & Zhou 2021), the eigenvectors of
  ``A^T A`` for the style affine weights A of a layer range; GANSpace (Härkönen et al. 2020), PCA of sampled w.
  A :class:`Direction` is applied as ``ws[start:stop] += value * sigma * v`` where ``sigma`` is the standard
  deviation of sampled w along ``v``, so one slider unit means the same amount of change for every direction.
- :class:`GenerateState` is everything that makes an image; it round-trips through a JSON dict (stored in the
  exported PNG's text chunks), so opening the PNG restores the editor.
- :class:`FastSynthesis` renders ws to an image with the generator's own weights, precomputed once: styles
  modulate the (small) weights instead of the (large) activations at batch 1 where that is cheaper, toRGB is a
  matrix product, the lrelu gain is folded into the next layer's style, noise and bias are one cached tensor,
  and the activations of unchanged leading layers are reused between frames.
  It equals ``G.synthesis`` up to float rounding (tested).

torch is imported inside the functions that use it: the GUI builds the Generate tab (and its
:class:`GenerateState`) before torch is loaded, so the window shows first.
"""

from __future__ import annotations

import base64
import json
import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionstudio.core.atomic import atomic_write

if TYPE_CHECKING:  # torch is imported inside the functions: the window must show before torch loads
    import torch

STATE_KIND = "fashionstudio-generate-state"
STATE_VERSION = 1
DIRECTIONS_KIND = "fashionstudio-directions"
LATTICE_STRIDE = 1 << 16  # seeds one lattice row apart (arrow up/down)
SEED_MASK = (1 << 32) - 1
_SQRT2 = math.sqrt(2.0)


class StateError(ValueError):
    """Stored generator settings (PNG text chunk, direction file) that cannot be used. Meant for a designer."""


class ModelMismatchError(StateError):
    """Stored settings whose latent sizes belong to another generator."""


# Everything a malformed (untrusted) JSON document can raise while it is read into settings: wrong types,
# missing keys, numbers too large for an int, nesting deeper than Python's stack.
_DAMAGE = (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError, RecursionError)


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` that raises :class:`StateError` for anything unreadable, including absurd nesting."""
    try:
        return json.loads(text)
    except RecursionError:
        raise StateError("it is nested too deeply to be FashionStudio settings") from None
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise StateError(f"it is not valid JSON ({getattr(exc, 'msg', exc)})") from None


def _layer_range(value: Any) -> tuple[int, int]:
    """A stored [start, stop) layer range: exactly two whole numbers."""
    if not isinstance(value, (list, tuple)) or len(value) != 2 \
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"a layer range must be two whole numbers, not {str(value)[:40]}")
    return int(value[0]), int(value[1])


# ---------------------------------------------------------------------------------------------------------------
# seeds, layers
# ---------------------------------------------------------------------------------------------------------------
def seed_to_z(seed: int, z_dim: int) -> np.ndarray:
    """The z of ``seed``: ``RandomState(seed).randn(z_dim)`` as float32."""
    return np.random.RandomState(int(seed) & SEED_MASK).randn(z_dim).astype(np.float32)


def lattice_seed(i: int, j: int) -> int:
    """The seed at lattice point (i, j)."""
    return (int(i) + int(j) * LATTICE_STRIDE) & SEED_MASK


def seed_position(seed: int) -> tuple[float, float]:
    """Lattice position (x, 0) of ``seed`` (seeds below ``LATTICE_STRIDE`` lie on the first row)."""
    return float(int(seed) & SEED_MASK), 0.0


def ws_levels(num_ws: int) -> list[int]:
    """log2 of the resolution each ws index mainly drives (index 0: 4 px; 2k-1 and 2k: 2^(k+2) px)."""
    return [2 if i == 0 else min((i + 1) // 2 + 2, num_ws // 2 + 1) for i in range(num_ws)]


def layer_presets(num_ws: int) -> dict[str, tuple[int, int]]:
    """Half-open ws ranges: ``all``, and ``coarse`` / ``middle`` / ``fine`` splitting the resolutions in thirds."""
    levels = ws_levels(num_ws)
    lo, hi = levels[0], levels[-1]
    n_levels = hi - lo + 1
    cut1 = lo + max(1, round(n_levels / 3))
    cut2 = lo + max(2, round(2 * n_levels / 3))
    coarse_stop = sum(1 for lv in levels if lv < cut1)
    middle_stop = sum(1 for lv in levels if lv < cut2)
    return {"all": (0, num_ws), "coarse": (0, coarse_stop), "middle": (coarse_stop, middle_stop),
            "fine": (middle_stop, num_ws)}


def clamp_range(layers: tuple[int, int] | list[int], num_ws: int) -> tuple[int, int]:
    start, stop = int(layers[0]), int(layers[1])
    start = max(0, min(start, num_ws))
    return start, max(start, min(stop, num_ws))


# ---------------------------------------------------------------------------------------------------------------
# directions
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Direction:
    """One semantic slider: unit vector ``vector`` (w_dim) applied to ws ``layers`` = [start, stop)."""

    name: str
    vector: np.ndarray
    layers: tuple[int, int]
    sigma: float = 1.0
    source: str = "custom"
    value: float = 0.0

    def offset(self) -> np.ndarray:
        return (self.value * self.sigma) * self.vector

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "layers": list(self.layers), "sigma": float(self.sigma), "source": self.source,
                "value": float(self.value), "vector": encode_array(self.vector.astype(np.float32))}

    @classmethod
    def from_dict(cls, data: Any, w_dim: int | None = None) -> Direction:
        if not isinstance(data, dict):
            raise StateError("a direction entry is not a JSON object")
        try:
            vector = decode_array(data["vector"], np.float32)
            if vector.ndim != 1:
                raise ValueError(f"its vector has {vector.ndim} dimensions instead of 1")
            name, source = data.get("name", "direction"), data.get("source", "custom")
            if not isinstance(name, str) or not isinstance(source, str):
                raise ValueError("its name is not text")
            out = cls(name=name, vector=vector, layers=_layer_range(data["layers"]),
                      sigma=float(data.get("sigma", 1.0)), source=source, value=float(data.get("value", 0.0)))
        except _DAMAGE as exc:
            raise StateError(f"a direction entry is incomplete or damaged ({exc})") from None
        if w_dim is not None and out.vector.shape[0] != w_dim:
            raise ModelMismatchError(f"a direction has {out.vector.shape[0]} numbers but this generator's w has "
                                     f"{w_dim}: it was made with a different model")
        if not np.all(np.isfinite(out.vector)) or not math.isfinite(out.sigma) or not math.isfinite(out.value):
            raise StateError("a direction holds numbers that are not finite")
        if out.sigma <= 0:
            raise StateError("a direction's strength unit (sigma) is not positive")
        return out


def encode_array(arr: np.ndarray) -> dict[str, Any]:
    """A compact JSON form of an array: dtype, shape and base64 bytes (little-endian)."""
    arr = np.ascontiguousarray(arr)
    dtype = arr.dtype.newbyteorder("<")
    return {"dtype": dtype.str, "shape": list(arr.shape), "b64": base64.b64encode(arr.astype(dtype).tobytes()).decode()}


def decode_array(data: Any, dtype: Any = np.float32) -> np.ndarray:
    """Inverse of :func:`encode_array` (also accepts a plain nested list)."""
    if isinstance(data, list):
        return np.asarray(data, dtype=dtype)
    if not isinstance(data, dict):
        raise ValueError("an array must be a list or an encoded object")
    stored = np.dtype(data["dtype"])
    if stored.kind not in "fiu":  # only plain numbers: no objects, strings or structured records
        raise ValueError(f"an array of {stored} is not numbers")
    raw = base64.b64decode(data["b64"], validate=True)
    arr = np.frombuffer(raw, dtype=stored).reshape([int(s) for s in data["shape"]])
    return arr.astype(dtype)


def directions_to_json(directions: list[Direction], *, method: str = "", model_sha256: str | None = None,
                       w_dim: int | None = None) -> str:
    """A named direction set as JSON text (what Save set writes)."""
    return json.dumps({"kind": DIRECTIONS_KIND, "version": 1, "method": method, "model_sha256": model_sha256,
                       "w_dim": w_dim, "directions": [d.to_dict() for d in directions]}, indent=1)


def directions_from_json(text: str, w_dim: int | None = None) -> tuple[list[Direction], dict[str, Any]]:
    """Parse a direction set; returns (directions, header). Raises :class:`StateError` with a readable reason."""
    data = parse_json(text)
    if not isinstance(data, dict) or data.get("kind") != DIRECTIONS_KIND:
        raise StateError("it is not a FashionStudio direction set")
    items = data.get("directions")
    if not isinstance(items, list) or not items:
        raise StateError("it holds no directions")
    directions = [Direction.from_dict(item, w_dim) for item in items]
    header = {k: v for k, v in data.items() if k != "directions"}
    # Header fields of the wrong type are dropped rather than trusted (the GUI shows "method").
    for key in ("method", "model_sha256"):
        if not isinstance(header.get(key), str):
            header[key] = "" if key == "method" else None
    return directions, header


def save_directions(path: str | os.PathLike, directions: list[Direction], **header: Any) -> Path:
    """Write a direction set to ``path`` atomically."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(directions_to_json(directions, **header), encoding="utf-8")
    return path


def load_directions(path: str | os.PathLike, w_dim: int | None = None) -> tuple[list[Direction], dict[str, Any]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"'{path.name}' cannot be read as a direction set ({exc})") from None
    try:
        return directions_from_json(text, w_dim)
    except StateError as exc:
        raise StateError(f"'{path.name}' cannot be used as a direction set: {exc}.") from None


def sefa_directions(G: Any, layers: tuple[int, int], k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """SeFa: the top-``k`` eigenvectors (rows, unit length, orthogonal) of ``A^T A`` and their eigenvalues.

    ``A`` stacks the style affine weights (each [channels, w_dim]) of the demodulated convs reading the ws in
    ``layers``; each layer's block is scaled to unit Frobenius norm so that wide layers do not drown narrow ones.
    """
    import torch

    start, stop = clamp_range(layers, G.num_ws)
    blocks = [a.layer.effective_weight().detach().double().cpu()
              for a in G.style_affines() if a.kind == "conv" and start <= a.ws_index < stop]
    if not blocks:  # a range with only a toRGB layer: fall back to all affines in range
        blocks = [a.layer.effective_weight().detach().double().cpu()
                  for a in G.style_affines() if start <= a.ws_index < stop]
    if not blocks:
        raise ValueError(f"the layer range {start}-{stop} is empty")
    A = torch.cat([b / b.norm().clamp_min(1e-12) for b in blocks], dim=0)
    evals, evecs = torch.linalg.eigh(A.T @ A)
    order = torch.argsort(evals, descending=True)[:k]
    return evecs[:, order].T.float().numpy(), evals[order].float().numpy()


def ganspace_directions(w_samples: torch.Tensor, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """GANSpace: the top-``k`` principal axes (rows, orthonormal) of sampled w and their standard deviations."""
    import torch

    w = w_samples.detach().double().cpu()
    w = w - w.mean(0, keepdim=True)
    cov = w.T @ w / max(1, w.shape[0] - 1)
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)[:k]
    return evecs[:, order].T.float().numpy(), evals[order].clamp_min(0).sqrt().float().numpy()


# ---------------------------------------------------------------------------------------------------------------
# state
# ---------------------------------------------------------------------------------------------------------------
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
            mix_layers = _layer_range(data.get("mix_layers", [0, 0]))
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
        except _DAMAGE as exc:
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


# ---------------------------------------------------------------------------------------------------------------
# the latent space of one generator
# ---------------------------------------------------------------------------------------------------------------
class LatentSpace:
    """One generator's latent space: cached seed -> w, sampled w, directions, and state -> ws.

    Thread-safe for the caches (the GUI's latest-wins worker and the thumbnail job use it at once).
    """

    def __init__(self, G: Any, device: Any = "cpu", cache_size: int = 4096) -> None:
        import torch

        self.G = G
        self.device = torch.device(device)
        self.num_ws, self.w_dim, self.z_dim = int(G.num_ws), int(G.w_dim), int(G.z_dim)
        self.resolution = int(G.resolution)
        self.w_avg = G.w_avg.detach().float().to(self.device).clone()
        self._w_cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._samples: torch.Tensor | None = None

    # -- seeds --------------------------------------------------------------------------------------------------
    def w_for_seeds(self, seeds: list[int]) -> torch.Tensor:
        """w [len(seeds), w_dim] (cached; the missing ones go through the mapping network in one batch)."""
        import torch

        seeds = [int(s) & SEED_MASK for s in seeds]
        with self._lock:
            missing = [s for s in dict.fromkeys(seeds) if s not in self._w_cache]
        if missing:
            z = torch.from_numpy(np.stack([seed_to_z(s, self.z_dim) for s in missing])).to(self.device)
            with torch.inference_mode():
                w = self.G.mapping(z).float()
            with self._lock:
                for s, row in zip(missing, w):
                    self._w_cache[s] = row.clone()
                while len(self._w_cache) > self._cache_size:
                    self._w_cache.popitem(last=False)
        with self._lock:
            rows = []
            for s in seeds:
                row = self._w_cache.get(s)
                if row is None:  # evicted meanwhile by a huge request: recompute alone
                    z = torch.from_numpy(seed_to_z(s, self.z_dim))[None].to(self.device)
                    with torch.inference_mode():
                        row = self.G.mapping(z).float()[0]
                rows.append(row)
        return torch.stack(rows)

    def blended_w(self, x: float, y: float) -> torch.Tensor:
        """w [w_dim] at lattice position (x, y): bilinear blend of the four neighbouring seeds' w."""
        import torch

        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        corners = [(x0, y0, (1 - fx) * (1 - fy)), (x0 + 1, y0, fx * (1 - fy)),
                   (x0, y0 + 1, (1 - fx) * fy), (x0 + 1, y0 + 1, fx * fy)]
        corners = [c for c in corners if c[2] > 1e-9]
        w = self.w_for_seeds([lattice_seed(i, j) for i, j, _ in corners])
        weights = torch.tensor([c[2] for c in corners], dtype=w.dtype, device=w.device)
        return (weights[:, None] * w).sum(0)

    # -- samples and directions ---------------------------------------------------------------------------------
    def w_samples(self, n: int = 10_000, seed: int = 0x5EFA) -> torch.Tensor:
        """``n`` mapped samples of w (fixed seed, computed once, batched)."""
        import torch

        with self._lock:
            if self._samples is not None and self._samples.shape[0] >= n:
                return self._samples[:n]
        gen = torch.Generator().manual_seed(seed)
        out = []
        with torch.inference_mode():
            for start in range(0, n, 2048):
                z = torch.randn(min(2048, n - start), self.z_dim, generator=gen).to(self.device)
                out.append(self.G.mapping(z).float().cpu())
        samples = torch.cat(out)
        with self._lock:
            self._samples = samples
        return samples

    def compute_directions(self, method: str = "sefa", k: int = 12, layers: tuple[int, int] | None = None,
                           n_samples: int = 10_000) -> list[Direction]:
        """``k`` sliders from this generator: ``method`` "sefa" or "ganspace", applied to ``layers`` (all by default).

        Each direction's ``sigma`` is the standard deviation of the sampled w along it.
        """
        layers = clamp_range(layers or (0, self.num_ws), self.num_ws)
        samples = self.w_samples(n_samples)
        if method == "sefa":
            vecs, _ = sefa_directions(self.G, layers, k)
            label = "SeFa"
        elif method == "ganspace":
            vecs, _ = ganspace_directions(samples, k)
            label = "PCA"
        else:
            raise ValueError(f"unknown direction method {method!r} (use 'sefa' or 'ganspace')")
        centred = (samples - samples.mean(0, keepdim=True)).numpy()
        sigmas = (centred @ vecs.T).std(axis=0)
        return [Direction(name=f"{label} {i + 1}", vector=vecs[i].astype(np.float32), layers=layers,
                          sigma=float(max(sigmas[i], 1e-6)), source=method) for i in range(vecs.shape[0])]

    # -- state -> ws --------------------------------------------------------------------------------------------
    def base_ws(self, state: GenerateState) -> torch.Tensor:
        """[num_ws, w_dim] before mixing, truncation and edits."""
        import torch

        if state.base_ws is not None:
            return torch.from_numpy(np.asarray(state.base_ws, dtype=np.float32)).to(self.device).clone()
        return self.blended_w(state.x, state.y)[None].expand(self.num_ws, -1).clone()

    def state_ws(self, state: GenerateState) -> torch.Tensor:
        """The ws [1, num_ws, w_dim] a state renders: base -> style mixing -> truncation -> direction edits."""
        ws = self.base_ws(state)
        start, stop = clamp_range(state.mix_layers, self.num_ws)
        if state.mix_seed is not None and stop > start:
            ws[start:stop] = self.w_for_seeds([state.mix_seed])[0]
        ws = truncate(ws, self.w_avg, state.psi, state.psi_cutoff)
        ws = apply_directions(ws, state.directions)
        return ws[None]


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
    """``w_avg + psi (ws - w_avg)`` on the first ``cutoff`` rows of ws [num_ws, w_dim] (all when None)."""
    if psi == 1.0:
        return ws
    out = ws.clone()
    stop = ws.shape[0] if cutoff is None else max(0, min(int(cutoff), ws.shape[0]))
    out[:stop] = w_avg.lerp(ws[:stop], float(psi))
    return out


def apply_directions(ws: torch.Tensor, directions: list[Direction]) -> torch.Tensor:
    """ws [num_ws, w_dim] plus every non-zero direction's offset on its layer range."""
    import torch

    active = [d for d in directions if d.value != 0.0]
    if not active:
        return ws
    out = ws.clone()
    for d in active:
        start, stop = clamp_range(d.layers, ws.shape[0])
        if stop > start:
            out[start:stop] += torch.from_numpy(d.offset().astype(np.float32)).to(out.device)
    return out


def interpolation_states(space: LatentSpace, a: GenerateState, b: GenerateState,
                         frames: int) -> list[GenerateState]:
    """``frames`` states from ``a`` to ``b`` inclusive, linear in w between the two final ws (after mixing,
    truncation and edits), each carrying its ws as ``base_ws`` so it can be shown, edited and exported alone.
    Noise strength moves linearly; projected noise maps are blended when both ends have them, otherwise each
    frame keeps the noise of the nearer end."""
    import copy

    ws = interpolation_ws(space.state_ws(a)[0], space.state_ws(b)[0], frames)
    out = []
    for i in range(frames):
        t = i / (frames - 1)
        if a.base_noise is not None and b.base_noise is not None:
            noise = [na + (nb - na) * t for na, nb in zip(a.base_noise, b.base_noise)]
        else:
            noise = a.base_noise if t < 0.5 else b.base_noise
        directions = [copy.copy(d) for d in a.directions]
        for d in directions:
            d.value = 0.0  # the edits are already in base_ws
        out.append(GenerateState(x=a.x, y=a.y, psi=1.0, noise_strength=a.noise_strength + (b.noise_strength
                                 - a.noise_strength) * t, method=a.method, directions=directions,
                                 base_ws=ws[i].cpu().numpy().copy(), base_noise=noise,
                                 model_sha256=a.model_sha256))
    return out


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation of two z vectors (falls back to lerp when they are nearly parallel)."""
    import torch

    a_n, b_n = a / a.norm(), b / b.norm()
    dot = (a_n * b_n).sum().clamp(-1.0, 1.0)
    omega = torch.arccos(dot)
    if omega.abs() < 1e-6:
        return a.lerp(b, t)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolation_ws(ws_a: torch.Tensor, ws_b: torch.Tensor, frames: int) -> torch.Tensor:
    """``frames`` ws linearly spaced in w from ``ws_a`` to ``ws_b`` inclusive: [frames, num_ws, w_dim]."""
    import torch

    if frames < 2:
        raise ValueError("an interpolation needs at least 2 frames")
    a, b = ws_a.reshape(1, *ws_a.shape[-2:]), ws_b.reshape(1, *ws_b.shape[-2:])
    t = torch.linspace(0, 1, frames, dtype=a.dtype, device=a.device)[:, None, None]
    out = a + t * (b - a)
    out[-1] = b[0]  # exact end frame despite rounding
    return out


# ---------------------------------------------------------------------------------------------------------------
# fast synthesis
# ---------------------------------------------------------------------------------------------------------------
_BLUR: dict[tuple[Any, Any], torch.Tensor] = {}


def _blur_kernel(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[1, 1, 4, 4] binomial [1,3,3,1] x [1,3,3,1] filter with gain 4 (after 2x zero insertion)."""
    import torch

    key = (dtype, device)
    if key not in _BLUR:
        with torch.inference_mode(False):
            k = torch.tensor([1.0, 3.0, 3.0, 1.0], dtype=torch.float64)
            _BLUR[key] = (torch.outer(k, k) / 64.0 * 4.0).to(dtype=dtype, device=device)[None, None]
    return _BLUR[key]


class _NoiseKey:
    """Cache key for a noise setting: the strength and the very noise tensors (held, so compared by identity
    without an id of a freed tensor ever matching a new one)."""

    def __init__(self, strength: float, noise: list[Any] | None) -> None:
        self.strength, self.noise = float(strength), None if noise is None else tuple(noise)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _NoiseKey) or other.strength != self.strength:
            return False
        if self.noise is None or other.noise is None:
            return self.noise is other.noise
        return len(self.noise) == len(other.noise) and all(a is b for a, b in zip(self.noise, other.noise))

    __hash__ = None  # type: ignore[assignment]


@dataclass
class _ModConv:
    affine_w: torch.Tensor      # [C_in, w_dim]
    affine_b: torch.Tensor      # [C_in]
    weight: torch.Tensor        # [C_out, C_in, k, k], the equalised-lr gain applied
    wsq: torch.Tensor | None    # [C_out, C_in] squared weight summed over taps (demodulation), None for toRGB
    in_gain: float              # sqrt(2) of the previous lrelu, folded into the style
    up: bool
    padding: int


@dataclass
class _Styled:
    conv: _ModConv
    noise: torch.Tensor         # [1, 1, R, R] the "const" noise map
    noise_gain: torch.Tensor    # learned per-layer noise strength (scalar)
    bias: torch.Tensor          # [C_out]


class FastSynthesis:
    """Renders ws with a generator's weights, precomputed once (see the module docstring).

    ``render(ws, noise_strength, noise)`` takes ws [N, num_ws, w_dim] and returns images [N, 3, R, R]. With N = 1
    it reuses the activations of leading layers whose ws did not change since the previous call. Not
    thread-safe for that cache: use one instance per thread of interactive rendering (``stateless=True``
    calls are safe anywhere). With ``differentiable=True`` it builds an autograd graph (projection).
    """

    def __init__(self, G: Any, dtype: torch.dtype | None = None, channels_last: bool = True) -> None:
        import torch

        syn = G.synthesis_network
        self.num_ws, self.resolution, self.dtype = int(G.num_ws), int(G.resolution), dtype or torch.float32
        # NHWC is oneDNN's native conv layout: on one CPU thread 0-15% faster at 64 px, within noise at 128 px.
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        # Normal (not inference) tensors even when built inside inference_mode: projection backpropagates
        # through them.
        with torch.inference_mode(False), torch.no_grad():
            self.const = syn.const.detach().to(dtype).clone().contiguous(memory_format=self.memory_format)
            self.first = self._styled(syn.conv, in_gain=1.0)
            self.first_rgb = self._modconv(syn.torgb.conv, _SQRT2)
            self.first_rgb_bias = syn.torgb.bias.detach().to(dtype).clone()
            self.blocks = [(self._styled(b.conv_up, _SQRT2), self._styled(b.conv, _SQRT2),
                            self._modconv(b.torgb.conv, _SQRT2), b.torgb.bias.detach().to(dtype).clone())
                           for b in syn.blocks]
        self.noise_shapes = [tuple(s.noise.shape[-2:]) for s in self.styled_layers()]
        self._addend_key: Any = None
        self._addends: list[torch.Tensor] = []
        self._prev_ws: torch.Tensor | None = None
        self._prev_key: Any = None
        self._checkpoints: list[tuple[torch.Tensor, torch.Tensor]] = []

    # -- precomputation -------------------------------------------------------------------------------------------
    def _modconv(self, m: Any, in_gain: float) -> _ModConv:
        import torch

        weight = (m.weight * m.weight_gain).detach().to(torch.float64)
        wsq = weight.square().sum(dim=(2, 3)) if m.demodulate else None
        aff = m.affine
        return _ModConv(affine_w=aff.effective_weight().detach().to(self.dtype).clone(),
                        affine_b=(aff.bias * aff.lr_mul).detach().to(self.dtype).clone(),
                        weight=weight.to(self.dtype).contiguous(),
                        wsq=None if wsq is None else wsq.to(self.dtype), in_gain=in_gain, up=bool(m.up),
                        padding=m.padding)

    def _styled(self, layer: Any, in_gain: float) -> _Styled:
        return _Styled(conv=self._modconv(layer.conv, in_gain), noise=layer.noise_const.detach().to(self.dtype).clone(),
                       noise_gain=layer.noise_strength.detach().to(self.dtype).clone(),
                       bias=layer.bias.detach().to(self.dtype).clone())

    def styled_layers(self) -> list[_Styled]:
        return [self.first] + [s for b in self.blocks for s in b[:2]]

    # -- pieces ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _modulated(x: torch.Tensor, w: torch.Tensor, mc: _ModConv) -> torch.Tensor:
        import torch

        styles = w @ mc.affine_w.T + mc.affine_b  # [N, C_in]
        demod = None
        if mc.wsq is not None:
            demod = torch.rsqrt(styles.square() @ mc.wsq.T + 1e-8)  # [N, C_out]
        s = styles * mc.in_gain
        if x.shape[0] == 1 and mc.weight.shape[-1] == 1 and demod is None:
            # toRGB: a 1x1 conv is a matrix product over channels, far cheaper than a conv call.
            c_in, h, w_ = x.shape[1:]
            y = (mc.weight[:, :, 0, 0] * s) @ x.reshape(c_in, h * w_)
            return y.reshape(1, -1, h, w_)
        weight_cost = mc.weight.numel()
        act_cost = x.shape[1] * x.shape[2] * x.shape[3] + mc.weight.shape[0] * x.shape[2] * x.shape[3]
        if x.shape[0] == 1 and weight_cost < act_cost:
            # Batch 1 at high resolution: modulating the (small) weight beats scaling the (large) activations.
            weight = mc.weight * s[0][None, :, None, None]
            if demod is not None:
                weight = weight * demod[0][:, None, None, None]
            y = FastSynthesis._conv(x, weight, mc)
        else:
            y = FastSynthesis._conv(x * s[:, :, None, None], mc.weight, mc)
            if demod is not None:
                y = y * demod[:, :, None, None]
        return y

    @staticmethod
    def _conv(x: torch.Tensor, weight: torch.Tensor, mc: _ModConv) -> torch.Tensor:
        import torch.nn.functional as F

        if not mc.up:
            return F.conv2d(x, weight, padding=mc.padding)
        # StyleGAN2's upsampling conv: stride-2 transposed conv, then the [1,3,3,1] blur (gain 4) padded by 1.
        y = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)
        c = y.shape[1]
        return F.conv2d(F.pad(y, (1, 1, 1, 1)), _blur_kernel(y.dtype, y.device).expand(c, 1, 4, 4), groups=c)

    def _addend(self, layer: _Styled, strength: float, noise: torch.Tensor | None) -> torch.Tensor:
        base = layer.bias[None, :, None, None]
        n = layer.noise if noise is None else noise.reshape(1, 1, *layer.noise.shape[-2:]).to(self.dtype)
        if strength == 0.0:
            out = base.expand(1, -1, *n.shape[-2:]) if noise is None else base + 0 * n
        else:
            out = n * (layer.noise_gain * strength) + base
        return out.contiguous(memory_format=self.memory_format)

    def addends(self, strength: float, noise: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Noise + bias of every styled conv as one tensor each (cached while strength and noise stay)."""
        key = _NoiseKey(strength, noise)
        if key != self._addend_key or noise is not None and any(n.requires_grad for n in noise):
            layers = self.styled_layers()
            if noise is not None and len(noise) != len(layers):
                raise ValueError(f"expected {len(layers)} noise maps, got {len(noise)}")
            self._addends = [self._addend(l, float(strength), None if noise is None else noise[i])
                             for i, l in enumerate(layers)]
            self._addend_key = key
        return self._addends

    def _styled_forward(self, x: torch.Tensor, w: torch.Tensor, layer: _Styled, addend: torch.Tensor,
                        inplace: bool) -> torch.Tensor:
        import torch.nn.functional as F

        y = self._modulated(x, w, layer.conv)
        if inplace:
            return F.leaky_relu_(y.add_(addend), 0.2)
        return F.leaky_relu(y + addend, 0.2)

    # -- rendering ------------------------------------------------------------------------------------------------
    def render(self, ws: torch.Tensor, noise_strength: float = 1.0, noise: list[torch.Tensor] | None = None,
               *, differentiable: bool = False, stateless: bool = False) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> image [N, 3, R, R] (``noise``: optional per-layer maps replacing "const")."""
        import torch.nn.functional as F

        if ws.dim() != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must be [N, {self.num_ws}, w_dim], got {list(ws.shape)}")
        ws = ws.to(self.dtype)
        n = ws.shape[0]
        inplace = not differentiable
        if stateless or differentiable:
            layers = self.styled_layers()
            add = [self._addend(l, float(noise_strength), None if noise is None else noise[i])
                   for i, l in enumerate(layers)]
        else:
            add = self.addends(noise_strength, noise)
        use_cache = n == 1 and not stateless and not differentiable
        key = _NoiseKey(noise_strength, noise)
        start_step = 0
        if use_cache and self._prev_ws is not None and self._prev_key == key and self._checkpoints:
            changed = (ws[0] != self._prev_ws).any(dim=1).nonzero()
            first_changed = int(changed[0]) if changed.numel() else self.num_ws
            # step 0 reads ws 0-1; block j reads ws 1+2j .. 3+2j: restart at the first step reading a changed w.
            max_index = [1] + [3 + 2 * j for j in range(len(self.blocks))]
            start_step = next((s for s, m in enumerate(max_index) if m >= first_changed), len(max_index))
            start_step = min(start_step, len(self._checkpoints))
        if start_step == 0:
            checkpoints: list[tuple[torch.Tensor, torch.Tensor]] = []
            x = self.const.expand(n, -1, -1, -1)
            x = self._styled_forward(x, ws[:, 0], self.first, add[0], inplace)
            img = self._modulated(x, ws[:, 1], self.first_rgb) + self.first_rgb_bias[None, :, None, None]
            checkpoints.append((x, img))
        else:
            checkpoints = self._checkpoints[:start_step]
            x, img = checkpoints[-1]
        for j in range(max(0, start_step - 1), len(self.blocks)):
            up, conv, rgb, rgb_bias = self.blocks[j]
            x = self._styled_forward(x, ws[:, 1 + 2 * j], up, add[1 + 2 * j], inplace)
            x = self._styled_forward(x, ws[:, 2 + 2 * j], conv, add[2 + 2 * j], inplace)
            img = F.interpolate(img, scale_factor=2, mode="bilinear", align_corners=False)
            img = img + self._modulated(x, ws[:, 3 + 2 * j], rgb) + rgb_bias[None, :, None, None]
            if use_cache:
                checkpoints.append((x, img))
        if use_cache:
            self._checkpoints = checkpoints
            self._prev_ws = ws[0].clone()
            self._prev_key = key
        return img.float()

    def reset_cache(self) -> None:
        self._prev_ws, self._checkpoints = None, []


def images_to_pil(images: torch.Tensor) -> list[Any]:
    """[N, 3, H, W] in about [-1, 1] -> list of 8-bit RGB PIL images."""
    import torch
    from PIL import Image

    arr = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    arr = arr.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    return [Image.fromarray(a) for a in arr]


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
        # The tab writes {summary..., "state": state}; fashionstudio-cli generate before this version wrote the
        # state itself as the settings.
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


__all__ = [
    "Direction", "FastSynthesis", "GenerateState", "LatentSpace", "ModelMismatchError", "StateError",
    "apply_directions", "clamp_range", "directions_from_json", "directions_to_json", "ganspace_directions",
    "images_to_pil", "interpolation_states", "interpolation_ws", "layer_presets", "lattice_seed", "load_directions",
    "parse_json", "save_directions", "sefa_directions", "seed_to_z", "slerp", "state_from_png", "state_summary",
    "truncate", "ws_levels",
]
