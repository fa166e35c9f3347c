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
from fashionstudio.models.part_warp import N_PARTS, Encoder, keypoints_from_heatmaps, part_flow, warp

NETWORKS = ("G", "D")
INFERENCE_NETWORKS = ("G",)

_COMMON = {"family": "posewarp", "image_channels": 3, "pose_channels": 18, "n_scales": 4}
PRESETS: dict[str, dict] = {
    "studio": {**_COMMON, "preset": "studio", "resolution": 128, "g_base": 24, "d_base": 32, "d_blocks": 5},
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "g_base": 16, "d_base": 16, "d_blocks": 4},
}

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
