"""Training throughput per family at the ``demo`` and ``studio`` presets on this machine.

Prints JSON: for each family and preset, images/s of one full training step (every network's forward and backward,
every optimiser step; StyleGAN2's lazy R1 counted at its 1/r1_interval share), the FLOPs of that step counted with
torch.utils.flop_counter, the GFLOP/s achieved, and that as a fraction of a float32 matmul peak measured in the
same run (the best of several 1024×1024 matmuls on the same threads). One batch of the family's own synthetic atelier
data, read once by its real reader, is reused for every step, so the number is the trainer's, not the data reader's.

    python benchmarks/train_throughput.py [--families pgpg,cyclegan] [--presets demo] [--steps 3]
        [--precision fp32,bf16] [--channels-last false,true]

Each precision / memory-format variant is a row of its own, measured right after the others of the same family,
with ``speedup_vs_first`` against the first variant of that family (fp32, contiguous by default) and the bf16
matmul peak beside the fp32 one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fashionstudio.core import registry  # noqa: E402
from training.config import load_config  # noqa: E402
from training.trainers import get_trainer  # noqa: E402
from training.trainers.batches import fixed_batch  # noqa: E402
from training.trainers.data_adapter import family_dataset  # noqa: E402

# Every family a run can train on generated data (the upscaler reads a folder of pictures).
FAMILIES = tuple(f.name for f in registry.families() if f.trainer is not None and f.atelier_kind is not None)


def matmul_peak_gflops(n: int = 1024, repeats: int = 12, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats if dtype == torch.float32 else 3):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


class FlopCount(TorchDispatchMode):
    """Sums FLOPs of matmuls and convolutions (torch.utils.flop_counter's formulas) without module tracking, which
    breaks on StyleGAN2's no-grad generator pass."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def measure(family: str, preset: str, steps: int, tmp: Path, precision: str = "fp32",
            channels_last: bool = False) -> dict:
    run = tmp / f"{family}-{preset}-{precision}-{channels_last}"
    run.mkdir(parents=True, exist_ok=True)
    data = tmp / f"data-{family}-{preset}"  # shared by the variants of one family and preset
    (run / "config.toml").write_text(f'family = "{family}"\npreset = "{preset}"\ndevice = "cpu"\n'
                                     f'precision = "{precision}"\nchannels_last = {str(channels_last).lower()}\n'
                                     f'[data]\nkind = "atelier"\npath = "{data.as_posix()}"\nsize = 24\n')
    cfg = load_config(run)
    cfg.data.size = max(cfg.data.size, 2 * cfg.batch_size)  # a whole batch of distinct training items
    trainer = get_trainer(family)(cfg, torch.device("cpu"))
    dataset = family_dataset(cfg, run, "train", trainer.arch)
    if len(dataset) < cfg.batch_size:
        raise SystemExit(f"{family}: the atelier's training split has {len(dataset)} items, fewer than a batch.")
    batch = trainer.to_device(fixed_batch(dataset, cfg.batch_size, cfg.seed))
    r1 = trainer.cfg.loss.get("r1_interval")  # lazy R1 (StyleGAN2): every r1_interval-th step is dearer
    # Step 0 is a warm-up; StyleGAN2's steps then skip R1 (step % interval != 0) except where counted below.
    trainer.step = 1
    trainer.train_step(batch)
    with FlopCount() as counter:
        trainer.train_step(batch)
    flops = counter.total
    # Each step timed alone; the fastest is the least disturbed by other processes sharing the CPU, and the
    # median says what a run sees on a busy machine.
    times = []
    for _ in range(steps):
        trainer.step += 1
        t = time.perf_counter()
        trainer.train_step(batch)
        times.append(time.perf_counter() - t)
    times.sort()
    seconds, median = times[0], times[len(times) // 2]
    if r1:  # add the amortised cost of one R1 step
        trainer.step = 0
        t = time.perf_counter()
        trainer.train_step(batch)
        r1_seconds = time.perf_counter() - t
        trainer.step = 0
        with FlopCount() as counter:
            trainer.train_step(batch)
        r1_flops = counter.total
        seconds = seconds + max(0.0, r1_seconds - seconds) / r1
        median = median + max(0.0, r1_seconds - median) / r1
        flops = flops + (r1_flops - flops) / r1
    params = {k: sum(p.numel() for p in v.parameters()) for k, v in trainer.nets.items()}
    return {"family": family, "preset": preset, "precision": trainer.precision,
            "channels_last": trainer.channels_last, "resolution": trainer.arch["resolution"],
            "batch_size": cfg.batch_size, "seconds_per_step": round(seconds, 4),
            "images_per_s": round(cfg.batch_size / seconds, 2),
            "images_per_s_median": round(cfg.batch_size / median, 2), "gflop_per_step": round(flops / 1e9, 3),
            "gflops": round(flops / seconds / 1e9, 2), "parameters_M": {k: round(v / 1e6, 3) for k, v in params.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--presets", default="demo,studio")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--precision", default="fp32", help="comma-separated: fp32, bf16, auto")
    p.add_argument("--channels-last", default="false", help="comma-separated: false, true")
    args = p.parse_args()
    variants = [(prec, cl == "true") for prec in args.precision.split(",") for cl in args.channels_last.split(",")]
    import tempfile

    torch.manual_seed(0)
    rows = []
    peaks = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.presets.split(","):
            for family in args.families.split(","):
                first = None
                for precision, channels_last in variants:
                    # The peak is measured right before each row (best of several), as the denominator.
                    peak = matmul_peak_gflops()
                    peaks.append(peak)
                    row = measure(family, preset, args.steps, Path(tmp), precision, channels_last)
                    row["matmul_peak_gflops"] = round(peak, 1)
                    row["fraction_of_matmul_peak"] = round(row["gflops"] / peak, 3)
                    if row["precision"] == "bf16":
                        bf16_peak = matmul_peak_gflops(dtype=torch.bfloat16)
                        row["bf16_matmul_peak_gflops"] = round(bf16_peak, 1)
                        row["fraction_of_bf16_matmul_peak"] = round(row["gflops"] / bf16_peak, 3)
                    first = first or row
                    row["speedup_vs_first"] = round(first["seconds_per_step"] / row["seconds_per_step"], 3)
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr)
    print(json.dumps({"torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                      "matmul_peak_gflops_max": round(max(peaks), 1), "results": rows}, indent=1))


if __name__ == "__main__":
    main()
