"""PoseWarp: the keypoint reading, the part-affine flow, the generator's blend and the Pose pipeline around it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio.core.pose_transfer import (NO_SOURCE_POSE, PoseInputError, PoseTransfer, default_target_pose)
from fashionstudio.core.poses import render_heatmaps
from fashionstudio.models import posewarp
from fashionstudio.models.part_warp import PARTS, keypoints_from_heatmaps, part_flow, warp

pytestmark = pytest.mark.usefixtures("one_torch_thread")
R = 64


def standing(dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """The default standing pose in 64 px model pixels (y, x), shifted by (dy, dx)."""
    kp = default_target_pose(1.0).copy()
    kp[:, 0] = kp[:, 0] * R - 0.5 + dy
    kp[:, 1] = kp[:, 1] * R - 0.5 + dx
    return kp.astype(np.float32)


def heatmaps(kp: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(render_heatmaps(kp, R, 1.5))[None]


def test_keypoints_are_read_back_from_their_heatmaps_to_a_fraction_of_a_pixel():
    kp = standing() + np.float32(0.3)
    kp[4] = -1  # a missing wrist stays missing
    got, ok = keypoints_from_heatmaps(heatmaps(kp))
    assert not ok[0, 4] and ok[0].sum() == 17
    err = (got[0][ok[0]] - torch.from_numpy(kp)[ok[0]]).abs().max()
    assert err < 0.15, err


def test_the_flow_is_the_identity_for_the_same_pose_and_follows_a_shifted_body():
    kp = standing()
    s_kp, s_ok = keypoints_from_heatmaps(heatmaps(kp))
    grid, masks = part_flow(s_kp, s_ok, s_kp, s_ok, R)
    ys, xs = torch.meshgrid(torch.arange(R) + 0.5, torch.arange(R) + 0.5, indexing="ij")
    identity = torch.stack([xs / R * 2 - 1, ys / R * 2 - 1], dim=-1)
    assert (grid[0] - identity).abs().max() < 1e-4

    # The target stands 6 px to the right: every pixel of its body fetches the source 6 px to the left.
    t_kp, t_ok = keypoints_from_heatmaps(heatmaps(standing(dx=6)))
    grid, masks = part_flow(s_kp, s_ok, t_kp, t_ok, R)
    body = masks[0].amax(0) > 0.99
    assert body.sum() > 300
    shift = (identity[..., 0] - grid[0, ..., 0])[body] * R / 2
    assert (shift - 6).abs().max() < 0.05

    # So a source picture with a marker on the body moves with it.
    src = torch.full((1, 3, R, R), -1.0)
    y, x = [int(v) for v in standing()[1]]  # the neck
    src[:, :, y + 3: y + 6, x - 1: x + 2] = 1.0
    moved = warp(src, grid)
    assert moved[0, 0, y + 4, x + 6] > 0.9 and moved[0, 0, y + 4, x] < -0.9


def test_a_part_missing_from_either_pose_is_not_warped():
    kp = standing()
    without_forearm = kp.copy()
    without_forearm[4] = -1  # right wrist
    s_kp, s_ok = keypoints_from_heatmaps(heatmaps(without_forearm))
    t_kp, t_ok = keypoints_from_heatmaps(heatmaps(kp))
    _, masks = part_flow(s_kp, s_ok, t_kp, t_ok, R)
    names = [p.name for p in PARTS]
    assert masks[0, names.index("r_forearm")].max() == 0
    assert masks[0, names.index("l_forearm")].max() == 1


def test_the_result_is_the_visibility_blend_of_the_warp_and_the_synthesis():
    torch.manual_seed(0)
    g = posewarp.build({"preset": "demo", "g_base": 4}, which=["G"])["G"].eval()
    src = torch.rand(2, 3, R, R) * 2 - 1
    sp, tp = heatmaps(standing()).expand(2, -1, -1, -1), heatmaps(standing(dx=4)).expand(2, -1, -1, -1)
    with torch.no_grad():
        parts = g.parts(src, sp, tp)
    m = parts["visibility"]
    assert torch.allclose(parts["output"], m * parts["warped"] + (1 - m) * parts["synthesis"], atol=1e-6)
    assert not torch.allclose(parts["warped"], src)  # the body moved
    with pytest.raises(ValueError, match="source pose"):
        g(src, sp[:, :17], tp)


class _Model:
    def __init__(self, networks: dict, config: dict) -> None:
        self.networks, self.config, self.resolution = networks, config, config["resolution"]


@pytest.fixture(scope="module")
def warp_transfer() -> PoseTransfer:
    torch.manual_seed(0)
    nets = posewarp.build({"preset": "demo", "g_base": 4}, which=["G"])
    return PoseTransfer(_Model({k: v.eval() for k, v in nets.items()}, posewarp.PRESETS["demo"]))


def test_the_pipeline_needs_the_photos_pose_and_says_so(warp_transfer):
    photo = Image.new("RGB", (40, 80), (230, 228, 225))
    target = default_target_pose(0.5)
    assert warp_transfer.needs_source_pose
    with pytest.raises(PoseInputError) as exc:
        warp_transfer.run(photo, target)
    assert str(exc.value) == NO_SOURCE_POSE
    no_hips = target.copy()
    no_hips[[8, 11]] = -1
    with pytest.raises(PoseInputError, match="right hip and left hip"):
        warp_transfer.run(photo, target, no_hips)
    no_wrist = target.copy()
    no_wrist[7] = -1
    result = warp_transfer.run(photo, target, no_wrist)
    w, h = result.refined.size
    assert w * photo.height == h * photo.width and "left wrist" in result.notes[0]
    assert warp_transfer.run(photo, target, target).notes == []
