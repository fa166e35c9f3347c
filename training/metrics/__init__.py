"""Evaluation metrics: FID, KID, precision/recall (k = 3), Inception Score, SSIM and L1, with pluggable features.

The metric functions take feature arrays or image batches and know nothing about models or datasets:

- :func:`fid_from_features`, :func:`frechet_distance`, :func:`feature_statistics` (``fid``)
- :func:`kid_from_features` (``kid``)
- :func:`precision_recall` (``prdc``: precision, recall, F1, density, coverage)
- :func:`inception_score` (``inception_score``)
- :func:`ssim` (``ssim``), :func:`l1_distance` and :class:`PairedAccumulator` (``paired``)

Feature extractors live in ``features`` (``inception:FILE`` and ``atelier``); ``evaluate`` is the
``python -m training evaluate`` command; ``sampling`` produces images from each model family.
"""

from training.metrics.fid import feature_statistics, fid_from_features, frechet_distance
from training.metrics.inception_score import inception_score
from training.metrics.kid import kid_from_features
from training.metrics.paired import PairedAccumulator, l1_distance
from training.metrics.prdc import precision_recall
from training.metrics.ssim import ssim

__all__ = [
    "PairedAccumulator",
    "feature_statistics",
    "fid_from_features",
    "frechet_distance",
    "inception_score",
    "kid_from_features",
    "l1_distance",
    "precision_recall",
    "ssim",
]
