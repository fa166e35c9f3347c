"""The demo models that ship in resources/models: they load, they run at their size, and their cards are true.

The card numbers come from resources/models/<tool>.eval.json; the slow test re-runs ``evaluate`` on the same
held-out atelier data (regenerated from its seed) and checks the report agrees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from fashionstudio.core.modelfile import file_sha256, load_model_file
from fashionstudio.core.registry import tool_defaults

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
SHIPPED = sorted(p.stem for p in MODELS.glob("*.safetensors"))
# Helper models that serve every tool rather than a tab of their own: file stem -> family.
HELPERS = {"upscale": "upscale"}
# The thesis's models kept beside a tool's newer default, openable with File > Open model: file stem -> family.
REFERENCE = {"pose-pgpg": "pgpg", "extract-pixeldtgan": "pixeldtgan", "match-cyclegan": "cyclegan"}
FAMILY_OF = {**tool_defaults(), **HELPERS, **REFERENCE}
# The held-out data each card was evaluated on: (reader kind, synth kind) generated with seed 7, n 600, 64 px.
EVAL_DATA = {"pose": "inshop", "pose-pgpg": "inshop", "extract": "lookbook", "extract-pixeldtgan": "lookbook",
             "match": "shoes_bags", "match-cyclegan": "shoes_bags"}


def test_every_tool_ships_a_demo_model_under_the_size_budget():
    assert set(SHIPPED) == set(FAMILY_OF), f"missing demo models: {set(FAMILY_OF) - set(SHIPPED)}"
    total = sum((MODELS / f"{t}.safetensors").stat().st_size for t in SHIPPED)
    # The defaults plus the three thesis models kept beside them (pose-pgpg, extract-pixeldtgan, match-cyclegan).
    assert total < 45e6, f"demo models take {total / 1e6:.1f} MB"


@pytest.mark.parametrize("tool", SHIPPED)
def test_demo_model_loads_and_has_a_card(tool):
    model = load_model_file(MODELS / f"{tool}.safetensors")
    assert model.family == FAMILY_OF[tool]
    card = (MODELS / f"{tool}.md").read_text()
    assert "synthetic" in card.lower() and "real photos need a model trained on real data" in card
    report = json.loads((MODELS / f"{tool}.eval.json").read_text())
    assert report["model"]["sha256"] == file_sha256(MODELS / f"{tool}.safetensors"), "card evaluated another file"
    assert report["model"]["sha256"][:16] in card, "the card was written for another file: rerun python -m training card"
    assert report["features"]["name"] in card, "the card shows numbers from another feature network"


def _run_tool(tool: str, model) -> list[Image.Image]:
    photo = Image.new("RGB", (48, 96), (236, 233, 228))
    if tool == "upscale":
        from fashionstudio.core.upscale import Sharpener

        return [Sharpener(model).sharpen(photo.resize((model.resolution, model.resolution)))]
    if tool.startswith("pose"):
        from fashionstudio.core.pose_transfer import PoseTransfer, default_target_pose

        pose = default_target_pose(photo.width / photo.height)
        transfer = PoseTransfer(model)
        r = transfer.run(photo, pose, pose if transfer.needs_source_pose else None)
        return [r.coarse_square, r.refined_square]
    if tool.startswith("extract"):
        from fashionstudio.core.extract import GarmentExtractor

        return [GarmentExtractor(model).run(photo, (255, 255, 255)).garment]
    if tool.startswith("match"):
        from fashionstudio.core.match import pipeline_class

        return [pipeline_class(model)(model).run(photo, "shoe2bag", candidates=1).best.output]
    from fashionstudio.core.images import tensor_to_pil
    from fashionstudio.core.latent import GenerateState, LatentSpace

    G = model.networks["G"]
    return [tensor_to_pil(G.synthesis(LatentSpace(G).state_ws(GenerateState().with_seed(3))))]


@pytest.mark.parametrize("tool", SHIPPED)
def test_demo_model_produces_an_image_of_its_resolution(tool):
    import torch

    model = load_model_file(MODELS / f"{tool}.safetensors")
    with torch.inference_mode():
        images = _run_tool(tool, model)
    for img in images:
        assert isinstance(img, Image.Image) and img.mode == "RGB"
        assert max(img.size) == model.resolution * int(model.config.get("scale", 1))  # the upscaler: x4


@pytest.mark.slow
@pytest.mark.parametrize("tool", [t for t in SHIPPED if t not in HELPERS])
def test_card_numbers_are_reproduced_by_evaluate(tool, tmp_path):
    from training.data.atelier import generate
    from training.metrics.evaluate import evaluate

    card = json.loads((MODELS / f"{tool}.eval.json").read_text())
    data = None
    if tool in EVAL_DATA:
        kind = EVAL_DATA[tool]
        path = generate(kind, tmp_path / kind, 600, 64, 7)
        data = f"{kind}:{path}"
    report = evaluate(MODELS / f"{tool}.safetensors", n=card["n"], data=data, split=card["data"]["split"],
                      out=tmp_path / "report.json", cache_dir=tmp_path / "cache", emit_event=False)
    assert report["n"] == card["n"]
    for group in ("paired", "agreement"):
        for name, values in card.get(group, {}).items():
            for key, expected in values.items():
                if isinstance(expected, float):
                    assert report[group][name][key] == pytest.approx(expected, abs=0.01), (group, name, key)
    for name, values in card["sets"].items():
        assert report["sets"][name]["fid"] == pytest.approx(values["fid"], rel=0.05, abs=0.5), name
