"""What checkpoint checksums cost: saving and loading a family trainer's full state with and without them.

Prints one JSON object per family preset:

- ``state_mb``: the size of the checkpoint file;
- ``save_ratio``: :func:`training.checkpoint.atomic_save` (checksum + fsync + rename) over the same atomic save
  with the checksum left out (what saving cost before checksums);
- ``load_ratio``: :func:`training.checkpoint.verify` (weights-only load, checksum recomputed, finite check) over a
  plain ``torch.load(weights_only=True)``.

Ratios, not seconds, because the machine is shared. Usage:
``python benchmarks/checkpoint_integrity.py [--family stylegan2] [--preset studio] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def _state(family: str, preset: str) -> dict:
    """A checkpoint-shaped state: the family's networks and an Adam state as large as after one step."""
    from fashionstudio.core import registry
    from training.trainers.trainer import family_module

    arch = dict(getattr(family_module(family), "PRESETS")[preset])
    nets = registry.build_networks(family, arch)
    optimizers = {}
    for name, net in nets.items():
        opt = torch.optim.Adam(net.parameters())
        for p in net.parameters():
            p.grad = torch.zeros_like(p)
        opt.step()
        optimizers[name] = opt.state_dict()
    return {"format": "fashionstudio-checkpoint", "family": family, "step": 1, "arch": arch,
            "trainer": {"networks": {k: v.state_dict() for k, v in nets.items()}, "ema": {},
                        "optimizers": optimizers}}


def _best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from training import checkpoint as ckpt

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="stylegan2")
    p.add_argument("--preset", default="studio")
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.manual_seed(0)
    state = _state(args.family, args.preset)
    with tempfile.TemporaryDirectory() as folder:
        plain, checked = Path(folder) / "plain.pt", Path(folder) / "checked.pt"
        digest = ckpt.payload_digest
        ckpt.payload_digest = lambda _state: "sha256:none"  # the atomic save as it was before checksums
        save_plain = _best(lambda: ckpt.atomic_save(state, plain), args.repeats)
        ckpt.payload_digest = digest
        save_checked = _best(lambda: ckpt.atomic_save(state, checked), args.repeats)
        load_plain = _best(lambda: torch.load(plain, map_location="cpu", weights_only=True), args.repeats)
        load_checked = _best(lambda: ckpt.verify(checked), args.repeats)
        size = checked.stat().st_size
    print(json.dumps({"family": args.family, "preset": args.preset, "state_mb": round(size / 2**20, 1),
                      "save_ratio": round(save_checked / save_plain, 2),
                      "load_ratio": round(load_checked / load_plain, 2)}))


if __name__ == "__main__":
    main()
