"""``fashionstudio-cli pose`` with a warping model: the photo's own pose from --source-pose, from the pose marked
in the app, or from the keypoint CSV beside the photo; a sentence and exit 2 when there is none or it is unusable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fashionstudio import cli
from fashionstudio.core.modelfile import load_model_file
from fashionstudio.core.pose_transfer import PoseTransfer, default_target_pose
from fashionstudio.core.poses import write_pose_csv
from fashionstudio.core.provenance import read_provenance
from fashionstudio.core.source_poses import SourcePoseStore, photo_key

from test_pose_source_pose import tiny_warp_model
from test_pose_transfer import photo, tiny_pose_model


@pytest.fixture(autouse=True)
def _env(isolated_home):
    isolated_home.models.mkdir()


@pytest.fixture(scope="module")
def warp(tmp_path_factory):
    return tiny_warp_model(tmp_path_factory.mktemp("m") / "warp.safetensors")


def run(*argv: str) -> int:
    # --no-sharpen: the outputs are compared with the pose model's own result, whether or not an upscaler ships.
    return cli.main(["--device", "cpu", *argv, "--no-sharpen"])


def standing(size) -> np.ndarray:
    """The standing pose in pixels of a photo of ``size`` = (w, h), rounded as a CSV stores it."""
    w, h = size
    return np.round(default_target_pose(w / h) * np.array([h, w], np.float32) - 0.5).astype(np.float32)


def expected(model_path, src, source_pose) -> np.ndarray:
    img = Image.open(src).convert("RGB")
    target = cli._read_target_pose("walking")
    from fashionstudio.core.pose_transfer import normalise_keypoints, refit_pose

    _, kp, frame = target
    pose = refit_pose(normalise_keypoints(kp, frame), frame[1] / frame[0], img.width / img.height)
    result = PoseTransfer(load_model_file(model_path, device="cpu")).run(img, pose, source_pose=source_pose)
    return np.asarray(result.refined)


def test_the_annotation_beside_an_inshop_photo_is_used(tmp_path, warp, capsys):
    folder = tmp_path / "inshop" / "Img" / "WOMEN" / "Dresses" / "id_00000001"
    folder.mkdir(parents=True)
    src = folder / "01_1_front.png"
    photo((44, 64)).save(src)
    kp = standing((44, 64))
    write_pose_csv(tmp_path / "inshop" / "fasion-resize-annotation-test.csv",
                   {"fashionWOMENDressesid0000000101_1front.jpg": kp})
    out = tmp_path / "out.png"
    assert run("pose", str(src), "walking", str(out), "--model", str(warp)) == 0
    assert "photo's pose: fasion-resize-annotation-test.csv" in capsys.readouterr().err
    from fashionstudio.core.source_poses import normalise_pixels

    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")),
                          expected(warp, src, normalise_pixels(kp, (64, 44))))


def test_a_pose_file_or_the_pose_marked_in_the_app_is_used(tmp_path, warp, capsys):
    src = tmp_path / "person.png"
    photo((44, 64)).save(src)
    pose = default_target_pose(44 / 64)
    pose_file = tmp_path / "pose.json"
    pose_file.write_text(json.dumps({"pose_yx_normalised": pose.tolist()}))
    out = tmp_path / "out.png"
    assert run("pose", str(src), "walking", str(out), "--model", str(warp), "--source-pose", str(pose_file)) == 0
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), expected(warp, src, pose))
    settings = read_provenance(out)["settings"]
    assert settings["source_pose"]["from"] == "pose.json" and settings["stage"] == "refined"
    assert np.asarray(settings["source_pose"]["pose_yx_normalised"]) == pytest.approx(pose.round(4), abs=1e-6)

    moved = pose.copy()
    moved[4] = (0.2, 0.1)
    SourcePoseStore().put(photo_key(src), moved)
    assert run("pose", str(src), "walking", str(out), "--model", str(warp)) == 0
    assert "photo's pose: marked by you" in capsys.readouterr().err
    stored = SourcePoseStore().get(photo_key(src))  # rounded to 5 decimals in the store
    assert stored == pytest.approx(moved, abs=1e-5)
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), expected(warp, src, stored))


def test_no_photo_pose_or_an_unusable_one_exits_2_with_a_sentence(tmp_path, warp, capsys):
    src = tmp_path / "person.png"
    photo((44, 64)).save(src)
    out = tmp_path / "out.png"
    assert run("pose", str(src), "walking", str(out), "--model", str(warp)) == 2
    err = capsys.readouterr().err
    assert "needs the pose of the person in person.png" in err and "--source-pose" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"colour": 1}')
    assert run("pose", str(src), "walking", str(out), "--model", str(warp), "--source-pose", str(bad)) == 2
    assert "bad.json" in capsys.readouterr().err
    no_hip = default_target_pose(44 / 64)
    no_hip[8] = -1
    hipless = tmp_path / "hipless.json"
    hipless.write_text(json.dumps({"pose_yx_normalised": no_hip.tolist()}))
    assert run("pose", str(src), "walking", str(out), "--model", str(warp), "--source-pose", str(hipless)) == 2
    assert "right hip" in capsys.readouterr().err
    no_wrist = default_target_pose(44 / 64)
    no_wrist[4] = -1
    wristless = tmp_path / "wristless.json"
    wristless.write_text(json.dumps({"pose_yx_normalised": no_wrist.tolist()}))
    assert run("pose", str(src), "walking", str(tmp_path / "ok.png"), "--model", str(warp),
               "--source-pose", str(wristless)) == 0
    assert "note: The photo's pose has no right wrist" in capsys.readouterr().err  # drawn, not copied: said
    assert not out.exists()


def test_a_pgpg_model_ignores_source_pose_with_a_note(tmp_path, capsys):
    model = tiny_pose_model(tmp_path / "pose.safetensors")
    src = tmp_path / "person.png"
    photo((44, 64)).save(src)
    pose_file = tmp_path / "pose.json"
    pose_file.write_text(json.dumps({"pose_yx_normalised": default_target_pose(44 / 64).tolist()}))
    assert run("pose", str(src), "walking", str(tmp_path / "o.png"), "--model", str(model),
               "--source-pose", str(pose_file)) == 0
    assert "--source-pose is ignored" in capsys.readouterr().err
