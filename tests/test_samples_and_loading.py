"""Shipped sample pictures offered on empty canvases, latest-wins image loading, and a camera-sized photo that
is never converted at full size on the GUI thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from fashionstudio.core import images as core_images
from fashionstudio.core.resources import resource_path
from fashionstudio.core.samples import SAMPLES, sample_path
from fashionstudio.gui import canvas as canvas_module
from fashionstudio.gui.tabs.extract_tab import ExtractTab
from fashionstudio.gui.tabs.match_tab import MatchTab
from fashionstudio.gui.tabs.pose_tab import PoseTab

@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


def wait_loaded(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: tab._opening == 0, timeout=20_000)


# -- the samples ------------------------------------------------------------------------------------------------

def test_samples_ship_as_small_pngs_in_the_resources():
    total = 0
    for name in SAMPLES:
        path = sample_path(name)
        assert path.parent == resource_path("samples")
        with Image.open(path) as im:
            assert im.format == "PNG" and im.mode == "RGB" and min(im.size) >= 64
        total += path.stat().st_size
    assert total < 200_000


def test_bundles_must_carry_the_samples():
    """PyInstaller copies the whole resources folder; the post-build check also asks for a sample by name."""
    import importlib.util

    repo = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("bundle_rules", repo / "packaging" / "bundle_rules.py")
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    required = [p for p in rules.REQUIRED_FILES if p.startswith("resources/samples/")]
    assert required and all(rules.keep_file(p, "cpu") and rules.keep_file(p, "cuda") for p in required)
    for pattern in required:
        assert (resource_path() / pattern.removeprefix("resources/")).is_file()


@pytest.mark.parametrize("cls, name", [(PoseTab, "person"), (ExtractTab, "person"), (MatchTab, "shoe")])
def test_empty_canvas_offers_a_sample_that_opens_through_the_normal_path(qtbot, cls, name, open_tool_tab):
    tab = open_tool_tab(cls)
    if isinstance(tab, MatchTab):
        tab.set_direction("shoe2bag")
    button = tab.source_canvas.sample_button
    assert button.isVisible() and "Try a sample" in button.text()
    opened: list[str] = []
    tab.file_opened.connect(opened.append)  # the recent-files signal of an ordinary open
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    wait_loaded(qtbot, tab)
    assert tab.source_path == sample_path(name) and opened == [str(sample_path(name))]
    with Image.open(sample_path(name)) as im:
        assert tab.source_image().size == im.size
    assert not button.isVisible()  # a canvas with a picture offers nothing
    tab.undo()
    assert tab.source_image() is None and button.isVisible()


def test_match_offers_the_item_its_toggle_expects(qtbot, open_tool_tab):
    tab = open_tool_tab(MatchTab)
    tab.set_direction("bag2shoe")
    assert tab.sample_name() == "bag" and SAMPLES["bag"] in tab.source_canvas.sample_button.text()
    tab.set_direction("shoe2bag")
    assert tab.sample_name() == "shoe" and SAMPLES["shoe"] in tab.source_canvas.sample_button.text()


def test_no_offer_when_the_installation_lacks_samples(qtbot, tmp_path, monkeypatch, open_tool_tab):
    (tmp_path / "res").mkdir()
    monkeypatch.setenv("FASHIONSTUDIO_RESOURCES", str(tmp_path / "res"))
    tab = open_tool_tab(ExtractTab)
    assert tab.source_canvas.sample_offer() is None and not tab.source_canvas.sample_button.isVisible()


# -- loading ----------------------------------------------------------------------------------------------------

def test_two_files_dropped_in_quick_succession_the_newer_wins(qtbot, tmp_path, monkeypatch, open_tool_tab):
    slow = tmp_path / "slow.png"
    fast = tmp_path / "fast.png"
    Image.new("RGB", (40, 30), (200, 0, 0)).save(slow)
    Image.new("RGB", (40, 30), (0, 0, 200)).save(fast)
    real = core_images.load_image

    def load(path):
        if Path(path) == slow:
            time.sleep(0.6)  # a large photo still decoding when the second drop arrives
        return real(path)

    monkeypatch.setattr(core_images, "load_image", load)
    tab = open_tool_tab(ExtractTab)
    tab.open_image(slow)
    tab.open_image(fast)
    wait_loaded(qtbot, tab)
    qtbot.wait(50)
    assert tab.source_path == fast
    assert tab.source_image().getpixel((0, 0)) == (0, 0, 200)
    assert tab.source_canvas.error_text() is None


def test_a_failed_older_load_does_not_cover_the_newer_picture(qtbot, tmp_path, monkeypatch, open_tool_tab):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    good = tmp_path / "good.png"
    Image.new("RGB", (40, 30), (0, 120, 0)).save(good)
    real = core_images.load_image

    def load(path):
        if Path(path) == bad:
            time.sleep(0.5)
        return real(path)

    monkeypatch.setattr(core_images, "load_image", load)
    tab = open_tool_tab(ExtractTab)
    tab.open_image(bad)
    tab.open_image(good)
    wait_loaded(qtbot, tab)
    assert tab.source_path == good and tab.source_canvas.error_text() is None


def test_a_camera_photo_is_scaled_for_display_off_the_gui_thread(qtbot, tmp_path, monkeypatch, open_tool_tab):
    photo = tmp_path / "camera.png"
    Image.new("RGB", (6000, 4000), (90, 120, 150)).save(photo)
    gui_thread = threading.main_thread()
    conversions: list[tuple[bool, tuple[int, int]]] = []

    def spy(real):
        def call(img, *args):
            conversions.append((threading.current_thread() is gui_thread, img.size))
            return real(img, *args)
        return call

    # Converting or scaling the full photo (both cost hundreds of ms at 63 MP) must happen on the worker.
    monkeypatch.setattr(canvas_module, "pil_to_qimage", spy(canvas_module.pil_to_qimage))
    monkeypatch.setattr(canvas_module, "display_qimage", spy(canvas_module.display_qimage))
    for cls in (PoseTab, ExtractTab, MatchTab):
        tab = open_tool_tab(cls)
        conversions.clear()
        tab.open_image(photo)
        wait_loaded(qtbot, tab)
        assert tab.source_image().size == (6000, 4000)  # the model still gets every pixel
        shown = tab.source_canvas.display_image()
        assert max(shown.width(), shown.height()) <= canvas_module.DISPLAY_LONGEST
        on_gui = [size for on_gui, size in conversions if on_gui]
        assert all(max(size) <= canvas_module.DISPLAY_LONGEST for size in on_gui), (cls.title, on_gui)
        tab.undo()
        tab.source_canvas.clear()


def test_readme_screenshot_command_works_with_a_sample(tmp_path):
    """``fashionstudio --screenshot OUT resources/samples/person.png`` shows the sample on the input canvas."""
    import os
    import subprocess
    import sys

    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FASHIONSTUDIO_HOME": str(tmp_path / "home"),
           "FASHIONSTUDIO_MODELS": str(tmp_path / "no-models")}
    proc = subprocess.run([sys.executable, "-m", "fashionstudio", "--screenshot", str(shot), "--device", "cpu",
                           str(sample_path("person"))], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    with Image.open(sample_path("person")) as sample:
        backdrop = sample.convert("RGB").getpixel((5, 5))
    with Image.open(shot) as im:
        left = im.convert("RGB").crop((0, 0, im.width // 5, im.height))  # the Pose tab's input canvas
        colours = {c for _, c in left.getcolors(1 << 20)}
    assert backdrop in colours  # the sample's studio backdrop is on screen


def test_a_dropped_heic_photo_names_its_format_and_the_fix(qtbot, tmp_path, open_tool_tab):
    heic = tmp_path / "IMG_0042.HEIC"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00")
    tab = open_tool_tab(ExtractTab)
    tab.open_image(heic)
    wait_loaded(qtbot, tab)
    error = tab.source_canvas.error_text()
    assert error is not None and "HEIC photo" in error and "export it as JPEG" in error
    assert tab.source_image() is None
