"""FlatWarp (Extract by warping): the body-to-flat flow, the mask/fill blend, the lookbook joints and masks it learns
from, the Extract pipeline around it and the evaluation rows every Extract model gets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fashionstudio.core.pose_transfer import default_target_pose
from fashionstudio.models import flatwarp
from fashionstudio.models.flatwarp import garment_flow
from fashionstudio.models.part_warp import part_flow, warp

pytestmark = pytest.mark.usefixtures("one_torch_thread")
R = 64


def standing(dx: float = 0.0) -> torch.Tensor:
    kp = default_target_pose(1.0).copy()
    kp[:, 0] = kp[:, 0] * R - 0.5
    kp[:, 1] = kp[:, 1] * R - 0.5 + dx
    return torch.from_numpy(kp.astype(np.float32))[None]


def identity_grid() -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(R) + 0.5, torch.arange(R) + 0.5, indexing="ij")
    return torch.stack([xs / R * 2 - 1, ys / R * 2 - 1], dim=-1)


def test_the_flow_fetches_the_garment_from_the_body_even_outside_every_body_part():
    flat, person = standing(), standing(dx=6)  # the person stands 6 px right of the flat's layout
    ok = torch.ones(1, 18, dtype=torch.bool)
    grid, masks = garment_flow(person, ok, flat, ok, R)
    shift = (grid[0, ..., 0] - identity_grid()[..., 0]) * R / 2
    body = masks[0].amax(0) > 0.99
    assert body.sum() > 300 and (shift[body] - 6).abs().max() < 0.05
    # A wide hem far from every capsule follows the torso too; the pose warp's own flow keeps it in place.
    uncovered = masks[0].amax(0) == 0
    assert uncovered.sum() > 100 and (shift[uncovered] - 6).abs().max() < 0.05
    pose_grid, _ = part_flow(person, ok, flat, ok, R)
    pose_shift = (pose_grid[0, ..., 0] - identity_grid()[..., 0]) * R / 2
    assert pose_shift[uncovered].abs().max() < 0.1


def test_the_result_is_the_predicted_mask_over_white_and_bad_input_is_named():
    torch.manual_seed(0)
    g = flatwarp.build({"preset": "demo", "g_base": 4}, which=["G"])["G"].eval()
    x = torch.rand(2, 3, R, R) * 2 - 1
    with torch.no_grad():
        parts = g.parts(x)
    m, c = parts["mask"], parts["copy"]
    fill = c * parts["warped"] + (1 - c) * parts["synthesis"]
    assert torch.allclose(parts["output"], m * fill + (1 - m), atol=1e-6)
    assert torch.equal(parts["offset"], torch.zeros_like(parts["offset"]))  # the learned flow starts at zero
    assert torch.allclose(parts["warped"], parts["coarse"], atol=1e-6)
    with pytest.raises(ValueError, match=r"\[N, 3, 64, 64\] photos"):
        g(x[:, :, :32, :32])


@pytest.fixture(scope="module")
def lookbook(tmp_path_factory):
    from training.data import make_dataset
    from training.data.atelier import generate

    root = generate("lookbook", tmp_path_factory.mktemp("lookbook") / "lb", 24, resolution=R, seed=3)
    return make_dataset("lookbook", root, split="all", resolution=R)


def test_lookbook_items_carry_the_joints_and_the_flat_mask(lookbook):
    item = lookbook[0]
    assert item["person_kp"].shape == item["flat_kp"].shape == (18, 2) and float(item["has_anno"]) == 1.0
    shoulders = item["flat_kp"][[2, 5]]
    assert (shoulders >= 0).all()  # the flat's layout has its shoulders
    mask = item["flat_mask"]
    assert mask.shape == (1, R, R) and set(mask.unique().tolist()) == {0.0, 1.0}
    # The mask is the garment: its pixels are not the flat's white backdrop, the others are.
    light = ((item["flat"] + 1) / 2).amin(0) > 0.97
    assert light[mask[0] == 0].float().mean() > 0.95
    # The true joints warp the photo's garment onto the flat: inside the mask the warp is much nearer the flat
    # than the photo is (summed over the products; a back view brings the garment's back).
    err_warp = err_still = 0.0
    for i in range(len(lookbook)):
        it = lookbook[i]
        ok_p, ok_f = (it["person_kp"] >= 0).all(-1)[None], (it["flat_kp"] >= 0).all(-1)[None]
        grid, _ = garment_flow(it["person_kp"][None], ok_p, it["flat_kp"][None], ok_f, R)
        inside = it["flat_mask"][0] > 0
        err_warp += float((warp(it["person"][None], grid)[0] - it["flat"]).abs().mean(0)[inside].mean())
        err_still += float((it["person"] - it["flat"]).abs().mean(0)[inside].mean())
    assert err_warp < 0.5 * err_still, (err_warp, err_still)


def test_the_mask_row_catches_a_model_that_returns_the_centred_crop(lookbook):
    from training.metrics.extract_eval import extract_scores
    from training.metrics.sampling import Sampled, centre_crop

    batch = torch.utils.data.default_collate([lookbook[i] for i in range(12)])
    crop = centre_crop(batch["person"])
    true = batch["flat_mask"]
    for name, output in (("crop", crop), ("true flat", batch["flat"])):
        sampled = Sampled({"output": output, "centre_crop": crop, "target": batch["flat"]}, {},
                          masks={"target": true})
        iou = float(np.mean(extract_scores(sampled, None)["mask_iou/model"]))
        if name == "crop":
            assert iou < 0.6, iou
        else:
            assert iou > 0.85, iou
    # A model's own mask is what it is scored on.
    sampled = Sampled({"output": crop, "centre_crop": crop, "target": batch["flat"]}, {},
                      masks={"target": true, "output": true})
    assert extract_scores(sampled, None)["mask_iou/model"] == [1.0] * 12


def test_speckle_energy_sees_pixel_noise_inside_the_garment_only():
    from training.metrics.extract_eval import erode, speckle_per_image

    flat = torch.full((2, 3, R, R), 0.2)
    mask = torch.zeros(2, 1, R, R)
    mask[:, :, 16:48, 16:48] = 1
    noisy = flat.clone()
    noisy[1] += 0.2 * torch.randn_like(noisy[1]) * mask[1]
    outside = flat.clone()
    outside[0] += 0.2 * torch.randn_like(outside[0]) * (1 - mask[0])
    inner = erode(torch.cat([mask, mask[:1]]), 3)  # the blur's reach: the outline's own edge is not speckle
    e = speckle_per_image(torch.cat([flat[:1], noisy[1:], outside[:1]]), inner)
    assert e[0] < 1e-10 and e[1] > 0.01 and e[2] < 1e-10


def test_the_extract_pipeline_composites_with_the_mask_the_model_predicts(tmp_path):
    from PIL import Image

    from fashionstudio.core.extract import GarmentExtractor
    from fashionstudio.core.images import pil_to_tensor
    from fashionstudio.core.letterbox import letterbox
    from fashionstudio.core.modelfile import load_model_file, save_model_file

    torch.manual_seed(0)
    config = {"preset": "demo", "resolution": 32, "g_base": 4, "n_scales": 3, "d_base": 4, "d_blocks": 2}
    nets = flatwarp.build(config, which=("G",))
    save_model_file(tmp_path / "fw.safetensors", "flatwarp", nets, config, resolution=32, name="Tiny flatwarp")
    model = load_model_file(tmp_path / "fw.safetensors")
    photo = Image.fromarray((np.random.default_rng(0).random((48, 30, 3)) * 255).astype(np.uint8))
    with torch.inference_mode():
        result = GarmentExtractor(model).run(photo, background=(0, 0, 0))
        parts = model.networks["G"].parts(pil_to_tensor(letterbox(photo, 32)[0]))
    expected = (parts["mask"][0, 0] * 255).round().byte().numpy()
    assert np.array_equal(np.asarray(result.mask), expected)
    # On black, the backdrop share of every pixel turns black: a pixel the model is sure is garment keeps its fill.
    alpha = np.asarray(result.mask, np.float32)[..., None] / 255
    raw = np.asarray(result.raw, np.float32)
    want = np.clip(raw - (1 - alpha) * 255, 0, 255)
    assert np.abs(np.asarray(result.garment, np.float32) - want).max() <= 1.0


@pytest.fixture(scope="module")
def light_and_dark_pairs(tmp_path_factory):
    """Generated held-out pairs (seed 11) whose garment is white or beige, and black or navy."""
    import json

    from training.data import make_dataset
    from training.data.atelier import generate

    root = generate("lookbook", tmp_path_factory.mktemp("lookbook-colours") / "lb", 150, resolution=R, seed=11)
    ds = make_dataset("lookbook", root, split="all", resolution=R)
    colour = {f"id_{int(i['pid']):08d}": i["garment"]["colour_family"]
              for i in json.loads((root / "atelier.json").read_text())["items"]}
    index = {pid: k for k, (pid, _, _) in reversed(list(enumerate(ds.pairs)))}  # the first photo of a product
    light = [index[p] for p, c in colour.items() if c in ("white", "beige") and p in index]
    dark = [index[p] for p, c in colour.items() if c in ("black", "navy") and p in index]
    return ds, light[:6], dark[:6]


def _extract_model_path():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "resources" / "models" / "extract.safetensors"


@pytest.mark.parametrize("background", [(0, 0, 0), (255, 255, 255)], ids=["on-black", "on-white"])
def test_the_shipped_extract_model_keeps_light_and_dark_garments_whole(light_and_dark_pairs, background):
    """The Extract tab's result on a dark and on a light background: the garment's mask covers the true flat's,
    for white/beige garments (which a mask read off the white flat loses) and black/navy ones alike. What it
    misses is a wrong garment shape (a long-sleeved top drawn as a tank), not a garment eaten by its backdrop."""
    from fashionstudio.core.extract import GarmentExtractor
    from fashionstudio.core.images import tensor_to_pil
    from fashionstudio.core.modelfile import load_model_file

    model = load_model_file(_extract_model_path())
    assert model.family == "flatwarp"
    extractor = GarmentExtractor(model)
    ds, light, dark = light_and_dark_pairs
    assert len(light) >= 3 and len(dark) >= 3
    for group in (light, dark):
        covered, ious = [], []
        for i in group:
            item = ds[i]
            with torch.inference_mode():
                result = extractor.run(tensor_to_pil(item["person"]), background=background)
            pred = np.asarray(result.mask) >= 128
            true = item["flat_mask"][0].numpy() > 0
            covered.append((pred & true).sum() / true.sum())
            ious.append((pred & true).sum() / (pred | true).sum())
            # Where the mask is sure, the composite is the model's fill, not the chosen background.
            garment = np.asarray(result.garment, np.float32)[np.asarray(result.mask) == 255]
            raw = np.asarray(result.raw, np.float32)[np.asarray(result.mask) == 255]
            assert np.abs(garment - raw).max() <= 1.0
        # Above what PixelDTGAN's mask, read off its white flat, reaches here (its numbers are in the Extract card).
        assert np.mean(covered) > 0.75 and min(covered) > 0.5 and np.mean(ious) > 0.6, (covered, ious)
