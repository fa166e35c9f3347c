"""Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel.

k(x, y) = (x·y / d + 1)³. The unbiased estimator on sets X, Y of equal size m is
MMD² = [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m².
It is reported as mean and standard deviation over random subsets, as in the paper and in clean-fid/torch-fidelity.
"""

from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """(x·y / d + coef0) ** degree for all pairs of rows; float64."""
    d = x.shape[1]
    return (x @ y.T / d + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3) -> float:
    """Unbiased MMD² between two equal-size sets (m, d) with the polynomial kernel."""
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(f"the unbiased MMD needs two sets of the same size >= 2, got {x.shape[0]} and {y.shape[0]}.")
    kxx = polynomial_kernel(x, x, degree)
    kyy = polynomial_kernel(y, y, degree)
    kxy = polynomial_kernel(x, y, degree)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2.0 * kxy.sum() / (m * m))


def kid_from_features(
    real: np.ndarray,
    fake: np.ndarray,
    n_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """KID as (mean, std) of the unbiased MMD² over ``n_subsets`` random subsets (sampled without replacement
    within a subset). The subset size shrinks to the smaller set's size when the sets are small."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(
            f"KID needs two 2-D feature sets of the same dimension, got {real.shape} and {fake.shape}."
        )
    m = min(subset_size, real.shape[0], fake.shape[0])
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {real.shape[0]} and {fake.shape[0]}.")
    rng = np.random.default_rng(seed)
    values = np.empty(n_subsets)
    for i in range(n_subsets):
        xr = real[rng.choice(real.shape[0], m, replace=False)]
        xf = fake[rng.choice(fake.shape[0], m, replace=False)]
        values[i] = mmd2_unbiased(xr, xf)
    return float(values.mean()), float(values.std())
