"""What a fabric looks like, measured from pixels: the item's colour and texture statistics.

The same functions read a shoe and a bag, so their values mean the same in both domains: the content/style Match
model uses them as its style code, and the trainers' colour and texture consistency terms compare them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _item_weights(x: torch.Tensor, sharpness: float) -> torch.Tensor:
    """How far each pixel is from the white studio background, sharpened and clipped to [0, 1]: [N,1,H,W]."""
    return ((1 - (x + 1).amin(dim=1, keepdim=True) / 2) * sharpness).clamp(0, 1)


def item_colour(x: torch.Tensor, sharpness: float = 4.0) -> torch.Tensor:
    """The mean colour of the item in each image of ``x`` ([N,3,H,W] in [-1,1]) -> [N,3].

    Pixels are weighted by how far they are from a white studio background (1 - the smallest channel, sharpened
    and clipped), so a yellow shoe counts as yellow and the white around it counts for almost nothing. The weights
    are detached: the loss moves the item's colour, not the mask.
    """
    x = x.float()
    w = _item_weights(x.detach(), sharpness)
    return (x * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1e-3)


def _box_blur(x: torch.Tensor, k: int) -> torch.Tensor:
    p = k // 2
    return F.avg_pool2d(F.pad(x, (p, p, p, p), mode="replicate"), k, stride=1)


def _erode(w: torch.Tensor, k: int) -> torch.Tensor:
    return -F.max_pool2d(-w, k, stride=1, padding=k // 2)


def _closeness(x: torch.Tensor, colour: torch.Tensor, sigma: float) -> torch.Tensor:
    """exp(-|x - colour|² / sigma²) per pixel, for ``colour`` [N,3]: [N,1,H,W]."""
    return torch.exp(-(x - colour[:, :, None, None]).square().sum(dim=1, keepdim=True) / sigma ** 2)


def _material_mask(x: torch.Tensor, colour: torch.Tensor, sharpness: float, sigma: float) -> torch.Tensor:
    """Inner item pixels (eroded away from background and outline) whose neighbourhood is close to ``colour``."""
    return _erode(_erode(_item_weights(x, sharpness), 5) * _closeness(_box_blur(x, 5), colour, sigma), 3)


def fabric_colour(x: torch.Tensor, sharpness: float = 4.0, sigma: float = 0.3, steps: int = 2) -> torch.Tensor:
    """The colour of each item's main material ([N,3,H,W] in [-1,1] -> [N,3]).

    Starts from the item's inner pixels near its mean colour and takes a few mean-shift steps towards the nearest
    dominant colour (pixels within about ``sigma`` of it), since the blurred seams between upper and sole sit close
    to the item mean. A shoe's black sole, laces and outline pull :func:`item_colour` towards dark, so the item mean
    often names the wrong colour family. The weights are detached; where no fabric is found (a blank image) it falls
    back to the item mean."""
    x32 = x.float()
    xd = x32.detach()
    item = _item_weights(xd, sharpness)
    w = _material_mask(xd, item_colour(xd, sharpness), sharpness, sigma) + 1e-3 * item
    for _ in range(steps):
        c = (xd * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1e-3)
        w = item * _closeness(xd, c, sigma) + 1e-3 * item
    return (x32 * w).sum(dim=(2, 3)) / w.sum(dim=(2, 3)).clamp_min(1e-3)


def fabric_weights(x: torch.Tensor, sharpness: float = 4.0, sigma: float = 0.3) -> torch.Tensor:
    """Where the item's main material is, [N,1,H,W] in [0, 1], detached: away from the white background, away
    from the outline, and close to the :func:`fabric_colour`, so laces, soles, trims and clasps (another colour)
    count little and a solid shoe reads as solid. (Closeness to the item *mean* colour, which the sole drags dark,
    lets laces and soles in.)"""
    xd = x.float().detach()
    c = fabric_colour(xd, sharpness, sigma)
    return _material_mask(xd, c, sharpness, sigma)


COLOUR_DIM = 3  # numbers in fabric_colour
TEXTURE_LEVELS, TEXTURE_FILTERS = 2, 5  # full and half resolution; high-pass and four directional derivatives
TEXTURE_DIM = TEXTURE_LEVELS * TEXTURE_FILTERS * (TEXTURE_FILTERS + 1) // 2  # a Gram matrix's upper triangle per level


def fabric_texture(x: torch.Tensor) -> torch.Tensor:
    """Texture statistics of each item's fabric ([N,3,H,W] in [-1,1] -> [N, TEXTURE_DIM]): second moments (a Gram matrix, as
    in Gatys et al.'s texture model) of the high-pass image and its four directional derivatives, at full and half
    resolution, averaged over :func:`fabric_weights` and summed over the colour channels (a pattern may differ from
    its ground in hue alone). Stripes, checks and dots differ in which directions carry energy; a solid fabric has
    almost none. Signed square roots put the moments in image units."""
    w = fabric_weights(x)
    img = x.float()
    n = img.shape[0]
    stats = []
    for level in range(TEXTURE_LEVELS):
        if level:
            img, w = F.avg_pool2d(img, 2), F.avg_pool2d(w, 2)
        hp = (img - _box_blur(img, 5)).flatten(0, 1)[:, None]  # [N*3, 1, H, W]: channels as separate images
        dx = F.pad(hp[..., :, 1:] - hp[..., :, :-1], (0, 1))
        dy = F.pad(hp[..., 1:, :] - hp[..., :-1, :], (0, 0, 0, 1))
        f = torch.cat([hp, dx, dy, (dx + dy) / 2 ** 0.5, (dx - dy) / 2 ** 0.5], dim=1)
        f = f.view(n, 3, *f.shape[1:])
        wc = w[:, None]  # [N, 1, 1, H, W]
        gram = torch.einsum("ncihw,ncjhw->nij", f * wc, f) / w.sum(dim=(1, 2, 3)).clamp_min(1.0)[:, None, None]
        iu = torch.triu_indices(f.shape[2], f.shape[2], device=x.device)
        m = gram[:, iu[0], iu[1]]
        stats.append(m.sign() * (m.abs() + 1e-8).sqrt())
    return torch.cat(stats, dim=1)
