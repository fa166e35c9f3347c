"""FlatWarp: garment extraction by warping the worn garment into the flat layout (Pose's part-affine warp, after
Deformable GANs, Siarohin et al. 2018, run from the body onto the catalogue flat; a learned residual flow and a
mask/fill decoder in the spirit of VITON's warp-then-compose, Han et al. 2018).

PixelDTGAN re-draws the whole flat from a 100-d code; the garment's pixels are already in the photo, on the body,
and the joints say where each part of the garment sits. So, from the photo alone:

1. **Two skeletons**: a keypoint head reads the person's 18 joints (soft-argmax heatmaps) and regresses the 18
   joints of the flat's layout (where the mannequin's shoulders, elbows and hips fall in the catalogue frame,
   which sizes the sleeves and the hem). Both come with presence logits. They are trained on the atelier's joints;
   the flow uses them without gradients.
2. **Part-affine flow** (``part_warp.part_affines``): every flat pixel near a part (torso, upper arms, forearms,
   thighs for a dress) fetches the photo pixel of that part; pixels no part covers follow the torso's map.
3. **Learned flow**: a small network sees the photo warped so and adds a bounded residual offset field.
4. **Mask and fill**: deformable skips (the photo encoder's features moved by the flow) feed a decoder that
   predicts the flat garment's mask ``m``, a synthesis ``S`` and a copy weight ``a``; the result is
   ``m * (a * warp(photo) + (1 - a) * S) + (1 - m) * white``.

Inference API: ``G(person: [N,3,R,R]) -> flat [N,3,R,R]`` in [-1, 1]; ``G.parts(person)`` returns the joints,
the warp, the mask, the synthesis and the copy weight too. ``D_R(flat)`` (real/fake) and ``D_A(person, flat)``
(association) are PixelDTGAN's discriminators.
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
from fashionstudio.models.part_warp import N_PARTS, Encoder, part_flow, resample_grid, warp

NETWORKS = ("G", "D_R", "D_A")
INFERENCE_NETWORKS = ("G",)
N_JOINTS = 18

_COMMON = {"family": "flatwarp", "image_channels": 3, "n_scales": 4}
PRESETS: dict[str, dict] = {
    "studio": {**_COMMON, "preset": "studio", "resolution": 128, "g_base": 24, "d_base": 32, "d_blocks": 5,
               "max_offset": 0.15},
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "g_base": 12, "d_base": 16, "d_blocks": 4,
             "max_offset": 0.15},
}


class KeypointHead(nn.Module):
    """Person joints by soft-argmax over heatmaps at a quarter of the resolution, flat-layout joints by regression
    from the pooled deepest features; presence logits for both."""

    def __init__(self, widths: list[int], resolution: int) -> None:
        super().__init__()
        self.resolution = resolution
        self.heat = nn.Sequential(ConvNormAct(widths[2] + widths[-1], widths[1], 1, norm="instance", act="lrelu"),
                                  nn.Conv2d(widths[1], N_JOINTS, 3, padding=1))
        self.layout = nn.Sequential(nn.Flatten(), nn.Linear(widths[-1] * 16, 256), nn.LeakyReLU(0.2, inplace=True),
                                    nn.Linear(256, N_JOINTS * 2 + 2 * N_JOINTS))

    def forward(self, feats: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        f2, f_last = feats[2], feats[-1]
        logits = self.heat(torch.cat([f2, F.interpolate(f_last, size=f2.shape[-2:], mode="bilinear",
                                                        align_corners=False)], 1))
        n, k, h, w = logits.shape
        prob = logits.flatten(2).softmax(-1).view(n, k, h, w)
        step = self.resolution / h  # a heatmap cell in model pixels
        ys = (torch.arange(h, device=prob.device, dtype=prob.dtype) + 0.5) * step - 0.5
        xs = (torch.arange(w, device=prob.device, dtype=prob.dtype) + 0.5) * step - 0.5
        person = torch.stack([(prob.sum(3) * ys).sum(2), (prob.sum(2) * xs).sum(2)], -1)
        out = self.layout(F.adaptive_avg_pool2d(f_last, 4))
        flat = (0.5 + 0.5 * out[:, : 2 * N_JOINTS].view(n, N_JOINTS, 2)) * self.resolution
        presence = out[:, 2 * N_JOINTS:]
        return {"person_kp": person, "flat_kp": flat, "person_present": presence[:, :N_JOINTS],
                "flat_present": presence[:, N_JOINTS:]}


def garment_flow(person_kp: torch.Tensor, person_ok: torch.Tensor, flat_kp: torch.Tensor, flat_ok: torch.Tensor,
                 size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sampling grid [N,R,R,2] (flat pixel -> photo position, ``grid_sample`` convention) and the parts' masks in
    the flat frame [N,P,R,R]: the part in front wins near the parts, the torso's affine map everywhere else (a
    skirt's hem or a wide sleeve lies outside every body capsule)."""
    return part_flow(person_kp, person_ok, flat_kp, flat_ok, size, background="torso")


class FlatWarpGenerator(nn.Module):
    """Person photo -> the worn garment alone as a flat catalogue image (module docstring)."""

    def __init__(self, resolution: int, base: int, n_scales: int = 4, image_channels: int = 3,
                 max_offset: float = 0.15) -> None:
        super().__init__()
        require_power_of_two_multiple(resolution, 2 ** (n_scales - 1), "FlatWarp generator")
        if n_scales < 3:
            raise ValueError("FlatWarp needs at least 3 encoder scales (the keypoint head reads scales 1 and 2).")
        if not 0 < max_offset <= 1:
            raise ValueError(f"max_offset is a share of the image (0, 1], got {max_offset}")
        self.resolution, self.image_channels, self.max_offset = resolution, image_channels, float(max_offset)
        widths = [base * 2**i for i in range(n_scales)]
        self.encoder = Encoder(image_channels, base, n_scales)
        self.keypoints = KeypointHead(widths, resolution)
        self.offset_net = nn.Sequential(
            ConvNormAct(image_channels + N_PARTS, base, 3, stride=2, norm="instance", act="lrelu"),
            ConvNormAct(base, 2 * base, 3, stride=2, norm="instance", act="lrelu"),
            ConvNormAct(2 * base, 2 * base, 3, norm="instance", act="lrelu"),
            nn.Conv2d(2 * base, 2, 3, padding=1))
        self.bottom = ConvNormAct(2 * widths[-1], widths[-1], 3, norm="instance", act="lrelu")
        # Decoder: reduce the width at the coarse scale, upsample, fuse with the warped skip and the part masks
        # (the photo too at full size) in one conv per scale, which keeps the cost near PixelDTGAN's.
        self.ups = nn.ModuleList()
        for i in range(n_scales - 2, -1, -1):
            extra = N_PARTS + (image_channels if i == 0 else 0)
            self.ups.append(nn.ModuleDict({
                "reduce": ConvNormAct(widths[i + 1], widths[i], 3, norm="instance", act="lrelu"),
                "fuse": ConvNormAct(2 * widths[i] + extra, widths[i], 3, norm="instance", act="lrelu")}))
        self.head = nn.Conv2d(widths[0], 1 + image_channels + 1, 3, padding=1)

    def _zero_init_flow(self) -> None:
        """The learned flow starts at zero: training begins from the keypoint warp."""
        nn.init.zeros_(self.offset_net[-1].weight)
        nn.init.zeros_(self.offset_net[-1].bias)

    def parts(self, person: torch.Tensor) -> dict[str, torch.Tensor]:
        """Everything the result is made of (joints, ``warped`` photo, ``mask``, ``synthesis``, ``copy``)."""
        r, c = self.resolution, self.image_channels
        if person.dim() != 4 or person.shape[1] != c or tuple(person.shape[-2:]) != (r, r):
            raise ValueError(f"this garment extractor works on [N, {c}, {r}, {r}] photos, got {list(person.shape)}")
        feats = self.encoder(person)
        joints = self.keypoints(feats)
        with torch.no_grad():  # the joints are trained by their own loss; the flow is geometry
            # at half size (a quarter of the work), then bilinearly upsampled: the map is smooth inside parts
            half = lambda kp: (kp.float() + 0.5) / 2 - 0.5  # noqa: E731 (pixel centres onto pixel centres)
            grid, masks = garment_flow(half(joints["person_kp"]), joints["person_present"] > 0,
                                       half(joints["flat_kp"]), joints["flat_present"] > 0, r // 2)
            grid = resample_grid(grid, r)
        masks = masks.to(person.dtype)  # at half size
        coarse = warp(person, grid)
        offset = torch.tanh(self.offset_net(torch.cat([coarse, F.interpolate(masks, size=(r, r), mode="bilinear",
                                                                              align_corners=False)], 1)))
        offset = offset * self.max_offset
        offset = F.interpolate(offset, size=(r, r), mode="bilinear", align_corners=False)
        grid = grid.to(person.dtype) + offset.permute(0, 2, 3, 1)
        warped = warp(person, grid)
        skips = [warp(f, grid) for f in feats]
        glob = F.adaptive_avg_pool2d(feats[-1], 1).expand_as(feats[-1])  # garment type: from the whole photo
        x = self.bottom(torch.cat([skips[-1], glob], 1))
        for up, i in zip(self.ups, range(len(skips) - 2, -1, -1)):
            x = F.interpolate(up["reduce"](x), scale_factor=2, mode="bilinear", align_corners=False)
            size = skips[i].shape[-1]
            m = (F.interpolate(masks, size=(size, size), mode="bilinear", align_corners=False)
                 if size > masks.shape[-1] else F.adaptive_avg_pool2d(masks, size))
            x = up["fuse"](torch.cat([x, skips[i], m] + ([warped] if i == 0 else []), 1))
        out = self.head(x)
        mask_logit = out[:, :1]
        synthesis = torch.tanh(out[:, 1: 1 + c])
        copy = torch.sigmoid(out[:, 1 + c:] + 1.0)  # start by trusting the warp
        mask = torch.sigmoid(mask_logit)
        fill = copy * warped + (1 - copy) * synthesis
        output = mask * fill + (1 - mask)  # the flat's backdrop is white (+1)
        return {**joints, "coarse": coarse, "warped": warped, "offset": offset, "part_masks": masks,
                "mask_logit": mask_logit, "mask": mask, "synthesis": synthesis, "copy": copy, "output": output}

    def forward(self, person: torch.Tensor) -> torch.Tensor:
        return self.parts(person)["output"]


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "studio", config)
    names = select_networks(NETWORKS, which)
    res, ch = cfg["resolution"], cfg["image_channels"]
    require_power_of_two_multiple(res, 2 ** cfg["d_blocks"], "FlatWarp discriminator")
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name == "G":
            net = init_gan_weights(FlatWarpGenerator(res, cfg["g_base"], cfg["n_scales"], ch, cfg["max_offset"]))
            net._zero_init_flow()
        elif name == "D_R":
            net = init_gan_weights(PatchGAN(ch, cfg["d_base"], cfg["d_blocks"], conditional=False))
        else:
            net = init_gan_weights(PatchGAN(2 * ch, cfg["d_base"], cfg["d_blocks"], conditional=True))
        nets[name] = net
    return nets
