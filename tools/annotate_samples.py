"""Write ``resources/samples/samples-annotation.csv``: the keypoints of the sample person, so a warping pose model
runs on "Try a sample" without the designer marking the pose first.

``python tools/annotate_samples.py`` renders the sample person again with the synthetic atelier (the item
``tools/make_samples.py`` keeps: kind ``images``, its seed, index 0, 256 px), checks that the rendering is
pixel-identical to the shipped ``person.png`` (so the keypoints belong to that picture), and writes the
renderer's own keypoints as a pose-transfer CSV row (``name:keypoints_y:keypoints_x``) named ``person.png``.
The Pose tab and ``fashionstudio-cli pose`` find it as an annotation beside the photo (core.source_poses).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fashionstudio.core.poses import write_pose_csv  # noqa: E402
from tools.make_samples import RESOLUTION, SEED  # noqa: E402

OUT = REPO / "resources" / "samples" / "samples-annotation.csv"
IMAGES_STREAM = 4  # the random stream training.data.atelier.writers.images_item draws from


def render_person() -> tuple[Image.Image, np.ndarray]:
    """The sample person as images_item draws it, and its (18, 2) pixel (y, x) keypoints."""
    from training.data.atelier.writers import (
        Model, item_rng, render_model, sample_outfit_for, sample_pose_kind, sample_view,
    )

    rng = item_rng(SEED, IMAGES_STREAM, 0)
    model = Model.sample(rng)
    outfit = sample_outfit_for(rng, model)
    kind, view = sample_pose_kind(rng), sample_view(rng)
    rendered = render_model(rng, model, outfit, kind, view, RESOLUTION, with_iuv=False)
    return rendered.image.convert("RGB"), np.asarray(rendered.keypoints, np.float32)


def main() -> int:
    image, keypoints = render_person()
    shipped = np.asarray(Image.open(OUT.parent / "person.png").convert("RGB"))
    if not np.array_equal(np.asarray(image), shipped):
        print("person.png is not the atelier item this script renders: redraw the samples first "
              "(python tools/make_samples.py)", file=sys.stderr)
        return 1
    write_pose_csv(OUT, {"person.png": keypoints})
    print(f"{OUT.relative_to(REPO)}: {OUT.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
