"""Extract: letterbox and mask helpers, the pipeline with tiny PixelDTGAN models, the folder batch, and the tab
(drop -> garment, background colour, batch with a corrupt file, bad inputs leave the tab usable)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio.core.extract import GarmentExtractor, composite, garment_mask
from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.core.letterbox import backdrop_colour, letterbox, unletterbox
from fashionstudio.core.pipeline_common import WrongModelError, list_images, parse_colour
from fashionstudio.core.provenance import read_provenance
from fashionstudio.gui.model_manager import ModelManager
from fashionstudio.gui.tabs.extract_tab import ExtractTab
from fashionstudio.models import cyclegan, pixeldtgan
from qt_helpers import drop_file, open_model_and_wait

TINY_EXTRACT = {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8}
TINY_MATCH = {"preset": "demo", "resolution": 32, "g_base": 4, "g_res_blocks": 1, "d_base": 8}


def extract_model(path: Path, constant: tuple[float, float, float] | None = None) -> Path:
    """A tiny random PixelDTGAN; with ``constant`` its last layer ignores the input and paints tanh(constant)."""
    torch.manual_seed(0)
    nets = pixeldtgan.build(TINY_EXTRACT, which=("G",))
    if constant is not None:
        last = nets["G"].decoder[-2]
        with torch.no_grad():
            last.weight.zero_()
            last.bias.copy_(torch.tensor(constant))
    return _save(path, "pixeldtgan", nets, TINY_EXTRACT, "Tiny extract")


def match_model(path: Path) -> Path:
    torch.manual_seed(0)
    nets = cyclegan.build(TINY_MATCH, which=("G_AB", "G_BA"))
    return _save(path, "cyclegan", nets, TINY_MATCH, "Tiny match")


def _save(path: Path, family: str, nets: dict, config: dict, name: str) -> Path:
    # modelfile's pickle sniffing refuses any file whose header length has a low byte of 0x80 (reported to the
    # lead); lengthen the name by a space in that 1-in-256 case so these tests do not depend on it.
    while True:
        save_model_file(path, family, nets, config, resolution=32, name=name)
        if path.read_bytes()[:1] != b"\x80":
            return path
        name += " "


@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


def person(size=(48, 80), backdrop=(232, 228, 222)) -> Image.Image:
    img = Image.new("RGB", size, backdrop)
    img.paste((170, 40, 70), (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4))
    return img


# -- helpers -------------------------------------------------------------------------------------------------------

def test_letterbox_keeps_aspect_on_the_photos_backdrop_and_undoes():
    photo = person((40, 80))
    square, fit = letterbox(photo, 32)
    assert square.size == (32, 32)
    assert fit.box == (8, 0, 24, 32)  # 40x80 -> 16x32, centred
    assert square.getpixel((0, 16)) == (232, 228, 222)  # pad is the photo's backdrop, not black
    back = unletterbox(square, fit, original_size=True)
    assert back.size == (40, 80)
    diff = np.abs(np.asarray(back, np.int16) - np.asarray(photo, np.int16)).mean()
    assert diff < 12  # only resampling blur


def test_backdrop_is_the_median_of_the_border_despite_a_foot_touching_it():
    img = Image.new("RGB", (50, 50), (240, 240, 240))
    img.paste((10, 10, 10), (20, 40, 30, 50))  # a dark foot on the bottom edge
    assert backdrop_colour(img) == (240, 240, 240)


def test_mask_keeps_light_parts_inside_the_garment():
    raw = Image.new("RGB", (32, 32), (252, 252, 250))
    raw.paste((30, 60, 160), (8, 8, 24, 24))
    raw.paste((252, 252, 250), (14, 14, 18, 18))  # a white button inside the garment
    mask = np.asarray(garment_mask(raw))
    assert mask[0, 0] == 0 and mask[31, 31] == 0
    assert mask[10, 10] == 255
    assert mask[15, 15] == 255  # enclosed white stays garment
    out = np.asarray(composite(raw, garment_mask(raw), (10, 200, 20)))
    assert tuple(out[0, 0]) == (10, 200, 20)
    assert tuple(out[10, 10]) == (30, 60, 160)


def test_parse_colour_accepts_hex_and_explains_mistakes():
    assert parse_colour("#F6F1E7") == (246, 241, 231)
    assert parse_colour("fff") == (255, 255, 255)
    with pytest.raises(ValueError, match="#RRGGBB"):
        parse_colour("ivory")


def test_list_images_explains_an_empty_or_missing_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="holds no images"):
        list_images(tmp_path)
    with pytest.raises(ValueError, match="no folder"):
        list_images(tmp_path / "missing")


# -- pipeline ------------------------------------------------------------------------------------------------------

def test_extractor_paints_the_chosen_background_and_refuses_other_families(tmp_path):
    white = GarmentExtractor(load_model_file(extract_model(tmp_path / "w.safetensors", (3.0, 3.0, 3.0))))
    with torch.inference_mode():
        result = white.run(person(), background=(20, 30, 40))
    assert result.garment.size == (32, 32)
    assert np.unique(np.asarray(result.garment).reshape(-1, 3), axis=0).tolist() == [[20, 30, 40]]  # an all-backdrop output is all background
    red = GarmentExtractor(load_model_file(extract_model(tmp_path / "r.safetensors", (3.0, -3.0, -3.0))))
    with torch.inference_mode():
        r = red.run(person(), background=(20, 30, 40))
    assert r.garment.getpixel((16, 16))[0] > 240 and r.garment.getpixel((16, 16))[1] < 10
    assert r.settings() == {"background": "#141E28"}
    with pytest.raises(WrongModelError, match="pixeldtgan"):
        GarmentExtractor(load_model_file(match_model(tmp_path / "m.safetensors")))


def test_folder_batch_reports_a_corrupt_file_and_writes_the_rest(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        person(backdrop=(230 - i, 228, 222)).save(src / f"look{i}.jpg")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (src / "readme.txt").write_text("not a picture: listed as left out")
    extractor = GarmentExtractor(load_model_file(extract_model(tmp_path / "e.safetensors")))
    seen = []
    report = extractor.run_folder(src, tmp_path / "out", (246, 241, 231), progress=lambda d, t, n: seen.append((d, t)))
    assert sorted(p.name for p in report.written) == ["look0.png", "look1.png", "look2.png"]
    assert [name for name, _ in report.skipped] == ["readme.txt", "broken.jpg"]
    assert "damaged" in report.skipped[1][1] and "not a picture" in report.skipped[0][1]
    assert seen[-1] == (4, 4)
    info = read_provenance(tmp_path / "out" / "look1.png")
    assert info["tool"] == "extract" and info["source"] == "look1.jpg"
    assert info["settings"] == {"background": "#F6F1E7"} and info["model"] == "e.safetensors"
    with pytest.raises(ValueError, match="different from the input"):
        extractor.run_folder(src, src)


# -- tab -----------------------------------------------------------------------------------------------------------



@pytest.fixture
def tab(open_tool_tab):
    return open_tool_tab(ExtractTab, (1000, 640))


def test_drop_gives_a_garment_on_the_chosen_background(tab, qtbot, tmp_path):
    open_model_and_wait(tab, qtbot, extract_model(tmp_path / "white.safetensors", (3.0, 3.0, 3.0)))
    tab.swatch_buttons["#1D1F23"].click()  # black swatch
    photo = tmp_path / "look.png"
    person().save(photo)
    drop_file(tab.source_canvas, photo)
    qtbot.waitUntil(lambda: tab.result_image() is not None, timeout=10_000)
    assert tab.result_image().getpixel((5, 5)) == (29, 31, 35)
    assert tab.last_elapsed_ms is not None and tab.export_button.isEnabled()
    runs = tab.worker.runs
    tab.set_background((246, 241, 231))  # re-composited at once, no new network run
    assert tab.result_image().getpixel((5, 5)) == (246, 241, 231)
    assert tab.worker.runs == runs and tab.colour_label.text().startswith("Ivory")
    written = tab.export_result(tmp_path / "garment.png")
    assert read_provenance(written)["settings"] == {"background": "#F6F1E7"}


def test_batch_from_the_tab_reports_skipped_files(tab, qtbot, tmp_path):
    open_model_and_wait(tab, qtbot, extract_model(tmp_path / "e.safetensors"))
    src = tmp_path / "in"
    src.mkdir()
    person().save(src / "a.png")
    person((60, 60)).save(src / "b.jpg")
    (src / "c.png").write_bytes(b"")  # empty file
    assert tab.run_batch(src, tmp_path / "out")
    assert tab.is_busy()
    qtbot.waitUntil(lambda: not tab.batch_running(), timeout=15_000)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert "skipped 1 of 3" in tab.batch_summary.text() and "c.png" in tab.batch_summary.text()
    assert tab.batch_button.isEnabled()
    assert tab.run_batch(tmp_path / "nothing-here", tmp_path / "out2")
    qtbot.waitUntil(lambda: not tab.batch_running(), timeout=10_000)
    assert "no folder" in tab.batch_summary.text()


def test_bad_inputs_leave_the_tab_usable(tab, qtbot, tmp_path):
    tab.open_model(match_model(tmp_path / "match.safetensors"))  # wrong family
    qtbot.waitUntil(lambda: "pixeldtgan" in tab.model_message(), timeout=10_000)
    assert tab.model is None and not tab.run_button.isEnabled()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff garbage")
    drop_file(tab.source_canvas, broken)
    qtbot.waitUntil(lambda: tab.source_canvas.error_text() is not None, timeout=5000)
    assert "broken.jpg" in tab.source_canvas.error_text()
    open_model_and_wait(tab, qtbot, extract_model(tmp_path / "e.safetensors"))
    good = tmp_path / "good.png"
    person().save(good)
    drop_file(tab.source_canvas, good)
    qtbot.waitUntil(lambda: tab.result_image() is not None, timeout=10_000)
    assert tab.result_image().size == (32, 32)


def test_background_choice_is_remembered_by_the_next_tab(qtbot):
    first = ExtractTab(ModelManager("cpu"))
    qtbot.addWidget(first)
    first.set_background((216, 207, 196))
    second = ExtractTab(ModelManager("cpu"))
    qtbot.addWidget(second)
    assert second.background() == (216, 207, 196) and second.swatch_buttons["#D8CFC4"].isChecked()


def test_outline_blended_with_the_backdrop_leaves_no_light_fringe_on_a_dark_background():
    garment, backdrop = np.array([30, 60, 160]), np.array([252, 252, 250])
    arr = np.empty((32, 32, 3), np.uint8)
    arr[:] = backdrop
    arr[7:25, 7:25] = np.round((garment + backdrop) / 2)  # a one-pixel ring, half garment, half backdrop
    arr[8:24, 8:24] = garment
    raw = Image.fromarray(arr)
    mask = np.asarray(garment_mask(raw))
    assert 100 < mask[7, 16] < 155  # about half transparent
    out = np.asarray(composite(raw, garment_mask(raw), (0, 0, 0)), np.float32)
    assert np.abs(out[7, 16] - garment / 2).max() <= 3  # half the garment over black, not a light line
    assert tuple(out[0, 0]) == (0, 0, 0) and tuple(out[16, 16]) == tuple(garment)
