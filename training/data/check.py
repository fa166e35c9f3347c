"""``python -m training check-data <kind> <path> [--quick] [--json]``: is this dataset folder usable?

Reports counts (images, identities, pairs per split), missing annotations and unreadable files. Exit status:
0 usable, 1 usable but with unreadable files, 2 the folder is wrong or incomplete (the message says why).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import DatasetError, open_rgb

KINDS = ("inshop", "lookbook", "shoes_bags", "images", "fisb")


def _unreadable(paths, opener=open_rgb) -> list[dict]:
    bad = []
    for p in paths:
        try:
            opener(p)
        except Exception as exc:  # noqa: BLE001 - any failure to decode is what we report
            bad.append({"path": str(p), "error": f"{type(exc).__name__}: {exc}"})
    return bad


def check(kind: str, path: str | Path, decode: bool = True) -> dict:
    """A JSON-able report for one dataset; raises DatasetError when the folder cannot be used at all."""
    from . import make_dataset

    path = Path(path)
    report: dict = {"kind": kind, "path": str(path)}
    if kind == "inshop":
        from .inshop import iuv_path, load_keypoints, scan_images

        images, odd = scan_images(path)
        try:
            kps = load_keypoints(path)
        except DatasetError as exc:
            kps, report["keypoints"] = {}, str(exc)
        posable = [im for im in images if im.view not in ("additional", "flat")]
        no_kp = [str(im.path) for im in posable if im.flat_name not in kps]
        iuvs = {im.path: iuv_path(path, im) for im in posable}
        report.update(images=len(images), posable_images=len(posable), items=len({im.item_id for im in images}),
                      views={v: sum(im.view == v for im in images) for v in sorted({im.view for im in images})},
                      missing_keypoints=len(no_kp), missing_iuv=sum(v is None for v in iuvs.values()),
                      unexpected_names=odd[:20], examples_missing_keypoints=no_kp[:10])
        for split in ("train", "test"):
            for pose in ("heatmaps", "iuv"):
                try:
                    ds = make_dataset("inshop", path, split, 64, pose=pose)
                    report[f"{split}_pairs_{pose}"] = len(ds)
                    report[f"{split}_items"] = len(ds.identities)
                except DatasetError as exc:
                    report[f"{split}_pairs_{pose}"] = 0
                    report.setdefault("notes", []).append(str(exc))
        files = [im.path for im in images] + [p for p in iuvs.values() if p is not None]
    elif kind == "lookbook":
        from .lookbook import scan_products

        products, incomplete = scan_products(path)
        report.update(products=len(products), incomplete_products=len(incomplete),
                      examples_incomplete=incomplete[:10],
                      person_images=sum(len(e["people"]) for e in products.values()),
                      flat_images=sum(len(e["flats"]) for e in products.values()))
        for split in ("train", "test"):
            report[f"{split}_pairs"] = len(make_dataset("lookbook", path, split, 64))
        files = [f for e in products.values() for f in e["people"] + e["flats"]]
    elif kind == "shoes_bags":
        ds = make_dataset("shoes_bags", path, "all", 64)
        report.update(shoes_file=str(ds.path_A), bags_file=str(ds.path_B), shoes=len(ds.index_A),
                      bags=len(ds.index_B), labels=ds.labels_A is not None and ds.labels_B is not None)
        files = []  # HDF5 arrays are checked by reading their shape and dtype
    elif kind == "images":
        ds = make_dataset("images", path, "all", 64)
        report.update(images=len(ds))
        files = [] if Path(path).is_file() else [Path(path) / n for n in ds.names]
        if Path(path).is_file() and decode:
            bad = []
            for i, n in enumerate(ds.names):
                try:
                    ds._open(n)
                except Exception as exc:  # noqa: BLE001
                    bad.append({"path": f"{path}:{n}", "error": f"{type(exc).__name__}: {exc}"})
            report["unreadable"] = bad
    elif kind == "fisb":
        ds = make_dataset("fisb", path, "all", 64)
        report.update(images=len(ds), file=str(ds.path), crops=ds.crops is not None)
        files = []
    else:
        raise DatasetError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}")
    if decode and "unreadable" not in report:
        report["unreadable"] = _unreadable(files)
    report.setdefault("unreadable", [])
    return report


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m training check-data",
                                description="Check that a dataset folder is usable: counts, missing annotations, "
                                            "unreadable files. Exit 0 usable, 1 unreadable files, 2 unusable.")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("path", type=Path)
    p.add_argument("--quick", action="store_true", help="skip decoding every image")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv[1:])
    try:
        report = check(args.kind, args.path, decode=not args.quick)
    except DatasetError as exc:
        print(f"check-data: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for key, value in report.items():
            if key == "unreadable":
                continue
            print(f"{key:>28}: {value}")
        print(f"{'unreadable files':>28}: {len(report['unreadable'])}")
        for bad in report["unreadable"][:20]:
            print(f"{'':>30}{bad['path']}  ({bad['error']})")
    return 1 if report["unreadable"] else 0
