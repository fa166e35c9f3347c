"""The shipped Pose models through the Pose pipeline, on held-out atelier pairs with known targets.

Each result must be closer to the true target than the obvious stand-ins a broken pipeline would return: the source
photo unchanged, and the first stage (PGPG's coarse G1 result; the warping model's plain warp). Replacing the
refined output by either one fails here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionstudio.core.modelfile import load_model_file
from fashionstudio.core.pose_transfer import PoseTransfer, normalise_keypoints

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
POSE_MODELS = sorted(p.name for p in MODELS.glob("pose*.safetensors"))

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> list[tuple[Image.Image, np.ndarray, Image.Image, np.ndarray]]:
    """(source photo, its pose, target photo, target pose) for 24 pairs of held-out atelier people."""
    from training.data import make_dataset
    from training.data.atelier import generate

    root = generate("inshop", tmp_path_factory.mktemp("inshop"), 24, resolution=64, seed=7)
    data = make_dataset("inshop", root, split="all", resolution=64)
    out = []
    for a, b in data.pairs[::max(1, len(data.pairs) // 24)][:24]:
        photos = [Image.open(im.path).convert("RGB") for im in (a, b)]
        poses = [normalise_keypoints(data.keypoints[im.flat_name], p.size[::-1]) for im, p in zip((a, b), photos)]
        out.append((photos[0], poses[0], photos[1], poses[1]))
    return out


def _l1(img: Image.Image, target: Image.Image) -> float:
    a = np.asarray(img.resize(target.size, Image.Resampling.BILINEAR), dtype=np.float32)
    return float(np.abs(a - np.asarray(target, dtype=np.float32)).mean())


def test_both_pose_families_ship():
    families = {load_model_file(MODELS / name).family for name in POSE_MODELS}
    assert families == {"pgpg", "posewarp"}, POSE_MODELS


@pytest.mark.slow
@pytest.mark.parametrize("name", POSE_MODELS)
def test_the_result_beats_the_source_and_the_first_stage(name, pairs):
    transfer = PoseTransfer(load_model_file(MODELS / name))
    source = coarse = refined = 0.0
    for photo, photo_pose, target, target_pose in pairs:
        result = transfer.run(photo, target_pose, photo_pose if transfer.needs_source_pose else None)
        source += _l1(photo, target)
        coarse += _l1(result.coarse, target)
        refined += _l1(result.refined, target)
    assert refined < 0.8 * source, (name, refined, source)
    assert refined < coarse, (name, refined, coarse)
