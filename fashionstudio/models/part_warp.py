"""Warping by body parts, shared by the warping families (PoseWarp: pose transfer; FlatWarp: garment try-off).

From two 18-joint skeletons (read off heatmaps) each of ten body parts gets the affine map that carries its
target segment onto its source segment and a soft capsule mask around the target segment; per target pixel the part
in front wins, the backdrop keeps the identity map (:func:`part_flow`). :func:`warp` moves images or features by
that sampling grid at any scale; :class:`Encoder` gives the multi-scale features the families warp.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fashionstudio.models.blocks import ConvNormAct

# OpenPose-18 joints: 0 nose, 1 neck, 2-4 right shoulder/elbow/wrist, 5-7 left, 8-10 right hip/knee/ankle,
# 11-13 left, 14-17 eyes and ears.
NECK, R_SHOULDER, L_SHOULDER, R_HIP, L_HIP = 1, 2, 5, 8, 11


@dataclass(frozen=True)
class Part:
    """A body part: its segment (joint a -> joint b), which part covers which (higher in front) and the capsule
    radius around the segment as a share of the target's torso length."""

    name: str
    a: int
    b: int
    priority: float
    radius: float


# The torso's segment runs from mid-shoulders to mid-hips (a, b unused); the head's from the neck to the nose.
PARTS: tuple[Part, ...] = (
    Part("torso", -1, -1, 1.0, 0.0),
    Part("head", 1, 0, 2.0, 0.45),
    Part("r_thigh", 8, 9, 2.0, 0.24), Part("r_shin", 9, 10, 2.0, 0.2),
    Part("l_thigh", 11, 12, 2.0, 0.24), Part("l_shin", 12, 13, 2.0, 0.2),
    Part("r_upper_arm", 2, 3, 3.0, 0.17), Part("r_forearm", 3, 4, 4.0, 0.15),
    Part("l_upper_arm", 5, 6, 3.0, 0.17), Part("l_forearm", 6, 7, 4.0, 0.15),
)
N_PARTS = len(PARTS)
_LIMB_A = tuple(p.a for p in PARTS[1:])
_LIMB_B = tuple(p.b for p in PARTS[1:])


def keypoints_from_heatmaps(heatmaps: torch.Tensor, threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint positions (y, x) in pixels [N,18,2] and presence [N,18] from Gaussian heatmaps [N,18,H,W].

    A joint is present when its map peaks above ``threshold``; its position is the centroid of the map above
    60% of its peak, which is the Gaussian's centre to a fraction of a pixel (the map is symmetric)."""
    n, k, h, w = heatmaps.shape
    hm = heatmaps.float()
    peak = hm.flatten(2).amax(dim=2)
    present = peak > threshold
    weights = (hm - 0.6 * peak[..., None, None]).clamp_min(0)
    total = weights.sum(dim=(2, 3)).clamp_min(1e-8)
    ys = torch.arange(h, dtype=hm.dtype, device=hm.device)
    xs = torch.arange(w, dtype=hm.dtype, device=hm.device)
    y = (weights.sum(dim=3) * ys).sum(dim=2) / total
    x = (weights.sum(dim=2) * xs).sum(dim=2) / total
    return torch.stack([y, x], dim=-1), present


def _perp(u: torch.Tensor) -> torch.Tensor:
    """The unit vector 90 degrees from ``u`` (y, x), always turning the same way."""
    return torch.stack([u[..., 1], -u[..., 0]], dim=-1)


def _outer(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a[..., :, None] * b[..., None, :]


def _segments(kp: torch.Tensor, ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Start and end points [N,P,2] of every part's segment and their presence [N,P], plus the torso's shoulder
    vector (left minus right shoulder) [N,2] with its presence folded into the torso's."""
    mid_sh = 0.5 * (kp[:, R_SHOULDER] + kp[:, L_SHOULDER])
    mid_hip = 0.5 * (kp[:, R_HIP] + kp[:, L_HIP])
    torso_ok = ok[:, R_SHOULDER] & ok[:, L_SHOULDER] & ok[:, R_HIP] & ok[:, L_HIP]
    a, b = list(_LIMB_A), list(_LIMB_B)  # one gather for all limbs (a loop of indexing ops cost more at batch 1)
    starts = torch.cat([mid_sh[:, None], kp[:, a]], 1)
    ends = torch.cat([mid_hip[:, None], kp[:, b]], 1)
    present = torch.cat([torso_ok[:, None], ok[:, a] & ok[:, b]], 1)
    shoulders = kp[:, L_SHOULDER] - kp[:, R_SHOULDER]
    return starts, ends, present, shoulders


def part_affines(src_kp: torch.Tensor, src_ok: torch.Tensor, tgt_kp: torch.Tensor, tgt_ok: torch.Tensor
                 ) -> tuple[torch.Tensor, ...]:
    """Per part, the affine map target pixel -> source pixel: ``p_s = A (p_t - a_t) + a_s``.

    Returns A [N,P,2,2], the target segments' ends a_t, b_t [N,P,2], validity [N,P], the target torso length
    [N] (the body scale that sizes the capsules), the source segments' starts a_s and the target shoulder line. A limb maps its segment onto the source's and scales its width
    by the torso-length ratio; the torso maps its axis and its shoulder line (so a turn squeezes it)."""
    a_s, b_s, ok_s, sh_s = _segments(src_kp, src_ok)
    a_t, b_t, ok_t, sh_t = _segments(tgt_kp, tgt_ok)
    axis_s, axis_t = b_s - a_s, b_t - a_t
    len_s, len_t = axis_s.norm(dim=-1), axis_t.norm(dim=-1)
    valid = ok_s & ok_t & (len_t > 1.0) & (len_s > 0.5)
    torso_s, torso_t = len_s[:, 0].clamp_min(1.0), len_t[:, 0].clamp_min(1.0)
    width = (torso_s / torso_t).clamp(0.5, 2.0)
    # Without a torso on both sides, limb widths keep their size.
    width = torch.where(valid[:, 0], width, torch.ones_like(width))
    u_s = axis_s / len_s.clamp_min(1e-6)[..., None]
    u_t = axis_t / len_t.clamp_min(1e-6)[..., None]
    ratio = (len_s / len_t.clamp_min(1e-6))[..., None, None]
    A = ratio * _outer(u_s, u_t) + width[:, None, None, None] * _outer(_perp(u_s), _perp(u_t))
    # Torso: the 2x2 map taking the target's (axis, shoulder line) onto the source's, when the two are not
    # nearly parallel in the target (a side view); otherwise the limb rule above.
    basis_t = torch.stack([axis_t[:, 0], sh_t], dim=-1)  # columns: axis, shoulders
    basis_s = torch.stack([axis_s[:, 0], sh_s], dim=-1)
    det = torch.linalg.det(basis_t)
    spread = (len_t[:, 0] * sh_t.norm(dim=-1)).clamp_min(1e-6)
    well_posed = valid[:, 0] & (det.abs() / spread > 0.5) & (sh_s.norm(dim=-1) > 1.0)
    safe = torch.where(well_posed[:, None, None], basis_t, torch.eye(2, dtype=A.dtype, device=A.device))
    torso_A = basis_s @ torch.linalg.inv(safe)
    A = A.clone()
    A[:, 0] = torch.where(well_posed[:, None, None], torso_A, A[:, 0])
    A = torch.where(valid[..., None, None], A, torch.eye(2, dtype=A.dtype, device=A.device).expand_as(A))
    return A, a_t, b_t, valid, torso_t, a_s, sh_t


def _segment_distance(grid: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance of every pixel ``grid`` [H,W,2] to each segment a-b [N,P,2] -> [N,P,H,W]."""
    ab = (b - a)[:, :, None, None, :]
    ap = grid[None, None] - a[:, :, None, None, :]
    t = ((ap * ab).sum(-1) / ab.square().sum(-1).clamp_min(1e-6)).clamp(0, 1)
    return (ap - t[..., None] * ab).norm(dim=-1)


def part_flow(src_kp: torch.Tensor, src_ok: torch.Tensor, tgt_kp: torch.Tensor, tgt_ok: torch.Tensor,
              size: int, softness: float = 1.0, background: str = "identity") -> tuple[torch.Tensor, torch.Tensor]:
    """The sampling grid [N,R,R,2] (x, y in [-1, 1], ``grid_sample``'s convention) that fetches, for every target
    pixel, the source pixel of the body part in front; and the parts' soft masks in the target frame [N,P,R,R].

    Pixels no part covers keep the identity map (``background="identity"``: the backdrop of a pose change) or
    follow the torso's map where the torso is valid (``"torso"``: a garment reaching beyond the body)."""
    if background not in ("identity", "torso"):
        raise ValueError(f"background must be 'identity' or 'torso', not {background!r}")
    A, a_t, b_t, valid, torso_t, a_s, sh_t = part_affines(src_kp, src_ok, tgt_kp, tgt_ok)
    dev, dt = src_kp.device, src_kp.dtype
    ys, xs = torch.meshgrid(torch.arange(size, device=dev, dtype=dt), torch.arange(size, device=dev, dtype=dt),
                            indexing="ij")
    grid = torch.stack([ys, xs], dim=-1)  # [R,R,2] (y, x)
    dist = _segment_distance(grid, a_t, b_t)
    radius = torch.tensor([p.radius for p in PARTS], device=dev, dtype=dt)[None] * torso_t[:, None]
    torso_radius = torch.maximum(0.6 * sh_t.norm(dim=-1), 0.28 * torso_t)
    radius = torch.cat([torso_radius[:, None], radius[:, 1:]], dim=1).clamp_min(1.5)
    # A linear ramp that is exactly 0 outside: the priorities below multiply by up to 10^4, which would let a
    # sigmoid's tail pull far-away pixels onto a limb.
    masks = ((radius[..., None, None] - dist) / softness + 0.5).clamp(0, 1) * valid[..., None, None]
    # Every part's map applied to every pixel: [N,P,R,R,2] source positions (y, x).
    rel = grid[None, None] - a_t[:, :, None, None, :]
    src_pos = torch.einsum("npij,npyxj->npyxi", A, rel) + a_s[:, :, None, None, :]
    priority = torch.tensor([p.priority for p in PARTS], device=dev, dtype=dt)
    weights = masks * (10.0 ** priority)[None, :, None, None]
    background_w = torch.full_like(weights[:, :1], 1e-3)  # the background map, for pixels no part covers
    total = weights.sum(1, keepdim=True) + background_w
    fallback = grid[None]
    if background == "torso":
        fallback = torch.where(valid[:, 0, None, None, None], src_pos[:, 0], fallback)
    pos = (weights[..., None] * src_pos).sum(1) + background_w[:, 0, ..., None] * fallback
    pos = pos / total[:, 0, ..., None]
    xy = torch.stack([pos[..., 1], pos[..., 0]], dim=-1)
    return (xy + 0.5) / size * 2 - 1, masks


def resample_grid(grid: torch.Tensor, size: int) -> torch.Tensor:
    """A sampling grid [N,R,R,2] at another square ``size`` (area-averaged when smaller)."""
    if grid.shape[1] == size:
        return grid
    g = grid.permute(0, 3, 1, 2)
    g = F.adaptive_avg_pool2d(g, size) if size < grid.shape[1] else F.interpolate(g, size=size, mode="bilinear")
    return g.permute(0, 2, 3, 1)


def warp(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``x`` [N,C,h,w] moved by ``grid`` (resampled to h); outside the source the border colour repeats."""
    return F.grid_sample(x, resample_grid(grid, x.shape[-1]).to(x.dtype), mode="bilinear", padding_mode="border",
                         align_corners=False)


class Encoder(nn.Module):
    """``n`` scales: a full-resolution conv, then stride-2 convs doubling the width; returns every scale."""

    def __init__(self, c_in: int, base: int, n_scales: int) -> None:
        super().__init__()
        self.stages = nn.ModuleList()
        c = c_in
        for i in range(n_scales):
            out = base * 2**i
            self.stages.append(nn.Sequential(
                ConvNormAct(c, out, 3, stride=1 if i == 0 else 2, norm="instance", act="lrelu"),
                ConvNormAct(out, out, 3, norm="instance", act="lrelu")))
            c = out

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return feats
