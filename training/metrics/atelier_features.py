"""The "atelier" feature extractor: a small CNN trained on the synthetic atelier's exact attribute labels.

The thesis's first future extension was a fashion-trained feature network for its metrics; this is its small
offline form. One convolutional trunk turns a 64×64 image in [−1, 1] into a 160-d embedding (the features FID,
KID and precision/recall use with ``--features atelier``), and one linear head per attribute classifies it:

- ``item``: person, garment (flat), shoe, bag — what the image shows;
- ``garment_type``, ``colour`` (colour family), ``pattern`` of the main garment, or of the shoe/bag;
- ``accessory_kind`` and ``formality`` of shoes and bags; ``pose`` of persons.

So other code can ask "what colour family / garment type / pattern is this image" (:meth:`AtelierClassifier.predict`),
which scores the demo models: Extract's colour-family accuracy and Match's colour/pattern agreement.

File format: one ``.safetensors`` file with the trunk and heads, and a JSON header entry ``"atelier_features"``
(architecture, head vocabularies, training facts and held-out accuracies). The architecture and the loader live
in :mod:`fashionstudio.models.atelier_features` (the app needs them and never imports ``training``); this module
adds the attribute vocabularies, saving, the classifier/feature wrappers and the training code.

Training: ``python -m training.metrics.atelier_features train OUT [--n N] [--epochs E] [--seed S]`` (see
:func:`main`); a few minutes on a CPU.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from fashionstudio.core.atomic import atomic_write
from fashionstudio.models.atelier_features import (  # noqa: F401 (re-exported: the metrics' names stay)
    DEFAULT_PATH,
    FORMAT_VERSION,
    INPUT_SIZE,
    META_KEY,
    AtelierFileError,
    AtelierNet,
    load_atelier,
)

IGNORE = -1  # label of an attribute an image does not have (a shoe has no pose)


def default_heads() -> dict[str, list[str]]:
    """Head name -> class names, from the atelier's attribute vocabularies (the single source of truth)."""
    from training.data.atelier import attributes as A

    return {
        "item": ["person", "garment", "shoe", "bag"],
        "garment_type": list(A.GARMENT_TYPES),
        "colour": list(A.COLOUR_FAMILY_NAMES),
        "pattern": list(A.PATTERNS),
        "accessory_kind": list(A.SHOE_KINDS) + list(A.BAG_KINDS),
        "formality": list(A.FORMALITY),
        "pose": list(A.POSE_KINDS),
    }


def save_atelier(path: str | Path, net: AtelierNet, info: dict[str, Any]) -> Path:
    """Write ``net`` and its metadata atomically as safetensors + JSON header."""
    from safetensors.torch import save_file

    path = Path(path)
    meta = {"format_version": FORMAT_VERSION, "widths": list(net.widths), "stem": net.stem,
            "input_size": INPUT_SIZE, "heads": net.head_classes, **info}
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in net.state_dict().items()}
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})
    return path


class AtelierClassifier:
    """Attribute predictions for images: ``predict(images)`` -> {head: class indices}, with names via ``classes``."""

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        self.net, self.meta = load_atelier(path)
        self.device = torch.device(device)
        self.net.to(self.device)
        self.classes = self.net.head_classes

    @torch.no_grad()
    def logits(self, images: Tensor) -> dict[str, Tensor]:
        return {k: v.cpu() for k, v in self.net(images.to(self.device))[1].items()}

    def predict(self, images: Tensor, heads: tuple[str, ...] | None = None) -> dict[str, Tensor]:
        """Most likely class index per image for each head (all heads when ``heads`` is None)."""
        logits = self.logits(images)
        return {k: v.argmax(dim=1) for k, v in logits.items() if heads is None or k in heads}

    def predict_names(self, images: Tensor, head: str) -> list[str]:
        return [self.classes[head][i] for i in self.predict(images, (head,))[head].tolist()]


class AtelierFeatures:
    """Feature extractor protocol (see ``features.py``): 160-d embeddings and garment-type probabilities for IS."""

    def __init__(self, path: str | Path | None = None, device: str | torch.device = "cpu") -> None:
        from training.metrics.inception import _file_digest

        path = Path(path) if path else DEFAULT_PATH
        self.classifier = AtelierClassifier(path, device)
        self.dim = self.classifier.net.dim
        digest = _file_digest(path)
        self.name = f"atelier:{digest}"
        self.info = {"extractor": "atelier", "weights": path.name, "sha256": digest, "dim": self.dim,
                     "input": f"bilinear antialiased {INPUT_SIZE}x{INPUT_SIZE}",
                     "is_classes": "garment_type"}

    @torch.no_grad()
    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]:
        net = self.classifier.net
        emb = net.embed(images.to(self.classifier.device))
        probs = torch.softmax(net.heads["garment_type"](emb), dim=1)
        return emb.cpu(), probs.cpu()


# ---------------------------------------------------------------------------------------------------- training

def _label_row(heads: dict[str, list[str]], **values: str | None) -> list[int]:
    """Class indices in head order; IGNORE for attributes the image does not have."""
    return [heads[h].index(values[h]) if values.get(h) is not None else IGNORE for h in heads]


def _read_image(path: Path) -> Tensor:
    import numpy as np
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.BILINEAR))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def load_atelier_split(root: Path, heads: dict[str, list[str]]) -> tuple[Tensor, Tensor, list[str]]:
    """Read the atelier folders ``images``, ``lookbook`` and ``shoes_bags`` under ``root`` (as written by
    ``training.data.atelier.generate``) into uint8 images (N,3,64,64), labels (N, heads) and a group name per
    image (person / flat / shoe / bag, for per-group accuracies)."""
    import csv

    import h5py
    import numpy as np

    images: list[Tensor] = []
    labels: list[list[int]] = []
    groups: list[str] = []

    def garment(lab: dict) -> dict[str, str]:
        return {"garment_type": lab["type"], "colour": lab["colour_family"], "pattern": lab["pattern"]}

    def main_garment(outfit: dict) -> dict:
        return outfit["dress"] if outfit.get("dress") else outfit["top"]

    meta = json.loads((root / "images" / "atelier.json").read_text())
    for item in meta["items"]:
        images.append(_read_image(root / "images" / item["file"]))
        labels.append(_label_row(heads, item="person", pose=item["pose_kind"], **garment(main_garment(item["outfit"]))))
        groups.append("person")
    meta = json.loads((root / "lookbook" / "atelier.json").read_text())
    for item in meta["items"]:
        folder = root / "lookbook" / "Img" / f"id_{item['pid']:08d}"
        images.append(_read_image(folder / "flat.jpg"))
        labels.append(_label_row(heads, item="garment", **garment(item["garment"])))
        groups.append("flat")
        for k in range(item["people"]):
            images.append(_read_image(folder / f"{k}.jpg"))
            labels.append(_label_row(heads, item="person", **garment(item["garment"])))
            groups.append("person")
    for name, item_kind in (("shoes", "shoe"), ("handbags", "bag")):
        with h5py.File(root / "shoes_bags" / f"{name}_64.hdf5", "r") as f:
            arr = np.asarray(f["imgs"])
        with open(root / "shoes_bags" / f"{name}_64_labels.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        for img, row in zip(arr, rows):
            images.append(torch.from_numpy(img.copy()).permute(2, 0, 1))
            labels.append(_label_row(heads, item=item_kind, colour=row["colour_family"], pattern=row["pattern"],
                                     accessory_kind=row["kind"], formality=row["formality"]))
            groups.append(item_kind)
    return torch.stack(images), torch.tensor(labels), groups


def generate_training_data(root: Path, n: int, seed: int) -> None:
    """Write the three atelier kinds the classifier learns from (n is roughly the number of images per kind)."""
    from training.data.atelier import generate

    generate("images", root / "images", n, 64, seed)
    generate("lookbook", root / "lookbook", max(3, n // 2), 64, seed)  # ~n/2 photos + n/6 flats
    generate("shoes_bags", root / "shoes_bags", max(1, n // 2), 64, seed)


def _augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """Flips, small shifts and occasional blur: models' outputs are off-centre and soft; colours are never changed
    (the colour family is a label)."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dx, dy = (int(v) for v in torch.randint(-4, 5, (2,), generator=gen))
    x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if float(torch.rand(1, generator=gen)) < 0.3:
        x = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return x


def accuracies(net: AtelierNet, images: Tensor, labels: Tensor, groups: list[str]) -> dict[str, dict[str, float]]:
    """Held-out accuracy of every head, per image group (only images that have the attribute count)."""
    net.eval()
    preds = {h: [] for h in net.head_classes}
    with torch.no_grad():
        for start in range(0, len(images), 256):
            x = images[start : start + 256].float() / 127.5 - 1
            for h, logit in net(x)[1].items():
                preds[h].append(logit.argmax(1))
    group_arr = list(groups)
    out: dict[str, dict[str, float]] = {}
    for j, h in enumerate(net.head_classes):
        p = torch.cat(preds[h])
        for g in sorted(set(group_arr)):
            mask = torch.tensor([gg == g for gg in group_arr]) & (labels[:, j] != IGNORE)
            if mask.any():
                out.setdefault(h, {})[g] = round(float((p[mask] == labels[mask, j]).float().mean()), 4)
    return out


def train(out: Path, n: int = 3000, epochs: int = 30, seed: int = 0, batch_size: int = 64,
          data_dir: Path | None = None, stem: int = 16, log=print) -> dict[str, Any]:
    """Generate atelier data (train seed ``seed``, held-out seed ``seed + 1000``), train the CNN, write ``out``."""
    import shutil
    import time

    heads = default_heads()
    tmp = Path(tempfile.mkdtemp(prefix="atelier_features_")) if data_dir is None else Path(data_dir)
    start = time.time()
    try:
        generate_training_data(tmp / "train", n, seed)
        generate_training_data(tmp / "test", max(60, n // 5), seed + 1000)
        x_train, y_train, _ = load_atelier_split(tmp / "train", heads)
        x_test, y_test, g_test = load_atelier_split(tmp / "test", heads)
    finally:
        if data_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"data: {len(x_train)} training and {len(x_test)} held-out images in {time.time() - start:.0f} s")

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = AtelierNet(heads, stem=stem)
    steps = epochs * max(1, len(x_train) // batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    step = 0
    train_start = time.time()
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x_train), generator=gen)
        total = 0.0
        for b in range(len(x_train) // batch_size):
            idx = order[b * batch_size : (b + 1) * batch_size]
            x = _augment(x_train[idx].float() / 127.5 - 1, gen)
            y = y_train[idx]
            _, logits = net(x)
            loss = sum(F.cross_entropy(logits[h], y[:, j], ignore_index=IGNORE)
                       for j, h in enumerate(heads) if (y[:, j] != IGNORE).any())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            total += float(loss.detach())
        log(f"epoch {epoch + 1}/{epochs}: mean loss {total / max(1, len(x_train) // batch_size):.3f}")
    seconds = time.time() - train_start
    acc = accuracies(net, x_test, y_test, g_test)
    info = {
        "training": {"images": len(x_train), "held_out_images": len(x_test), "epochs": epochs, "steps": steps,
                     "batch_size": batch_size, "seed": seed, "train_seconds": round(seconds, 1),
                     "data": "synthetic atelier kinds images, lookbook (photos + flats), shoes_bags at 64 px",
                     "command": f"python -m training.metrics.atelier_features train OUT --n {n} --epochs {epochs} "
                                f"--seed {seed} --stem {stem}"},
        "held_out_accuracy": acc,
    }
    save_atelier(out, net, info)
    return info


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m training.metrics.atelier_features",
                                     description="Train the atelier feature/attribute CNN on generated data.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="generate atelier data, train, write OUT (.safetensors)")
    t.add_argument("out", type=Path)
    t.add_argument("--n", type=int, default=3000, help="about this many images per atelier kind (default 3000)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--stem", type=int, default=16, help="channels of the full-resolution first conv (0 = none)")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    info = train(args.out, n=args.n, epochs=args.epochs, seed=args.seed, stem=args.stem)
    print(json.dumps(info, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
