"""SSIM (Wang et al. 2004) in torch: 11×11 Gaussian window, σ = 1.5, mean over the map, then over channels.

SSIM = ((2μxμy + C1)(2σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2)), with C1 = (0.01 L)² and
C2 = (0.03 L)², where L is the data range. Unlike the original code (which used L = 1 on [−1, 1] images), L is
given explicitly: 2 for the networks' [−1, 1] tensors. Only the windows that lie fully inside the image are
averaged ("valid" filtering), as scikit-image does, so no padding convention leaks into the score.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable depthwise Gaussian filter, valid region only."""
    c = x.shape[1]
    # contiguous(): grouped convolution with an expanded (stride-0) weight is ~30x slower on CPU.
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1).contiguous(), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1).contiguous(), groups=c)


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 2.0,
    window: int = 11,
    sigma: float = 1.5,
    reduction: str = "none",
) -> torch.Tensor:
    """SSIM of each image pair in NCHW batches ``x`` and ``y``: per image (``reduction='none'``) or their mean."""
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"SSIM needs two NCHW batches of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}.")
    if min(x.shape[-2:]) < window:
        raise ValueError(f"SSIM's {window}x{window} window needs images at least {window} pixels on each side.")
    # float64 keeps σ² = E[x²] − μ² from cancelling badly on flat regions.
    x = x.detach().to(torch.float64)
    y = y.detach().to(torch.float64)
    g = gaussian_window(window, sigma).to(x.device)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x, mu_y = _filter(x, g), _filter(y, g)
    sxx = _filter(x * x, g) - mu_x**2
    syy = _filter(y * y, g) - mu_y**2
    sxy = _filter(x * y, g) - mu_x * mu_y
    smap = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    per_image = smap.mean(dim=(2, 3)).mean(dim=1)
    if reduction == "none":
        return per_image
    if reduction == "mean":
        return per_image.mean()
    raise ValueError(f"reduction must be 'none' or 'mean', got {reduction!r}.")
