"""The Generate tab with a tiny random StyleGAN2 loaded through the model manager (pytest-qt, offscreen)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin
from PySide6.QtCore import QPoint, Qt

from fashionstudio.core.latent import encode_array
from fashionstudio.core.modelfile import save_model_file
from fashionstudio.gui.model_manager import ModelManager
from fashionstudio.gui.tabs.generate_tab import GenerateTab
from fashionstudio.gui.widgets.seed_grid import PAGE_SIZE
from fashionstudio.models.stylegan2 import build

TINY = {"preset": "demo", "resolution": 16, "z_dim": 32, "w_dim": 32, "mapping_layers": 2,
        "channel_base": 256, "channel_max": 32}
WAIT_MS = 30_000  # waits end as soon as their condition holds; the shared CPU can be very busy


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(2)
    G = build(TINY, which=["G"])["G"].eval()
    with torch.no_grad():
        for m in G.modules():
            if hasattr(m, "noise_const"):
                m.noise_strength.fill_(0.2)
        G.w_avg.copy_(G.mapping(torch.randn(1000, G.z_dim)).mean(0))
    path = tmp_path_factory.mktemp("models") / "tiny_sg2.safetensors"
    return save_model_file(path, "stylegan2", {"G": G}, TINY, resolution=16, name="Tiny SG2")


@pytest.fixture
def tab(qtbot, model_path):
    from fashionstudio.gui.app import create_settings

    create_settings().remove("generate")  # each test starts from the default choices
    manager = ModelManager("cpu")
    tab = GenerateTab(manager)
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    tab.open_model(model_path)
    qtbot.waitUntil(lambda: tab.sliders.count() >= 10 and tab.result_image() is not None and not tab.is_busy(),
                    timeout=WAIT_MS)
    yield tab
    tab.shutdown()


def pixels(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.int16)


def settle(qtbot, tab) -> None:
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT_MS)
    qtbot.wait(20)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT_MS)


def test_sliders_come_from_the_model_and_change_the_image(qtbot, tab):
    assert tab.sliders.count() >= 10
    before = pixels(tab.result_image())
    tab.set_slider_value(0, 2.5)
    settle(qtbot, tab)
    assert tab.session.shown.directions[0].value == 2.5
    assert np.abs(pixels(tab.result_image()) - before).mean() > 0.5
    tab.reset_sliders()
    settle(qtbot, tab)
    assert np.array_equal(pixels(tab.result_image()), before)
    # a slider limited to the fine layers changes the image less than the same slider on all layers
    tab.set_slider_value(0, 2.5)
    settle(qtbot, tab)
    all_change = np.abs(pixels(tab.result_image()) - before).mean()
    tab.sliders.set_layers(0, tab.layer_presets()["fine"])
    settle(qtbot, tab)
    fine_change = np.abs(pixels(tab.result_image()) - before).mean()
    assert tab.session.shown.directions[0].layers == tab.layer_presets()["fine"]
    assert 0 < fine_change < all_change
    tab.reset_sliders()
    # GANSpace as the other source of directions
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("ganspace"))
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].source == "ganspace", timeout=WAIT_MS)
    assert tab.sliders.count() >= 10


def test_seed_grid_fills_and_a_click_edits_that_seed(qtbot, tab):
    qtbot.waitUntil(lambda: tab.seed_grid.filled_count() == PAGE_SIZE, timeout=WAIT_MS)
    tab.seed_grid.seed_chosen.emit(5)
    settle(qtbot, tab)
    assert tab.session.shown.seed == 5 and tab.seed_spin.value() == 5
    tab.seed_grid.first_spin.setValue(PAGE_SIZE)
    qtbot.waitUntil(lambda: tab.seed_grid.filled_count() == PAGE_SIZE, timeout=WAIT_MS)
    assert tab.seed_grid.seeds()[0] == PAGE_SIZE


def test_export_then_reopen_restores_state_and_image(qtbot, tab, tmp_path):
    tab.set_seed(7)
    tab.psi_slider.setValue(55)
    tab.mix_check.setChecked(True)
    tab.mix_seed_spin.setValue(3)
    tab.mix_preset.setCurrentIndex(tab.mix_preset.findData("middle"))
    tab.noise_slider.setValue(40)
    tab.sliders.rename(1, "sleeve length")
    tab.set_slider_value(1, -1.3)
    settle(qtbot, tab)
    exported_state = tab.session.shown
    out = tab.export_result(tmp_path / "look.png")
    saved = pixels(Image.open(out))
    assert np.array_equal(saved, pixels(tab.result_image()))

    tab.set_seed(12)
    tab.psi_slider.setValue(100)
    tab.mix_check.setChecked(False)
    tab.reset_sliders()
    settle(qtbot, tab)
    assert not np.array_equal(pixels(tab.result_image()), saved)

    tab.open_image(out)
    qtbot.waitUntil(lambda: tab.session.shown is not None and tab.session.shown.seed == 7 and not tab.is_busy(),
                    timeout=WAIT_MS)
    settle(qtbot, tab)
    s = tab.session.shown
    assert (s.seed, s.psi, s.mix_seed, s.mix_layers, s.noise_strength) == \
        (7, 0.55, 3, exported_state.mix_layers, 0.4)
    assert tab.psi_slider.value() == 55 and tab.mix_check.isChecked() and tab.noise_slider.value() == 40
    assert tab.sliders.directions()[1].name == "sleeve length" and tab.sliders.value(1) == pytest.approx(-1.3)
    assert np.abs(pixels(tab.result_image()) - saved).max() <= 1


def test_interpolation_strip_starts_and_ends_at_the_kept_images(qtbot, tab, tmp_path):
    tab.set_seed(1)
    settle(qtbot, tab)
    a = pixels(tab.result_image())
    tab.keep_current("A")
    tab.set_seed(2)
    tab.set_slider_value(0, 1.0)
    settle(qtbot, tab)
    b = pixels(tab.result_image())
    tab.frames_spin.setValue(6)
    tab.keep_current("B")  # both kept: the strip is made
    qtbot.waitUntil(lambda: len(tab.strip.frames()) == 6, timeout=WAIT_MS)
    frames = tab.strip.frames()
    assert np.abs(pixels(frames[0]) - a).max() <= 1 and np.abs(pixels(frames[-1]) - b).max() <= 1
    assert not np.array_equal(pixels(frames[2]), a)
    # a clicked frame becomes the edited image, and exports/re-opens as itself
    tab.strip.frame_clicked.emit(2)
    settle(qtbot, tab)
    assert np.abs(pixels(tab.result_image()) - pixels(frames[2])).max() <= 1
    out = tab.export_result(tmp_path / "frame.png")
    tab.set_seed(20)
    settle(qtbot, tab)
    tab.open_image(out)
    qtbot.waitUntil(lambda: tab.session.shown.base_ws is not None and not tab.is_busy(), timeout=WAIT_MS)
    settle(qtbot, tab)
    assert np.abs(pixels(tab.result_image()) - pixels(frames[2])).max() <= 1
    written = []
    tab.export_animation(tmp_path / "walk.gif", on_done=written.append)
    qtbot.waitUntil(lambda: bool(written), timeout=WAIT_MS)
    with Image.open(written[0]) as im:
        assert im.n_frames >= 6


def test_animations_export_sharpened_when_sharpen_is_on(qtbot, tab, tmp_path):
    tab.sharpen.ensure()  # the shipped upscaler, as activating the tab loads it
    qtbot.waitUntil(lambda: tab.sharpen.sharpener is not None, timeout=WAIT_MS)
    scale = tab.sharpen.sharpener.scale
    tab.set_seed(1)
    settle(qtbot, tab)
    tab.keep_current("A")
    tab.set_seed(2)
    settle(qtbot, tab)
    tab.frames_spin.setValue(4)
    tab.keep_current("B")
    qtbot.waitUntil(lambda: len(tab.strip.frames()) == 4, timeout=WAIT_MS)
    frame = tab.strip.frames()[1]
    sizes = {}
    for on in (True, False):
        tab.sharpen.check.setChecked(on)
        written = []
        tab.export_animation(tmp_path / f"walk_{on}.gif", on_done=written.append)
        qtbot.waitUntil(lambda: bool(written), timeout=WAIT_MS)
        with Image.open(written[0]) as im:
            sizes[on] = im.size
            im.seek(1)
            got = np.asarray(im.convert("RGB"), dtype=np.int16)
        if on:  # the frames are the upscaler's pictures, not a resize of the strip
            want = pixels(tab.sharpen.sharpener.sharpen(frame))
            assert np.abs(got - want).mean() < 6  # GIF palette quantisation only
    assert sizes[False] == (16, 16) and sizes[True] == (16 * scale, 16 * scale)


def test_walking_between_seeds_blends_their_w(qtbot, tab):
    tab.set_seed(3)
    settle(qtbot, tab)
    start = pixels(tab.result_image())
    tab.move_to(3.5, 0.0)
    settle(qtbot, tab)
    assert tab.session.shown.x == 3.5 and not np.array_equal(pixels(tab.result_image()), start)
    tab.walk(1, 0)
    qtbot.waitUntil(lambda: tab.session.shown.x == 4.0 and not tab.session.walk, timeout=WAIT_MS)
    assert tab.seed_spin.value() == 4
    # the same with the keyboard and the mouse on the image
    canvas = tab.result_canvas
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: tab.session.shown.x == 5.0 and not tab.session.walk, timeout=WAIT_MS)
    centre = canvas.rect().center()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(canvas, QPoint(centre.x() - 70, centre.y()))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=QPoint(centre.x() - 70, centre.y()))
    settle(qtbot, tab)
    assert tab.session.shown.x == pytest.approx(5.5, abs=0.02)


def test_projection_runs_with_progress_and_can_be_cancelled(qtbot, tab, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), (200, 60, 90)).save(photo)
    tab.steps_spin.setValue(1000)
    tab.open_image(photo)
    qtbot.waitUntil(lambda: tab.projection.progress.value() > 0, timeout=WAIT_MS)
    with pytest.raises(ValueError, match="projection"):
        tab.export_result(tmp_path / "mid_projection.png")
    tab.cancel_projection()
    assert not tab.is_projecting()
    settle(qtbot, tab)
    assert tab.state.base_ws is None and "cancelled" in tab.projection.status.text()

    tab.steps_spin.setValue(12)
    tab.start_projection(Image.open(photo))
    qtbot.waitUntil(lambda: tab.state.base_ws is not None, timeout=WAIT_MS)
    settle(qtbot, tab)
    assert tab.session.shown.base_ws is not None and tab.state.psi == 1.0
    projected = pixels(tab.result_image())
    tab.set_slider_value(2, 2.0)  # the same sliders edit the projection
    settle(qtbot, tab)
    assert np.abs(pixels(tab.result_image()) - projected).mean() > 0.1


def test_bad_inputs_give_a_message_and_leave_the_tab_usable(qtbot, tab, tmp_path):
    messages = []
    tab.status_message.connect(messages.append)
    notes = tmp_path / "notes.png"
    notes.write_text("this is not an image")
    tab.open_image(notes)
    qtbot.waitUntil(lambda: tab.result_canvas.error_text() is not None, timeout=WAIT_MS)
    assert "notes.png" in tab.result_canvas.error_text()

    damaged = tmp_path / "damaged.png"
    meta = PngImagePlugin.PngInfo()
    meta.add_text("fashionstudio", '{"tool": "generate", "settings": {"state": {"kind": "fashionstudio-gene')
    meta.add_text("settings", "{broken")
    Image.new("RGB", (16, 16)).save(damaged, pnginfo=meta)
    tab.open_image(damaged)
    qtbot.waitUntil(lambda: "damaged" in (tab.result_canvas.error_text() or ""), timeout=WAIT_MS)
    assert any("damaged" in m for m in messages)

    wrong = tmp_path / "wrong_model.png"
    meta = PngImagePlugin.PngInfo()
    state = json.loads(json.dumps({"tool": "generate", "settings": {"state": tab.snapshot().to_dict()}}))
    state["settings"]["state"]["base_ws"] = encode_array(np.zeros((3, 3), np.float32))  # not this model's size
    meta.add_text("fashionstudio", json.dumps(state))
    Image.new("RGB", (16, 16)).save(wrong, pnginfo=meta)
    tab.open_image(wrong)
    qtbot.waitUntil(lambda: "different model" in (tab.result_canvas.error_text() or ""), timeout=WAIT_MS)

    bad_set = tmp_path / "set.json"
    bad_set.write_text('{"kind": "fashionstudio-directions", "directions": [{"name": "x"}]}')
    assert tab.load_direction_set(bad_set) is False
    assert any("set.json" in m for m in messages)

    before = pixels(tab.result_image())
    tab.set_slider_value(0, -2.0)
    settle(qtbot, tab)
    assert tab.result_canvas.error_text() is None
    assert np.abs(pixels(tab.result_image()) - before).mean() > 0.5


def test_direction_set_save_load_and_undo(qtbot, tab, tmp_path):
    tab.sliders.rename(0, "hem length")
    path = tab.save_direction_set(tmp_path / "mine.json")
    tab.recompute_directions()
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].name != "hem length", timeout=WAIT_MS)
    assert tab.load_direction_set(path)
    assert tab.sliders.directions()[0].name == "hem length"
    tab.set_seed(9)
    settle(qtbot, tab)
    tab.set_seed(10)
    settle(qtbot, tab)
    assert tab.undo()
    settle(qtbot, tab)
    assert tab.session.shown.seed == 9


def test_self_test_renders(qtbot, tab):
    report = tab.self_test(timeout_s=20)
    assert report["status"] == "ok", report


def test_choices_are_remembered_between_sessions(qtbot, tab):
    tab.frames_spin.setValue(21)
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("ganspace"))
    again = GenerateTab(ModelManager("cpu"))
    qtbot.addWidget(again)
    assert again.frames_spin.value() == 21 and again.method_combo.currentData() == "ganspace"
    again.shutdown()


# ------------------------------------------------------------------------------------------------ issue 18 fixes
def test_cancelled_projection_goes_back_to_the_image_its_settings_describe(qtbot, tab, tmp_path):
    tab.set_seed(4)
    settle(qtbot, tab)
    before = pixels(tab.result_image())
    photo = tmp_path / "photo.png"
    Image.new("RGB", (32, 32), (20, 200, 40)).save(photo)
    tab.steps_spin.setValue(1000)
    tab.open_image(photo)
    # a preview of the half-finished projection is on the canvas
    qtbot.waitUntil(lambda: tab.projection.progress.value() > 12
                    and not np.array_equal(pixels(tab.result_image()), before), timeout=WAIT_MS)
    tab.cancel_projection()
    assert np.array_equal(pixels(tab.result_image()), before)  # at once: no gap with a preview left on screen
    settle(qtbot, tab)
    assert tab.session.shown.seed == 4 and tab.session.shown.base_ws is None
    out = tab.export_result(tmp_path / "after_cancel.png")
    tab.set_seed(11)
    settle(qtbot, tab)
    tab.open_image(out)
    qtbot.waitUntil(lambda: tab.session.shown.seed == 4 and not tab.is_busy(), timeout=WAIT_MS)
    settle(qtbot, tab)
    assert np.abs(pixels(tab.result_image()) - pixels(Image.open(out))).max() <= 1


def test_a_png_from_the_cli_reopens_in_the_tab(qtbot, tab, tmp_path, model_path):
    from fashionstudio import cli

    assert cli.main(["generate", str(tmp_path / "gen"), "--seeds", "6", "--psi", "0.5", "--model",
                     str(model_path), "-q", "--no-sharpen"]) == 0  # the tab shows the model's own size
    png = tmp_path / "gen" / "seed00006.png"
    messages = []
    tab.status_message.connect(messages.append)
    tab.open_image(png)
    qtbot.waitUntil(lambda: tab.session.shown is not None and tab.session.shown.seed == 6 and not tab.is_busy(),
                    timeout=WAIT_MS)
    settle(qtbot, tab)
    assert tab.psi_slider.value() == 50 and tab.result_canvas.error_text() is None
    assert any("Restored" in m for m in messages)
    # the CLI renders with G.synthesis, the tab with its fast renderer: the same picture up to rounding
    assert np.abs(pixels(tab.result_image()) - pixels(Image.open(png))).max() <= 2


def test_a_reloaded_direction_set_shows_its_own_method(qtbot, tab, tmp_path):
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("ganspace"))
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].source == "ganspace" and not tab.is_busy(),
                    timeout=WAIT_MS)
    path = tab.save_direction_set(tmp_path / "pca.json")
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("sefa"))
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].source == "sefa" and not tab.is_busy(), timeout=WAIT_MS)
    assert tab.load_direction_set(path)
    assert tab.method_combo.currentData() == "ganspace" and tab.state.method == "ganspace"
    assert tab.sliders.directions()[0].source == "ganspace"
    settle(qtbot, tab)
    assert tab.sliders.directions()[0].source == "ganspace"  # showing the method recomputed nothing
    # an exported image remembers it as well
    tab.set_slider_value(0, 1.5)
    settle(qtbot, tab)
    out = tab.export_result(tmp_path / "pca.png")
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("sefa"))
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].source == "sefa" and not tab.is_busy(), timeout=WAIT_MS)
    tab.open_image(out)
    qtbot.waitUntil(lambda: tab.method_combo.currentData() == "ganspace" and not tab.is_busy(), timeout=WAIT_MS)
    assert tab.sliders.directions()[0].source == "ganspace" and tab.sliders.value(0) == pytest.approx(1.5)


class ColourReader:
    """Stands in for the atelier classifier on the tiny 16 px generator: brightest channel, and light or dark."""

    classes = {"colour": ["red", "green", "blue"], "brightness": ["dark", "light"]}

    def __call__(self, images):
        return {"colour": images.mean(dim=(2, 3)).argmax(1),
                "brightness": (images.mean(dim=(1, 2, 3)) > images.mean()).long()}


def test_named_attribute_sliders_compute_with_progress_and_restore(qtbot, tab, tmp_path):
    tab.attribute_job._reader = ColourReader()
    tab.attribute_job.n_samples = 400
    progress = []
    tab.attribute_job.progress.connect(lambda done, total: progress.append((done, total)))
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("attributes"))
    assert not tab.attribute_progress.isHidden() and not tab.direction_count.isEnabled()
    qtbot.waitUntil(lambda: tab.sliders.count() and tab.sliders.directions()[0].source == "attributes"
                    and not tab.is_busy(), timeout=WAIT_MS)
    assert progress[-1] == (400, 400) and tab.attribute_progress.isHidden()
    names = [d.name for d in tab.sliders.directions()]
    assert "less / more light (brightness)" in names and all(n.startswith("less / more ") for n in names)
    i = names.index("less / more light (brightness)")
    before = pixels(tab.result_image())
    tab.sliders.rename(i, "brighter")
    tab.set_slider_value(i, 2.0)
    settle(qtbot, tab)
    edited = pixels(tab.result_image())
    assert edited.mean() > before.mean()
    # another layer range reuses the fitted boundaries: nothing is recomputed
    tab.direction_layers.setCurrentIndex(tab.direction_layers.findData("fine"))
    assert not tab.attribute_job.is_running()
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].layers == tab.layer_presets()["fine"], timeout=WAIT_MS)
    tab.direction_layers.setCurrentIndex(tab.direction_layers.findData("all"))
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].layers == tab.layer_presets()["all"], timeout=WAIT_MS)
    tab.sliders.rename(i, "brighter")
    tab.set_slider_value(i, 2.0)
    settle(qtbot, tab)
    out = tab.export_result(tmp_path / "bright.png")
    saved_set = tab.save_direction_set(tmp_path / "attributes.json")
    # back to SeFa, then the export restores the attribute sliders, their names and values
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("sefa"))
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].source == "sefa" and not tab.is_busy(), timeout=WAIT_MS)
    tab.open_image(out)
    qtbot.waitUntil(lambda: tab.method_combo.currentData() == "attributes" and not tab.is_busy(), timeout=WAIT_MS)
    settle(qtbot, tab)
    assert tab.sliders.directions()[i].name == "brighter" and tab.sliders.value(i) == pytest.approx(2.0)
    assert np.abs(pixels(tab.result_image()) - edited).max() <= 1
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("sefa"))
    qtbot.waitUntil(lambda: tab.sliders.directions()[0].source == "sefa" and not tab.is_busy(), timeout=WAIT_MS)
    assert tab.load_direction_set(saved_set) and tab.method_combo.currentData() == "attributes"
    assert tab.sliders.directions()[i].name == "brighter"


def test_attribute_sliders_without_a_usable_classifier_say_why(qtbot, tab):
    class Blind:
        classes = {"colour": ["red", "green"]}

        def __call__(self, images):
            import torch

            return {"colour": torch.zeros(images.shape[0], dtype=torch.long)}

    messages = []
    tab.status_message.connect(messages.append)
    tab.attribute_job._reader = Blind()
    tab.attribute_job.n_samples = 200
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("attributes"))
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=WAIT_MS)
    assert any("reads every generated sample the same way" in m for m in messages)
    assert "Something went wrong" not in tab.sliders.empty.text()
    tab.method_combo.setCurrentIndex(tab.method_combo.findData("sefa"))  # the tab stays usable
    qtbot.waitUntil(lambda: tab.sliders.count() >= 10 and not tab.is_busy(), timeout=WAIT_MS)


def _mp4_available() -> bool:
    from fashionstudio.core.animation import mp4_available

    return mp4_available()


@pytest.mark.skipif(not _mp4_available(), reason="MP4 needs the video extra: pip install -e '.[video]'")
def test_the_strip_exports_as_mp4_when_the_video_extra_is_installed(qtbot, tab, tmp_path):
    import imageio.v2 as imageio

    tab.set_seed(1)
    settle(qtbot, tab)
    tab.keep_current("A")
    tab.set_seed(2)
    settle(qtbot, tab)
    tab.frames_spin.setValue(6)
    tab.keep_current("B")
    qtbot.waitUntil(lambda: len(tab.strip.frames()) == 6, timeout=WAIT_MS)
    assert tab.animation.mp4_button.isEnabled()
    written = []
    tab.export_animation(tmp_path / "walk.mp4", on_done=written.append)
    qtbot.waitUntil(lambda: bool(written), timeout=WAIT_MS)
    with imageio.get_reader(written[0], format="FFMPEG") as reader:
        assert sum(1 for _ in reader) == 6


def test_redo_walks_forward_again_and_a_new_change_ends_it(qtbot, tab):
    seeds = []
    for seed in (4, 5, 6):
        tab.set_seed(seed)
        settle(qtbot, tab)
        seeds.append(pixels(tab.result_image()))
    assert not tab.can_redo() and not tab.redo()
    assert tab.undo() and tab.undo()
    settle(qtbot, tab)
    assert tab.state.seed == 4 and np.array_equal(pixels(tab.result_image()), seeds[0])
    assert tab.redo()
    settle(qtbot, tab)
    assert tab.state.seed == 5 and np.array_equal(pixels(tab.result_image()), seeds[1])
    tab.set_seed(9)  # a new change: the seed-6 branch is gone
    settle(qtbot, tab)
    assert not tab.can_redo()
    assert tab.undo()
    settle(qtbot, tab)
    assert tab.state.seed == 5


def test_favourites_keep_results_restore_them_and_export_them_reopenable(qtbot, tab, tmp_path):
    from fashionstudio.core.latent import state_from_png

    tab.sharpen.check.setChecked(False)  # compare at model size
    assert not tab.favourites.export_button.isEnabled()
    kept = {}
    for seed in (11, 12):
        tab.set_seed(seed)
        tab.set_slider_value(0, 1.5 if seed == 12 else 0.0)
        settle(qtbot, tab)
        kept[seed] = pixels(tab.result_image())
        assert tab.keep_favourite()
    assert tab.favourites.count() == 2 and tab.favourites.export_button.isEnabled()
    tab.set_seed(30)
    settle(qtbot, tab)
    tab.favourites._choose(1)  # what a click on the second thumbnail does
    settle(qtbot, tab)
    assert tab.state.seed == 12 and tab.session.shown.directions[0].value == 1.5
    assert np.array_equal(pixels(tab.result_image()), kept[12])
    assert tab.undo()  # choosing a favourite is undoable
    settle(qtbot, tab)
    assert tab.state.seed == 30
    (tmp_path / "favourite_01_seed11.png").write_bytes(b"not mine")  # an existing file is never overwritten
    written = []
    tab.export_favourites(tmp_path, on_done=written.extend)
    qtbot.waitUntil(lambda: len(written) == 2, timeout=WAIT_MS)
    assert (tmp_path / "favourite_01_seed11.png").read_bytes() == b"not mine"
    assert written[0].name == "favourite_01_seed11_2.png"
    for path, seed in zip(written, (11, 12)):
        state = state_from_png(path)
        assert state is not None and state.seed == seed
        with Image.open(path) as im:
            assert np.array_equal(pixels(im), kept[seed])
    tab.favourites.list.setCurrentRow(0)
    tab.favourites.remove_selected()
    assert [p[0].seed for _, p, _ in tab.favourites.favourites()] == [12]
