"""Writing atelier subjects to disk in the real datasets' layouts (one function per dataset kind).

Every item is rendered from its own generator ``default_rng([seed, stream, index])``, so the output is the same
bytes for a seed whatever the number of worker processes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from fashionstudio.core.poses import write_pose_csv
from .accessories import render_accessory, sample_style
from .cancel import check_stop
from .garments import recolour_outfit
from .scenes import Model, render_model, render_outfit_flat, sample_outfit_for, sample_pose_kind, sample_view

JPEG_QUALITY = 95
TEST_FRACTION = 0.1

CATEGORY = {
    ("MEN", "tank"): "Tees_Tanks", ("MEN", "tshirt"): "Tees_Tanks", ("MEN", "longsleeve"): "Shirts_Polos",
    ("MEN", "jacket"): "Jackets_Vests", ("WOMEN", "tank"): "Tees_Tanks", ("WOMEN", "tshirt"): "Graphic_Tees",
    ("WOMEN", "longsleeve"): "Blouses_Shirts", ("WOMEN", "jacket"): "Jackets_Coats", ("WOMEN", "dress"): "Dresses",
}


def item_rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream, int(index)])


_made_dirs: set[Path] = set()


def _ensure_dir(folder: Path) -> None:
    """mkdir once per folder and process (a syscall per file was a visible share of the generation time)."""
    if folder not in _made_dirs:
        folder.mkdir(parents=True, exist_ok=True)
        _made_dirs.add(folder)


def reset_dir_cache() -> None:
    """Forget created folders (called at the start of every generate: a caller may have deleted them since)."""
    _made_dirs.clear()


def save_jpeg(image: Image.Image, path: Path) -> None:
    _ensure_dir(path.parent)
    image.save(path, "JPEG", quality=JPEG_QUALITY)


def save_png(array_or_image, path: Path) -> None:
    _ensure_dir(path.parent)
    img = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    img.save(path, "PNG", compress_level=1)


def is_test_identity(seed: int, index: int) -> bool:
    """Which identities the atelier marks as test (pose-transfer CSVs, Eval partition): ~10%, seeded."""
    return bool(item_rng(seed, 99, index).random() < TEST_FRACTION)


def flat_name(gender: str, category: str, item_id: str, filename: str) -> str:
    """The pose-transfer community's flattened name: fashion + gender + category + id + file (last '_' dropped)."""
    stem = filename[:filename.rindex("_")] + filename[filename.rindex("_") + 1:]
    return f"fashion{gender}{category}{item_id.replace('_', '')}{stem}"


# --- DeepFashion In-shop ----------------------------------------------------------------------------------------

INSHOP_VIEW_PLAN = (("front", "standing"), ("side", None), ("back", None), ("full", None))


def inshop_item(root: Path, seed: int, index: int, size: int) -> dict:
    """One product (a mannequin) with 1-2 colour groups of 2-4 posed photos, sometimes an additional and a flat."""
    rng = item_rng(seed, 1, index)
    model = Model.sample(rng)
    gender = model.body.gender
    outfit = sample_outfit_for(rng, model)
    main = outfit.main
    category = CATEGORY[(gender, main.kind)]
    item_id = f"id_{index + 1:08d}"
    rel = Path("Img") / gender / category / item_id
    n_groups = 1 if rng.random() < 0.7 else 2
    record = {"item_id": item_id, "gender": gender, "category": category, "groups": {}, "images": {}}
    poses = {}
    for gi in range(n_groups):
        group = f"{gi + 1:02d}"
        if gi > 0:  # another colour of the same product: same kinds, new colours
            outfit = recolour_outfit(rng, outfit)
        record["groups"][group] = outfit.labels()
        n_views = int(rng.integers(2, 5))
        k = 0
        for view_name, fixed_kind in INSHOP_VIEW_PLAN[:n_views]:
            k += 1
            if view_name == "side":
                view = str(rng.choice(["side_left", "side_right", "three_quarter_left", "three_quarter_right"]))
            elif view_name == "back":
                view = "back"
            else:
                view = "front" if rng.random() < 0.6 else str(rng.choice(["three_quarter_left", "three_quarter_right"]))
            kind = fixed_kind or sample_pose_kind(rng)
            r = render_model(rng, model, outfit, kind, view, size)
            name = f"{group}_{k}_{view_name}.jpg"
            save_jpeg(r.image, root / rel / name)
            save_png(r.iuv[..., ::-1].copy(), root / rel / name.replace(".jpg", "_IUV.png"))
            save_png(r.seg, root / "Anno" / "segmentation" / rel / name.replace(".jpg", "_seg.png"))
            poses[flat_name(gender, category, item_id, name)] = r.keypoints
            record["images"][f"{group}/{name}"] = {"pose_kind": kind, "view": view, "file": name}
        if rng.random() < 0.2:  # an 'additional' close-up: excluded from pairs by the reader
            k += 1
            crop = r.image.crop((size // 4, size // 8, 3 * size // 4, 5 * size // 8)).resize((size, size))
            save_jpeg(crop, root / rel / f"{group}_{k}_additional.jpg")
        if rng.random() < 0.2:  # the product alone: excluded from pose pairs, used by LookBook-style data
            k += 1
            save_jpeg(render_outfit_flat(model, outfit, size).image, root / rel / f"{group}_{k}_flat.jpg")
    record["poses"] = {name: kp.tolist() for name, kp in poses.items()}
    return record


def inshop_finish(root: Path, seed: int, records: list[dict]) -> None:
    rows_partition = []
    ann: dict[str, dict] = {"train": {}, "test": {}}
    pairs: dict[str, list] = {"train": [], "test": []}
    for idx, rec in enumerate(records):
        split = "test" if is_test_identity(seed, idx) else "train"
        rel = f"img/{rec['gender']}/{rec['category']}/{rec['item_id']}"
        by_group: dict[str, list[str]] = {}
        for key, info in rec["images"].items():
            group = key.split("/")[0]
            fname = flat_name(rec["gender"], rec["category"], rec["item_id"], info["file"])
            by_group.setdefault(group, []).append(fname)
            status = "train" if split == "train" else ("query" if len(rows_partition) % 2 else "gallery")
            rows_partition.append(f"{rel}/{info['file']} {rec['item_id']} {status}")
            ann[split][fname] = np.asarray(rec["poses"][fname], np.float32)
        for names in by_group.values():
            for a in names:
                for b in names:
                    if a != b:
                        pairs[split].append((a, b))
    (root / "Eval").mkdir(parents=True, exist_ok=True)
    (root / "Eval" / "list_eval_partition.txt").write_text(
        f"{len(rows_partition)}\nimage_name item_id evaluation_status\n" + "\n".join(rows_partition) + "\n")
    for split in ("train", "test"):
        write_pose_csv(root / f"fasion-resize-annotation-{split}.csv", ann[split])
        with open(root / f"fasion-resize-pairs-{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["from", "to"])
            w.writerows(pairs[split])
    for rec in records:
        rec.pop("poses", None)
    (root / "atelier.json").write_text(json.dumps({"kind": "inshop", "seed": seed, "items": records}, indent=1))


# --- LookBook ---------------------------------------------------------------------------------------------------

def lookbook_item(root: Path, seed: int, index: int, size: int, raw: bool = True) -> dict:
    """One product: 2-4 photos of a person wearing it and its flat, in processed (and raw) LookBook layout."""
    rng = item_rng(seed, 3, index)
    model = Model.sample(rng)
    outfit = sample_outfit_for(rng, model)
    folder = root / "Img" / f"id_{index:08d}"
    n_people = int(rng.integers(2, 5))
    images, poses = [], {}
    for k in range(n_people):
        view = sample_view(rng, weights=(0.55, 0.18, 0.18, 0.03, 0.03, 0.03))
        r = render_model(rng, model, outfit, sample_pose_kind(rng), view, size, with_iuv=False)
        save_jpeg(r.image, folder / f"{k}.jpg")
        images.append(r.image)
        poses[f"{k}.jpg"] = r.keypoints
    rendered_flat = render_outfit_flat(model, outfit, size)
    flat = rendered_flat.image
    save_jpeg(flat, folder / "flat.jpg")
    # Ground truth beside the LookBook layout (which has none): the joints of every photo and of the flat's
    # layout, and the flat garment's mask (a white garment on the white flat cannot be told from its backdrop).
    poses["flat.jpg"] = rendered_flat.keypoints
    _ensure_dir(root / "Anno" / "keypoints")
    write_pose_csv(root / "Anno" / "keypoints" / f"id_{index:08d}.csv", poses, frame=(size, size))
    save_png(((rendered_flat.seg > 0) * 255).astype(np.uint8), root / "Anno" / "flat_masks" / f"id_{index:08d}.png")
    if raw:
        iid = index * 16
        save_jpeg(flat, root / "ImgHQ" / f"PID{index:06d}_CLEAN1_IID{iid:06d}.jpg")
        for k, im in enumerate(images):
            save_jpeg(im, root / "ImgHQ" / f"PID{index:06d}_CLEAN0_IID{iid + k + 1:06d}.jpg")
    return {"pid": index, "garment": outfit.labels()["dress" if outfit.dress is not None else "top"],
            "outfit": outfit.labels(), "people": n_people}


def lookbook_finish(root: Path, seed: int, records: list[dict]) -> None:
    (root / "atelier.json").write_text(json.dumps({"kind": "lookbook", "seed": seed, "items": records}, indent=1))


# --- full-body image folder (StyleGAN) ---------------------------------------------------------------------------

def images_item(root: Path, seed: int, index: int, size: int) -> dict:
    rng = item_rng(seed, 4, index)
    model = Model.sample(rng)
    outfit = sample_outfit_for(rng, model)
    kind, view = sample_pose_kind(rng), sample_view(rng)
    r = render_model(rng, model, outfit, kind, view, size, with_iuv=False)
    name = f"{index:06d}.png"
    save_png(r.image, root / name)
    return {"file": name, "pose_kind": kind, "view": view, "gender": model.body.gender, "outfit": outfit.labels()}


def images_finish(root: Path, seed: int, records: list[dict]) -> None:
    (root / "atelier.json").write_text(json.dumps({"kind": "images", "seed": seed, "items": records}, indent=1))


def images_render(seed: int, index: int, size: int) -> np.ndarray:
    """In-memory variant used for the FISB file: one full-body image as uint8 HxWx3."""
    rng = item_rng(seed, 5, index)
    model = Model.sample(rng)
    outfit = sample_outfit_for(rng, model)
    r = render_model(rng, model, outfit, sample_pose_kind(rng), sample_view(rng), size, with_iuv=False)
    return np.asarray(r.image)


# --- shoes and handbags -----------------------------------------------------------------------------------------

LABEL_FIELDS = ("index", "kind", "colour_family", "pattern", "formality", "r", "g", "b")


def accessory_batch(seed: int, stream: int, kinds: tuple[str, ...], start: int, stop: int, size: int):
    imgs = np.zeros((stop - start, size, size, 3), np.uint8)
    labels = []
    for i in range(start, stop):
        check_stop()  # a batch of 256 takes tens of seconds: a stop must not wait for it
        rng = item_rng(seed, stream, i)
        acc = render_accessory(rng, sample_style(rng, kinds), size)
        imgs[i - start] = np.asarray(acc.image)
        labels.append({"index": i, **acc.labels})
    return imgs, labels


def write_igan_hdf5(path: Path, imgs: np.ndarray) -> None:
    """The iGAN layout: one dataset ``imgs`` (N, H, W, 3) uint8 with dimension labels."""
    import h5py

    with h5py.File(path, "w") as f:
        ds = f.create_dataset("imgs", data=imgs, dtype="uint8")
        for axis, name in enumerate(("batch", "height", "width", "channel")):
            ds.dims[axis].label = name


def write_labels_csv(path: Path, labels: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(LABEL_FIELDS)
        for lab in labels:
            w.writerow([lab["index"], lab["kind"], lab["colour_family"], lab["pattern"], lab["formality"],
                        *lab["rgb"]])


# --- Fashion Synthesis G2.h5 ------------------------------------------------------------------------------------

def write_fisb_h5(path: Path, images: np.ndarray) -> None:
    """FashionGAN's ``G2.h5`` layout as the thesis read it: ``ih`` mean-subtracted C×W×H floats, ``ih_mean``."""
    import h5py

    x = images.astype(np.float32) / 255.0
    x = x.transpose(0, 3, 2, 1)  # N, C, W, H  (the stored layout is H×W×C swapped on axes 0 and 2)
    mean = x.mean(axis=0)
    ih = (x - mean) / max(float(mean.max()), 1e-6)
    with h5py.File(path, "w") as f:
        f.create_dataset("ih", data=ih.astype(np.float32))
        f.create_dataset("ih_mean", data=mean.astype(np.float32))

