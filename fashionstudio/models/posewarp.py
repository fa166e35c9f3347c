"""PoseWarp: pose transfer by warping the source (Deformable GANs, Siarohin et al. CVPR 2018, with a visibility
mask in the spirit of GFLA, Ren et al. 2020).

A U-Net that must re-draw every pixel through a bottleneck (PGPG) cannot carry a dress's dots across a pose change;
the pixels are already in the source photo, and the two skeletons say where each body part moved. So:

1. **Part-wise affine flow** (no parameters): from the source and target keypoints (read off the 18 heatmaps),
   each of ten body parts (head, torso, upper/lower arms, thighs, shins) gets the affine map that carries its
   target segment onto its source segment, and a soft capsule mask around the target segment. Per target pixel the
   part in front wins (limbs over torso), the backdrop keeps the identity map: one sampling grid per image.
2. **Deformable skips**: an encoder of (source, source pose) gives features at 1, 1/2, 1/4 and 1/8 resolution;
   each is moved with ``grid_sample`` by the same flow (average-pooled to its scale). A second encoder reads the
   target pose and part masks.
3. **Decoder with a visibility mask**: from the warped and target features it predicts a synthesised image ``S``
   and a mask ``m``; the result is ``m * warp(source) + (1 - m) * S``, so visible fabric is copied and disoccluded
   parts (an arm that was behind the back) are synthesised instead of smeared.

Inference API (the Pose tab shows the plain warp and the result side by side):

- ``G(src: [N,3,R,R], src_pose: [N,18,R,R], tgt_pose: [N,18,R,R]) -> [N,3,R,R]`` in [-1, 1];
  ``G.parts(...)`` returns the warp, the mask and the synthesis too.
- ``D(condition, image)``: PatchGAN on ``cat(src, max-projected target pose, image)`` (LSGAN).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from fashionstudio.models.blocks import (
    ConvNormAct,
    PatchGAN,
    init_gan_weights,
    require_power_of_two_multiple,
    resolve_config,
    select_networks,
)

NETWORKS = ("G", "D")
INFERENCE_NETWORKS = ("G",)

_COMMON = {"family": "posewarp", "image_channels": 3, "pose_channels": 18, "n_scales": 4}
PRESETS: dict[str, dict] = {
    "studio": {**_COMMON, "preset": "studio", "resolution": 128, "g_base": 24, "d_base": 32, "d_blocks": 5},
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "g_base": 16, "d_base": 16, "d_blocks": 4},
}

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


class PoseWarpGenerator(nn.Module):
    """Source + source pose + target pose -> the source person in the target pose (module docstring)."""

    needs_source_pose = True  # read by the Pose pipeline: the photo's own pose is an input

    def __init__(self, resolution: int, base: int, n_scales: int = 4, pose_channels: int = 18,
                 image_channels: int = 3) -> None:
        super().__init__()
        require_power_of_two_multiple(resolution, 2 ** (n_scales - 1), "PoseWarp generator")
        if pose_channels != 18:
            raise ValueError("PoseWarp reads joint positions off 18 keypoint heatmaps (pose_channels = 18).")
        self.resolution, self.image_channels, self.pose_channels = resolution, image_channels, pose_channels
        self.source_encoder = Encoder(image_channels + pose_channels, base, n_scales)
        self.target_encoder = Encoder(pose_channels + N_PARTS, base, n_scales)
        widths = [base * 2**i for i in range(n_scales)]
        self.bottom = ConvNormAct(2 * widths[-1], widths[-1], 3, norm="instance", act="lrelu")
        self.ups = nn.ModuleList()
        for i in range(n_scales - 2, -1, -1):
            extra = image_channels + 1 if i == 0 else 0  # the warped source and the body coverage at full size
            self.ups.append(nn.ModuleDict({
                "reduce": ConvNormAct(widths[i + 1], widths[i], 3, norm="instance", act="lrelu"),
                "fuse": nn.Sequential(
                    ConvNormAct(3 * widths[i] + extra, widths[i], 3, norm="instance", act="lrelu"),
                    ConvNormAct(widths[i], widths[i], 3, norm="instance", act="lrelu")),
            }))
        self.head = nn.Conv2d(widths[0], image_channels + 1, 3, padding=1)

    def _check(self, x: torch.Tensor, channels: int, what: str) -> None:
        r = self.resolution
        if x.dim() != 4 or x.shape[1] != channels or tuple(x.shape[-2:]) != (r, r):
            raise ValueError(f"{what} must be a [N, {channels}, {r}, {r}] tensor for this pose model, "
                             f"got {list(x.shape)}")

    def flow(self, src_pose: torch.Tensor, tgt_pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The sampling grid and the target part masks for a pair of poses (no gradients: keypoints are data)."""
        with torch.no_grad():
            src_kp, src_ok = keypoints_from_heatmaps(src_pose)
            tgt_kp, tgt_ok = keypoints_from_heatmaps(tgt_pose)
            return part_flow(src_kp, src_ok, tgt_kp, tgt_ok, self.resolution)

    def parts(self, src: torch.Tensor, src_pose: torch.Tensor, tgt_pose: torch.Tensor) -> dict[str, torch.Tensor]:
        """Everything the result is made of: ``warped`` source, ``visibility`` mask, ``synthesis``, ``output``."""
        self._check(src, self.image_channels, "the source image")
        self._check(src_pose, self.pose_channels, "the source pose")
        self._check(tgt_pose, self.pose_channels, "the target pose")
        grid, masks = self.flow(src_pose, tgt_pose)
        warped = warp(src, grid)
        src_feats = [warp(f, grid) for f in self.source_encoder(torch.cat([src, src_pose], 1))]
        tgt_feats = self.target_encoder(torch.cat([tgt_pose, masks.to(tgt_pose.dtype)], 1))
        x = self.bottom(torch.cat([src_feats[-1], tgt_feats[-1]], 1))
        coverage = masks.amax(dim=1, keepdim=True).to(x.dtype)
        for up, i in zip(self.ups, range(len(src_feats) - 2, -1, -1)):
            x = up["reduce"](F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
            skips = [x, src_feats[i], tgt_feats[i]] + ([warped, coverage] if i == 0 else [])
            x = up["fuse"](torch.cat(skips, 1))
        out = self.head(x)
        synthesis = torch.tanh(out[:, : self.image_channels])
        visibility = torch.sigmoid(out[:, self.image_channels:] + 1.0)  # start by trusting the warp
        output = visibility * warped + (1 - visibility) * synthesis
        return {"warped": warped, "visibility": visibility, "synthesis": synthesis, "output": output}

    def forward(self, src: torch.Tensor, src_pose: torch.Tensor, tgt_pose: torch.Tensor) -> torch.Tensor:
        return self.parts(src, src_pose, tgt_pose)["output"]


def pose_condition(src: torch.Tensor, tgt_pose: torch.Tensor) -> torch.Tensor:
    """What D is conditioned on: the source and the target skeleton drawn as one channel in [-1, 1]."""
    return torch.cat([src, tgt_pose.amax(dim=1, keepdim=True) * 2 - 1], dim=1)


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "studio", config)
    names = select_networks(NETWORKS, which)
    res, ch = cfg["resolution"], cfg["image_channels"]
    require_power_of_two_multiple(res, 2 ** cfg["d_blocks"], "PoseWarp discriminator")
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name == "G":
            net = PoseWarpGenerator(res, cfg["g_base"], cfg["n_scales"], cfg["pose_channels"], ch)
        else:
            net = PatchGAN(2 * ch + 1, cfg["d_base"], cfg["d_blocks"], upfeature=True, conditional=True)
        nets[name] = init_gan_weights(net)
    return nets
