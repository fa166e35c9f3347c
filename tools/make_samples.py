"""Redraw ``resources/samples/`` (the pictures offered on empty canvases) with the synthetic atelier.

``python tools/make_samples.py`` runs ``python -m training synth`` for the ``images``, ``lookbook`` and
``shoes_bags`` kinds at 256 px with a seed the demo models never trained on, and keeps one item of each: a
dressed person, the flat garment of a lookbook outfit, a shoe and a handbag, as PNG.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "resources" / "samples"
SEED = 20260  # not a training seed: the samples are pictures the demo models have not seen
RESOLUTION = 256


def synth(kind: str, folder: Path) -> Path:
    """Run the atelier generator for ``kind`` into ``folder`` (a few items are plenty)."""
    out = folder / kind
    subprocess.run([sys.executable, "-m", "training", "synth", kind, str(out), "--n", "8",
                    "--resolution", str(RESOLUTION), "--seed", str(SEED)], check=True, cwd=REPO)
    return out


def save(img: Image.Image, name: str) -> Path:
    path = OUT / name
    img.convert("RGB").save(path, "PNG", optimize=True)
    return path


def main() -> int:
    import h5py

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = synth("images", folder)
        lookbook = synth("lookbook", folder)
        shoes_bags = synth("shoes_bags", folder)
        written = [save(Image.open(images / "000000.png"), "person.png"),
                   save(Image.open(lookbook / "Img" / "id_00000000" / "flat.jpg"), "flat.png")]
        for kind, name in (("shoes", "shoe.png"), ("handbags", "bag.png")):
            with h5py.File(shoes_bags / f"{kind}_{RESOLUTION}.hdf5", "r") as f:
                written.append(save(Image.fromarray(f["imgs"][0]), name))
    for path in written:
        print(f"{path.relative_to(REPO)}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
