"""The synthetic atelier: real layouts, ground truth that holds, attributes that match the pixels, determinism."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

from fashionstudio.core.poses import read_pose_csv, visible
from training.data.atelier import generate
from training.data.atelier import attributes as A
from training.data.inshop import read_iuv

SIZE = 64


@pytest.fixture(scope="module")
def inshop(tmp_path_factory) -> Path:
    return generate("inshop", tmp_path_factory.mktemp("inshop"), 40, SIZE, seed=3)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _dominant_family(pixels: np.ndarray) -> str:
    fam = A.colour_family_index(pixels.reshape(-1, 3).astype(np.float32))
    return A.COLOUR_FAMILY_NAMES[int(np.bincount(fam, minlength=len(A.COLOUR_FAMILY_NAMES)).argmax())]


def test_palette_shades_and_samples_stay_in_their_family():
    rng = np.random.default_rng(0)
    for fam, shades in A.COLOUR_FAMILIES.items():
        assert all(A.colour_family(s) == fam for s in shades)
        assert all(A.colour_family(A.sample_colour(rng, fam)) == fam for _ in range(30))
    assert A.colour_family((250, 10, 10)) == "red" and A.colour_family((15, 15, 15)) == "black"


def test_inshop_layout_is_the_real_one(inshop):
    imgs = sorted((inshop / "Img").glob("*/*/id_*/*.jpg"))
    assert imgs and all(p.parts[-4] in ("MEN", "WOMEN") for p in imgs)
    assert all(p.with_name(p.stem + "_IUV.png").is_file() for p in imgs
               if not p.stem.endswith(("additional", "flat")))
    lines = (inshop / "Eval" / "list_eval_partition.txt").read_text().splitlines()
    assert int(lines[0]) == len(lines) - 2 and lines[1] == "image_name item_id evaluation_status"
    assert {ln.split()[2] for ln in lines[2:]} <= {"train", "query", "gallery"}
    ann = {**read_pose_csv(inshop / "fasion-resize-annotation-train.csv"),
           **read_pose_csv(inshop / "fasion-resize-annotation-test.csv")}
    assert ann and all(n.startswith("fashion") and n.endswith(("front.jpg", "side.jpg", "back.jpg", "full.jpg"))
                       for n in ann)
    for split in ("train", "test"):
        with open(inshop / f"fasion-resize-pairs-{split}.csv") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["from", "to"]
        for a, b in rows[1:]:
            assert a in ann and b in ann and a != b
            assert a[: a.index("id") + 10] == b[: b.index("id") + 10]  # same identity


def test_keypoints_fall_on_the_body(inshop):
    ann = {**read_pose_csv(inshop / "fasion-resize-annotation-train.csv"),
           **read_pose_csv(inshop / "fasion-resize-annotation-test.csv")}
    checked = 0
    for p in sorted((inshop / "Img").glob("*/*/id_*/*_IUV.png")):
        img = p.with_name(p.name.replace("_IUV.png", ".jpg"))
        gender, cat, item = img.parts[-4], img.parts[-3], img.parts[-2]
        stem = img.name[: img.name.rindex("_")] + img.name[img.name.rindex("_") + 1:]
        kp = ann[f"fashion{gender}{cat}{item.replace('_', '')}{stem}"]
        body = read_iuv(p)[..., 0] > 0
        grown = body.copy()  # allow one pixel: keypoints are rounded to integers in the CSV
        grown[1:] |= body[:-1]
        grown[:-1] |= body[1:]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        for y, x in kp[visible(kp)]:
            assert grown[int(y), int(x)], (img, y, x)
            checked += 1
        # the garment masks agree with the image: the clothed figure sits inside the non-background area
        seg = np.asarray(Image.open(inshop / "Anno" / "segmentation" / img.relative_to(inshop).parent
                                    / img.name.replace(".jpg", "_seg.png")))
        assert ((seg == A.SEG_LABELS["top"]) | (seg == A.SEG_LABELS["dress"])).sum() > 20
    assert checked > 200


def test_pairs_share_identity_and_outfit(inshop):
    meta = json.loads((inshop / "atelier.json").read_text())
    for item in meta["items"]:
        groups = item["groups"]
        for gid, outfit in groups.items():
            assert outfit["top"] or outfit["dress"]
        if len(groups) == 2:  # colour groups of one product: same cut, different colour family
            a, b = (groups[g]["dress"] or groups[g]["top"] for g in sorted(groups))
            assert a["type"] == b["type"] and a["colour_family"] != b["colour_family"]
        # the worn garment's colour in each group's photos is the labelled family
        folder = inshop / "Img" / item["gender"] / item["category"] / item["item_id"]
        for key in item["images"]:
            gid, name = key.split("/")
            garment = groups[gid]["dress"] or groups[gid]["top"]
            lab = A.SEG_LABELS["dress" if groups[gid]["dress"] else "top"]
            seg = np.asarray(Image.open(inshop / "Anno" / "segmentation" / folder.relative_to(inshop)
                                        / name.replace(".jpg", "_seg.png")))
            rgb = np.asarray(Image.open(folder / name))
            inner = seg == lab
            inner[1:-1, 1:-1] &= inner[:-2, 1:-1] & inner[2:, 1:-1] & inner[1:-1, :-2] & inner[1:-1, 2:]
            if inner.sum() >= 6:
                assert _dominant_family(rgb[inner]) == garment["colour_family"], (folder / name)


def test_flat_colour_matches_the_worn_garment(tmp_path):
    root = generate("lookbook", tmp_path / "lb", 24, SIZE, seed=5)
    meta = json.loads((root / "atelier.json").read_text())
    for item in meta["items"]:
        family = item["garment"]["colour_family"]
        folder = root / "Img" / f"id_{item['pid']:08d}"
        flat = np.asarray(Image.open(folder / "flat.jpg")).reshape(-1, 3).astype(int)
        cloth = flat[np.abs(flat - 255).max(1) > 12]
        assert _dominant_family(cloth) == family
        fam_id = A.COLOUR_FAMILY_NAMES.index(family)
        person = np.asarray(Image.open(folder / "0.jpg")).reshape(-1, 3)
        share = (A.colour_family_index(person.astype(np.float32)) == fam_id).mean()
        assert share > 0.01  # the person really wears it
    raw = sorted((root / "ImgHQ").glob("PID*_CLEAN1_IID*.jpg"))
    assert len(raw) == len(meta["items"])


def test_shoes_and_bags_carry_their_labels(tmp_path):
    root = generate("shoes_bags", tmp_path / "sb", 60, 64, seed=1)
    for name, kinds in (("shoes", A.SHOE_KINDS), ("handbags", A.BAG_KINDS)):
        with h5py.File(root / f"{name}_64.hdf5", "r") as f:
            assert list(f.keys()) == ["imgs"]
            imgs = f["imgs"][:]
        assert imgs.dtype == np.uint8 and imgs.shape == (60, 64, 64, 3)
        with open(root / f"{name}_64_labels.csv") as f:
            labels = list(csv.DictReader(f))
        assert len(labels) == 60
        hits = 0
        for img, lab in zip(imgs, labels):
            assert lab["kind"] in kinds and lab["formality"] == A.KIND_FORMALITY[lab["kind"]]
            px = img.reshape(-1, 3).astype(int)
            obj = px[np.abs(px - 255).max(1) > 8]
            assert len(obj) > 300  # an object on white, not an empty canvas
            hits += _dominant_family(obj) == lab["colour_family"]
            if lab["colour_family"] != "white":
                assert (img[0, 0] == 255).all() and (img[-1, -1] == 255).all()
        assert hits >= 0.9 * len(labels), (name, hits)
    assert {r["colour_family"] for r in labels} >= {"black", "red", "blue"}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    a = _digest(generate("inshop", tmp_path / "a", 8, 32, seed=11))
    b = _digest(generate("inshop", tmp_path / "b", 8, 32, seed=11))
    c = _digest(generate("inshop", tmp_path / "c", 8, 32, seed=12))
    assert a == b
    assert a != c
    sa = _digest(generate("shoes_bags", tmp_path / "sa", 10, 64, seed=2))
    sb = _digest(generate("shoes_bags", tmp_path / "sb", 10, 64, seed=2))
    assert sa == sb


def test_worker_processes_give_the_same_bytes(tmp_path):
    one = _digest(generate("images", tmp_path / "one", 12, 32, seed=4))
    two = _digest(generate("images", tmp_path / "two", 12, 32, seed=4, workers=2))
    assert one == two and len(one) == 13


def test_synth_cli_writes_a_preview(tmp_path, capsys):
    from training.data.atelier_cli import main

    assert main(["synth", "shoes_bags", str(tmp_path / "sb"), "--n", "16", "--preview"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["images_per_s"] > 0
    sheet = Image.open(report["preview"])
    assert sheet.size[0] > 64 * 4 and np.asarray(sheet).std() > 10


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown atelier kind"):
        generate("shirts", tmp_path, 4)
    with pytest.raises(ValueError, match="at least 1"):
        generate("images", tmp_path, 0)


def test_regenerating_into_a_deleted_folder_works(tmp_path):
    import shutil

    first = _digest(generate("inshop", tmp_path / "x", 8, 32, seed=1))
    shutil.rmtree(tmp_path / "x")
    assert _digest(generate("inshop", tmp_path / "x", 8, 32, seed=1)) == first
