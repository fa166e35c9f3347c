"""``python -m training evaluate RUN_DIR_OR_MODEL_FILE [--n N] [--features inception:FILE|atelier] [--data KIND:PATH]
[--split test|train] [--out report.json]``.

Evaluates a run (its best checkpoint, exported on the fly) or an app model file on a dataset split, next to the
family's baselines (see ``sampling.py``), and writes a JSON report that records the feature extractor and the
number of samples with every number. Given a run folder it also appends a ``metrics`` event to its events.jsonl.

In-process use (the trainer's periodic evaluation, tests): :func:`evaluate_networks`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fashionstudio.core import registry
from fashionstudio.core.atomic import atomic_write
from training.metrics.features import (
    FeatureExtractor,
    cache_key,
    get_extractor,
    read_cache,
    write_cache,
)
from training.metrics.fid import fid_from_features
from training.metrics.inception_score import inception_score
from training.metrics.kid import kid_from_features
from training.metrics.paired import PairedAccumulator
from training.metrics.prdc import precision_recall
from training.metrics.sampling import SamplingContext, spec_for

REPORT_FORMAT = "fashionstudio-evaluation"


class EvaluationError(ValueError):
    """An evaluation that cannot run as asked; the message says why and what to pass instead."""


# ------------------------------------------------------------------------------------------------ the core

def _subset_loader(dataset: Any, n: int, batch_size: int, seed: int) -> tuple[Any, int]:
    g = torch.Generator().manual_seed(seed)
    count = min(n, len(dataset))
    if count < 1:
        raise EvaluationError("the evaluation dataset is empty.")
    idx = torch.randperm(len(dataset), generator=g)[:count].tolist()
    subset = torch.utils.data.Subset(dataset, idx)
    return torch.utils.data.DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=0), count


def distribution_metrics(real: tuple[np.ndarray, np.ndarray], fake: tuple[np.ndarray, np.ndarray],
                         k: int = 3, seed: int = 0) -> dict[str, float]:
    """FID, KID (mean, std over subsets), precision/recall/F1/density/coverage (k-NN) and IS of one fake set."""
    rf, ff = real[0], fake[0]
    out: dict[str, float] = {"n_real": int(len(rf)), "n_fake": int(len(ff))}
    out["fid"] = fid_from_features(rf, ff)
    # Subsets of 1000 as in the KID paper; with fewer samples, random halves, so the spread stays informative
    # (subsets as large as the whole set would all be the same set and give a std of 0).
    subset = min(1000, max(2, min(len(rf), len(ff)) // 2))
    kid_mean, kid_std = kid_from_features(rf, ff, n_subsets=100, subset_size=subset, seed=seed)
    out["kid"], out["kid_std"], out["kid_subset_size"] = kid_mean, kid_std, subset
    if min(len(rf), len(ff)) > k:
        pr = precision_recall(rf, ff, k=k)
        out.update({key: pr[key] for key in ("precision", "recall", "f1", "density", "coverage")})
    is_mean, is_std = inception_score(fake[1], splits=10 if len(ff) >= 100 else 1)
    out["is"], out["is_std"] = is_mean, is_std
    return out


@torch.no_grad()
def evaluate_networks(
    networks: dict[str, Any],
    family: str,
    config: dict[str, Any],
    dataset: Any,
    *,
    n: int,
    extractor: FeatureExtractor,
    classifier: Any = None,
    batch_size: int = 32,
    seed: int = 0,
    device: str | torch.device = "cpu",
    real_cache: dict[str, Any] | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate ``networks`` of ``family`` on ``n`` items of ``dataset`` and return the report body.

    ``real_cache``: extra key fields identifying ``dataset`` (path, split, ...): when given, real feature sets are
    read from / written to the on-disk cache, so each real set is extracted once per extractor and n.
    """
    spec = spec_for(family)
    device = torch.device(device)
    for net in networks.values():
        net.eval()
    ctx = SamplingContext(networks=networks, config=config, family=family, dataset=dataset, seed=seed,
                          generator=torch.Generator().manual_seed(seed), device=device)
    loader, count = _subset_loader(dataset, n, batch_size, seed)

    real_keys = sorted({real for _, real in spec.sets.values()})
    fake_keys = sorted({fake for fake, _ in spec.sets.values()})
    cached: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    keys: dict[str, dict[str, Any]] = {}
    if real_cache is not None:
        for rk in real_keys:
            keys[rk] = cache_key(real_cache.get("path", ""), extractor.name, count, family=family, real=rk,
                                 seed=seed, **{k: v for k, v in real_cache.items() if k != "path"})
            hit = read_cache(keys[rk], cache_dir)
            if hit is not None:
                cached[rk] = hit
    feats: dict[str, list[torch.Tensor]] = {k: [] for k in set(real_keys + fake_keys) if k not in cached}
    probs: dict[str, list[torch.Tensor]] = {k: [] for k in feats}
    paired = {name: PairedAccumulator() for name in spec.pairs}
    agree: dict[str, dict[str, list[int]]] = {name: {h: [0, 0] for h in heads}
                                              for name, (_, _, heads) in spec.agreements.items()}
    label_source: dict[str, str] = {}
    score_sums: dict[str, list[float]] = {}  # name -> [sum, count] of spec.scores' per-image values
    t_sample = t_extract = 0.0
    extracted = 0
    start = time.perf_counter()
    for batch in loader:
        t0 = time.perf_counter()
        sampled = spec.sample(ctx, batch)
        t1 = time.perf_counter()
        for key in feats:
            f, p = extractor(sampled.images[key])
            feats[key].append(f)
            probs[key].append(p)
            extracted += f.shape[0]
        t_extract += time.perf_counter() - t1
        t_sample += t1 - t0
        if spec.scores is not None:
            for name, values in spec.scores(sampled, extractor).items():
                acc = score_sums.setdefault(name, [0.0, 0])
                acc[0] += float(sum(values))
                acc[1] += len(values)
        for name, (out_key, tgt_key) in spec.pairs.items():
            paired[name].update(sampled.images[out_key], sampled.images[tgt_key], sampled.masks.get(tgt_key))
        if classifier is not None:
            read: dict[tuple[str, tuple[str, ...]], dict[str, torch.Tensor]] = {}  # an image set is classified once

            def reading(key: str, heads: tuple[str, ...]) -> dict[str, torch.Tensor]:
                if (key, heads) not in read:
                    read[key, heads] = classifier.predict(sampled.images[key], heads)
                return read[key, heads]

            for name, (img_key, ref_key, heads) in spec.agreements.items():
                pred = reading(img_key, heads)
                known = sampled.labels.get(ref_key, {})
                for h in heads:
                    truth = known.get(h)
                    if truth is None or any(t is None for t in truth):
                        ref = reading(ref_key, heads)[h].tolist()
                        label_source[f"{name}/{h}"] = "atelier classifier on the reference image"
                    else:
                        ref = [classifier.classes[h].index(t) if t in classifier.classes[h] else -1 for t in truth]
                        label_source[f"{name}/{h}"] = "ground-truth labels"
                    hits = sum(int(a == b) for a, b in zip(pred[h].tolist(), ref))
                    agree[name][h][0] += hits
                    agree[name][h][1] += len(ref)
    loop_seconds = time.perf_counter() - start

    sets: dict[str, tuple[np.ndarray, np.ndarray]] = dict(cached)
    for key in feats:
        sets[key] = (torch.cat(feats[key]).numpy(), torch.cat(probs[key]).numpy())
    for rk in real_keys:
        if rk not in cached and rk in keys:
            write_cache(keys[rk], *sets[rk], cache_dir)
    t0 = time.perf_counter()
    results = {name: distribution_metrics(sets[real], sets[fake], seed=seed)
               for name, (fake, real) in spec.sets.items()}
    metric_seconds = time.perf_counter() - t0
    report: dict[str, Any] = {
        "family": family,
        "tool": registry.family(family).tool,
        "n": count,
        "features": extractor.info | {"name": extractor.name},
        "real_features_cached": sorted(cached),
        "sets": results,
        "paired": {name: acc.result() for name, acc in paired.items()},
        "agreement": {name: {h: (c[0] / c[1] if c[1] else None) for h, c in heads.items()}
                      for name, heads in agree.items()} if classifier is not None else {},
        "agreement_labels": label_source,
        **({"scores": {k: v[0] / v[1] for k, v in sorted(score_sums.items()) if v[1]}} if score_sums else {}),
        "baselines": spec.baselines,
        "timing": {"seconds": round(loop_seconds + metric_seconds, 3),
                   "sampling_seconds": round(t_sample, 3), "extraction_seconds": round(t_extract, 3),
                   "metric_seconds": round(metric_seconds, 3),
                   "extraction_images_per_s": round(extracted / t_extract, 1) if t_extract > 0 else None},
    }
    if spec.agreements and classifier is None:
        report["agreement_note"] = "no atelier classifier available: attribute agreement not measured."
    return report


def headline_values(report: dict[str, Any]) -> dict[str, float]:
    """Flat {name: value} of a report's numbers, for the run's metrics event and for plotting."""
    values: dict[str, float] = {}
    for name, res in report["sets"].items():
        for key in ("fid", "kid", "precision", "recall", "f1", "is"):
            if key in res:
                values[f"{name}/{key}"] = float(res[key])
    for name, res in report["paired"].items():
        values[f"{name}/l1"] = float(res["l1"])
        values[f"{name}/ssim"] = float(res["ssim"])
        for key in ("mask_l1", "mask_ssim"):
            if res.get(key) is not None:
                values[f"{name}/{key}"] = float(res[key])
    for name, heads in report.get("agreement", {}).items():
        for h, v in heads.items():
            if v is not None:
                values[f"{name}/{h}_agreement"] = float(v)
    for name, v in report.get("scores", {}).items():
        values[name] = float(v)
    return values


# ----------------------------------------------------------------------------------- run folders and files

def _load_target(target: Path, tmpdir: Path) -> tuple[Any, Path | None, dict[str, Any] | None]:
    """(LoadedModel, run_dir or None, run config dict or None) for a run folder or a model file."""
    from fashionstudio.core.modelfile import load_model_file

    if target.is_dir():
        from training.export import export_run

        try:
            path = export_run(target, out=tmpdir / "model.safetensors")
        except FileNotFoundError as exc:
            raise EvaluationError(str(exc)) from None
        model = load_model_file(path)
        return model, target, model.meta.get("training", {}).get("config")
    if not target.exists():
        raise EvaluationError(f"There is no run folder or model file at '{target}'.")
    model = load_model_file(target)
    return model, None, model.meta.get("training", {}).get("config")


def _dataset(run_cfg: dict[str, Any] | None, family: str, arch: dict[str, Any], run_dir: Path | None,
             data: str | None, split: str, resolution: int, scratch: Path) -> tuple[Any, dict[str, Any]]:
    """The evaluation dataset and a description of it (kind, path, split) for the report and the cache key.

    A model file trained on generated atelier data (and evaluated without --data) regenerates that data, which is
    deterministic for the run's seed, in ``scratch``."""
    from training.config import config_from_dict

    raw = dict(run_cfg or {"family": family, "preset": "demo"})
    raw["family"] = family
    raw["resolution"] = resolution
    data_cfg = dict(raw.get("data") or {})
    if data:
        kind, sep, path = data.partition(":")
        if not sep or not kind or not path:
            raise EvaluationError(f"--data needs KIND:PATH (for example lookbook:/data/lookbook), got '{data}'.")
        data_cfg.update(kind=kind, path=path)
    elif run_cfg is None:
        raise EvaluationError("This model file does not record its training data: pass --data KIND:PATH.")
    raw["data"] = data_cfg
    cfg = config_from_dict(raw, source="the model's training config")
    try:
        from training.trainers import data_adapter
    except ImportError:  # the trainer package is optional for evaluating a model on a dataset folder
        data_adapter = None
    if data_adapter is not None:
        # The trainer's adapter picks the family's reader, its options, and the atelier folder of a run.
        dataset = data_adapter.family_dataset(cfg, run_dir if run_dir is not None else scratch, split, arch=arch)
    elif cfg.data.kind == "atelier":
        raise EvaluationError("This model was trained on generated atelier data; pass --data KIND:PATH to "
                              "evaluate it on a dataset folder.")
    else:
        from training.data import make_dataset

        options = {**registry.family(family).default_reader_options(arch), **cfg.data.options}
        dataset = make_dataset(cfg.data.kind, cfg.data.path, split, resolution, **options)
    base = dataset
    while not hasattr(base, "root") and hasattr(base, "dataset"):
        base = base.dataset
    root = getattr(base, "root", None) or data_cfg.get("path", "")
    return dataset, {"kind": data_cfg.get("kind"), "path": str(root), "split": split, "resolution": resolution}


def _write_json(path: Path, obj: Any) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1), encoding="utf-8")


def evaluate(target: str | Path, *, n: int = 1000, features: str = "atelier", data: str | None = None,
             split: str | None = None, out: str | Path | None = None, batch_size: int = 32, seed: int = 0,
             device: str = "cpu", cache_dir: str | Path | None = None, emit_event: bool = True,
             classifier: str | Path | None = None) -> dict[str, Any]:
    """Evaluate a run folder or model file; write the report (and the run's metrics event); return the report.

    ``classifier``: the atelier attribute network used for agreement scores (default: the shipped one)."""
    from fashionstudio.core.modelfile import ModelFileError

    target = Path(target)
    if not target.exists():
        raise EvaluationError(f"There is no run folder or model file at '{target}'.")
    extractor = get_extractor(features, device=device)
    from training.metrics.atelier_features import AtelierClassifier, AtelierFileError

    clf_path = classifier
    try:
        classifier = AtelierClassifier(clf_path, device=device)
    except AtelierFileError:
        if clf_path is not None:
            raise
        classifier = None  # reported as "agreement not measured"
    with tempfile.TemporaryDirectory(prefix="fs_eval_") as tmp:
        try:
            model, run_dir, run_cfg = _load_target(target, Path(tmp))
        except ModelFileError as exc:
            raise EvaluationError(str(exc)) from None
        spec = spec_for(model.family)
        split = split or spec.real_split
        dataset, data_info = _dataset(run_cfg, model.family, model.config, run_dir, data, split,
                                      model.resolution, Path(tmp) / "run")
        model.to(device)
        body = evaluate_networks(model.networks, model.family, model.config, dataset, n=n, extractor=extractor,
                                 classifier=classifier, batch_size=batch_size, seed=seed, device=device,
                                 real_cache=data_info, cache_dir=cache_dir)
    body["classifier"] = None if classifier is None else {
        "weights": str(clf_path or "resources/features/atelier_features.safetensors"),
        "held_out_accuracy": classifier.meta.get("held_out_accuracy")}
    steps = int(model.meta.get("training", {}).get("steps", 0) or 0)
    report = {"format": REPORT_FORMAT, "format_version": 1,
              "model": {"path": str(target), "name": model.name, "sha256": model.sha256, "steps": steps,
                        "resolution": model.resolution},
              "data": data_info, "seed": seed,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **body}
    if out is None:
        out = (run_dir / "eval" / f"report_step{steps:08d}.json") if run_dir is not None \
            else target.with_suffix(".eval.json")
    out = Path(out)
    _write_json(out, report)
    report["report_path"] = str(out)
    if run_dir is not None and emit_event:
        from fashionstudio.core.run_folder import EventWriter

        writer = EventWriter(run_dir, echo=None)
        try:
            writer.emit("metrics", steps, values=headline_values(report), split=split, n=body["n"],
                        features=body["features"]["name"], report=os.path.relpath(out, run_dir))
        finally:
            close = getattr(writer, "close", None)
            if callable(close):
                close()
    return report


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training evaluate",
                                description="FID/KID/precision-recall/IS/SSIM/L1 of a run or model file, with "
                                            "the family's baselines, written as a JSON report.")
    p.add_argument("target", help="a run folder (its best checkpoint) or an app model file (.safetensors)")
    p.add_argument("--n", type=int, default=1000, help="samples to evaluate (default 1000; the thesis used "
                                                       "1,000 during training and 10,000 for final numbers)")
    p.add_argument("--features", default="atelier", help="atelier (default) or inception:FILE")
    p.add_argument("--data", default=None, help="KIND:PATH of the dataset (default: the run's own data)")
    p.add_argument("--split", default=None, choices=("train", "test", "all"),
                   help="dataset split (default: test, or train for unconditional generators)")
    p.add_argument("--out", default=None, help="report file (default RUN_DIR/eval/report_stepN.json or "
                                               "MODEL.eval.json)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--classifier", default=None, help="atelier attribute network for agreement scores "
                                                      "(default resources/features/atelier_features.safetensors)")
    p.add_argument("--cache-dir", default=None, help="feature cache folder (default ~/.cache/fashionstudio/features)")
    return p


def _summary(report: dict[str, Any]) -> str:
    lines = [f"{report['tool']} ({report['family']}), {report['n']} samples, features {report['features']['name']}"]
    for name, res in report["sets"].items():
        pr = f", P {res['precision']:.3f} R {res['recall']:.3f}" if "precision" in res else ""
        lines.append(f"  {name:<28} FID {res['fid']:.3f}  KID {res['kid']:.4f}±{res['kid_std']:.4f}{pr}")
    for name, res in report["paired"].items():
        masked = (f"  mask-L1 {res['mask_l1']:.4f}  mask-SSIM {res['mask_ssim']:.4f}"
                  if res.get("mask_l1") is not None else "")
        lines.append(f"  {name:<28} L1 {res['l1']:.4f}  SSIM {res['ssim']:.4f}{masked}")
    for name, heads in report.get("agreement", {}).items():
        vals = "  ".join(f"{h} {v:.3f}" for h, v in heads.items() if v is not None)
        lines.append(f"  {name:<28} {vals}")
    for name, v in report.get("scores", {}).items():
        lines.append(f"  {name:<40} {v:.4f}")
    lines.append(f"report: {report['report_path']}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    from training.metrics import upscale_eval

    if upscale_eval.is_upscaler(args.target):  # a helper model: compared with Lanczos, not with a family spec
        return upscale_eval.main(args.target, args.n, args.out, args.features)
    try:
        report = evaluate(args.target, n=args.n, features=args.features, data=args.data, split=args.split,
                          out=args.out, batch_size=args.batch_size, seed=args.seed, device=args.device,
                          cache_dir=args.cache_dir, classifier=args.classifier)
    except (EvaluationError, ValueError, FileNotFoundError) as exc:
        print(f"evaluate: {exc}", file=sys.stderr)
        return 2
    print(_summary(report))
    return 0
