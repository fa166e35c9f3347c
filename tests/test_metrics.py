"""Each metric against an independent computation: scipy sqrtm, a naive double loop, scikit-image, hand-built sets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from training.metrics.fid import fid_from_features, frechet_distance, trace_sqrt_product
from training.metrics.inception_score import inception_score
from training.metrics.kid import kid_from_features, mmd2_unbiased
from training.metrics.paired import PairedAccumulator, l1_distance
from training.metrics.prdc import knn_radii, precision_recall
from training.metrics.ssim import ssim


# ---------------------------------------------------------------- Fréchet distance

def _fid_scipy(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def test_frechet_distance_matches_scipy_sqrtm_on_random_features():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 12))
    b = rng.normal(size=(150, 12)) @ rng.normal(size=(12, 12)) * 0.5 + 0.3
    assert fid_from_features(a, b) == pytest.approx(_fid_scipy(a, b), rel=1e-7)


def test_trace_sqrt_product_matches_product_eigenvalues():
    # Different route: eigenvalues of the (non-symmetric) product are real and >= 0 for PSD factors.
    rng = np.random.default_rng(2)
    m1, m2 = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = m1 @ m1.T, m2 @ m2.T
    expected = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_1d_gaussians_has_closed_form():
    # FD(N(0, 1), N(m, s²)) = m² + (1 − s)².
    assert frechet_distance([0.0], [[1.0]], [2.0], [[9.0]]) == pytest.approx(4.0 + 4.0)


def test_frechet_distance_is_zero_for_identical_sets_and_finite_when_singular():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(10, 32))  # fewer samples than dimensions: singular covariance
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-8)
    value = fid_from_features(a, rng.normal(size=(10, 32)))
    assert math.isfinite(value) and value > 0


def test_frechet_distance_refuses_mismatched_dimensions():
    with pytest.raises(ValueError, match="same feature extractor"):
        fid_from_features(np.zeros((5, 3)) + np.arange(5)[:, None], np.ones((5, 4)) * np.arange(5)[:, None])


# ---------------------------------------------------------------- KID

def _mmd2_loops(x: np.ndarray, y: np.ndarray) -> float:
    m, d = x.shape
    k = lambda u, v: (float(np.dot(u, v)) / d + 1.0) ** 3  # noqa: E731
    sxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    sxy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    return sxx / (m * (m - 1)) + syy / (m * (m - 1)) - 2 * sxy / (m * m)


def test_mmd2_matches_naive_double_loop():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(7, 5)), rng.normal(size=(7, 5)) + 0.5
    assert mmd2_unbiased(x, y) == pytest.approx(_mmd2_loops(x, y), rel=1e-10)


def test_kid_over_subsets_equal_to_whole_set_has_zero_std():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(8, 4)), rng.normal(size=(8, 4)) * 2
    mean, std = kid_from_features(x, y, n_subsets=5, subset_size=100)
    assert mean == pytest.approx(_mmd2_loops(x, y), rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_kid_subsets_separate_same_from_different_distributions():
    rng = np.random.default_rng(6)
    a, b, c = rng.normal(size=(300, 8)), rng.normal(size=(300, 8)), rng.normal(size=(300, 8)) + 1.0
    same_mean, same_std = kid_from_features(a, b, n_subsets=20, subset_size=100)
    diff_mean, _ = kid_from_features(a, c, n_subsets=20, subset_size=100)
    assert same_std > 0
    assert abs(same_mean) < 3 * same_std + 1e-3
    assert diff_mean > 10 * (abs(same_mean) + same_std)


# ---------------------------------------------------------------- precision / recall / density / coverage

def _line(xs) -> np.ndarray:
    return np.stack([np.asarray(xs, dtype=np.float64), np.zeros(len(xs))], axis=1)


def test_knn_radii_skip_the_point_itself():
    radii = knn_radii(torch.tensor(_line(range(10))), k=3)
    assert radii.tolist() == [3, 2, 2, 2, 2, 2, 2, 2, 2, 3]


@pytest.mark.parametrize("max_block", [1 << 24, 7])  # one block, and many small chunks
def test_precision_recall_on_hand_built_sets(max_block):
    # Reals at x = 0..9; fakes at 0.5..4.5 (on the real manifold) and 1000..1004 (far away).
    # Worked out by hand (the balls have radius 2, or 3 at the ends of each cluster):
    # precision = 5/10; fake balls cover x in [-2.5, 7.5] so recall = 8/10;
    # real balls holding a fake are those of 0..6 so coverage = 7/10;
    # fakes lie in 3, 4, 5, 4, 4 real balls, so density = 20 / (3 * 10).
    real = _line(range(10))
    fake = _line([0.5, 1.5, 2.5, 3.5, 4.5, 1000, 1001, 1002, 1003, 1004])
    r = precision_recall(real, fake, k=3, max_block=max_block, dtype=torch.float64)
    assert r["precision"] == pytest.approx(0.5)
    assert r["recall"] == pytest.approx(0.8)
    assert r["f1"] == pytest.approx(2 * 0.5 * 0.8 / 1.3)
    assert r["coverage"] == pytest.approx(0.7)
    assert r["density"] == pytest.approx(20 / 30)


def test_precision_recall_refuses_too_few_samples():
    with pytest.raises(ValueError, match="more than 3 samples"):
        precision_recall(np.zeros((3, 2)), np.zeros((10, 2)))


# ---------------------------------------------------------------- Inception Score

def test_inception_score_of_uniform_one_hot_classifier_is_class_count():
    probs = np.eye(5)[np.arange(50) % 5]  # each class equally often, always certain: marginal uniform
    mean, std = inception_score(probs, splits=5)
    assert mean == pytest.approx(5.0) and std == pytest.approx(0.0, abs=1e-12)
    assert inception_score(np.eye(5)[np.zeros(20, dtype=int)], splits=1)[0] == pytest.approx(1.0)


def test_inception_score_of_toy_classifier_matches_scipy_entropy():
    from scipy.stats import entropy

    # A toy softmax classifier on random inputs; the IS is checked against scipy's KL divergence.
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 4)) * 2
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    marginal = probs.mean(0)
    expected = math.exp(np.mean([entropy(p, marginal) for p in probs]))
    assert inception_score(probs, splits=1)[0] == pytest.approx(expected, rel=1e-10)


def test_inception_score_refuses_logits():
    with pytest.raises(ValueError, match="softmax"):
        inception_score(np.array([[2.0, -1.0], [0.5, 0.1]]))


# ---------------------------------------------------------------- SSIM and L1

def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(8)
    base = rng.uniform(-1, 1, size=(2, 3, 32, 24))
    # Smooth structure plus noise so the score is neither ~0 nor ~1.
    yy, xx = np.mgrid[0:32, 0:24]
    base[0] = np.sin(xx / 4.0)[None] * np.cos(yy / 5.0)[None] * 0.8
    other = np.clip(base + rng.normal(scale=0.3, size=base.shape), -1, 1)
    ours = ssim(torch.tensor(base), torch.tensor(other), data_range=2.0)
    for i in range(2):
        ref = structural_similarity(
            base[i], other[i], channel_axis=0, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=2.0,
        )
        assert float(ours[i]) == pytest.approx(ref, abs=1e-6)
    assert 0.05 < float(ours[0]) < 0.95


def test_ssim_of_identical_images_is_one_and_refuses_tiny_images():
    x = torch.rand(1, 3, 16, 16)
    assert float(ssim(x, x, data_range=1.0)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 11 pixels"):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))


def test_masked_l1_and_ssim_ignore_what_lies_outside_the_mask():
    from skimage.metrics import structural_similarity

    from training.metrics.paired import masked_l1, masked_ssim

    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 3, 24, 24, generator=g) * 2 - 1
    y = torch.rand(2, 3, 24, 24, generator=g) * 2 - 1
    mask = torch.zeros(2, 1, 24, 24)
    mask[0, :, 4:12, 6:20] = 1
    # Independent: a plain loop over the masked pixels.
    sel = mask[0, 0].bool()
    expected = float(np.mean([abs(float(x[0, c][sel][i]) - float(y[0, c][sel][i]))
                              for c in range(3) for i in range(int(sel.sum()))]))
    got = masked_l1(x, y, mask)
    assert float(got[0]) == pytest.approx(expected, rel=1e-9)
    assert torch.isnan(got[1])  # an empty mask has no masked L1
    # Changing the images outside the mask changes neither masked score.
    x2 = torch.where(mask.bool(), x, torch.rand(2, 3, 24, 24, generator=g))
    assert torch.allclose(masked_l1(x2, y, mask)[:1], got[:1])
    assert torch.allclose(masked_ssim(x2, y, mask), masked_ssim(x, y, mask))
    # mask-SSIM is SSIM (checked against scikit-image) of the images with the background set to 0.
    xm, ym = (x[0] * mask[0]).permute(1, 2, 0).numpy(), (y[0] * mask[0]).permute(1, 2, 0).numpy()
    ref = np.mean([structural_similarity(xm[..., c], ym[..., c], data_range=2.0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False) for c in range(3)])
    assert float(masked_ssim(x[:1], y[:1], mask[:1])) == pytest.approx(ref, abs=1e-4)
    acc = PairedAccumulator()
    acc.update(x, y, mask)
    res = acc.result()
    assert res["mask_n"] == 1 and res["mask_l1"] == pytest.approx(expected, rel=1e-9)
    assert res["mask_ssim"] == pytest.approx(ref, abs=1e-4)  # the empty-mask image is left out, not scored 1.0


def test_l1_and_paired_accumulator():
    x = torch.zeros(2, 3, 12, 12)
    y = torch.zeros(2, 3, 12, 12)
    y[1] = 0.5
    assert l1_distance(x, y).tolist() == [0.0, 0.5]
    acc = PairedAccumulator()
    acc.update(x, y)
    acc.update(x[:1], x[:1])
    result = acc.result()
    assert result["n"] == 3 and result["l1"] == pytest.approx(0.5 / 3)
    assert result["ssim"] < 1.0
    assert "mask_l1" not in result  # no masks given, no masked scores
