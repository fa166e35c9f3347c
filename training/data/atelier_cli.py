"""``python -m training synth <kind|all> OUT [--n N] [--resolution R] [--seed S] [--workers W] [--preview]``.

Writes atelier datasets in the real formats (see ``training.data.atelier``) and reports images per second.
With ``all``, each kind goes to ``OUT/<kind>``; ``poses`` writes the app's pose library (CSV + thumbnails).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    from .atelier import KINDS, generate
    from .atelier.preview import write_preview

    p = argparse.ArgumentParser(prog="python -m training synth",
                                description="Write synthetic atelier datasets in the real dataset formats.")
    p.add_argument("kind", choices=[*KINDS, "all", "poses"])
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=256, help="about how many images (see training.data.atelier)")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="render in this many processes (default: in-process)")
    p.add_argument("--preview", action="store_true", help="also write preview_<kind>.png contact sheets")
    args = p.parse_args(argv[1:])
    if args.kind == "poses":
        from .atelier.pose_library import write_pose_library

        names = write_pose_library(args.out)
        print(json.dumps({"kind": "poses", "path": str(args.out), "poses": names}))
        return 0
    kinds = KINDS if args.kind == "all" else (args.kind,)
    for kind in kinds:
        out = args.out / kind if args.kind == "all" else args.out
        t0 = time.perf_counter()
        path = generate(kind, out, args.n, args.resolution, args.seed, workers=args.workers)
        dt = time.perf_counter() - t0
        report = {"kind": kind, "path": str(path), "n": args.n, "resolution": args.resolution,
                  "seconds": round(dt, 3), "images_per_s": round(args.n * (2 if kind == "shoes_bags" else 1) / dt, 1)}
        if args.preview:
            report["preview"] = str(write_preview(kind, path))
        print(json.dumps(report))
    return 0
