"""Model-independent scores of a match, read off the pixels: shape copied and style kept.

Both work on NCHW float tensors in [-1, 1] (the app's PIL images go through :func:`pil_batch`), so the Match tab,
the CLI and ``training.metrics`` score candidates with the same code:

- :func:`silhouette` / :func:`silhouette_iou`: the item is every pixel that differs from the picture's border colour
  (catalogue pictures sit on a plain backdrop); the IoU of two silhouettes says how much of the input's outline a
  translation kept (a recoloured copy scores 1).
- :func:`style_distance`: compares the colour distributions of the two items (per channel, five quantiles of the
  item's pixels), on a 0..1 scale: 0 = the same colours in the same proportions, whatever the shape. A plain item
  has its quantiles close together, a striped one spread between the stripe colours, so pattern contrast counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image
from torch import Tensor

BACKDROP_TOLERANCE = 0.16  # in [-1, 1] units: 8% of the range, above JPEG noise on a white backdrop
QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


def pil_batch(images: Sequence[Image.Image]) -> Tensor:
    """Same-size PIL images -> N x 3 x H x W in [-1, 1]."""
    import numpy as np

    arr = np.stack([np.asarray(im.convert("RGB"), dtype=np.float32) for im in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2) / 127.5 - 1.0


def backdrop_colour(x: Tensor) -> Tensor:
    """N x 3: the median colour of each picture's one-pixel frame."""
    frame = torch.cat([x[:, :, 0, :], x[:, :, -1, :], x[:, :, :, 0], x[:, :, :, -1]], dim=2)
    return frame.median(dim=2).values


def silhouette(x: Tensor, tolerance: float = BACKDROP_TOLERANCE) -> Tensor:
    """N x H x W bool: pixels whose colour differs from the backdrop by more than ``tolerance`` in some channel."""
    x = x.float()
    return (x - backdrop_colour(x)[:, :, None, None]).abs().amax(dim=1) > tolerance


def silhouette_iou(x: Tensor, y: Tensor) -> Tensor:
    """N: intersection over union of the two batches' silhouettes (1 where both are empty)."""
    a, b = silhouette(x), silhouette(y)
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


def colour_quantiles(x: Tensor) -> Tensor:
    """N x 3 x len(QUANTILES): quantiles of each channel over the item's pixels (the whole picture if none)."""
    x = x.float()
    mask = silhouette(x)
    q = torch.tensor(QUANTILES)
    out = []
    for img, m in zip(x, mask):
        pixels = img[:, m] if int(m.sum()) >= 8 else img.flatten(1)
        out.append(torch.quantile(pixels, q, dim=1).T)
    return torch.stack(out)


def style_distance(x: Tensor, y: Tensor) -> Tensor:
    """N: mean absolute difference of the items' colour quantiles, 0..1 (0: same colours and contrast)."""
    return (colour_quantiles(x) - colour_quantiles(y)).abs().mean(dim=(1, 2)) / 2


def mean_pairwise_distance(features: Tensor) -> float:
    """Mean Euclidean distance over all pairs of rows of ``features`` (K x D, K >= 2)."""
    d = torch.cdist(features.float()[None], features.float()[None])[0]
    k = features.shape[0]
    return float(d.sum() / (k * (k - 1)))
