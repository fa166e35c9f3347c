"""Throughput of the synthetic atelier (images written per second) and of every dataset reader (images read/s).

Prints one JSON object. Each number also appears as a ratio to a baseline measured in the same run, so runs on
different machines or under different load compare:

- generation is compared with ``jpeg_write``: encoding and writing the same number of same-size photos with PIL
  (the floor cost of producing a dataset on disk);
- readers are compared with ``jpeg_read``: decoding those photos with PIL into [-1, 1] tensors (the floor cost of
  reading one), counting every image an item carries (an In-shop pair is two photos plus two poses).

Usage: ``python benchmarks/data_throughput.py [--n 400] [--resolution 64] [--workers 0] [--loader-workers 0]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from training.data import make_dataset
from training.data.atelier import generate
from training.data.common import open_rgb, to_tensor

IMAGES_PER_ITEM = {"inshop": 2, "lookbook": 3, "shoes_bags": 2, "images": 1, "fisb": 1}


def _baseline_write(folder: Path, n: int, size: int) -> float:
    # Smooth synthetic photos (noise would make JPEG coding, and so the baseline, unrealistically slow).
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    arrays = []
    for k in range(8):
        img = np.stack([200 + 50 * np.sin(3 * xx + k), 180 + 60 * yy, 220 - 40 * np.cos(2 * yy + xx * k)], -1)
        img[size // 4: 3 * size // 4, size // 3: 2 * size // 3] = (40 + 20 * k, 80, 160)
        arrays.append(np.clip(img, 0, 255).astype(np.uint8))
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for i in range(n):
        Image.fromarray(arrays[i % 8]).save(folder / f"{i:06d}.jpg", quality=95)
    return n / (time.perf_counter() - t0)


def _baseline_read(folder: Path) -> float:
    files = sorted(folder.glob("*.jpg"))
    t0 = time.perf_counter()
    for f in files:
        to_tensor(open_rgb(f))
    return len(files) / (time.perf_counter() - t0)


def _read_rate(kind: str, path: Path, resolution: int, loader_workers: int, max_items: int) -> dict:
    ds = make_dataset(kind, path, "all" if kind != "inshop" else "train", resolution)
    n = min(len(ds), max_items)
    t0 = time.perf_counter()
    if loader_workers > 0:
        loader = torch.utils.data.DataLoader(torch.utils.data.Subset(ds, range(n)), batch_size=16,
                                             num_workers=loader_workers)
        for _ in loader:
            pass
    else:
        for i in range(n):
            ds[i]
    dt = time.perf_counter() - t0
    return {"items": n, "items_per_s": round(n / dt, 1), "images_per_s": round(n * IMAGES_PER_ITEM[kind] / dt, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--workers", type=int, default=0, help="atelier worker processes")
    p.add_argument("--loader-workers", type=int, default=0, help="DataLoader workers for the readers")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out: dict = {"machine": platform.machine(), "cpus": os.cpu_count(), "n": args.n,
                 "resolution": args.resolution, "workers": args.workers, "loader_workers": args.loader_workers}
    with tempfile.TemporaryDirectory(prefix="fs-data-bench-") as tmp:
        tmp = Path(tmp)
        write = _baseline_write(tmp / "baseline", args.n, args.resolution)
        read = _baseline_read(tmp / "baseline")
        out["baseline"] = {"jpeg_write_per_s": round(write, 1), "jpeg_read_per_s": round(read, 1)}
        gen, rd = {}, {}
        for kind in ("inshop", "lookbook", "shoes_bags", "images", "fisb"):
            res = 64 if kind == "shoes_bags" else args.resolution
            t0, c0 = time.perf_counter(), time.process_time()
            path = generate(kind, tmp / kind, args.n, res, seed=0, workers=args.workers)
            dt, cpu = time.perf_counter() - t0, time.process_time() - c0
            produced = args.n * (2 if kind == "shoes_bags" else 1)
            rate = produced / dt
            # CPU seconds of this process too: on a shared machine the wall clock mostly measures the neighbours
            # (meaningless with --workers, whose children are not counted).
            gen[kind] = {"images": produced, "seconds": round(dt, 3), "images_per_s": round(rate, 1),
                         "ratio_to_jpeg_write": round(rate / write, 3),
                         "images_per_cpu_s": round(produced / max(cpu, 1e-9), 1) if args.workers <= 1 else None}
            r = _read_rate(kind, path, res, args.loader_workers, max_items=args.n)
            r["ratio_to_jpeg_read"] = round(r["images_per_s"] / read, 3)
            rd[kind] = r
        out["generate"], out["read"] = gen, rd
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
