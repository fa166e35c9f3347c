"""The Pose pipeline (core.pose_transfer): letterbox round trip, heatmaps, G1/G2 run, IUV targets, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.core.pose_transfer import (
    EMPTY_POSE, IUV_MODEL_GOT_KEYPOINTS, KEYPOINT_MODEL_GOT_IUV, HeatmapRenderer, Letterbox, PoseInputError,
    PoseTransfer, backdrop_colour, default_target_pose, heatmap_sigma, iuv_condition, letterbox, normalise_keypoints,
    iuv_preview, pixel_keypoints, read_iuv, refit_pose, run_pose_transfer, unletterbox,
)
from fashionstudio.core.poses import empty_pose, render_heatmaps
from fashionstudio.models import pgpg

# Smaller than the demo preset so a test runs in milliseconds; same structure.
TINY = {"resolution": 32, "g1_base": 4, "g1_blocks": 2, "g1_bottleneck_channels": 4,
        "g2_base": 4, "g2_blocks": 2, "d_blocks": 3}


def tiny_pose_model(path, pose_channels: int = 18, seed: int = 0):
    """A random-init PGPG saved as an app model file (G1 and G2 only)."""
    torch.manual_seed(seed)
    cfg = {**pgpg.PRESETS["demo"], **TINY, "pose_channels": pose_channels}
    nets = pgpg.build(cfg, ["G1", "G2"])
    return save_model_file(path, "pgpg", nets, cfg, resolution=cfg["resolution"], name="Tiny pose model")


def photo(size=(90, 150), backdrop=(221, 214, 205)) -> Image.Image:
    """A backdrop with a smooth-coloured figure block that touches the bottom edge (feet on the floor)."""
    w, h = size
    arr = np.empty((h, w, 3), np.uint8)
    arr[:] = backdrop
    yy, xx = np.mgrid[0:h, 0:w]
    body = (abs(xx - w / 2) < w / 5) & (yy > h / 8)
    arr[body] = np.stack([60 + 120 * yy[body] / h, 50 + 100 * xx[body] / w, 90 + 0 * xx[body]], -1).astype(np.uint8)
    return Image.fromarray(arr)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_model_file(tiny_pose_model(tmp_path_factory.mktemp("m") / "pose.safetensors"), device="cpu")


def test_backdrop_colour_ignores_a_figure_touching_the_edge():
    assert backdrop_colour(photo(backdrop=(221, 214, 205))) == (221, 214, 205)


@pytest.mark.parametrize("size", [(90, 150), (150, 90), (64, 64), (37, 200)])
def test_letterbox_round_trip_keeps_the_photo_and_its_aspect(size):
    img = photo(size)
    square, box = letterbox(img, 64)
    assert square.size == (64, 64)
    back = unletterbox(square, box)
    # The result has the photo's aspect ratio (to the pixel) at the model's resolution.
    assert max(back.size) == 64
    assert abs(back.width / back.height - img.width / img.height) < 2 / min(back.size)
    expected = np.asarray(img.resize(back.size, Image.Resampling.BICUBIC), np.float32)
    assert np.abs(np.asarray(back, np.float32) - expected).mean() < 3.0
    # The padding is the photo's backdrop, not black.
    if size[0] != size[1]:
        corner = square.getpixel((0, 0)) if size[0] < size[1] else square.getpixel((0, 0))
        assert corner == backdrop_colour(img)


def test_keypoints_land_where_the_photo_lands_in_the_square():
    box = Letterbox(100, 200, 64)  # a tall photo: 32 x 64 in the middle of the square
    assert box.box == (16, 0, 48, 64)
    pose = np.full((18, 2), -1, np.float32)
    pose[0] = (0.5, 0.5)   # the photo's centre -> the square's centre
    pose[1] = (0.0, 0.0)   # its top-left corner -> the box's corner (pixel edges, so -0.5 in centres)
    kp = box.keypoints_to_model(pose)
    assert kp[0] == pytest.approx((31.5, 31.5))
    assert kp[1] == pytest.approx((-0.5, 15.5))
    assert (kp[2:] == -1).all()


def test_heatmaps_peak_at_the_joints_and_match_the_trainers():
    kp = np.full((18, 2), -1, np.float32)
    kp[0], kp[4], kp[13] = (5, 7), (20, 3), (30, 28)
    maps = HeatmapRenderer(32)(kp)[0].numpy()
    assert maps.shape == (18, 32, 32)
    for j in (0, 4, 13):
        assert np.unravel_index(maps[j].argmax(), maps[j].shape) == tuple(kp[j].astype(int))
        assert maps[j].max() == pytest.approx(1.0)
    assert maps[1].max() == 0.0  # a missing joint gives an empty map
    assert np.abs(maps - render_heatmaps(kp, 32, heatmap_sigma(32))).max() < 1e-5


def test_coordinates_round_trip_and_refit_keeps_height():
    pose = default_target_pose()
    px = pixel_keypoints(pose, (256, 176))
    assert np.allclose(normalise_keypoints(px, (256, 176)), pose, atol=1e-6)
    wide = refit_pose(pose, 176 / 256, 1.0)
    assert np.allclose(wide[:, 0], pose[:, 0])  # the figure keeps its height
    shoulders = lambda p: abs(p[5, 1] - p[2, 1])  # noqa: E731
    assert shoulders(wide) == pytest.approx(shoulders(pose) * 176 / 256, rel=1e-5)
    assert np.allclose(refit_pose(wide, 1.0, 176 / 256), pose, atol=1e-6)


def test_pipeline_gives_both_stages_at_the_photos_aspect_and_follows_the_pose(model):
    transfer = PoseTransfer(model)
    img = photo((90, 150))
    pose = default_target_pose(90 / 150)
    first = transfer.run(img, pose)
    assert first.coarse.size == first.refined.size == (19, 32)
    assert first.coarse_square.size == (32, 32)
    assert transfer.prepare(img) is transfer.prepare(img)  # the photo is prepared once
    moved = pose.copy()
    moved[4] = (0.1, 0.1)  # right wrist up to the top corner
    second = transfer.run(img, moved)
    diff = np.abs(np.asarray(first.coarse, np.float32) - np.asarray(second.coarse, np.float32))
    assert diff.max() > 0
    again = transfer.run(img, moved)  # eval mode: deterministic
    assert np.array_equal(np.asarray(again.refined), np.asarray(second.refined))


def test_empty_pose_is_refused_with_a_sentence(model):
    with pytest.raises(PoseInputError, match="no joints"):
        PoseTransfer(model).run(photo(), empty_pose())
    assert EMPTY_POSE.endswith(".")


def synthetic_iuv(size=(40, 60)) -> Image.Image:
    """An IUV file as DensePose writes it (B = part, G = U, R = V): a torso block of part 2."""
    w, h = size
    arr = np.zeros((h, w, 3), np.uint8)
    arr[10:50, 10:30, 2] = 2          # I in the blue channel
    arr[10:50, 10:30, 1] = 128        # U
    arr[10:50, 10:30, 0] = np.linspace(0, 255, 20, dtype=np.uint8)[None, :]  # V
    return Image.fromarray(arr)


def test_iuv_targets_are_read_in_densepose_order_and_scaled_like_the_trainer():
    iuv = read_iuv(synthetic_iuv())
    assert iuv[20, 15, 0] == 2 and iuv[20, 15, 1] == 128
    cond = iuv_condition(iuv, 32)
    assert cond.shape == (3, 32, 32) and cond.max() <= 1.0
    assert cond[0].max() == pytest.approx(2 / 24)
    preview = np.asarray(iuv_preview(iuv))
    assert tuple(preview[0, 0]) == (250, 250, 251)  # background stays light
    assert np.abs(preview[20, 15].astype(int) - 250).max() > 40  # a body part is coloured
    with pytest.raises(PoseInputError, match="not a DensePose IUV map"):
        read_iuv(photo())
    with pytest.raises(PoseInputError, match="empty"):
        read_iuv(Image.new("RGB", (8, 8)))


def test_iuv_model_and_keypoint_model_each_explain_the_other_target(tmp_path, model):
    iuv_model = load_model_file(tiny_pose_model(tmp_path / "iuv.safetensors", pose_channels=3), device="cpu")
    transfer = PoseTransfer(iuv_model)
    assert transfer.takes_iuv
    with pytest.raises(PoseInputError) as err:
        transfer.run(photo(), default_target_pose())
    assert str(err.value) == IUV_MODEL_GOT_KEYPOINTS
    out = transfer.run(photo((40, 60)), synthetic_iuv())
    assert out.refined.size == (21, 32)
    with pytest.raises(PoseInputError) as err:
        PoseTransfer(model).run(photo(), synthetic_iuv())
    assert str(err.value) == KEYPOINT_MODEL_GOT_IUV


def test_run_pose_transfer_loads_a_model_file(tmp_path):
    path = tiny_pose_model(tmp_path / "p.safetensors")
    out = run_pose_transfer(path, photo((120, 80)), default_target_pose(1.5))
    assert out.refined.size == (32, 21)


def test_a_model_without_generators_is_refused():
    class NotPose:
        networks = {"G": torch.nn.Linear(1, 1)}

    with pytest.raises(PoseInputError, match="not a pose model"):
        PoseTransfer(NotPose())


def test_a_blank_or_broken_result_is_said_not_shown_as_a_picture(tmp_path):
    from fashionstudio.core.pipeline_common import DegenerateOutputError

    broken = load_model_file(tiny_pose_model(tmp_path / "p.safetensors"), device="cpu")
    g2 = broken.networks["G2"]
    with torch.no_grad():  # generators that ignore their input: every output pixel the same colour
        for net in (broken.networks["G1"], g2):
            for p in net.parameters():
                p.zero_()
    ok = PoseTransfer(load_model_file(tiny_pose_model(tmp_path / "q.safetensors"), device="cpu"))
    assert not any("blank" in n for n in ok.run(photo(), default_target_pose(0.6)).notes)
    flat = PoseTransfer(broken).run(photo(), default_target_pose(0.6))
    assert any("blank picture" in n for n in flat.notes)
    with torch.no_grad():
        next(iter(g2.parameters())).fill_(float("nan"))
    with pytest.raises(DegenerateOutputError):
        PoseTransfer(broken).run(photo(), default_target_pose(0.6))
