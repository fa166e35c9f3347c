"""Fréchet distance between two Gaussians fitted to feature sets (FID when the features are Inception pool3).

FD = ‖μ_r − μ_g‖² + Tr(Σ_r) + Tr(Σ_g) − 2·Tr((Σ_r Σ_g)^{1/2}).

The trace of the square root is the only delicate term. Σ_r Σ_g is not symmetric, and ``scipy.linalg.sqrtm`` on it
can return complex values or fail on near-singular covariances (few samples, many dimensions). We use instead that
Σ_r Σ_g is similar to the symmetric positive semi-definite matrix A = Σ_r^{1/2} Σ_g Σ_r^{1/2}, so
Tr((Σ_r Σ_g)^{1/2}) = Σ_i sqrt(λ_i(A)). Both square roots come from symmetric eigen-decompositions (``eigh``),
which are stable; tiny negative eigenvalues from round-off are clipped to zero. Everything runs in float64.
"""

from __future__ import annotations

import numpy as np


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance (float64) of ``features`` with shape (N, D), N >= 2."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"features must be a 2-D array (samples x dimensions), got shape {x.shape}.")
    if x.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {x.shape[0]}.")
    mu = x.mean(axis=0)
    sigma = np.cov(x, rowvar=False)
    return mu, np.atleast_2d(sigma)


def _sym_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix through its eigen-decomposition (negative round-off clipped)."""
    sym = (matrix + matrix.T) / 2.0
    vals, vecs = np.linalg.eigh(sym)
    vals = np.clip(vals, 0.0, None)
    return (vecs * np.sqrt(vals)) @ vecs.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ1 Σ2)^{1/2}) for symmetric PSD Σ1, Σ2, via the symmetric product Σ1^{1/2} Σ2 Σ1^{1/2}."""
    root1 = _sym_sqrt(np.asarray(sigma1, dtype=np.float64))
    inner = root1 @ np.asarray(sigma2, dtype=np.float64) @ root1
    vals = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    return float(np.sqrt(np.clip(vals, 0.0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"the two feature sets have different dimensions (means {mu1.shape} vs {mu2.shape}, covariances "
            f"{sigma1.shape} vs {sigma2.shape}): were they computed with the same feature extractor?"
        )
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2)
    # The exact value is >= 0; round-off can leave a tiny negative number for identical sets.
    return float(max(value, 0.0))


def fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N, D)."""
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))
