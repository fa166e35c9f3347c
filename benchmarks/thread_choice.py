"""Does the app's thread tuner give each demo model the faster of one and N intra-op threads?

For every family's demo preset, the batch-1 call a tool tab makes (benchmarks/model_inference.py's) is timed at
one thread, at N threads (the machine's core count) and through :class:`fashionstudio.core.thread_tuner.ThreadTuner`
exactly as the interactive worker uses it (its trial requests included). The three take turns, so load from other
processes hits them alike. Prints JSON; ``tuned_vs_best`` = tuned median ms / the better fixed setting's median
(1.0 = the tuner found the better setting; its first ``trials x candidates`` requests are counted separately).

    OMP_WAIT_POLICY=PASSIVE python benchmarks/thread_choice.py [--repeats 20] [--families pgpg,stylegan2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model_inference import _inference_call, _module  # noqa: E402

from fashionstudio.core.thread_tuner import ThreadTuner, default_candidates  # noqa: E402


def bench(family: str, repeats: int) -> dict:
    mod = _module(family)
    cfg = mod.PRESETS["demo"]
    torch.manual_seed(0)
    nets = {k: v.eval() for k, v in mod.build(cfg, which=mod.INFERENCE_NETWORKS).items()}
    call = _inference_call(family, nets, cfg, channels_last=False)
    cands = default_candidates()
    tuner = ThreadTuner(cands)
    fixed: dict[int, list[float]] = {n: [] for n in cands}
    tuned: list[float] = []
    trial: list[float] = []
    with torch.inference_mode():
        for n in cands:  # warm-up at each count
            torch.set_num_threads(n)
            call(), call()
        for _ in range(repeats):
            for n in cands:
                torch.set_num_threads(n)
                t0 = time.perf_counter()
                call()
                fixed[n].append((time.perf_counter() - t0) * 1000)
            measuring = tuner.chosen("m") is None
            t0 = time.perf_counter()
            with tuner.run("m"):
                call()
            (trial if measuring else tuned).append((time.perf_counter() - t0) * 1000)
    med = {n: statistics.median(v) for n, v in fixed.items()}
    best = min(med, key=med.get)
    out = {"ms_by_threads": {str(n): round(v, 2) for n, v in med.items()}, "better_fixed": best,
           "tuner_chose": tuner.chosen("m"), "tuned_ms": round(statistics.median(tuned), 2) if tuned else None,
           "trial_requests": len(trial), "trial_ms_median": round(statistics.median(trial), 2)}
    out["tuned_vs_best"] = round(out["tuned_ms"] / med[best], 3) if tuned else None
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--families", default="pgpg,posewarp,pixeldtgan,cyclegan,munit,stylegan2,upscale")
    args = p.parse_args()
    report = {"benchmark": "thread_choice", "cpu_count": os.cpu_count(), "candidates": list(default_candidates()),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
              "load_average_1min_start": round(os.getloadavg()[0], 2), "results": {}}
    for family in args.families.split(","):
        report["results"][family] = bench(family, args.repeats)
        print(family, json.dumps(report["results"][family]), file=sys.stderr)
    report["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
