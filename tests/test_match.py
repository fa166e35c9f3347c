"""Match: both directions run the right generator, the round trip and its L1, ranked candidates from test-time
variations, and the tab (drop -> match, toggle, candidate row, round trip, export, bad inputs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio.core.match import VARIATIONS, StyleMatcher, Variation, round_trip_l1
from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.core.pipeline_common import WrongModelError
from fashionstudio.core.provenance import read_provenance
from fashionstudio.gui.model_manager import ModelManager
from fashionstudio.gui.tabs.match_tab import MatchTab
from fashionstudio.models import cyclegan, pixeldtgan
from qt_helpers import drop_file, open_model_and_wait

TINY = {"preset": "demo", "resolution": 32, "g_base": 4, "g_res_blocks": 1, "d_base": 8}
RED, BLUE = (3.0, -3.0, -3.0), (-3.0, -3.0, 3.0)


def _save(path: Path, family: str, nets: dict, config: dict) -> Path:
    # modelfile's pickle sniffing refuses a header length whose low byte is 0x80 (reported to the lead).
    name = "Tiny"
    while True:
        save_model_file(path, family, nets, config, resolution=32, name=name)
        if path.read_bytes()[:1] != b"\x80":
            return path
        name += " "


def match_model(path: Path, ab: tuple | None = RED, ba: tuple | None = BLUE) -> Path:
    """Tiny CycleGAN; a given colour makes that generator ignore its input and paint tanh(colour) everywhere,
    so the output tells which generator ran (G_AB red, G_BA blue by default)."""
    torch.manual_seed(0)
    nets = cyclegan.build(TINY, which=("G_AB", "G_BA"))
    for name, colour in (("G_AB", ab), ("G_BA", ba)):
        if colour is not None:
            last = nets[name].net[-2]
            with torch.no_grad():
                last.weight.zero_()
                last.bias.copy_(torch.tensor(colour))
    return _save(path, "cyclegan", nets, TINY)


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


# -- pipeline ------------------------------------------------------------------------------------------------------

def test_directions_run_their_generator_and_the_round_trip_runs_the_other(tmp_path):
    matcher = StyleMatcher(load_model_file(match_model(tmp_path / "m.safetensors")))
    with torch.inference_mode():
        to_bag = matcher.run(shoe(), "shoe2bag", candidates=1)
        to_shoe = matcher.run(shoe(), "bag2shoe", candidates=1)
    assert dominant(to_bag.best.output) == "red" and dominant(to_bag.best.round_trip) == "blue"
    assert dominant(to_shoe.best.output) == "blue" and dominant(to_shoe.best.round_trip) == "red"
    assert to_bag.output_kind == "handbag" and to_shoe.output_kind == "shoe"
    assert to_bag.best.variation == "as given" and to_bag.best.output.size == (32, 32)
    # round-trip L1 of a white-and-brown input against an all-blue round trip, computed independently
    square = np.asarray(to_bag.source, np.float32)
    blue = np.array([1, 1, 254], np.float32)  # tanh(±3) in 8 bits
    expected = np.abs(square - blue).mean() / 255
    assert to_bag.best.round_trip_l1 == pytest.approx(expected, abs=2e-3)
    with pytest.raises(ValueError, match="shoe2bag or bag2shoe"):
        matcher.run(shoe(), "sideways")


def test_candidates_are_ranked_by_round_trip_agreement(tmp_path):
    matcher = StyleMatcher(load_model_file(match_model(tmp_path / "m.safetensors", None, None)))
    with torch.inference_mode():
        result = matcher.run(shoe(), "shoe2bag", candidates=4)
        everything = matcher.run(shoe(), "shoe2bag", candidates=len(VARIATIONS))
    l1 = [c.round_trip_l1 for c in result.candidates]
    assert len(l1) == 4 and l1 == sorted(l1)
    assert l1 == [c.round_trip_l1 for c in everything.candidates[:4]]  # the 4 best of all variations
    assert {c.variation for c in everything.candidates} == {v.name for v in VARIATIONS}
    for c in everything.candidates:  # each score is the distance the user sees between input and round trip
        assert c.round_trip_l1 == pytest.approx(round_trip_l1(c.input, c.round_trip), abs=1e-6)
    assert len({round(v, 6) for v in (c.round_trip_l1 for c in everything.candidates)}) > 1
    assert result.settings(1)["candidate"] == 2 and result.settings(1)["direction"] == "shoe2bag"


def test_variations_keep_size_and_mirror_is_undone_for_display():
    sq = Image.new("RGB", (32, 32), (255, 255, 255))
    sq.paste((0, 0, 0), (0, 0, 8, 32))  # a dark stripe on the left
    mirrored = Variation("m", mirror=True)
    assert mirrored.apply(sq, (255, 255, 255)).getpixel((30, 5)) == (0, 0, 0)
    assert mirrored.undo_orientation(mirrored.apply(sq, (255, 255, 255))).getpixel((2, 5)) == (0, 0, 0)
    shifted = Variation("s", shift=(0.25, 0.0)).apply(sq, (255, 255, 255))
    assert shifted.size == (32, 32) and shifted.getpixel((2, 5)) == (255, 255, 255)  # filled with backdrop
    assert shifted.getpixel((10, 5))[0] < 60  # the stripe moved right by 8 px
    zoomed_out = Variation("z", zoom=0.5).apply(sq, (255, 255, 255))
    assert zoomed_out.getpixel((2, 5)) == (255, 255, 255) and zoomed_out.getpixel((10, 16))[0] < 60


def test_matcher_refuses_another_family(tmp_path):
    nets = pixeldtgan.build({"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8},
                            which=("G",))
    path = _save(tmp_path / "e.safetensors", "pixeldtgan", nets,
                 {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8})
    with pytest.raises(WrongModelError, match="Match tool needs a cyclegan or munit model"):
        StyleMatcher(load_model_file(path))


# -- tab -----------------------------------------------------------------------------------------------------------



@pytest.fixture
def tab(open_tool_tab):
    return open_tool_tab(MatchTab)


def test_drop_a_shoe_get_a_bag_then_toggle_to_bag_to_shoe(tab, qtbot, tmp_path):
    open_model_and_wait(tab, qtbot, match_model(tmp_path / "m.safetensors"))
    photo = tmp_path / "loafer.png"
    shoe().save(photo)
    drop_file(tab.source_canvas, photo)
    qtbot.waitUntil(lambda: tab.match_result() is not None, timeout=10_000)
    assert dominant(tab.result_image()) == "red"  # G_AB ran
    assert dominant(tab.round_trip_canvas.image()) == "blue"  # and G_BA brought it back
    assert f"Difference {tab.match_result().best.round_trip_l1:.3f}" in tab.round_trip_label.text()
    assert len(tab.candidate_buttons) == 4 and tab.candidate_buttons[0].isChecked()
    assert "most faithful" in tab.candidates_caption.text() and not tab.more_like_button.isVisible()

    tab.direction_buttons["bag2shoe"].click()
    qtbot.waitUntil(lambda: tab.match_result() is not None and tab.match_result().direction == "bag2shoe",
                    timeout=10_000)
    assert dominant(tab.result_image()) == "blue" and dominant(tab.round_trip_canvas.image()) == "red"
    assert "handbag" in tab.source_canvas.placeholder()
    assert tab.suggested_export_name() == "loafer_shoe.png"


def test_clicking_a_candidate_makes_it_the_result_and_export_says_which(tab, qtbot, tmp_path):
    open_model_and_wait(tab, qtbot, match_model(tmp_path / "m.safetensors", None, None))
    tab.set_source_image(shoe())
    qtbot.waitUntil(lambda: tab.match_result() is not None, timeout=10_000)
    result = tab.match_result()
    tab.candidate_buttons[2].click()
    assert tab.chosen_candidate() == 2 and tab.candidate_buttons[2].isChecked()
    assert tab.result_image() is result.candidates[2].output
    assert tab.round_trip_canvas.image() is result.candidates[2].round_trip
    info = read_provenance(tab.export_result(tmp_path / "bag.png"))
    assert info["settings"]["candidate"] == 3 and info["settings"]["direction"] == "shoe2bag"
    assert info["settings"]["round_trip_l1"] == pytest.approx(result.candidates[2].round_trip_l1, abs=1e-4)
    tab.candidates_spin.setValue(1)  # one candidate: the row hides
    qtbot.waitUntil(lambda: len(tab.match_result().candidates) == 1, timeout=10_000)
    assert not tab.candidates_caption.isVisible()


def test_bad_inputs_leave_the_match_tab_usable(tab, qtbot, tmp_path):
    nets = pixeldtgan.build({"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8},
                            which=("G",))
    wrong = _save(tmp_path / "extract.safetensors", "pixeldtgan", nets,
                  {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8})
    tab.open_model(wrong)
    qtbot.waitUntil(lambda: "cyclegan" in tab.model_message(), timeout=10_000)
    assert tab.model is None
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    drop_file(tab.source_canvas, broken)
    qtbot.waitUntil(lambda: tab.source_canvas.error_text() is not None, timeout=5000)
    assert "broken.png" in tab.source_canvas.error_text()
    open_model_and_wait(tab, qtbot, match_model(tmp_path / "m.safetensors"))
    tab.set_source_image(shoe())
    qtbot.waitUntil(lambda: tab.match_result() is not None, timeout=10_000)
    assert dominant(tab.result_image()) == "red"


def test_direction_and_candidate_count_are_remembered(qtbot):
    first = MatchTab(ModelManager("cpu"))
    qtbot.addWidget(first)
    first.direction_buttons["bag2shoe"].click()
    first.candidates_spin.setValue(3)
    second = MatchTab(ModelManager("cpu"))
    qtbot.addWidget(second)
    assert second.direction() == "bag2shoe" and second.direction_buttons["bag2shoe"].isChecked()
    assert second.candidates_spin.value() == 3 and "handbag" in second.source_canvas.placeholder()


def test_a_photo_dropped_before_the_model_gets_its_result_when_the_model_arrives(tab, qtbot, tmp_path):
    tab.set_source_image(shoe())
    assert tab.match_result() is None and not tab.run_button.isEnabled()
    tab.open_model(match_model(tmp_path / "m.safetensors"))
    qtbot.waitUntil(lambda: tab.match_result() is not None, timeout=10_000)
    assert dominant(tab.result_image()) == "red"
