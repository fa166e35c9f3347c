"""fashionstudio.core.poses: keypoint conventions, the pose-transfer CSV, heatmaps, mirroring, the pose library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fashionstudio.core import poses as P

REPO = Path(__file__).resolve().parents[1]


def _pose(seed: int = 0, missing=(3, 15)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.stack([rng.uniform(10, 240, 18), rng.uniform(10, 160, 18)], 1).astype(np.float32)
    kp[list(missing)] = -1
    return kp


def test_keypoint_order_matches_design_and_flip_swaps_sides():
    assert P.KEYPOINT_NAMES[:5] == ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist")
    assert P.KEYPOINT_NAMES[14:] == ("right_eye", "left_eye", "right_ear", "left_ear")
    assert len(P.KEYPOINT_NAMES) == 18 and len(P.LIMBS) == len(P.LIMB_COLOURS)
    for i, j in enumerate(P.FLIP_PERMUTATION):
        a, b = P.KEYPOINT_NAMES[i], P.KEYPOINT_NAMES[j]
        assert P.FLIP_PERMUTATION[j] == i
        assert a.replace("left", "X").replace("right", "left").replace("X", "right") == b


def test_csv_round_trip_keeps_missing_joints(tmp_path):
    poses = {"fashionMENDenimid0000008001_1front.jpg": _pose(0), "b.jpg": _pose(1, missing=())}
    f = tmp_path / "fasion-resize-annotation-test.csv"
    P.write_pose_csv(f, poses)
    text = f.read_text().splitlines()
    assert text[0] == "name:keypoints_y:keypoints_x"
    assert text[1].startswith("fashionMENDenimid0000008001_1front.jpg: [")
    back = P.read_pose_csv(f)
    assert list(back) == list(poses)
    for name, kp in poses.items():
        ok = P.visible(kp)
        np.testing.assert_array_equal(back[name][ok], np.round(kp[ok]))
        assert (back[name][~ok] == -1).all()


@pytest.mark.parametrize("content, needle", [
    ("name,y,x\n", "header"),
    ("name:keypoints_y:keypoints_x\na.jpg: [1,2]: [3,4]\n", "18"),
    ("name:keypoints_y:keypoints_x\na.jpg: [1,2: [3]\n", "JSON"),
])
def test_bad_csv_gets_a_specific_message(tmp_path, content, needle):
    f = tmp_path / "ann.csv"
    f.write_text(content)
    with pytest.raises(P.PoseFormatError, match=needle) as info:
        P.read_pose_csv(f)
    assert str(f) in str(info.value)


def test_heatmaps_peak_at_joints_and_are_zero_for_missing():
    kp = _pose(2)
    hm = P.render_heatmaps(kp, (256, 176), sigma=6)
    assert hm.shape == (18, 256, 176) and hm.dtype == np.float32
    assert 0.0 <= hm.min() and hm.max() <= 1.0
    for i in range(18):
        if P.visible(kp)[i]:
            y, x = np.unravel_index(np.argmax(hm[i]), hm[i].shape)
            assert abs(y - kp[i, 0]) <= 0.5 and abs(x - kp[i, 1]) <= 0.5
            assert hm[i].max() > 0.75
        else:
            assert hm[i].max() == 0.0


def test_mirror_is_an_involution_and_swaps_left_and_right():
    kp = _pose(3)
    m = P.mirror_keypoints(kp, 176)
    lw, rw = P.KEYPOINT_INDEX["left_wrist"], P.KEYPOINT_INDEX["right_wrist"]
    assert m[rw, 1] == pytest.approx(175 - kp[lw, 1]) and m[rw, 0] == kp[lw, 0]
    np.testing.assert_allclose(P.mirror_keypoints(m, 176), kp, atol=1e-4)
    # the mirrored heatmap of a joint equals the flipped heatmap of its twin
    h = P.render_heatmaps(kp, (256, 176), 4)
    hm = P.render_heatmaps(m, (256, 176), 4)
    np.testing.assert_allclose(hm[rw], h[lw][:, ::-1], atol=1e-5)


def test_scale_round_trip_and_missing_stay_missing():
    kp = _pose(4)
    s = P.scale_keypoints(kp, (256, 176), (64, 64))
    assert (s[~P.visible(kp)] == -1).all()
    assert s[P.visible(kp)].max() < 64
    np.testing.assert_allclose(P.scale_keypoints(s, (64, 64), (256, 176)), kp, atol=1e-3)
    with pytest.raises(P.PoseFormatError, match="18 keypoints"):
        P.scale_keypoints(np.zeros((17, 2)), (1, 1), (2, 2))


def test_pose_mask_covers_every_joint():
    kp = _pose(5)
    mask = P.pose_mask(kp, (256, 176))
    assert set(np.unique(mask)) <= {0, 1}
    for y, x in kp[P.visible(kp)]:
        assert mask[int(round(y)), int(round(x))] == 1


def test_pose_library_is_readable_and_complete():
    folder = REPO / "resources" / "poses"
    lib = P.read_pose_csv(folder / "poses.csv")
    assert len(lib) >= 12
    for name in ("standing", "walking", "arms-raised", "hands-on-hips", "side", "back"):
        assert name in lib and (folder / f"{name}.png").is_file()
    for name, kp in lib.items():
        ok = P.visible(kp)
        assert ok[[1, 2, 5, 8, 11]].all(), name  # neck, shoulders and hips are always there
        assert kp[ok].max() < 256 and kp[ok].min() >= 0
    # arms-raised has the wrists above the head; standing has them below the shoulders
    assert lib["arms-raised"][4, 0] < lib["arms-raised"][0, 0]
    assert lib["standing"][4, 0] > lib["standing"][2, 0]


def test_poses_module_imports_neither_qt_nor_torch():
    code = ("import sys, fashionstudio.core.poses as p; p.render_heatmaps(p.empty_pose(), 8); "
            "print(any(m.startswith(('PySide6', 'torch')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"
