"""``python -m training familiarity MODEL_FILE [--out FILE]``: measure what a model's inputs looked like in training.

The statistics (see :mod:`fashionstudio.core.familiarity`) come from the training split of the model's own
dataset, as its metadata names it (a generated atelier dataset is regenerated, deterministically, in a scratch
folder), and the threshold from out-of-sample scores (its held-out split, and the training split cross-fitted).
``training export`` stores them in the model file's header; this command writes them as a sidecar
``<model>.familiarity.json`` for a file exported before that (the shipped demo models, whose checksums their
cards quote, are never rewritten).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashionstudio.core import familiarity as fam
from fashionstudio.core import registry

MAX_FIT, MAX_HELD_OUT = 4000, 2000


def role_inputs(dataset: Any, family: str, limit: int) -> dict[str, torch.Tensor]:
    """Up to ``limit`` inputs per role (float tensors in [-1, 1]) from a family dataset."""
    keys = registry.family(family).role_keys  # input role -> the dataset item key holding it
    out: dict[str, list[torch.Tensor]] = {role: [] for role in keys}
    seen: dict[str, set[int]] = {role: set() for role in keys}
    for i in range(min(len(dataset), limit)):
        item = dataset[i]
        for role, key in keys.items():
            index = item.get(f"{key}_index") if isinstance(item, dict) else None
            if index is not None and int(index) in seen[role]:
                continue  # unpaired datasets repeat the shorter side
            if index is not None:
                seen[role].add(int(index))
            value = item[key] if isinstance(item, dict) else item
            out[role].append(torch.as_tensor(value).float())
    return {role: torch.stack(v) for role, v in out.items() if v}


def learned_from(family: str, role: str, data: dict[str, Any]) -> str:
    """A designer's words for the pictures a model was trained on."""
    kind = str(data.get("kind") or "atelier")
    if kind == "atelier":
        return fam.ATELIER_WORDS[role]
    name = Path(str(data.get("path") or "")).name
    return f"the {kind} dataset{f' {name!r}' if name else ''}"


def _features(net: fam.FeatureNet, images: torch.Tensor, batch: int = 256) -> np.ndarray:
    return np.concatenate([net.tensor_features(images[i:i + batch]) for i in range(0, len(images), batch)])


def measure(family: str, run_cfg: dict[str, Any], arch: dict[str, Any], data_root: Path,
            features: fam.FeatureNet | None = None, model_sha256: str | None = None,
            log: Any = None) -> fam.FamiliarityStats:
    """Statistics of every input role of a ``family`` model trained with ``run_cfg``: fitted on the training
    split, threshold calibrated on the held-out split. ``data_root`` is the run folder (its atelier cache)."""
    from training.config import config_from_dict
    from training.trainers.data_adapter import family_dataset

    raw = {k: v for k, v in run_cfg.items() if v is not None}  # saved configs keep unset keys as None
    raw.update(family=family, resolution=int(arch.get("resolution") or raw.get("resolution") or 64))
    cfg = config_from_dict(raw, source="the model's training config")
    features = features or fam.FeatureNet()
    fit = role_inputs(family_dataset(cfg, data_root, "train", arch=arch), family, MAX_FIT)
    held = role_inputs(family_dataset(cfg, data_root, "test", arch=arch), family, MAX_HELD_OUT)
    roles = {}
    for role, images in fit.items():
        held_out = _features(features, held[role]) if role in held else np.zeros((0, features.net.dim))
        ref = fam.ReferenceStats.fit_calibrated(_features(features, images), held_out,
                                                learned_from(family, role, raw.get("data", {})))
        if log:
            log(f"{role}: {len(images)} training and {len(held_out)} held-out inputs, threshold {ref.threshold:.2f}")
        roles[role] = ref
    return fam.FamiliarityStats(family, roles, features.sha256, model_sha256)


def measure_model_file(path: str | Path, scratch: Path | None = None, log: Any = None) -> fam.FamiliarityStats:
    """Statistics for an exported model file, from the training data its metadata names."""
    from fashionstudio.core.modelfile import file_sha256, read_model_info

    path = Path(path)
    meta = read_model_info(path)
    run_cfg = (meta.get("training") or {}).get("config")
    if not run_cfg:
        raise ValueError(f"'{path.name}' does not record its training config, so its training pictures are unknown.")
    arch = {**meta["config"], "resolution": meta["resolution"]}
    with tempfile.TemporaryDirectory(prefix="familiarity_") as tmp:
        root = Path(scratch) if scratch else Path(tmp)
        return measure(meta["family"], run_cfg, arch, root, model_sha256=file_sha256(path), log=log)


def store_in_model_file(path: str | Path, stats: fam.FamiliarityStats) -> Path:
    """Add ``stats`` to a model file's header (entry ``fashionstudio_familiarity``), rewriting it atomically; the
    weights and the ``fashionstudio`` entry are kept as they are."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from fashionstudio.core.atomic import atomic_write

    path = Path(path)
    with safe_open(str(path), framework="pt", device="cpu") as f:
        metadata = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    stats = fam.FamiliarityStats(stats.family, stats.roles, stats.features_sha256)  # the file needs no checksum
    metadata[fam.HEADER_KEY] = stats.dumps()
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path


def write_sidecar(stats: fam.FamiliarityStats, path: Path) -> Path:
    from fashionstudio.core.atomic import atomic_write

    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(stats.to_json(), indent=1), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m training familiarity",
                                description="Write the familiarity statistics of a model file as a sidecar.")
    p.add_argument("model")
    p.add_argument("--out", default=None, help="sidecar to write (default MODEL's <name>.familiarity.json)")
    p.add_argument("--data-dir", default=None, help="keep the regenerated atelier data here (default: temporary)")
    args = p.parse_args(argv[1:])
    try:
        stats = measure_model_file(args.model, Path(args.data_dir) if args.data_dir else None,
                                   log=lambda s: print(s, file=sys.stderr))
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(write_sidecar(stats, Path(args.out) if args.out else fam.sidecar_path(args.model)))
    return 0
