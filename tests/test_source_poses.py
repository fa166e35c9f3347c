"""The source-pose store and lookup (core.source_poses): hand-marked poses per file content, annotations beside
the photo in the In-shop layout, pose files for the CLI, and damaged or hostile inputs."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from fashionstudio.core import source_poses as S
from fashionstudio.core.poses import write_pose_csv


@pytest.fixture(autouse=True)
def _home(isolated_home):
    """Saved source poses go to this test's own settings folder."""


def pose01(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pose = rng.uniform(0.05, 0.95, (18, 2)).astype(np.float32)
    pose[16] = -1
    return pose


def inshop_photo(root, size=(48, 64)):
    """An In-shop layout: Img/WOMEN/Dresses/id_00000001/01_1_front.jpg and the flat-named CSV row in the root."""
    folder = root / "Img" / "WOMEN" / "Dresses" / "id_00000001"
    folder.mkdir(parents=True)
    path = folder / "01_1_front.jpg"
    Image.new("RGB", size, (200, 190, 180)).save(path)
    kp = np.array([(2 + 3 * i, 4 + (i % 5) * 6) for i in range(18)], np.float32)
    kp[17] = -1
    write_pose_csv(root / "fasion-resize-annotation-train.csv", {"fashionWOMENDressesid0000000101_1front.jpg": kp})
    return path, kp


def test_a_marked_pose_is_saved_in_the_data_folder_and_found_again_by_content(tmp_path):
    photo = tmp_path / "look.png"
    Image.new("RGB", (30, 40), (10, 20, 30)).save(photo)
    store = S.SourcePoseStore()
    assert store.path.parent == tmp_path / "home"
    key = S.photo_key(photo)
    store.put(key, pose01(), name=photo.name)
    # A new store (the next launch) reads it back; a renamed copy of the same bytes finds it too.
    copy = tmp_path / "elsewhere" / "renamed.png"
    copy.parent.mkdir()
    shutil.copy(photo, copy)
    found = S.find_source_pose(copy, Image.open(copy), S.SourcePoseStore())
    assert found is not None and found.origin == "marked"
    np.testing.assert_allclose(found.pose, pose01(), atol=1e-5)
    # A different picture under the old name does not inherit it.
    Image.new("RGB", (30, 40), (99, 20, 30)).save(photo)
    assert S.find_source_pose(photo, Image.open(photo), S.SourcePoseStore()) is None
    assert S.SourcePoseStore().forget(key) and S.SourcePoseStore().get(key) is None


def test_a_pasted_image_is_keyed_by_its_pixels():
    a = Image.new("RGB", (8, 8), (1, 2, 3))
    b = Image.new("RGB", (8, 8), (1, 2, 4))
    assert S.photo_key(None, a) == S.photo_key(None, a.copy()) != S.photo_key(None, b)
    assert S.photo_key(None, None) is None


def test_annotations_beside_an_inshop_photo_give_its_pose_in_its_own_frame(tmp_path):
    path, kp = inshop_photo(tmp_path / "inshop")
    found = S.find_source_pose(path, Image.open(path), S.SourcePoseStore())
    assert found is not None and found.origin == "annotation"
    assert found.label == "fasion-resize-annotation-train.csv" and "annotated" in found.describe()
    h, w = 64, 48
    expected = np.where(kp >= 0, (kp + 0.5) / np.array([h, w], np.float32), -1)
    np.testing.assert_allclose(found.pose, expected, atol=1e-6)
    # A pose marked by hand on the same file wins over the annotation (the designer corrected it).
    store = S.SourcePoseStore()
    store.put(S.photo_key(path), pose01(3))
    again = S.find_source_pose(path, Image.open(path), store)
    assert again.origin == "marked"
    np.testing.assert_allclose(again.pose, pose01(3), atol=1e-5)


def test_the_synthetic_inshop_set_annotates_every_posed_photo(tmp_path):
    from fashionstudio.core.poses import read_pose_csv
    from training.data.atelier import generate

    root = generate("inshop", tmp_path / "inshop", 6, 64, 0)
    rows = {**read_pose_csv(root / "fasion-resize-annotation-train.csv"),
            **read_pose_csv(root / "fasion-resize-annotation-test.csv")}
    photos = [p for p in (root / "Img").rglob("*.jpg") if p.stem.split("_")[-1] in ("front", "side", "back", "full")]
    assert len(photos) == len(rows) >= 6
    for photo in photos:
        found = S.find_annotation(photo, (64, 64))
        assert found is not None, photo
        name = next(n for n in S.photo_annotation_names(photo) if n in rows)
        np.testing.assert_allclose(found.pose, S.normalise_pixels(rows[name], (64, 64)))
    flat = next((root / "Img").rglob("*_flat.jpg"), None)
    if flat is not None:  # the product alone has no pose
        assert S.find_annotation(flat, (64, 64)) is None


def test_a_damaged_store_is_kept_aside_and_the_next_mark_still_saves(tmp_path):
    store_path = tmp_path / "home" / S.STORE_FILE_NAME
    store_path.parent.mkdir(parents=True)
    store_path.write_text("{ not json")
    store = S.SourcePoseStore()
    assert store.get("sha256:x") is None
    store.put("sha256:x", pose01())
    assert (tmp_path / "home" / (S.STORE_FILE_NAME + ".damaged")).read_text() == "{ not json"
    assert S.SourcePoseStore().get("sha256:x") is not None


def test_store_entries_that_are_not_poses_are_ignored(tmp_path):
    store_path = tmp_path / "home" / S.STORE_FILE_NAME
    store_path.parent.mkdir(parents=True)
    good = pose01().tolist()
    store_path.write_text(json.dumps({"format": S.STORE_FORMAT, "poses": {
        "sha256:good": {"pose": good}, "sha256:short": {"pose": good[:5]}, "sha256:huge": {"pose": [[9, 9]] * 18},
        "sha256:text": {"pose": "__import__('os').system('echo no')"}, "sha256:none": {}}}))
    store = S.SourcePoseStore()
    assert len(store) == 1 and store.get("sha256:good") is not None
    with pytest.raises(S.SourcePoseError, match="outside the photo"):
        store.put("sha256:bad", np.full((18, 2), 2.0))


def test_the_store_keeps_only_the_newest_marks(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "MAX_STORED", 3)
    store = S.SourcePoseStore()
    for i in range(5):
        store.put(f"sha256:{i}", pose01(i))
    assert len(S.SourcePoseStore()) == 3
    assert S.SourcePoseStore().get("sha256:0") is None and S.SourcePoseStore().get("sha256:4") is not None


def test_pose_files_for_the_cli_csv_row_single_row_and_json(tmp_path):
    path, kp = inshop_photo(tmp_path / "inshop")
    size = (64, 48)
    csv = tmp_path / "inshop" / "fasion-resize-annotation-train.csv"
    by_name = S.read_source_pose_file(csv, path, size)
    np.testing.assert_allclose(by_name, S.normalise_pixels(kp, size))
    other = tmp_path / "one.csv"
    write_pose_csv(other, {"someone_else.jpg": kp})
    np.testing.assert_allclose(S.read_source_pose_file(other, tmp_path / "x.jpg", size), by_name)
    write_pose_csv(other, {"a.jpg": kp, "b.jpg": kp})
    with pytest.raises(S.SourcePoseError, match="none is named x.jpg"):
        S.read_source_pose_file(other, tmp_path / "x.jpg", size)

    normalised = tmp_path / "pose.json"
    normalised.write_text(json.dumps({"pose_yx_normalised": pose01().tolist()}))
    np.testing.assert_allclose(S.read_source_pose_file(normalised, path, size), pose01(), atol=1e-6)
    provenance = tmp_path / "provenance.json"
    provenance.write_text(json.dumps({"tool": "pose", "settings": {"pose_yx_normalised": pose01(1).tolist()}}))
    np.testing.assert_allclose(S.read_source_pose_file(provenance, path, size), pose01(1), atol=1e-6)
    pixels = tmp_path / "pixels.json"
    pixels.write_text(json.dumps({"keypoints_y": kp[:, 0].tolist(), "keypoints_x": kp[:, 1].tolist(),
                                  "frame": [128, 96]}))
    np.testing.assert_allclose(S.read_source_pose_file(pixels, path, size), S.normalise_pixels(kp, (128, 96)))


@pytest.mark.parametrize("content, match", [
    ("{ nope", "not a JSON file"),
    ('{"colour": 3}', "holds no pose"),
    ('{"pose_yx_normalised": [[0.5, 0.5]]}', "18 joints"),
    ('{"keypoints_y": [1, 2], "keypoints_x": [3, 4]}', "18-joint pose"),
])
def test_bad_json_pose_files_get_a_sentence_naming_the_file(tmp_path, content, match):
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(S.SourcePoseError, match=match) as info:
        S.read_source_pose_file(f, tmp_path / "p.jpg", (10, 10))
    assert "bad.json" in str(info.value)


def test_bad_csv_and_missing_pose_files_get_a_sentence(tmp_path):
    with pytest.raises(S.SourcePoseError, match="does not exist"):
        S.read_source_pose_file(tmp_path / "nope.csv", tmp_path / "p.jpg", (10, 10))
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(S.SourcePoseError, match="not a text file"):
        S.read_source_pose_file(binary, tmp_path / "p.jpg", (10, 10))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    with pytest.raises(S.SourcePoseError, match="wrong.csv.*header"):
        S.read_source_pose_file(wrong, tmp_path / "p.jpg", (10, 10))


def test_a_csv_beside_the_photo_that_is_not_a_pose_file_is_skipped(tmp_path):
    path, _ = inshop_photo(tmp_path / "inshop")
    (path.parent / "my-annotation-notes.csv").write_text("just, some, notes\n")
    found = S.find_annotation(path, (64, 48))
    assert found is not None and found.label == "fasion-resize-annotation-train.csv"


def test_annotated_joints_outside_the_photo_count_as_missing():
    kp = np.full((18, 2), 10.0, np.float32)
    kp[3] = (70, 10)   # below a 64-px photo
    kp[4] = (-1, -1)
    pose = S.normalise_pixels(kp, (64, 48))
    assert (pose[3] == -1).all() and (pose[4] == -1).all()
    assert pose[0] == pytest.approx((10.5 / 64, 10.5 / 48))


def test_an_annotation_file_edited_after_it_was_read_is_read_again(tmp_path):
    import os

    path, kp = inshop_photo(tmp_path / "inshop")
    csv = tmp_path / "inshop" / "fasion-resize-annotation-train.csv"
    first = S.find_annotation(path, (64, 48)).pose
    moved = kp.copy()
    moved[0] = (30, 30)
    write_pose_csv(csv, {"fashionWOMENDressesid0000000101_1front.jpg": moved})
    st = csv.stat()
    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a coarse file clock must not hide the edit
    again = S.find_annotation(path, (64, 48)).pose
    assert again[0] == pytest.approx((30.5 / 64, 30.5 / 48)) and again[0] != pytest.approx(first[0])


def _standing_px(h: int, w: int) -> np.ndarray:
    from fashionstudio.core.pose_transfer import default_target_pose

    return np.round(default_target_pose(w / h) * np.array([h, w], np.float32) - 0.5).astype(np.float32)


def test_annotations_are_normalised_by_the_frame_they_were_marked_in(tmp_path):
    """Declared frame, a high-resolution copy of a dataset picture, and a reduced copy all land on the person."""
    root = tmp_path / "inshop"
    path, _ = inshop_photo(root, size=(352, 512))  # DeepFashion's 256 x 176 frame at twice the size
    kp = _standing_px(256, 176)
    csv = root / "fasion-resize-annotation-train.csv"
    write_pose_csv(csv, {"fashionWOMENDressesid0000000101_1front.jpg": kp})
    found = S.find_annotation(path, (512, 352))
    np.testing.assert_allclose(found.pose, S.normalise_pixels(kp, (256, 176)), atol=1e-6)

    write_pose_csv(csv, {"fashionWOMENDressesid0000000101_1front.jpg": kp}, frame=(300, 200))
    st = csv.stat()
    import os

    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    np.testing.assert_allclose(S.find_annotation(path, (512, 352)).pose, S.normalise_pixels(kp, (300, 200)),
                               atol=1e-6)


def test_a_photo_of_its_own_aspect_uses_its_own_frame_scaled_up_when_the_joints_reach_beyond_it():
    rows = {"a.jpg": _standing_px(64, 48)}
    from fashionstudio.core.pose_frame import infer_frame, keypoint_extent

    inferred, extent = infer_frame(rows.values()), keypoint_extent(rows.values())
    assert inferred == (64, 64)  # the atelier's square frame holds them, but the photo is 48 wide
    assert S.annotation_frame((64, 48), None, inferred, extent) == (64, 48)
    assert S.annotation_frame((32, 24), None, inferred, extent) == (64, 48)  # a half-size copy
    assert S.annotation_frame((128, 128), None, inferred, extent) == (64, 64)  # the square frame, larger
    assert S.annotation_frame((10, 10), (64, 48), inferred, extent) == (64, 48)  # declared wins


def test_a_pixel_key_reads_a_large_image_in_strips_and_sees_its_last_row():
    img = Image.new("RGB", (3000, 1200), (5, 5, 5))
    key = S.image_key(img)
    changed = img.copy()
    changed.putpixel((2999, 1199), (6, 5, 5))
    assert S.image_key(changed) != key
    import hashlib

    whole = hashlib.sha256(b"RGB:3000x1200:")
    whole.update(img.tobytes())
    assert key == f"pixels:{whole.hexdigest()}"  # strips hash the same bytes as one copy would


def test_hostile_json_in_the_store_or_a_pose_file_is_refused_without_a_crash(tmp_path):
    deep = "[" * 5000 + "]" * 5000
    store_path = tmp_path / "home" / S.STORE_FILE_NAME
    store_path.parent.mkdir(parents=True)
    store_path.write_text(deep)
    assert len(S.SourcePoseStore()) == 0 and (tmp_path / "home" / (S.STORE_FILE_NAME + ".damaged")).is_file()
    for text in (deep, '{"pose_yx_normalised": [[NaN, 0.5]]}'):
        f = tmp_path / "hostile.json"
        f.write_text(text)
        with pytest.raises(S.SourcePoseError, match="hostile.json"):
            S.read_source_pose_file(f, tmp_path / "p.jpg", (10, 10))
