"""``python -m training export RUN_DIR [--out FILE] [--checkpoint best|latest|PATH] [--name NAME]``.

Writes the app model file (:mod:`fashionstudio.core.modelfile`) of a run: only the family's
``INFERENCE_NETWORKS``, with the EMA weights where the run kept an EMA copy, and in the metadata the architecture
config, the run's training config, how long it trained and its last metrics. The app loads the file directly.
By default the best checkpoint is exported (``checkpoints/best.pt``), or the newest when there is no best.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_NAME = "model.safetensors"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training export", description="Write the app model file of a run.")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help=f"model file to write (default RUN_DIR/{DEFAULT_NAME})")
    p.add_argument("--checkpoint", default="best", help="best (default), latest, or a checkpoint file")
    p.add_argument("--name", default=None, help="the model's name shown in the app")
    p.add_argument("--licence", default="unspecified", help="licence text stored in the model file")
    return p


def pick_checkpoint(run_dir: Path, which: str) -> Path:
    from training import checkpoint as ckpt

    if which not in ("best", "latest"):
        path = Path(which)
        if not path.is_file():
            raise FileNotFoundError(f"There is no checkpoint file '{path}'.")
        return path
    best = run_dir / ckpt.CHECKPOINT_DIR / ckpt.BEST
    if which == "best" and best.is_file():
        return best
    latest = ckpt.latest_checkpoint(run_dir)
    if latest is None:
        raise FileNotFoundError(f"'{run_dir}' has no checkpoint yet: train it first with "
                                f"'python -m training run {run_dir}'.")
    return latest


def export_run(run_dir: str | Path, out: str | Path | None = None, which: str = "best",
               name: str | None = None, licence: str = "unspecified") -> Path:
    """Export a run's checkpoint as an app model file; return the file's path."""
    from fashionstudio.core import registry
    from fashionstudio.core.modelfile import save_model_file
    from training import checkpoint as ckpt
    from training.trainers.base import CHECKPOINT_FORMAT, family_module

    run_dir = Path(run_dir)
    path = pick_checkpoint(run_dir, which)
    state = ckpt.load_checkpoint(path)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"'{path}' is not a FashionStudio training checkpoint.")
    family, arch, cfg = state["family"], state["arch"], state["config"]
    for plugin in cfg.get("plugins", []):
        __import__(plugin)
    module = family_module(family)
    names = list(getattr(module, "INFERENCE_NETWORKS", state["trainer"]["networks"].keys()))
    nets = registry.build_networks(family, arch, which=names)
    for net_name, net in nets.items():
        weights = state["trainer"]["ema"].get(net_name) or state["trainer"]["networks"][net_name]
        net.load_state_dict(weights)
    step = int(state["step"])
    training: dict[str, Any] = {
        "steps": step, "checkpoint": path.name, "ema": sorted(state["trainer"]["ema"]),
        "dataset": cfg.get("data", {}), "config": cfg,
        "images_seen": step * int(cfg.get("batch_size", 0)),
    }
    extra_fn = getattr(module, "inference_extra", None)
    extra = extra_fn(arch) if callable(extra_fn) else {}
    resolution = int(arch.get("resolution") or cfg.get("resolution") or 0)
    out = Path(out) if out else run_dir / DEFAULT_NAME
    return save_model_file(out, family, nets, arch, resolution=resolution,
                           name=name or f"{family} {cfg.get('preset', '')} ({run_dir.name}, step {step})",
                           training=training, metrics=dict(state.get("metrics") or {}), licence=licence,
                           extra=extra)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    try:
        out = export_run(args.run_dir, args.out, args.checkpoint, args.name, args.licence)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0
