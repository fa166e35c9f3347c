"""Match with a content/style (munit) model: seeded candidates that differ, "more like this", both directions in
the core pipeline, the CLI and the Match tab, and an honest label for a copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio.core.content_style_match import MIN_DIFFERENCE, ContentStyleMatcher
from fashionstudio.core.match import Candidate, make_matcher, round_trip_l1
from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.core.provenance import read_provenance
from fashionstudio.models import munit

TINY = {"preset": "demo", "resolution": 32, "enc_base": 4, "dec_base": 16, "content_dim": 4, "style_dim": 4,
        "d_base": 8, "d_blocks": 3}


def _save(path: Path, nets: dict) -> Path:
    name = "Tiny munit"
    while True:  # modelfile refuses a header length whose low byte is 0x80 (see tests/test_match.py)
        save_model_file(path, "munit", nets, TINY, resolution=32, name=name)
        if path.read_bytes()[:1] != b"\x80":
            return path
        name += " "


def munit_model(path: Path, paint: bool = False) -> Path:
    """Tiny untrained munit whose AdaIN listens to the style; ``paint``: G_B draws red, G_A blue, so the output
    tells which decoder ran."""
    torch.manual_seed(0)
    nets = munit.build(TINY, which=("G_A", "G_B"))
    for net in nets.values():
        for m in net.modules():
            if isinstance(m, munit.AdaIN):
                torch.nn.init.normal_(m.affine.weight, 0.0, 0.5)
        with torch.no_grad():
            net.dec_in.weight.mul_(4.0)  # content codes make a visible difference
    if paint:
        for name, colour in (("G_B", (3.0, -3.0, -3.0)), ("G_A", (-3.0, -3.0, 3.0))):
            with torch.no_grad():
                nets[name].to_rgb.weight.zero_()
                nets[name].to_rgb.bias.copy_(torch.tensor(colour))
    return _save(path, nets)


@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


def shoe(size=(64, 40)) -> Image.Image:
    img = Image.new("RGB", size, (255, 255, 255))
    img.paste((150, 60, 40), (6, size[1] // 2, size[0] - 6, size[1] - 6))
    return img


def dominant(img: Image.Image) -> str:
    r, g, b = np.asarray(img, np.float32).reshape(-1, 3).mean(axis=0)
    return "red" if r > 200 and b < 50 else "blue" if b > 200 and r < 50 else "other"


def test_same_seed_same_candidates_other_seed_others_and_they_differ(tmp_path):
    matcher = make_matcher(load_model_file(munit_model(tmp_path / "m.safetensors")))
    assert isinstance(matcher, ContentStyleMatcher)
    with torch.inference_mode():
        a = matcher.run(shoe(), "shoe2bag", 4, seed=3)
        b = matcher.run(shoe(), "shoe2bag", 4, seed=3)
        c = matcher.run(shoe(), "shoe2bag", 4, seed=4)
    assert [x.code for x in a.candidates] == [x.code for x in b.candidates]
    assert all(np.array_equal(np.asarray(x.output), np.asarray(y.output)) for x, y in zip(a.candidates, b.candidates))
    assert a.candidates[0].code != c.candidates[0].code
    for i, x in enumerate(a.candidates):  # a designer can tell them apart
        for y in a.candidates[i + 1:]:
            assert round_trip_l1(x.output, y.output) >= MIN_DIFFERENCE
    s = a.settings(1)
    assert s["seed"] == 3 and s["content_code"] == [round(v, 5) for v in a.candidates[1].code]
    assert 0.0 <= s["style_distance"] <= 1.0 and 0.0 <= s["shape_iou"] <= 1.0


def test_more_like_this_keeps_the_chosen_first_and_stays_near_it(tmp_path):
    matcher = make_matcher(load_model_file(munit_model(tmp_path / "m.safetensors")))
    with torch.inference_mode():
        first = matcher.run(shoe(), "bag2shoe", 4, seed=0)
        chosen = first.candidates[2]
        near = matcher.more_like(shoe(), "bag2shoe", chosen.code, 4, seed=1)
        far = matcher.run(shoe(), "bag2shoe", 8, seed=1)
    assert near.candidates[0].code == chosen.code
    assert np.array_equal(np.asarray(near.candidates[0].output), np.asarray(chosen.output))
    code = np.array(chosen.code)
    near_d = np.mean([np.linalg.norm(np.array(c.code) - code) for c in near.candidates[1:]])
    far_d = np.mean([np.linalg.norm(np.array(c.code) - code) for c in far.candidates])
    assert near_d < 0.6 * far_d
    with pytest.raises(ValueError, match="shape code has 3 numbers"):
        matcher.more_like(shoe(), "bag2shoe", [0.0, 0.0, 0.0])


def test_cli_matches_both_directions_with_a_munit_model(tmp_path):
    from fashionstudio.cli import main

    model = str(munit_model(tmp_path / "m.safetensors", paint=True))
    photos = tmp_path / "in"
    photos.mkdir()
    shoe().save(photos / "loafer.png")
    # Painted decoders draw one flat colour: written and flagged blank (exit 1).
    assert main(["match", str(photos), str(tmp_path / "bags"), "--direction", "shoe2bag", "--model", model,
                 "--candidates", "2", "--seed", "5", "-q"]) == 1
    assert main(["match", str(photos), str(tmp_path / "shoes"), "--direction", "bag2shoe", "--model", model,
                 "-q"]) == 1
    assert dominant(Image.open(tmp_path / "bags" / "loafer.png")) == "red"  # G_B drew it
    assert dominant(Image.open(tmp_path / "shoes" / "loafer.png")) == "blue"  # G_A drew it
    info = read_provenance(tmp_path / "bags" / "loafer_2.png")["settings"]
    assert info["direction"] == "shoe2bag" and info["seed"] == 5 and info["candidate"] == 2


def test_copy_label_is_honest():
    from fashionstudio.gui.tabs.match_tab import match_words

    img = shoe()
    copy = Candidate("as given", img, img, img, 0.0, style_distance=0.0, shape_iou=1.0)
    assert "copies the input's outline" in match_words(copy).lower() and "faithful" not in match_words(copy)
    new_item = Candidate("shape 1", img, img, img, 0.02, style_distance=0.03, shape_iou=0.4)
    assert match_words(new_item).startswith("Style kept closely")


@pytest.fixture
def tab(open_tool_tab):
    from fashionstudio.gui.tabs.match_tab import MatchTab

    return open_tool_tab(MatchTab)


def test_match_tab_candidates_more_like_this_and_both_directions(tab, qtbot, tmp_path):
    from qt_helpers import open_model_and_wait

    open_model_and_wait(tab, qtbot, munit_model(tmp_path / "m.safetensors"))
    # the shape buttons and the candidates' wording follow the model as soon as it loads, before any input
    assert tab.other_shapes_button.isVisible() and not tab.other_shapes_button.isEnabled()
    assert "other shapes" in tab.candidates_caption.text() and "variations" not in tab.candidates_spin.toolTip()
    tab.set_source_image(shoe())
    qtbot.waitUntil(lambda: tab.match_result() is not None, timeout=10_000)
    result = tab.match_result()
    assert len(tab.candidate_buttons) == 4 and result.seed == 0
    assert tab.more_like_button.isVisible() and tab.more_like_button.isEnabled()
    assert "colour distance" in tab.round_trip_label.text() or "outline" in tab.round_trip_label.text()

    tab.candidate_buttons[1].click()
    chosen = result.candidates[1]
    tab.more_like_button.click()
    qtbot.waitUntil(lambda: tab.match_result() is not result, timeout=10_000)
    near = tab.match_result()
    assert near.candidates[0].code == chosen.code and near.candidates[0].variation == "chosen"

    tab.other_shapes_button.click()
    qtbot.waitUntil(lambda: tab.match_result() is not near, timeout=10_000)
    assert tab.match_result().candidates[0].code != chosen.code

    tab.direction_buttons["bag2shoe"].click()
    qtbot.waitUntil(lambda: tab.match_result() is not None and tab.match_result().direction == "bag2shoe",
                    timeout=10_000)
    info = read_provenance(tab.export_result(tmp_path / "shoe.png"))["settings"]
    assert info["direction"] == "bag2shoe" and "content_code" in info


def test_each_match_pipeline_runs_only_the_families_that_declare_it(tmp_path):
    """A munit file in the translator pipeline is refused with the pipeline that runs it, and the other way round."""
    from fashionstudio.core.content_style_match import ContentStyleMatcher
    from fashionstudio.core.match import StyleMatcher, make_matcher
    from fashionstudio.core.modelfile import load_model_file
    from fashionstudio.core.pipeline_common import WrongModelError

    model = load_model_file(munit_model(tmp_path / "m.safetensors"))
    assert isinstance(make_matcher(model), ContentStyleMatcher)
    with pytest.raises(WrongModelError, match="munit model, which the ContentStyleMatcher pipeline runs"):
        StyleMatcher(model)
