"""Inception Score: exp(E_x KL(p(y|x) ‖ p(y))), as a mean and standard deviation over splits.

The thesis computed one split; the usual protocol (Salimans et al. 2016, torch-fidelity) uses 10 and reports
mean ± std, which ``splits`` allows. The classifier is whichever extractor provides class probabilities: Inception-v3
(1000 or 1008 ImageNet classes) or the atelier classifier's garment-type head.
"""

from __future__ import annotations

import numpy as np


def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """IS from class probabilities (N, C) whose rows sum to 1; returns (mean, std) over ``splits`` equal parts."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"class probabilities must be a 2-D array (samples x classes), got shape {p.shape}.")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("each row of class probabilities must be non-negative and sum to 1 (apply softmax first).")
    splits = max(1, min(splits, p.shape[0]))
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        # 0·log 0 = 0: mask zero probabilities instead of adding an epsilon that biases the score.
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
