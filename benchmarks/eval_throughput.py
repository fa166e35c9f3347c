"""Evaluation throughput: images/s of feature extraction and of each metric, with same-run baselines.

Prints one JSON object. Every timing is paired with a baseline measured in the same run, and the ratio is what
to compare across machines:

- features: the atelier CNN vs the Inception-v3 (random weights in torchvision's layout: same cost as the real
  FID weights, which this script never downloads) — images/s at 64×64 input;
- FID: our eigh route vs ``scipy.linalg.sqrtm`` on the product, at the given feature dimension;
- precision/recall: chunked distances vs one full distance matrix;
- SSIM: ours (torch, float64) vs scikit-image, images/s at 64×64;
- KID: subsets/s.

Usage: ``python benchmarks/eval_throughput.py [--n 1000] [--dim 2048] [--images 64] [--threads 2]``
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.metrics.fid import fid_from_features  # noqa: E402
from training.metrics.kid import kid_from_features  # noqa: E402
from training.metrics.prdc import precision_recall  # noqa: E402
from training.metrics.ssim import ssim  # noqa: E402


def timed(fn, repeat: int = 1) -> float:
    fn()  # warm-up (allocations, lazy imports)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def bench_features(images: int, tmp: Path) -> dict:
    from safetensors.torch import save_file
    from torchvision.models import inception_v3

    from training.metrics.features import extract_all, get_extractor

    out: dict = {}
    batch = torch.rand(32, 3, 64, 64) * 2 - 1
    batches = [batch] * max(1, images // 32)
    count = 32 * len(batches)
    atelier_path = Path(__file__).resolve().parents[1] / "resources" / "features" / "atelier_features.safetensors"
    if atelier_path.is_file():
        ext = get_extractor("atelier")
        out["atelier_images_per_s"] = count / timed(lambda: extract_all(ext, batches))
    weights = tmp / "inception_random.safetensors"
    save_file(inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008).state_dict(),
              str(weights))
    inc = get_extractor(f"inception:{weights}")
    small = batches[: max(1, len(batches) // 4)]  # Inception at 299 px is ~100x slower: fewer images
    out["inception_images_per_s"] = 32 * len(small) / timed(lambda: extract_all(inc, small))
    if "atelier_images_per_s" in out:
        out["atelier_vs_inception"] = out["atelier_images_per_s"] / out["inception_images_per_s"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000, help="samples per feature set")
    parser.add_argument("--dim", type=int, default=2048, help="feature dimension (2048 = Inception)")
    parser.add_argument("--images", type=int, default=256, help="images for the extraction timing")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-features", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    real = rng.normal(size=(args.n, args.dim)).astype(np.float32)
    fake = (rng.normal(size=(args.n, args.dim)) * 1.1 + 0.1).astype(np.float32)
    result: dict = {"n": args.n, "dim": args.dim, "threads": args.threads}

    import scipy.linalg

    def fid_scipy() -> float:
        a, b = real.astype(np.float64), fake.astype(np.float64)
        s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))

    t_fid = timed(lambda: fid_from_features(real, fake))
    t_fid_ref = timed(fid_scipy)
    result["fid_s"] = t_fid
    result["fid_scipy_sqrtm_s"] = t_fid_ref
    result["fid_speedup_vs_scipy"] = t_fid_ref / t_fid
    result["fid_abs_diff_vs_scipy"] = abs(fid_from_features(real, fake) - fid_scipy())

    t_pr = timed(lambda: precision_recall(real, fake, k=3, max_block=1 << 22))
    t_pr_full = timed(lambda: precision_recall(real, fake, k=3, max_block=1 << 40))
    result["pr_samples_per_s"] = 2 * args.n / t_pr
    result["pr_chunked_vs_full_matrix"] = t_pr_full / t_pr

    subsets = 20
    t_kid = timed(lambda: kid_from_features(real, fake, n_subsets=subsets, subset_size=min(1000, args.n)))
    result["kid_subsets_per_s"] = subsets / t_kid

    from skimage.metrics import structural_similarity

    x = torch.rand(64, 3, 64, 64) * 2 - 1
    y = (x + 0.2 * torch.randn_like(x)).clamp(-1, 1)
    t_ssim = timed(lambda: ssim(x, y), repeat=3)
    xn, yn = x.numpy().astype(np.float64), y.numpy().astype(np.float64)

    def ssim_skimage() -> None:
        for i in range(len(xn)):
            structural_similarity(xn[i], yn[i], channel_axis=0, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False, data_range=2.0)

    t_ssim_ref = timed(ssim_skimage)
    result["ssim_images_per_s"] = len(x) / t_ssim
    result["ssim_speedup_vs_skimage"] = t_ssim_ref / t_ssim

    if not args.skip_features:
        with tempfile.TemporaryDirectory() as tmp:
            result.update(bench_features(args.images, Path(tmp)))
    print(json.dumps({k: round(v, 6) if isinstance(v, float) else v for k, v in result.items()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
