"""``python -m training export RUN_DIR [--out FILE] [--checkpoint best|latest|PATH] [--name NAME]``.

Writes the app model file (:mod:`fashionstudio.core.modelfile`) of a run: only the family's
``INFERENCE_NETWORKS``, with the EMA weights where the run kept an EMA copy, and in the metadata the architecture
config, the run's training config, how long it trained and its last metrics. The app loads the file directly.
By default the best checkpoint is exported (``checkpoints/best.pt``), or the newest when there is no best.
The checkpoint's checksum is verified first. Plug-in modules stored in the checkpoint's config are never imported
for a built-in family, and for a plug-in family only with ``--allow-plugins``: a checkpoint is untrusted input.
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
    p.add_argument("--allow-plugins", action="store_true",
                   help="import the plug-in modules a plug-in family's checkpoint names (trusted runs only)")
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


def _plugin_family(family: str, plugins: Any, path: Path, allow_plugins: bool) -> None:
    """Make a plug-in ``family`` known, importing the checkpoint's plug-ins only with consent."""
    from fashionstudio.core import registry
    from training.config import ConfigError
    from training.runner import import_plugins

    if family in registry.known_families():
        return  # a built-in (or already imported) family needs no plug-in code
    if not isinstance(plugins, list):
        plugins = []
    try:
        import_plugins(plugins, allow_plugins)
    except ConfigError as exc:
        raise ValueError(f"'{path.name}' is a checkpoint of the plug-in family '{family}': {exc}") from None
    if family not in registry.known_families():
        raise ValueError(f"'{path.name}' is a checkpoint of the family '{family}', which neither FashionStudio "
                         "nor its plug-ins define.")


def export_run(run_dir: str | Path, out: str | Path | None = None, which: str = "best",
               name: str | None = None, licence: str = "unspecified", allow_plugins: bool = False) -> Path:
    """Export a run's checkpoint as an app model file; return the file's path."""
    from fashionstudio.core import registry
    from fashionstudio.core.modelfile import save_model_file
    from training import checkpoint as ckpt
    from training.trainers.checkpoints import CHECKPOINT_FORMAT
    from training.trainers.trainer import family_module

    run_dir = Path(run_dir)
    path = pick_checkpoint(run_dir, which)
    try:
        state = ckpt.load_checkpoint(path)
    except ckpt.CheckpointDamaged as exc:
        fallback, state, _ = ckpt.newest_verified(run_dir) if which in ("best", "latest") else (None, None, [])
        if fallback is None or state is None:
            raise
        print(f"warning: {exc} Exporting '{fallback.name}' instead, the newest checkpoint that verifies.",
              file=sys.stderr)
        path = fallback
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"'{path}' is not a FashionStudio training checkpoint.")
    family, arch, cfg = state["family"], state["arch"], state["config"]
    if not isinstance(family, str) or not isinstance(arch, dict) or not isinstance(cfg, dict):
        raise ValueError(f"'{path}' is not a FashionStudio training checkpoint.")
    _plugin_family(family, cfg.get("plugins"), path, allow_plugins)
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
    written = save_model_file(out, family, nets, arch, resolution=resolution,
                              name=name or f"{family} {cfg.get('preset', '')} ({run_dir.name}, step {step})",
                              training=training, metrics=dict(state.get("metrics") or {}), licence=licence,
                              extra=extra)
    _store_familiarity(written, family, cfg, {**arch, "resolution": resolution}, run_dir)
    return written


def _store_familiarity(path: Path, family: str, cfg: dict[str, Any], arch: dict[str, Any], run_dir: Path) -> None:
    """Store the training inputs' statistics in the file (the app flags photos unlike them); a run whose data is
    gone still exports, with a note on stderr."""
    from fashionstudio.core import registry
    from training.familiarity import measure, store_in_model_file

    if not registry.family(family).roles:
        return  # no declared input roles to describe (the upscaler, test plug-ins)
    try:
        store_in_model_file(path, measure(family, cfg, arch, run_dir))
    except Exception as exc:  # noqa: BLE001 - the model file is already written and usable without them
        print(f"note: {path.name} carries no statistics of its training pictures, so the app will not flag "
              f"unfamiliar photos ({exc}). Add them later with 'python -m training familiarity {path}'.",
              file=sys.stderr)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    try:
        out = export_run(args.run_dir, args.out, args.checkpoint, args.name, args.licence, args.allow_plugins)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0
