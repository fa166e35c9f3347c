"""Pluggable feature extractors and the on-disk feature cache.

An extractor is a callable ``images -> (features, probs)``: images are an NCHW float batch in [−1, 1], features
an (N, dim) float tensor and probs an (N, classes) tensor of class probabilities (for the Inception Score). It also
has ``name`` (a short id that includes the weights' hash, used as a cache key) and ``info`` (a JSON-able description
written into every report, so a number always says which network produced it).

Specs understood by :func:`get_extractor` (the ``--features`` option):

- ``inception:FILE``: Inception-v3 pool3 features (2048-d) from the weights file at FILE (see ``inception.py``);
- ``atelier`` or ``atelier:FILE``: the small CNN trained on synthetic atelier attributes (see
  ``atelier_features.py``), by default ``resources/features/atelier_features.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from fashionstudio.core.atomic import atomic_write

CACHE_ENV = "FASHIONSTUDIO_FEATURE_CACHE"


class FeatureExtractor(Protocol):
    name: str
    dim: int
    info: dict[str, Any]

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]: ...


def get_extractor(spec: str, device: str | torch.device = "cpu") -> FeatureExtractor:
    """Build the extractor named by ``spec`` (``inception:FILE``, ``atelier`` or ``atelier:FILE``)."""
    kind, _, arg = spec.partition(":")
    if kind == "inception":
        if not arg:
            raise ValueError(
                "--features inception needs the weights file: --features inception:PATH/TO/pt_inception-2015-12-05"
                "-6726825d.pth (FashionStudio never downloads it)."
            )
        from training.metrics.inception import InceptionFeatures

        return InceptionFeatures(arg, device=device)
    if kind == "atelier":
        from training.metrics.atelier_features import AtelierFeatures

        return AtelierFeatures(arg or None, device=device)
    raise ValueError(f"unknown feature extractor '{spec}': use 'inception:FILE' or 'atelier'.")


@torch.no_grad()
def extract_all(extractor: FeatureExtractor, batches: Iterable[Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Run ``extractor`` over image batches; return all features and probabilities as float32 arrays."""
    feats, probs = [], []
    for images in batches:
        f, p = extractor(images)
        feats.append(f.numpy())
        probs.append(p.numpy())
    if not feats:
        raise ValueError("no images were given to the feature extractor.")
    return np.concatenate(feats).astype(np.float32), np.concatenate(probs).astype(np.float32)


def default_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fashionstudio" / "features"


def _dataset_fingerprint(path: Path) -> dict[str, Any]:
    """Path plus size/mtime of the dataset root and its direct entries: a changed dataset misses the cache."""
    path = path.resolve()
    if not path.exists():
        return {"path": str(path)}
    entries = [path] + (sorted(path.iterdir()) if path.is_dir() else [])
    stamp = hashlib.sha256()
    for entry in entries[:10000]:
        st = entry.stat()
        stamp.update(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return {"path": str(path), "stamp": stamp.hexdigest()[:16]}


def cache_key(dataset_path: str | Path, extractor_name: str, n: int, **extra: Any) -> dict[str, Any]:
    """The JSON-able key of a real feature set: dataset (path and fingerprint), extractor, sample count, extras."""
    return {"dataset": _dataset_fingerprint(Path(dataset_path)), "extractor": extractor_name, "n": int(n), **extra}


def _cache_file(key: dict[str, Any], cache_dir: str | Path | None) -> tuple[Path, str]:
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    text = json.dumps(key, sort_keys=True)
    return directory / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.npz", text


def read_cache(key: dict[str, Any], cache_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached ``(features, probs)`` of ``key``, or None (missing, damaged, or a hash collision)."""
    target, text = _cache_file(key, cache_dir)
    if not target.exists():
        return None
    try:
        with np.load(target, allow_pickle=False) as data:
            if str(data["key"]) == text:
                return data["features"], data["probs"]
    except (OSError, ValueError, KeyError):
        pass  # a damaged entry is recomputed and replaced
    return None


def write_cache(key: dict[str, Any], feats: np.ndarray, probs: np.ndarray, cache_dir: str | Path | None = None) -> Path:
    """Store a feature set atomically (temp file, then rename): a killed evaluation never leaves a torn entry."""
    target, text = _cache_file(key, cache_dir)
    with atomic_write(target, suffix=".tmp.npz") as tmp:  # np.savez would append .npz to any other name
        np.savez(tmp, features=feats, probs=probs, key=np.array(text))
    return target


def cached_features(
    key: dict[str, Any],
    compute: Callable[[], tuple[np.ndarray, np.ndarray]],
    cache_dir: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return ``(features, probs, hit)`` for ``key``: from the cache when present, else computed and stored.
    Files are ``.npz`` read with ``allow_pickle=False``."""
    found = read_cache(key, cache_dir)
    if found is not None:
        return found[0], found[1], True
    feats, probs = compute()
    write_cache(key, feats, probs, cache_dir)
    return feats, probs, False
