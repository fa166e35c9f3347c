"""The upscaler's evaluation, side by side with Lanczos: ``python -m training evaluate UPSCALE_MODEL``.

All pictures are held-out atelier renders (a seed no training run uses), made at the output size (256 px for the
x4 demo). Three parts:

- ``paired``: real renders downsampled (area) to the input size, upscaled by the model and by Lanczos; PSNR and
  SSIM against the render. ``paired_degraded`` does the same on GAN-like degraded inputs
  (:func:`training.data.degrade.degrade`, seeded).
- ``generators``: the shipped Extract and Generate models' own 64 px outputs, upscaled by the model and by
  Lanczos; FID against real renders of the same kind at the output size (true flats for Extract, catalogue
  images for Generate), from atelier features of the whole picture and of its 64 px tiles (the extractor sees
  64 px, so tiles are where detail at 256 px shows).
- ``speckle``: on Extract's outputs for garments whose true pattern is solid, the high-pass energy
  (mean of (x - blur(x))² with the blur's width scaled to the picture's size) inside the garment mask, eroded away
  from the outline: raw output, Lanczos and the model.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter

from training.data.degrade import _blur, degrade

EVAL_SEED = 90_001  # far from any training seed: the atelier draws other garments, people and colours
REPORT_FORMAT = "fashionstudio-upscale-eval"


def _to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img.convert("RGB"), np.float32)).permute(2, 0, 1).div(127.5).sub(1)


def _to_image(x: torch.Tensor) -> Image.Image:
    arr = x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(arr))


def lanczos(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """PIL's Lanczos upscaling of a [N,3,h,w] batch (the baseline a designer's image editor would use)."""
    return torch.stack([_to_tensor(_to_image(x).resize((x.shape[-1] * scale, x.shape[-2] * scale),
                                                         Image.LANCZOS)) for x in lr])


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per image, for images in [-1, 1] (peak-to-peak 2)."""
    mse = ((x.clamp(-1, 1) - y) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(4.0 / mse)


def _upscale(net: torch.nn.Module, lr: torch.Tensor, batch: int = 16) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([net(lr[i:i + batch]).clamp(-1, 1) for i in range(0, len(lr), batch)])


def _tiles(x: torch.Tensor, size: int = 64) -> torch.Tensor:
    n, c, h, w = x.shape
    t = x.unfold(2, size, size).unfold(3, size, size)  # n c H W size size
    return t.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, size, size)


def _fid(extractor: Any, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    from training.metrics.features import extract_all
    from training.metrics.fid import fid_from_features

    def feats(x: torch.Tensor) -> np.ndarray:
        return extract_all(extractor, (x[i:i + 64] for i in range(0, len(x), 64)))[0]

    return {"fid": fid_from_features(feats(real), feats(fake)),
            "fid_tiles64": fid_from_features(feats(_tiles(real)), feats(_tiles(fake)))}


def speckle_energy(x: torch.Tensor, mask: torch.Tensor, sigma: float) -> float:
    """Mean high-pass energy of ``x`` [N,3,H,W] inside ``mask`` [N,1,H,W] (blur width ``sigma`` px)."""
    high = (x - _blur(x, sigma)) ** 2
    m = mask.expand_as(high)
    return float((high * m).sum() / m.sum().clamp_min(1))


def _renders(kind: str, root: Path, n: int, size: int) -> Path:
    from training.data.atelier import generate

    return generate(kind, root / kind, n, resolution=size, seed=EVAL_SEED, **({"raw": False} if kind == "lookbook"
                                                                             else {}))


def _pictures(root: Path, n: int, size: int) -> torch.Tensor:
    """``n`` held-out renders of every atelier kind the tools use, at ``size`` px."""
    from training.data.upscale_pairs import UpscalePairs
    from training.trainers.upscale import ATELIER_KINDS

    per_kind = max(2, math.ceil(n / len(ATELIER_KINDS)))
    sources = [(kind, _renders(kind, root, per_kind, size)) for kind in ATELIER_KINDS]
    pairs = UpscalePairs(sources, "all", resolution=size // 4, scale=4)
    idx = np.random.default_rng(0).permutation(len(pairs))[:n]
    return torch.stack([pairs.parts[pairs.index[i][0]][pairs.index[i][1]] for i in idx])


def _paired(net: torch.nn.Module, hr: torch.Tensor, lr: torch.Tensor, scale: int) -> dict[str, dict[str, float]]:
    from training.metrics.ssim import ssim

    out = {}
    for name, up in (("model", _upscale(net, lr)), ("lanczos", lanczos(lr, scale).clamp(-1, 1))):
        out[name] = {"psnr": float(psnr(up, hr).mean()), "ssim": float(ssim(up, hr, data_range=2.0).mean())}
    return out


def _extract_outputs(root: Path, n: int, size: int) -> tuple[list[Image.Image], torch.Tensor, list[bool]]:
    """The shipped Extract model's raw outputs on held-out LookBook photos, their true flats at ``size`` px, and
    whether each garment is solid-coloured."""
    from fashionstudio.core.default_models import default_model_path
    from fashionstudio.core.extract import GarmentExtractor
    from fashionstudio.core.modelfile import load_model_file

    path = default_model_path("extract")
    if path is None:
        raise FileNotFoundError("the shipped extract.safetensors is needed for the generator outputs")
    extractor = GarmentExtractor(load_model_file(path))
    folder = _renders("lookbook", root, max(3, n), size)
    items = json.loads((folder / "atelier.json").read_text())["items"]
    raws, flats, solid = [], [], []
    with torch.inference_mode():
        for item in items[:n]:
            pid = Path(folder / "Img" / f"id_{item['pid']:08d}")
            photo = Image.open(pid / "0.jpg").convert("RGB")
            raws.append(extractor.run(photo).raw)
            flats.append(_to_tensor(Image.open(pid / "flat.jpg").convert("RGB").resize((size, size), Image.BICUBIC)))
            solid.append(item["garment"]["pattern"] == "solid")
    return raws, torch.stack(flats), solid


def _generate_outputs(root: Path, n: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from fashionstudio.core.default_models import default_model_path
    from fashionstudio.core.modelfile import load_model_file

    path = default_model_path("generate")
    if path is None:
        raise FileNotFoundError("the shipped generate.safetensors is needed for the generator outputs")
    G = load_model_file(path).networks["G"].eval()
    g = torch.Generator().manual_seed(EVAL_SEED)
    with torch.inference_mode():
        fake = torch.cat([G(torch.randn(min(32, n - i), G.z_dim, generator=g), noise_mode="const").clamp(-1, 1)
                          for i in range(0, n, 32)])
    from training.data.upscale_pairs import UpscalePairs

    pairs = UpscalePairs([("images", _renders("images", root, n, size))], "all", resolution=size // 4, scale=4)
    real = torch.stack([pairs.parts[0][i] for i in range(len(pairs))])
    return fake, real


def _solid_masks(raws: list[Image.Image], solid: list[bool], erode: int = 2) -> torch.Tensor:
    """Per output: its own garment mask (core.extract), eroded ``erode`` px at 64 px, and only solid garments."""
    from fashionstudio.core.extract import garment_mask

    masks = []
    for raw, is_solid in zip(raws, solid):
        m = garment_mask(raw).point(lambda v: 255 if v > 250 else 0).filter(ImageFilter.MinFilter(2 * erode + 1))
        arr = torch.from_numpy(np.asarray(m, np.float32) / 255.0)[None]
        masks.append(arr if is_solid else torch.zeros_like(arr))
    return torch.stack(masks)


def evaluate_upscaler(model_path: str | Path, *, n: int = 200, out: str | Path | None = None,
                      features: str = "atelier") -> dict[str, Any]:
    """Run the three parts on ``n`` pictures each and write the JSON report (default: MODEL.eval.json)."""
    from fashionstudio.core.modelfile import load_model_file
    from training.metrics.features import get_extractor

    model = load_model_file(model_path)
    if model.family != "upscale":
        raise ValueError(f"{Path(model_path).name} is a {model.family} model, not an upscaler.")
    net = model.networks["G"].eval()
    scale = int(model.config.get("scale", 4))
    size = model.resolution * scale
    extractor = get_extractor(features)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="fs_upeval_") as tmp:
        root = Path(tmp)
        hr = _pictures(root, n, size)
        clean_lr = F.interpolate(hr, scale_factor=1 / scale, mode="area")
        g = torch.Generator().manual_seed(EVAL_SEED)
        degraded_lr = torch.cat([degrade(hr[i:i + 1], scale, g, clean_share=0.0) for i in range(len(hr))])
        report: dict[str, Any] = {"paired": {}, "sets": {}, "scores": {}}
        for what, lr in (("clean", clean_lr), ("degraded", degraded_lr)):
            for name, row in _paired(net, hr, lr, scale).items():
                report["paired"][f"{what} {model.resolution} px -> {size}: {name}"] = row

        raws, flats, solid = _extract_outputs(root, n, size)
        raw_t = torch.stack([_to_tensor(r) for r in raws])
        ups = {"model": _upscale(net, raw_t), "lanczos": lanczos(raw_t, scale).clamp(-1, 1)}
        fake, real = _generate_outputs(root, n, size)
        gen_ups = {"model": _upscale(net, fake), "lanczos": lanczos(fake, scale).clamp(-1, 1)}
        for tool, reals, outs in (("extract", flats, ups), ("generate", real, gen_ups)):
            for name, x in outs.items():
                report["sets"][f"{tool} outputs: {name}"] = _fid(extractor, reals, x)
        masks = _solid_masks(raws, solid)
        big = F.interpolate(masks, scale_factor=scale, mode="nearest")
        report["speckle"] = {"n_solid": int(sum(solid)),
                             "raw": speckle_energy(raw_t, masks, 1.0),
                             "lanczos": speckle_energy(ups["lanczos"], big, float(scale)),
                             "model": speckle_energy(ups["model"], big, float(scale))}
    report["summary"] = summary(report)
    report["scores"] = {**{f"PSNR {k}": v["psnr"] for k, v in report["paired"].items()},
                        **{f"FID of 64 px tiles, {k}": v["fid_tiles64"] for k, v in report["sets"].items()},
                        **{f"speckle energy, {k}": v for k, v in report["speckle"].items()},
                        **report["summary"]}
    report.update({"format": REPORT_FORMAT, "format_version": 1, "family": "upscale", "tool": "upscale",
                   "data": {"kind": "atelier inshop + lookbook + shoes_bags + images", "split": f"seed {EVAL_SEED}",
                            "size": size},
                   "baselines": "Baseline: PIL's Lanczos upscaling of the same inputs. FID of Extract outputs is "
                                "against the true flats, of Generate outputs against catalogue renders, all at "
                                f"{size} px; speckle energy is inside solid garments of Extract's outputs.",
                   "model": {"path": str(model_path), "name": model.name, "sha256": model.sha256,
                             "steps": int(model.meta.get("training", {}).get("steps", 0) or 0),
                             "resolution": model.resolution, "scale": scale},
                   "n": n, "seed": EVAL_SEED, "features": {"name": extractor.name, **extractor.info},
                   "seconds": round(time.time() - t0, 1),
                   "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    out = Path(out) if out else Path(model_path).with_suffix(".eval.json")
    out.write_text(json.dumps(report, indent=1) + "\n")
    report["report_path"] = str(out)
    return report


def summary(report: dict[str, Any]) -> dict[str, float]:
    """The issue's targets as margins: PSNR/SSIM over Lanczos, FID reduction, speckle ratio."""
    p, sets, sp = report["paired"], report["sets"], report["speckle"]

    def gain(what: str, key: str) -> float:
        rows = {k.rsplit(": ", 1)[1]: v for k, v in p.items() if k.startswith(what)}
        return rows["model"][key] - rows["lanczos"][key]

    out = {"psnr_gain_db": gain("clean", "psnr"), "ssim_gain": gain("clean", "ssim"),
           "degraded_psnr_gain_db": gain("degraded", "psnr"), "degraded_ssim_gain": gain("degraded", "ssim")}
    for tool in ("extract", "generate"):
        for key in ("fid", "fid_tiles64"):
            out[f"{key}_reduction_{tool}"] = 1 - sets[f"{tool} outputs: model"][key] / \
                sets[f"{tool} outputs: lanczos"][key]
    out["speckle_ratio_raw_to_model"] = sp["raw"] / max(sp["model"], 1e-12)
    return out


def is_upscaler(target: str | Path) -> bool:
    """Whether ``target`` is an upscale model file (the header says so) or a run folder of the upscale family."""
    target = Path(target)
    try:
        if target.is_file():
            from fashionstudio.core.modelfile import read_model_info

            return read_model_info(target).get("family") == "upscale"
        if (target / "config.toml").is_file():
            import tomllib

            return tomllib.loads((target / "config.toml").read_text()).get("family") == "upscale"
    except (OSError, ValueError):
        return False
    return False


def main(target: str, n: int, out: str | None, features: str) -> int:
    """``python -m training evaluate`` for an upscaler (a run folder is evaluated through its exported model)."""
    import sys

    path = Path(target)
    if path.is_dir():
        model_file = path / "model.safetensors"
        if not model_file.is_file():
            print(f"evaluate: export the run first (python -m training export {path} --out {model_file})",
                  file=sys.stderr)
            return 2
        path = model_file
    try:
        report = evaluate_upscaler(path, n=n, out=out, features=features)
    except (ValueError, FileNotFoundError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report["summary"], indent=1))
    print(f"report: {report['report_path']}")
    return 0
