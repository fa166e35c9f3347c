"""``python -m training.familiarity_calibration [--n N] [--foreign N] [--models DIR]``: how well the familiarity
threshold separates a model's kind of input from everything else; prints JSON.

For each shipped model (with its sidecar or header statistics): the pass rate on freshly generated atelier inputs
of the right kind (a seed no model trained or was calibrated on), and the flag rate on foreign pictures:

- other atelier kinds (a shoe or a bag given to Pose or Extract, a person or a flat garment given to Match...);
- noise (white and smoothed), textures (stripes, checks, gradients), objects drawn with PIL (a cup, a ball, a
  house, a car on a table or a lawn);
- the colour photographs in ``skimage.data`` when scikit-image is installed (astronaut, coffee, chelsea...),
  as random crops, flips and zooms.

The same generators serve the tests (at small n). Everything is built offline and deterministic for a seed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fashionstudio.core import familiarity as fam

SIZE = 64
EVAL_SEED = 2026  # differs from every training (0) and calibration seed


# -- foreign pictures ---------------------------------------------------------------------------------------------

def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def white_noise(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), "RGB")


def smooth_noise(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """Blobs at a random scale: cloud- or camouflage-like, the low-frequency texture of many natural scenes."""
    cells = int(rng.integers(2, 12))
    small = Image.fromarray(rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8), "RGB")
    blur = ImageFilter.GaussianBlur(float(rng.uniform(0, 2)))
    return small.resize((size, size), Image.Resampling.BICUBIC).filter(blur)


def texture(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """Stripes, checks or a gradient in random colours, angles and periods (wallpaper, tiles, sky)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    kind = int(rng.integers(0, 3))
    angle, period = float(rng.uniform(0, math.pi)), float(rng.uniform(3, 24))
    u = xx * math.cos(angle) + yy * math.sin(angle)
    if kind == 0:
        t = (np.sin(2 * math.pi * u / period) > 0).astype(np.float32)
    elif kind == 1:
        v = -xx * math.sin(angle) + yy * math.cos(angle)
        t = ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    else:
        t = (u - u.min()) / max(1e-6, float(u.max() - u.min()))
    arr = a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]
    arr += rng.normal(0, float(rng.uniform(0, 12)), arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def drawn_object(rng: np.random.Generator, size: int = SIZE) -> Image.Image:
    """A cup, a ball, a house or a car drawn on a table, a wall or a lawn, with some shading and noise."""
    k = 4
    s = size * k
    ground, wall = _colour(rng), _colour(rng)
    img = Image.new("RGB", (s, s), wall)
    d = ImageDraw.Draw(img)
    horizon = int(s * rng.uniform(0.45, 0.8))
    d.rectangle([0, horizon, s, s], fill=ground)
    c = _colour(rng)
    cx, base = int(s * rng.uniform(0.3, 0.7)), int(horizon + s * rng.uniform(0.0, 0.15))
    w = int(s * rng.uniform(0.2, 0.45))
    kind = int(rng.integers(0, 4))
    if kind == 0:  # a cup with a handle and a saucer
        d.ellipse([cx - w, base - w // 6, cx + w, base + w // 6], fill=_colour(rng))
        d.rectangle([cx - w // 2, base - w, cx + w // 2, base], fill=c)
        d.ellipse([cx - w // 2, base - w - w // 8, cx + w // 2, base - w + w // 8], fill=(60, 35, 20))
        d.arc([cx + w // 3, base - 3 * w // 4, cx + 5 * w // 6, base - w // 4], -90, 90, fill=c, width=max(2, w // 10))
    elif kind == 1:  # a ball with a highlight
        d.ellipse([cx - w // 2, base - w, cx + w // 2, base], fill=c)
        d.ellipse([cx - w // 4, base - 7 * w // 8, cx - w // 12, base - 5 * w // 8], fill=(250, 250, 250))
    elif kind == 2:  # a house
        d.rectangle([cx - w // 2, base - w, cx + w // 2, base], fill=c)
        d.polygon([(cx - w // 2 - w // 8, base - w), (cx + w // 2 + w // 8, base - w), (cx, base - 3 * w // 2)],
                  fill=_colour(rng))
        d.rectangle([cx - w // 8, base - w // 2, cx + w // 8, base], fill=_colour(rng))
    else:  # a car
        d.rectangle([cx - w, base - w // 2, cx + w, base - w // 6], fill=c)
        d.rectangle([cx - w // 2, base - 3 * w // 4, cx + w // 2, base - w // 2], fill=c)
        for x in (cx - 2 * w // 3, cx + 2 * w // 3):
            d.ellipse([x - w // 5, base - w // 3, x + w // 5, base + w // 15], fill=(20, 20, 20))
    arr = np.asarray(img.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
    arr += rng.normal(0, float(rng.uniform(0, 8)), arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle_left", "motorcycle_right", "hubble_deep_field",
               "immunohistochemistry", "retina", "colorwheel", "cat", "logo", "color")


def photo_sources() -> list[Image.Image]:
    """The colour photographs shipped inside scikit-image, if it is installed (none otherwise)."""
    try:
        from skimage import data
    except ImportError:
        return []
    out = []
    for name in PHOTO_NAMES:
        loader = getattr(data, name, None)
        if loader is None:
            continue
        try:
            arr = np.asarray(loader())
        except Exception:  # noqa: BLE001 - a sample needing a download (pooch) is simply left out
            continue
        if arr.ndim == 3 and arr.shape[2] >= 3:
            out.append(Image.fromarray(arr[..., :3].astype(np.uint8), "RGB"))
    return out


def photo_crop(rng: np.random.Generator, photos: list[Image.Image]) -> Image.Image:
    """A random crop (30-100% of the short side), maybe flipped, of one of ``photos``."""
    p = photos[int(rng.integers(0, len(photos)))]
    side = int(min(p.size) * rng.uniform(0.3, 1.0))
    x, y = int(rng.integers(0, p.width - side + 1)), int(rng.integers(0, p.height - side + 1))
    crop = p.crop((x, y, x + side, y + side))
    return crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop


def synthetic_foreign(n: int, seed: int = EVAL_SEED) -> dict[str, list[Image.Image]]:
    """``n`` pictures of each offline foreign category (plus skimage photo crops when available)."""
    makers: dict[str, Callable[[np.random.Generator], Image.Image]] = {
        "white_noise": white_noise, "smooth_noise": smooth_noise, "texture": texture, "drawn_object": drawn_object}
    out = {}
    for i, (name, make) in enumerate(makers.items()):
        rng = np.random.default_rng([seed, i])
        out[name] = [make(rng) for _ in range(n)]
    photos = photo_sources()
    if photos:
        rng = np.random.default_rng([seed, 99])
        out["photo"] = [photo_crop(rng, photos) for _ in range(n)]
    return out


# -- atelier pictures ---------------------------------------------------------------------------------------------

ATELIER_KINDS = ("inshop_person", "lookbook_person", "flat", "shoe", "bag", "image")


def atelier_pictures(root: Path, n: int, seed: int = EVAL_SEED,
                     kinds: tuple[str, ...] = ATELIER_KINDS) -> dict[str, list[Image.Image]]:
    """Freshly generated atelier inputs by kind (see ``ATELIER_KINDS``): up to ``n`` of each."""
    from fashionstudio.core.images import tensor_to_pil
    from training.data import make_dataset
    from training.data.atelier import generate

    # kind -> (atelier dataset kind, images to ask for, reader options, item key)
    sources = {"inshop_person": ("inshop", max(8, n), {"pose": "heatmaps"}, "src"),
               "lookbook_person": ("lookbook", max(6, 3 * n // 2), {}, "person"),
               "flat": ("lookbook", max(6, 3 * n // 2), {}, "flat"),
               "shoe": ("shoes_bags", max(2, n), {}, "A"), "bag": ("shoes_bags", max(2, n), {}, "B"),
               "image": ("images", max(2, n), {}, "image")}
    readers: dict[str, Any] = {}
    out = {}
    for kind in kinds:
        data_kind, count, options, key = sources[kind]
        if data_kind not in readers:
            generate(data_kind, root / data_kind, count, SIZE, seed)
            readers[data_kind] = make_dataset(data_kind, root / data_kind, "all", SIZE, **options)
        dataset = readers[data_kind]
        out[kind] = [tensor_to_pil(dataset[i][key]) for i in range(min(n, len(dataset)))]
    return out


# What each tool role should accept (its own atelier kind) and which atelier kinds are foreign to it.
OWN_KIND = {("pose", "person"): "inshop_person", ("extract", "person"): "lookbook_person",
            ("match", "shoe"): "shoe", ("match", "bag"): "bag", ("generate", "image"): "image"}
FOREIGN_KINDS = {("pose", "person"): ("shoe", "bag", "flat"), ("extract", "person"): ("shoe", "bag", "flat"),
                 ("match", "shoe"): ("inshop_person", "lookbook_person", "flat", "bag"),
                 ("match", "bag"): ("inshop_person", "lookbook_person", "flat", "shoe"),
                 ("generate", "image"): ("shoe", "bag", "flat")}

# Atelier kinds that are not the model's own but are the same kind of picture (reported, neither passed nor flagged
# by design): another atelier rendering of dressed mannequins.
SIMILAR_KINDS = {("pose", "person"): ("lookbook_person",), ("extract", "person"): ("inshop_person",),
                 ("generate", "image"): ("inshop_person", "lookbook_person")}


def rates(ref: fam.ReferenceStats, net: fam.FeatureNet, pictures: list[Image.Image]) -> dict[str, float]:
    scores = ref.score(net.features(pictures))
    return {"n": len(pictures), "flagged": round(float(np.mean(scores > ref.threshold)), 4),
            "median_score": round(float(np.median(scores)), 2)}


def calibrate(models: Path, n: int, n_foreign: int, seed: int = EVAL_SEED) -> dict[str, Any]:
    """Pass and flag rates of every shipped model's statistics (see the module docstring)."""
    from fashionstudio.core.modelfile import file_sha256

    net = fam.FeatureNet()
    foreign = synthetic_foreign(n_foreign, seed)
    with tempfile.TemporaryDirectory(prefix="familiarity_eval_") as tmp:
        atelier = atelier_pictures(Path(tmp), n, seed)
    report: dict[str, Any] = {"seed": seed, "features_sha256": net.sha256, "tools": {}}
    for (tool, role), own in OWN_KIND.items():
        path = models / f"{tool}.safetensors"
        if not path.is_file():
            continue
        stats, source = fam.find_stats(path, file_sha256(path))
        if stats is None or role not in stats.roles:
            report["tools"][f"{tool}:{role}"] = {"status": "unknown", "why": source}
            continue
        ref = stats.roles[role]
        own_rates = rates(ref, net, atelier[own])
        row: dict[str, Any] = {"threshold": round(ref.threshold, 3), "source": source,
                               "own_kind": own, "own_pass": round(1 - own_rates["flagged"], 4),
                               "own_n": own_rates["n"], "own_median_score": own_rates["median_score"],
                               "foreign": {}}
        for kind in SIMILAR_KINDS.get((tool, role), ()):
            row.setdefault("similar", {})[f"atelier_{kind}"] = rates(ref, net, atelier[kind])
        for kind in FOREIGN_KINDS[(tool, role)]:
            row["foreign"][f"atelier_{kind}"] = rates(ref, net, atelier[kind])
        for name, pics in foreign.items():
            row["foreign"][name] = rates(ref, net, pics)
        flags = [v["flagged"] * v["n"] for v in row["foreign"].values()]
        row["foreign_flagged_overall"] = round(sum(flags) / sum(v["n"] for v in row["foreign"].values()), 4)
        row["foreign_flagged_worst"] = min(v["flagged"] for v in row["foreign"].values())
        report["tools"][f"{tool}:{role}"] = row
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.familiarity_calibration", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=400, help="atelier inputs per kind (default 400)")
    p.add_argument("--foreign", type=int, default=200, help="pictures per foreign category (default 200)")
    p.add_argument("--models", default=str(Path(__file__).resolve().parents[1] / "resources" / "models"))
    p.add_argument("--seed", type=int, default=EVAL_SEED)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(calibrate(Path(args.models), args.n, args.foreign, args.seed), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
