"""Readers of the real dataset formats, exercised on atelier data and on deliberately broken folders."""

from __future__ import annotations

import logging
import shutil
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from training.data import DatasetError, make_dataset
from training.data.atelier import generate
from training.data.check import main as check_main

RES = 32


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("readers")
    return {
        "inshop": generate("inshop", base / "inshop", 48, RES, seed=1),
        "lookbook": generate("lookbook", base / "lookbook", 30, RES, seed=2, raw=True),
        "shoes_bags": generate("shoes_bags", base / "sb", 40, 64, seed=3),
        "images": generate("images", base / "images", 20, RES, seed=4),
        "fisb": generate("fisb", base / "fisb", 12, RES, seed=5),
    }


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _in_range(t: torch.Tensor) -> bool:
    return t.dtype == torch.float32 and t.min() >= -1.0 and t.max() <= 1.0


def test_inshop_pairs_follow_the_rules(data):
    train = make_dataset("inshop", data["inshop"], "train", RES)
    test = make_dataset("inshop", data["inshop"], "test", RES)
    assert set(train.identities).isdisjoint(test.identities) and len(test.identities) >= 1
    pairs = {(a.path, b.path) for a, b in train.pairs}
    for a, b in train.pairs:
        assert (a.item_id, a.group) == (b.item_id, b.group) and a.path != b.path
        assert a.view not in ("additional", "flat") and b.view not in ("additional", "flat")
        assert (b.path, a.path) in pairs  # both directions
    item = train[0]
    assert item["src"].shape == item["tgt"].shape == (3, RES, RES) and _in_range(item["src"])
    assert item["src_pose"].shape == item["tgt_pose"].shape == (18, RES, RES)
    assert item["tgt_mask"].shape == (1, RES, RES) and set(item["tgt_mask"].unique().tolist()) <= {0.0, 1.0}
    assert item["src_name"] != item["tgt_name"] and item["src_name"].split("/")[3] == item["tgt_name"].split("/")[3]
    # the target's heatmap peaks sit on its body mask
    peaks = item["tgt_pose"].flatten(1).amax(1)
    for c in torch.nonzero(peaks > 0.5).flatten().tolist():
        y, x = divmod(int(item["tgt_pose"][c].argmax()), RES)
        assert item["tgt_mask"][0, max(0, y - 1):y + 2, max(0, x - 1):x + 2].max() == 1
    batch = torch.utils.data.default_collate([train[i] for i in range(4)])
    assert batch["src"].shape == (4, 3, RES, RES)


def test_inshop_iuv_option_gives_three_channels(data):
    ds = make_dataset("inshop", data["inshop"], "all", RES, pose="iuv")
    item = ds[1]
    assert item["tgt_pose"].shape == (3, RES, RES)
    assert 0 <= item["tgt_pose"].min() and item["tgt_pose"].max() <= 1
    assert torch.equal((item["tgt_pose"][0] > 0).float(), item["tgt_mask"][0])


def test_inshop_hflip_mirrors_images_poses_and_masks_together(data, monkeypatch):
    import random

    plain = make_dataset("inshop", data["inshop"], "train", RES)
    flipped = make_dataset("inshop", data["inshop"], "train", RES, hflip=True)
    monkeypatch.setattr(random, "random", lambda: 0.0)  # always flip
    a, b = plain[2], flipped[2]
    assert torch.equal(b["src"], a["src"].flip(-1)) and torch.equal(b["tgt_mask"], a["tgt_mask"].flip(-1))
    lw, rw = 7, 4  # a left wrist heatmap becomes a right wrist heatmap, mirrored (up to the pixel grid)
    if a["tgt_pose"][lw].max() > 0.5:
        ya, xa = divmod(int(a["tgt_pose"][lw].argmax()), RES)
        yb, xb = divmod(int(b["tgt_pose"][rw].argmax()), RES)
        assert ya == yb and abs(xb - (RES - 1 - xa)) <= 1
    with pytest.raises(DatasetError, match="hflip works with keypoint heatmaps only"):
        make_dataset("inshop", data["inshop"], "train", RES, pose="iuv", hflip=True)


def test_inshop_reads_the_pose_transfer_flat_layout(data, tmp_path):
    """The papers' layout: flattened names in train/ and test/, keypoints in the annotation CSVs."""
    tree = make_dataset("inshop", data["inshop"], "all", RES)
    flat = tmp_path / "fashion"
    (flat / "train").mkdir(parents=True)
    for p in data["inshop"].glob("fasion-resize-*.csv"):
        shutil.copy(p, flat / p.name)
    seen = set()
    for a, _ in tree.pairs:
        if a.path not in seen:
            seen.add(a.path)
            shutil.copy(a.path, flat / "train" / a.flat_name)
    ds = make_dataset("inshop", flat, "all", RES)
    assert sorted((a.flat_name, b.flat_name) for a, b in ds.pairs) == sorted(
        (a.flat_name, b.flat_name) for a, b in tree.pairs)
    assert torch.equal(ds[0]["tgt_pose"], tree[tree.pairs.index(next(
        p for p in tree.pairs if (p[0].flat_name, p[1].flat_name) == (ds.pairs[0][0].flat_name,
                                                                      ds.pairs[0][1].flat_name)))]["tgt_pose"])


def test_inshop_csv_pairs_follow_the_pairs_file(data):
    import csv

    ds = make_dataset("inshop", data["inshop"], "train", RES, pairs="csv")
    with open(data["inshop"] / "fasion-resize-pairs-train.csv") as f:
        rows = list(csv.reader(f))[1:]
    assert [(a.flat_name, b.flat_name) for a, b in ds.pairs] == [tuple(r) for r in rows]
    test = make_dataset("inshop", data["inshop"], "test", RES, pairs="csv")
    assert set(ds.identities).isdisjoint(test.identities)
    with pytest.raises(DatasetError, match="split 'train' or 'test'"):
        make_dataset("inshop", data["inshop"], "all", RES, pairs="csv")


def test_lookbook_pairs_and_unassociated_flats(data):
    train = make_dataset("lookbook", data["lookbook"], "train", RES)
    test = make_dataset("lookbook", data["lookbook"], "test", RES)
    assert set(train.identities).isdisjoint(test.identities)
    others = []
    for i in range(len(train)):
        it = train[i]
        assert it["product_other"] != it["product"]
        assert _in_range(it["person"]) and it["flat"].shape == (3, RES, RES)
        others.append(it["product_other"])
    train.set_epoch(1)
    assert others != [train[i]["product_other"] for i in range(len(train))]
    # the raw LookBook layout (ImgHQ/PID*_CLEAN*_IID*.jpg) reads to the same products
    raw = make_dataset("lookbook", data["lookbook"] / "ImgHQ", "all", RES)
    assert len(raw.products) == len(make_dataset("lookbook", data["lookbook"], "all", RES).products)


def test_shoes_bags_are_repaired_every_epoch(data):
    ds = make_dataset("shoes_bags", data["shoes_bags"], "train", 64)
    test = make_dataset("shoes_bags", data["shoes_bags"], "test", 64)
    assert set(ds.index_A.tolist()).isdisjoint(test.index_A.tolist())
    first = [(ds[i]["A_index"], ds[i]["B_index"]) for i in range(len(ds))]
    assert sorted(a for a, _ in first) == list(range(len(ds.index_A)))  # every shoe once per epoch
    assert any(a != b for a, b in first)  # not the original code's shoe i <-> bag i
    ds.set_epoch(1)
    second = [(ds[i]["A_index"], ds[i]["B_index"]) for i in range(len(ds))]
    assert first != second
    item = ds[0]
    assert item["A"].shape == item["B"].shape == (3, 64, 64) and _in_range(item["A"])
    lab = ds.labels_A[item["A_index"]]
    assert {"kind", "colour_family", "pattern", "formality"} <= set(lab)
    assert make_dataset("shoes_bags", data["shoes_bags"], "all", 32)[0]["A"].shape == (3, 32, 32)


def test_image_folder_zip_and_flip(data, tmp_path):
    folder = make_dataset("images", data["images"], "all", RES)
    assert len(folder) == 20 and _in_range(folder[0]["image"])
    z = tmp_path / "collection.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(data["images"].glob("*.png"))[:5]:
            zf.write(p, f"looks/{p.name}")
    zipped = make_dataset("images", z, "all", RES)
    assert len(zipped) == 5 and torch.equal(zipped[0]["image"], folder[0]["image"])
    flipped = make_dataset("images", data["images"], "all", RES, hflip=True)
    seen = {bool(torch.equal(flipped[0]["image"], folder[0]["image"].flip(-1))) for _ in range(20)}
    assert seen == {True, False}
    # a non-square photo is padded with white, not cropped
    wide = tmp_path / "wide"
    wide.mkdir()
    Image.new("RGB", (40, 20), (200, 0, 0)).save(wide / "a.png")
    img = make_dataset("images", wide, "all", 40, fit="pad")[0]["image"]
    assert torch.allclose(img[:, 0, 20], torch.ones(3)) and img[0, 20, 20] > 0.5


def test_fisb_decodes_what_was_written(data):
    ds = make_dataset("fisb", data["fisb"], "all", RES)
    from training.data.atelier.writers import images_render

    for i in (0, 5):
        want = images_render(5, i, RES).astype(np.float32)
        want *= 255.0 / want.max()  # the G2.h5 decoding normalises each image by its maximum
        got = (ds[i]["image"].permute(1, 2, 0).numpy() + 1) * 127.5
        assert np.abs(got - want).mean() < 2.0


@pytest.mark.parametrize("kind, breaker, needle", [
    ("inshop", lambda r: shutil.rmtree(r / "Img"), "Img"),
    ("inshop", lambda r: [shutil.rmtree(p) for p in (r / "Img").glob("*/*/id_*")], "<group>_<k>_<view>.jpg"),
    ("inshop", lambda r: [p.unlink() for p in r.glob("fasion-resize-annotation-*.csv")], "fasion-resize-annotation"),
    ("lookbook", lambda r: [p.unlink() for p in r.rglob("flat.jpg")], "flat.jpg"),
    ("lookbook", lambda r: [shutil.rmtree(r / "Img"), shutil.rmtree(r / "ImgHQ")], "ImgHQ/PID"),
    ("shoes_bags", lambda r: (r / "handbags_64.hdf5").unlink(), "handbags_64.hdf5"),
    ("images", lambda r: [p.unlink() for p in r.glob("*.png")], "no images"),
    ("fisb", lambda r: (r / "G2.h5").unlink(), "G2.h5"),
])
def test_malformed_folders_get_specific_messages(data, tmp_path, kind, breaker, needle):
    root = _copy(data[kind], tmp_path / kind)
    breaker(root)
    with pytest.raises(DatasetError) as info:
        make_dataset(kind, root, "all", RES)
    assert needle in str(info.value) and str(root) in str(info.value)


def test_wrong_hdf5_contents_are_named(data, tmp_path):
    root = _copy(data["shoes_bags"], tmp_path / "sb")
    with h5py.File(root / "shoes_64.hdf5", "w") as f:
        f.create_dataset("images", data=np.zeros((2, 64, 64, 3), np.uint8))
    with pytest.raises(DatasetError, match="no dataset 'imgs'"):
        make_dataset("shoes_bags", root, "all", 64)
    with h5py.File(root / "shoes_64.hdf5", "w") as f:
        f.create_dataset("imgs", data=np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(DatasetError, match="expected uint8"):
        make_dataset("shoes_bags", root, "all", 64)
    with pytest.raises(DatasetError, match="not found"):
        make_dataset("images", tmp_path / "nowhere", "all", RES)
    with pytest.raises(DatasetError, match="unknown dataset kind"):
        make_dataset("photos", root, "all", RES)


def test_one_corrupt_image_is_skipped_and_reported(data, tmp_path, caplog):
    root = _copy(data["inshop"], tmp_path / "inshop")
    ds = make_dataset("inshop", root, "train", RES)
    victim = ds.pairs[0][0].path
    victim.write_bytes(victim.read_bytes()[:200])  # a truncated JPEG
    with caplog.at_level(logging.WARNING, logger="training.data"):
        items = [ds[i] for i in range(len(ds))]
    assert len(items) == len(ds) and ds.skipped_count == 1 and str(victim) in ds.skipped
    assert any(str(victim) in rec.getMessage() for rec in caplog.records)
    assert check_main(["check-data", "inshop", str(root)]) == 1  # usable, with one unreadable file

    images = _copy(data["images"], tmp_path / "images")
    (images / "000003.png").write_bytes(b"not a png")
    ds = make_dataset("images", images, "all", RES)
    names = [ds[i]["name"] for i in range(len(ds))]
    assert "000003.png" not in names and ds.skipped_count == 1


def test_check_data_cli(data, tmp_path, capsys):
    assert check_main(["check-data", "inshop", str(data["inshop"])]) == 0
    out = capsys.readouterr().out
    assert "train_pairs_heatmaps" in out and "unreadable files: 0" in out
    assert check_main(["check-data", "shoes_bags", str(tmp_path)]) == 2
    assert "shoes_64.hdf5" in capsys.readouterr().err
