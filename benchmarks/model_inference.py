"""Single-image CPU inference time of every family's inference networks at the demo and studio presets.

Prints one JSON object. Times are medians over interleaved repeats (the variants of one model take turns, so load
from other processes hits them alike) and are also given as a ratio to a baseline fp32 matmul measured in the same
run, which makes numbers from different machines or loads comparable. Variants tried per model:

- ``no_grad``: fp32, ``torch.no_grad()`` (the reference);
- ``inference_mode``: fp32, ``torch.inference_mode()``;
- ``inference_mode+channels_last``;
- ``inference_mode+bf16``: ``torch.autocast("cpu", torch.bfloat16)``;
- ``inference_mode+channels_last+bf16``.

Usage: ``python benchmarks/model_inference.py [--repeats 15] [--threads 1,2] [--families pgpg,stylegan2]
[--presets demo,studio]``. Results are keyed ``family/preset/threads=N``.

On a machine where other processes compete for the cores, two intra-op threads can be several times slower
than one: every op ends in an OpenMP barrier that waits for a descheduled sibling thread. Running with
``OMP_WAIT_POLICY=PASSIVE`` in the environment (read once, at start-up) removes most of that; the JSON records
the policy and the load average so runs can be compared.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

from fashionstudio.core import registry

VARIANTS = (
    ("no_grad", False, False, False),
    ("inference_mode", True, False, False),
    ("inference_mode+channels_last", True, True, False),
    ("inference_mode+bf16", True, False, True),
    ("inference_mode+channels_last+bf16", True, True, True),
)
MATMUL_N = 1024  # 2 * 1024^3 = 2.15 GFLOP per baseline call


def _module(family: str) -> object:
    import importlib

    return importlib.import_module(registry.get_builder(family).__module__)


def _inference_call(family: str, nets: dict, cfg: dict, channels_last: bool) -> Callable[[], torch.Tensor]:
    """The call a tool tab makes for one image, on fixed random inputs."""
    r = cfg["resolution"]
    torch.manual_seed(1)  # every variant gets the same inputs, so their outputs can be compared
    fmt = torch.channels_last if channels_last else torch.contiguous_format

    def image(c: int = 3) -> torch.Tensor:
        return torch.rand(1, c, r, r).mul(2).sub(1).contiguous(memory_format=fmt)

    if family == "pgpg":
        src, pose = image(), torch.rand(1, cfg["pose_channels"], r, r).contiguous(memory_format=fmt)
        g1, g2 = nets["G1"], nets["G2"]
        return lambda: g2(src, g1(src, pose))  # coarse then refined: what the Pose tab shows
    if family == "posewarp":
        import numpy as np

        from fashionstudio.core.pose_transfer import default_target_pose, heatmap_sigma
        from fashionstudio.core.poses import render_heatmaps

        kp = default_target_pose(1.0) * r - 0.5
        src = image()
        heat = [torch.from_numpy(render_heatmaps(k.astype(np.float32), r, heatmap_sigma(r)))[None]
                .contiguous(memory_format=fmt) for k in (kp, kp + np.float32(r / 16))]
        return lambda: nets["G"](src, heat[0], heat[1])  # the warp, the decoder and the blend: one drag step
    if family == "pixeldtgan":
        x = image()
        return lambda: nets["G"](x)
    if family == "flatwarp":
        x = image()
        return lambda: nets["G"].parts(x)["output"]  # the Extract tab's call (it reads the predicted mask too)
    if family == "cyclegan":
        x = image()
        return lambda: nets["G_AB"](x)
    if family == "munit":
        x, src, tgt = image(), nets["G_A"], nets["G_B"]
        codes = torch.randn(8, src.content_dim)  # the Match tab's pool of candidate shapes

        def translate() -> torch.Tensor:
            mu, _, style = src.encode(x)
            outs = tgt.decode(codes, style.expand(8, -1))
            return src.decode(mu.expand(8, -1), tgt.style(outs))  # with the round trip that ranks them
        return translate
    if family == "stylegan2":
        g = nets["G"]
        with torch.no_grad():
            ws = g.broadcast(g.mapping(torch.randn(1, g.z_dim)))
        return lambda: g.synthesis(ws, noise_mode="const")  # what a slider move re-runs
    if family == "upscale":
        x = image()
        return lambda: nets["G"](x)  # 64 -> 256 px (x4 presets): the settled result's sharpening step
    raise ValueError(family)


def _time_once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000.0


def _matmul_ms() -> float:
    a = torch.randn(MATMUL_N, MATMUL_N)
    b = torch.randn(MATMUL_N, MATMUL_N)
    a @ b
    return _time_once(lambda: a @ b)


def bench_model(family: str, preset: str, repeats: int) -> dict:
    mod = _module(family)
    cfg = mod.PRESETS[preset]
    torch.manual_seed(0)
    base = {k: v.eval() for k, v in mod.build(cfg, which=mod.INFERENCE_NETWORKS).items()}
    runners = {}
    for name, inference_mode, channels_last, bf16 in VARIANTS:
        nets = base
        if channels_last:  # Module.to converts in place: give channels_last variants their own copy
            nets = {k: copy.deepcopy(v).to(memory_format=torch.channels_last) for k, v in base.items()}
        call = _inference_call(family, nets, cfg, channels_last)
        grad_ctx = torch.inference_mode if inference_mode else torch.no_grad

        def run(call=call, grad_ctx=grad_ctx, bf16=bf16) -> torch.Tensor:
            cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
            with grad_ctx(), cast:
                return call()

        for _ in range(2):  # warm-up: oneDNN picks and caches kernels on the first calls
            run()
        runners[name] = run
    times: dict[str, list[float]] = {name: [] for name in runners}
    matmuls: list[float] = []
    for _ in range(repeats):
        matmuls.append(_matmul_ms())
        for name, run in runners.items():
            times[name].append(_time_once(run))
    matmul = statistics.median(matmuls)
    result = {
        "resolution": cfg["resolution"],
        "parameters": {k: sum(p.numel() for p in v.parameters()) for k, v in base.items()},
        "matmul_ms": round(matmul, 3),
        "variants": {
            name: {"ms": round(statistics.median(ts), 2), "ratio_vs_matmul": round(statistics.median(ts) / matmul, 2)}
            for name, ts in times.items()
        },
    }
    fastest = min(result["variants"], key=lambda n: result["variants"][n]["ms"])
    result["fastest"] = fastest
    result["speedup_fastest_vs_no_grad"] = round(
        result["variants"]["no_grad"]["ms"] / result["variants"][fastest]["ms"], 2
    )
    # bf16 changes the numbers: report how far the fastest variant's image is from fp32.
    with torch.no_grad():
        ref = runners["no_grad"]().float()
        out = runners[fastest]().float()
    result["fastest_max_abs_diff_vs_fp32"] = round(float((out - ref).abs().max()), 4)
    result["fastest_mean_abs_diff_vs_fp32"] = round(float((out - ref).abs().mean()), 4)
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", default="1,2", help="comma-separated intra-op thread counts to try")
    parser.add_argument("--families", default="pgpg,posewarp,pixeldtgan,flatwarp,cyclegan,stylegan2")
    parser.add_argument("--presets", default="demo,studio")
    args = parser.parse_args(argv)
    threads = [int(t) for t in args.threads.split(",")]
    torch.set_num_threads(max(threads))
    t0 = time.perf_counter()
    matmul = statistics.median(_matmul_ms() for _ in range(5))
    report = {
        "benchmark": "model_inference",
        "unit": "ms per single image (median); ratio = ms / baseline matmul ms in the same run",
        "baseline": f"fp32 matmul {MATMUL_N}x{MATMUL_N} @ {MATMUL_N}x{MATMUL_N}",
        "baseline_ms": round(matmul, 3),
        "baseline_gflops": round(2 * MATMUL_N**3 / matmul / 1e6, 1),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.machine(),
        "threads": threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "repeats": args.repeats,
        # Other processes share this machine; a load above the thread count inflates every number.
        "load_average_1min_start": round(os.getloadavg()[0], 2),
        "results": {},
    }
    for family in args.families.split(","):
        for preset in args.presets.split(","):
            for n in threads:
                torch.set_num_threads(n)
                report["results"][f"{family}/{preset}/threads={n}"] = bench_model(family, preset, args.repeats)
    report["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
