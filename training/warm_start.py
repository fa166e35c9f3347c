"""Warm start: a new run's networks begin from weights trained elsewhere (config ``[init]``).

    [init]
    from = "resources/models/match.safetensors"    # every network that file holds
    G_BA = "runs/other/checkpoints/step_00006000.pt"  # one network from another source (wins over ``from``)

A source is an app model file (``.safetensors``: the inference networks, loaded without unpickling) or a run
checkpoint (``.pt``: every network, including discriminators; loaded with ``weights_only``). Only a fresh run
(``python -m training run``) is warm-started: ``resume`` continues from the run's own checkpoint. Each loaded
network is checked for the same architecture (every tensor name and shape) before any weight is copied, so a
mismatch fails the run with a sentence and leaves no half-loaded network behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.config import ConfigError

FROM = "from"


def _read_source(path: Path) -> dict[str, dict[str, torch.Tensor]]:
    """{network name: state dict} of a model file or a run checkpoint."""
    if not path.is_file():
        raise ConfigError(f"[init]: there is no file at '{path}'.")
    if path.suffix == ".safetensors":
        from fashionstudio.core.modelfile import ModelFileError, load_model_file

        try:
            model = load_model_file(path)
        except ModelFileError as exc:
            raise ConfigError(f"[init]: '{path.name}' cannot be used: {exc}") from None
        return {name: net.state_dict() for name, net in model.networks.items()}
    from training.checkpoint import load_checkpoint

    try:
        state = load_checkpoint(path)
        return dict(state["trainer"]["networks"])
    except Exception as exc:  # torch raises many types for foreign or damaged files
        raise ConfigError(f"[init]: '{path.name}' is neither a FashionStudio model file nor a run checkpoint "
                          f"({type(exc).__name__}).") from None


def _shown(path: Path, run_dir: Path) -> str:
    """The path as the notes show it: relative to the run folder when inside it (two runs' step files share names)."""
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)


def plan(init: dict[str, str], networks: dict[str, nn.Module], run_dir: Path) -> dict[str, Path]:
    """Network name -> source file, with ``from`` expanded and explicit entries winning; unknown names refused."""
    unknown = sorted(set(init) - set(networks) - {FROM})
    if unknown:
        raise ConfigError(f"[init] names {', '.join(map(repr, unknown))}, which this family does not have "
                          f"(it has: {', '.join(networks)}; or use '{FROM}' for all).")
    def resolve(p: str) -> Path:
        return Path(p) if Path(p).is_absolute() else run_dir / p

    out = {name: resolve(path) for name, path in init.items() if name != FROM}
    if FROM in init:
        out = {name: resolve(init[FROM]) for name in networks} | out
    return out


def warm_start(networks: dict[str, nn.Module], init: dict[str, str], run_dir: Path,
               ema: dict[str, nn.Module] | None = None) -> list[str]:
    """Load the weights ``init`` names into ``networks`` (and their EMA copies); returns one note per network.

    With ``from``, networks the file does not hold (a model file has no discriminators) keep their fresh
    initialisation and say so in the notes."""
    if not init:
        return []
    wanted = plan(init, networks, run_dir)
    sources: dict[Path, dict[str, Any]] = {}
    loads: dict[str, dict[str, torch.Tensor]] = {}
    notes: list[str] = []
    for name, path in wanted.items():
        if path not in sources:
            sources[path] = _read_source(path)
        held = sources[path]
        if name not in held:
            if FROM in init and name not in init:
                notes.append(f"{name}: not in {_shown(path, run_dir)}, starts fresh")
                continue
            raise ConfigError(f"[init] {name}: '{path.name}' has no network '{name}' (it has: {', '.join(held)}).")
        mine = networks[name].state_dict()
        theirs = held[name]
        bad = [k for k in mine if k not in theirs or tuple(theirs[k].shape) != tuple(mine[k].shape)]
        extra = sorted(set(theirs) - set(mine))
        if bad or extra:
            first = (bad or extra)[0]
            raise ConfigError(f"[init] {name}: '{path.name}' holds a network of another architecture "
                              f"({len(bad)} tensors missing or of another shape, {len(extra)} extra; first: "
                              f"'{first}'). Use the same preset and [arch] as the run that made it.")
        loads[name] = theirs
        notes.append(f"{name}: weights from {_shown(path, run_dir)}")
    for name, state in loads.items():  # copy only after every network was checked
        networks[name].load_state_dict(state)
        if ema and name in ema:
            ema[name].load_state_dict(state)
    return notes
