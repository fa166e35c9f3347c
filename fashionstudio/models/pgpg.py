"""PGPG / "PoseGAN": two-stage pose transfer (Ma et al. 2017, as the thesis builds it).

Spec: the thesis's PGPG and the original code's known bugs, avoided. Inference API (the Pose tab shows coarse and refined):

- ``G1(src: [N,3,R,R], pose: [N,P,R,R]) -> coarse [N,3,R,R]`` in [-1, 1] (tanh). ``P = config["pose_channels"]``:
  18 keypoint heatmaps in [0, 1] (default) or a 3-channel DensePose IUV image in [0, 1] (the thesis).
- ``G2(src, coarse) -> refined [N,3,R,R]``: G2 computes a difference map from ``cat(src, coarse)`` and **adds it
  to coarse internally**; ``G2.difference(src, coarse)`` returns the map alone. ``coarse`` is detached inside G2
  (both as input and in the sum), so G2's losses can never train G1 (the thesis's rule, which the original code
  broke). The sum is not squashed (no second tanh, another original-code bug): it is in [-1, 1] once trained,
  and display code clamps.
- ``D(src, image) -> [N,1,R/32,R/32]``: PatchGAN scoring ``cat(src, image)`` (LSGAN; no sigmoid).

Architecture (thesis notation, all convs stride 1 except D):

- U-Net encoder block: ``[conv3 C->2C, BN, (Dropout2d), LReLU0.2] x 2 -> maxpool2``.
- U-Net decoder block: ``UP2x bilinear -> conv2 C->C/2 -> concat skip (C/2) -> conv3 C->C/2, BN, LReLU0.2
  -> conv2 C/2->C/2, BN, LReLU0.2``. The skip is the input of the mirrored encoder block (the UF output for the
  last decoder block).
- G1: ``UF 1x1 (3+P)->base -> encoder x n -> PJ 1x1 -> flatten -> FC -> LReLU0.2 -> unflatten -> PJ 1x1 back
  -> decoder x n -> PJ 1x1 base->3 -> tanh``.
- G2: ``UF 7x7 6->base -> encoder x n (Dropout2d p=0.2 in the first n//2 blocks) -> decoder x n -> PJ base->3``
  (the difference map).
- D: ``UF 1x1 6->base -> [conv3 s2, IN (not the first), ReLU] x n -> spectral-normed PJ 1x1 -> 1``.

Choices where the spec is inconsistent ([!] there):

- G1 bottleneck: the listing's "PJ 256->10, FC 2560" contradicts the stated 276M; the thesis preset uses UF
  6->32, 4 blocks (512 ch at 8x8), PJ 512->256, FC 16384->16384, PJ 256->512: 276,035,555 parameters.
- G2: 6 blocks at base 32 (bottleneck 2048x2x2 at 128 px), as Table 6 and the 117.4M count say: 117,459,683.
- D: base 16 (not 8) with 5 stride-2 blocks: a 4x4 output grid at 128 px (not "2x2"), 1,572,945 parameters
  (stated 1.6M, a figure rounded to 0.1M; base 8 would give 0.4M).
- The 2x2 ("CONV2") decoder convs keep the size with a one-pixel asymmetric pad; the two 2x2 convs of a block pad
  on opposite sides so the block stays centred (the original code used 2H-1 -> 2H instead).
- U-Net convs use zero padding (the pix2pix convention) rather than the original code's reflect padding, which
  costs CPU inference time (the PGPG card has the number). Only the 7x7 UF of G2 pads by reflection.
- The thesis pose is DensePose IUV, so the thesis preset has ``pose_channels=3``; studio/demo use 18 heatmaps.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from fashionstudio.models.blocks import (
    ConvNormAct,
    PatchGAN,
    SameConv,
    UpConv,
    init_gan_weights,
    make_act,
    make_norm,
    require_power_of_two_multiple,
    resolve_config,
    select_networks,
)

NETWORKS = ("G1", "G2", "D")
INFERENCE_NETWORKS = ("G1", "G2")

_COMMON = {"family": "pgpg", "image_channels": 3, "g2_dropout": 0.2}
PRESETS: dict[str, dict] = {
    # Tables 6-7: G1 276.0M, G2 117.4M, D 1.6M at 128 px with IUV poses.
    "thesis": {**_COMMON, "preset": "thesis", "resolution": 128, "pose_channels": 3,
               "g1_base": 32, "g1_blocks": 4, "g1_bottleneck_channels": 256,
               "g2_base": 32, "g2_blocks": 6, "d_base": 16, "d_blocks": 5},
    # Desktop size: same structure, FC 2048->2048 on 32x8x8, G2 down to 512x4x4.
    "studio": {**_COMMON, "preset": "studio", "resolution": 128, "pose_channels": 18,
               "g1_base": 16, "g1_blocks": 4, "g1_bottleneck_channels": 32,
               "g2_base": 16, "g2_blocks": 5, "d_base": 16, "d_blocks": 5},
    # CPU-trainable: 64 px, FC 1024->1024 on 16x8x8.
    "demo": {**_COMMON, "preset": "demo", "resolution": 64, "pose_channels": 18,
             "g1_base": 12, "g1_blocks": 3, "g1_bottleneck_channels": 16,
             "g2_base": 12, "g2_blocks": 4, "d_base": 16, "d_blocks": 4},
}


class EncoderBlock(nn.Module):
    """Two stride-1 3x3 convs (C -> 2C -> 2C) with BN, optional dropout and LReLU 0.2, then 2x2 max-pool."""

    def __init__(self, c_in: int, dropout: float = 0.0) -> None:
        super().__init__()
        c = 2 * c_in
        self.convs = nn.Sequential(
            ConvNormAct(c_in, c, 3, norm="batch", act="lrelu", dropout=dropout),
            ConvNormAct(c, c, 3, norm="batch", act="lrelu", dropout=dropout),
        )
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convs(x))


class DecoderBlock(nn.Module):
    """Bilinear UP2x -> conv2 C->C/2 -> concat skip -> conv3 C->C/2, BN, LReLU -> conv2 C/2->C/2, BN, LReLU."""

    def __init__(self, c_in: int) -> None:
        super().__init__()
        c = c_in // 2
        self.up = UpConv(c_in, c, 2, shift="after")
        self.fuse = ConvNormAct(c_in, c, 3, norm="batch", act="lrelu")
        self.refine = nn.Sequential(SameConv(c, c, 2, shift="before"),
                                    make_norm("batch", c), make_act("lrelu"))

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        return self.refine(self.fuse(torch.cat([x, skip], dim=1)))


class FCBottleneck(nn.Module):
    """Channel projection -> flatten -> FC -> LReLU -> unflatten -> projection back: lets G1 move content
    across the whole image, which a pose change needs and convolutions alone cannot do at this depth."""

    def __init__(self, channels: int, down_channels: int, side: int) -> None:
        super().__init__()
        self.shape = (down_channels, side, side)
        features = down_channels * side * side
        self.down = nn.Conv2d(channels, down_channels, 1)
        self.fc = nn.Linear(features, features)
        self.act = make_act("lrelu")
        self.up = nn.Conv2d(down_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.fc(self.down(x).flatten(1)))
        return self.up(h.view(-1, *self.shape))


class UNet(nn.Module):
    """The U-Net both PGPG stages share; returns the pre-head feature map of ``base`` channels."""

    def __init__(self, c_in: int, base: int, n_blocks: int, uf_kernel: int, dropout: float = 0.0,
                 bottleneck: nn.Module | None = None) -> None:
        super().__init__()
        self.upfeature = nn.Conv2d(c_in, base, uf_kernel, padding=uf_kernel // 2, padding_mode="reflect")
        # Dropout only in the first half of the encoder: stochasticity where G2 must invent unseen content.
        self.encoder = nn.ModuleList(
            EncoderBlock(base * 2**i, dropout if i < n_blocks // 2 else 0.0) for i in range(n_blocks)
        )
        self.bottleneck = bottleneck if bottleneck is not None else nn.Identity()
        self.decoder = nn.ModuleList(DecoderBlock(base * 2 ** (n_blocks - i)) for i in range(n_blocks))
        self.downsampling = 2**n_blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.upfeature(x)
        skips = []
        for block in self.encoder:
            skips.append(x)
            x = block(x)
        x = self.bottleneck(x)
        for block, skip in zip(self.decoder, reversed(skips)):
            x = block(x, skip)
        return x


def _check_image(x: torch.Tensor, channels: int, resolution: int, what: str) -> None:
    if x.dim() != 4 or x.shape[1] != channels or tuple(x.shape[-2:]) != (resolution, resolution):
        raise ValueError(
            f"{what} must be a [N, {channels}, {resolution}, {resolution}] tensor for this pose model, "
            f"got {list(x.shape)}"
        )


class CoarseGenerator(nn.Module):
    """G1: source image + target pose -> coarse person in the target pose (U-Net with an FC bottleneck)."""

    def __init__(self, resolution: int, pose_channels: int, base: int, n_blocks: int, bottleneck_channels: int,
                 image_channels: int = 3) -> None:
        super().__init__()
        require_power_of_two_multiple(resolution, 2**n_blocks, "PGPG G1")
        side = resolution // 2**n_blocks
        bottleneck = FCBottleneck(base * 2**n_blocks, bottleneck_channels, side)
        self.unet = UNet(image_channels + pose_channels, base, n_blocks, uf_kernel=1, bottleneck=bottleneck)
        self.head = nn.Sequential(nn.Conv2d(base, image_channels, 1), nn.Tanh())
        self.resolution, self.pose_channels, self.image_channels = resolution, pose_channels, image_channels

    def forward(self, src: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        _check_image(src, self.image_channels, self.resolution, "the source image")
        _check_image(pose, self.pose_channels, self.resolution, "the target pose")
        return self.head(self.unet(torch.cat([src, pose], dim=1)))


class RefineGenerator(nn.Module):
    """G2: source image + coarse result -> refined result = coarse + difference map."""

    def __init__(self, resolution: int, base: int, n_blocks: int, dropout: float = 0.2,
                 image_channels: int = 3) -> None:
        super().__init__()
        require_power_of_two_multiple(resolution, 2**n_blocks, "PGPG G2")
        self.unet = UNet(2 * image_channels, base, n_blocks, uf_kernel=7, dropout=dropout)
        self.head = nn.Conv2d(base, image_channels, 1)
        self.resolution, self.image_channels = resolution, image_channels

    def difference(self, src: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        """The difference map G2 adds to the (detached) coarse result."""
        _check_image(src, self.image_channels, self.resolution, "the source image")
        _check_image(coarse, self.image_channels, self.resolution, "the coarse result")
        return self.head(self.unet(torch.cat([src, coarse.detach()], dim=1)))

    def forward(self, src: torch.Tensor, coarse: torch.Tensor) -> torch.Tensor:
        return coarse.detach() + self.difference(src, coarse)


def build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]:
    """Build the named networks (all of :data:`NETWORKS` when ``which`` is None) from an architecture config."""
    cfg = resolve_config(PRESETS, "studio", config)
    names = select_networks(NETWORKS, which)
    if cfg["pose_channels"] not in (3, 18):
        raise ValueError(f"pose_channels must be 18 (keypoint heatmaps) or 3 (DensePose IUV), "
                         f"got {cfg['pose_channels']}")
    res, ch = cfg["resolution"], cfg["image_channels"]
    require_power_of_two_multiple(res, 2 ** cfg["d_blocks"], "PGPG discriminator")
    nets: dict[str, nn.Module] = {}
    for name in names:
        if name == "G1":
            net = CoarseGenerator(res, cfg["pose_channels"], cfg["g1_base"], cfg["g1_blocks"],
                                  cfg["g1_bottleneck_channels"], ch)
        elif name == "G2":
            net = RefineGenerator(res, cfg["g2_base"], cfg["g2_blocks"], cfg["g2_dropout"], ch)
        else:
            net = PatchGAN(2 * ch, cfg["d_base"], cfg["d_blocks"], upfeature=True, conditional=True)
        nets[name] = init_gan_weights(net)
    return nets
