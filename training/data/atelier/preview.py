"""Contact sheets of atelier datasets: one glance tells whether the data reads as a fashion catalogue."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from fashionstudio.core.poses import draw_skeleton


def contact_sheet(images: list[Image.Image], columns: int = 8, cell: int | None = None,
                  gap: int = 2) -> Image.Image:
    cell = cell or max(im.size[0] for im in images)
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (cell + gap) + gap, rows * (cell + gap) + gap), (255, 255, 255))
    for k, im in enumerate(images):
        if im.size != (cell, cell):
            im = im.resize((cell, cell), Image.NEAREST if im.size[0] < cell else Image.BICUBIC)
        sheet.paste(im.convert("RGB"), (gap + (k % columns) * (cell + gap), gap + (k // columns) * (cell + gap)))
    return sheet


def preview_images(kind: str, root: Path, count: int = 32) -> list[Image.Image]:
    """Sample images of a written dataset, read back through its on-disk format."""
    root = Path(root)
    if kind == "inshop":
        from fashionstudio.core.poses import read_pose_csv
        from ..inshop import read_iuv, scan_images

        images, _ = scan_images(root)
        poses = {}
        for split in ("train", "test"):
            f = root / f"fasion-resize-annotation-{split}.csv"
            if f.is_file():
                poses.update(read_pose_csv(f))
        out = []
        for im in images[:count]:
            img = Image.open(im.path).convert("RGB")
            out.append(img)
            if len(out) < count // 4 and im.flat_name in poses:
                out.append(draw_skeleton(poses[im.flat_name], img.size[::-1], img))
                iuv_file = im.path.with_name(im.path.stem + "_IUV.png")
                if iuv_file.is_file():
                    iuv = read_iuv(iuv_file).astype(np.float32)
                    iuv[..., 0] *= 10
                    out.append(Image.fromarray(np.clip(iuv, 0, 255).astype(np.uint8)))
        return out[:count]
    if kind == "lookbook":
        out = []
        for d in sorted((root / "Img").glob("id_*")):
            out += [Image.open(d / "0.jpg"), Image.open(d / "flat.jpg")]
            if len(out) >= count:
                break
        return out
    if kind == "shoes_bags":
        import h5py

        out = []
        for name in sorted(root.glob("*.hdf5")):
            with h5py.File(name, "r") as f:
                out += [Image.fromarray(a) for a in f["imgs"][: count // 2]]
        return out
    if kind == "images":
        return [Image.open(p) for p in sorted(root.glob("*.png"))[:count]]
    if kind == "fisb":
        from ..fisb import FashionSynthesis

        ds = FashionSynthesis(root, "all", 64)
        return [Image.fromarray(ds.decode(i)) for i in range(min(count, len(ds)))]
    raise ValueError(kind)


def write_preview(kind: str, root: Path, out: Path | None = None, count: int = 32) -> Path:
    out = Path(out) if out is not None else Path(root) / f"preview_{kind}.png"
    contact_sheet(preview_images(kind, root, count), columns=8).save(out)
    return out
