"""The Pose tab and the photo's own pose: marking it with the mouse over the input canvas, remembering it per file,
annotations beside a dataset photo, warping models that need it, and the sentences (with no stale result left
on screen) when a target, a photo pose or a limb is missing."""

from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from fashionstudio.core.modelfile import save_model_file
from fashionstudio.core.pose_transfer import EMPTY_POSE, NO_SOURCE_POSE, PoseTransfer, default_target_pose
from fashionstudio.core.poses import empty_pose, write_pose_csv
from fashionstudio.core.source_poses import SourcePoseStore, normalise_pixels, photo_key
from fashionstudio.gui.tabs.pose_tab import PoseTab
from fashionstudio.gui.widgets.source_pose_panel import DONE_TEXT, MARK_TEXT
from fashionstudio.models import posewarp

from qt_helpers import open_pose_tab
from test_pose_transfer import photo, tiny_pose_model

R_WRIST, R_HIP = 4, 8


@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


def tiny_warp_model(path, seed: int = 0):
    """A random-init PoseWarp generator saved as an app model file."""
    torch.manual_seed(seed)
    cfg = {**posewarp.PRESETS["demo"], "resolution": 32, "g_base": 4, "d_blocks": 3}
    return save_model_file(path, "posewarp", posewarp.build(cfg, ["G"]), cfg, resolution=32, name="Tiny warp")


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"pgpg": tiny_pose_model(folder / "pose.safetensors"),
            "warp": tiny_warp_model(folder / "warp.safetensors")}


def open_photo(qtbot, tab: PoseTab, path) -> None:
    tab.open_image(path)
    qtbot.waitUntil(lambda: tab.source_path == path and not tab.source_pose_panel.is_looking_up(), timeout=10_000)


def wait_idle(qtbot, tab: PoseTab) -> None:
    qtbot.waitUntil(lambda: not tab.is_busy() and not tab.source_pose_panel.is_looking_up(), timeout=20_000)
    qtbot.wait(20)  # the last result travels through the event loop after the worker goes idle


def drag(widget, start: QPoint, end: QPoint) -> None:
    """A real mouse drag: press, two moves, release."""
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    QTest.mouseMove(widget, (start + end) / 2)
    QTest.mouseMove(widget, end)
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def test_marking_the_photos_pose_with_the_mouse_saves_it_for_the_file_and_it_comes_back(qtbot, tmp_path, open_tool_tab):
    path = tmp_path / "look.png"
    photo((90, 150)).save(path)
    tab = open_pose_tab(open_tool_tab, qtbot)
    open_photo(qtbot, tab, path)
    panel = tab.source_pose_panel
    assert tab.source_pose() is None and "not known" in panel.label.text()
    QTest.mouseClick(panel.mark_button, Qt.MouseButton.LeftButton)
    overlay = panel.overlay
    assert panel.is_marking() and overlay.isVisible() and panel.mark_button.text() == DONE_TEXT
    # The overlay lies over the input canvas and its frame is exactly where the photo is drawn.
    assert overlay.parent() is tab.source_canvas and overlay.geometry() == tab.source_canvas.rect()
    assert overlay.frame_rect() == tab.source_canvas.image_rect()
    start = overlay.joint_position(R_WRIST).toPoint()
    end = start + QPoint(25, -60)
    drag(overlay, start, end)
    y, x = overlay.to_normalised(end.toPointF())
    assert tab.source_pose()[R_WRIST] == pytest.approx((y, x), abs=1e-4)
    assert "marked by you" in panel.label.text()
    QTest.mouseClick(panel.mark_button, Qt.MouseButton.LeftButton)  # Done
    assert not overlay.isVisible() and panel.mark_button.text() == MARK_TEXT
    marked = tab.source_pose()
    key = photo_key(path)
    qtbot.waitUntil(lambda: SourcePoseStore().get(key) is not None, timeout=10_000)
    tab.shutdown()

    # The next launch, the same file (here a renamed copy): the pose is found, shown, and used as the target.
    copy = tmp_path / "copy of look.png"
    shutil.copy(path, copy)
    again = open_pose_tab(open_tool_tab, qtbot)
    open_photo(qtbot, again, copy)
    assert again.source_pose() == pytest.approx(marked, abs=1e-4)
    assert "marked by you" in again.source_pose_panel.label.text()
    again.source_pose_panel.start_marking()
    assert again.source_pose_panel.overlay.pose() == pytest.approx(marked, abs=1e-4)
    again.source_pose_panel.finish_marking()
    assert again.photo_pose_button.isEnabled() and again.use_photo_pose()
    assert again.target_pose() == pytest.approx(marked, abs=1e-4)
    # Forget: the photo has no known pose again, on disk too.
    again.source_pose_panel.forget()
    qtbot.waitUntil(lambda: not again.source_pose_panel.is_looking_up(), timeout=10_000)
    assert again.source_pose() is None and SourcePoseStore().get(key) is None


def test_a_warping_model_without_the_photos_pose_says_what_to_do_then_runs_once_it_is_marked(qtbot, model_files, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    img = photo((90, 150))
    tab.set_source_image(img)  # pasted: no file, no annotation
    wait_idle(qtbot, tab)
    assert tab.note() == NO_SOURCE_POSE and "Mark this photo's pose" in NO_SOURCE_POSE
    assert tab.result_canvas.error_text() == NO_SOURCE_POSE
    assert tab.result_canvas.image() is None and tab.coarse_canvas.image() is None
    panel = tab.source_pose_panel
    panel.start_marking()
    start = panel.overlay.joint_position(R_WRIST).toPoint()
    drag(panel.overlay, start, start + QPoint(-15, 30))
    wait_idle(qtbot, tab)
    assert tab.result_canvas.image() is not None and tab.result_canvas.error_text() is None
    expected = PoseTransfer(tab.model).run(img, tab.target_pose(), source_pose=tab.source_pose())
    assert np.array_equal(np.asarray(tab.result_canvas.image()), np.asarray(expected.refined))
    assert tab.settings()["source_pose"]["origin"] == "marked"
    # The source pose is an input: moving one of its joints changes the result.
    before = np.asarray(tab.result_canvas.image(), np.float32)
    start = panel.overlay.joint_position(R_WRIST).toPoint()
    drag(panel.overlay, start, start + QPoint(40, -80))
    wait_idle(qtbot, tab)
    assert np.abs(np.asarray(tab.result_canvas.image(), np.float32) - before).max() > 0


def test_a_photo_pose_without_a_hip_gives_a_sentence_and_no_stale_result(qtbot, model_files, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    tab.set_source_image(photo((90, 150)))
    panel = tab.source_pose_panel
    qtbot.waitUntil(lambda: not panel.is_looking_up(), timeout=10_000)
    panel.start_marking()
    panel.finish_marking()  # "Done" on the standing skeleton accepts it
    wait_idle(qtbot, tab)
    assert tab.result_canvas.image() is not None
    panel.start_marking()
    panel.overlay.hide_joint(R_HIP)
    wait_idle(qtbot, tab)
    assert "right hip" in tab.note() and "Mark this photo's pose" in tab.note()
    assert tab.result_canvas.error_text() == tab.note()
    assert tab.result_canvas.image() is None and tab.coarse_canvas.image() is None
    assert tab.result_image() is None  # nothing stale to export
    panel.overlay.restore_joint(R_HIP)
    wait_idle(qtbot, tab)
    assert tab.result_canvas.image() is not None and tab.result_canvas.error_text() is None


def test_a_dataset_photo_lends_its_annotated_pose_to_the_warping_model(qtbot, tmp_path, model_files, open_tool_tab):
    root = tmp_path / "inshop"
    folder = root / "Img" / "MEN" / "Denim" / "id_00000080"
    folder.mkdir(parents=True)
    path = folder / "01_1_front.jpg"
    photo((88, 128)).convert("RGB").save(path)
    kp = np.round(np.asarray(default_target_pose(88 / 128)) * np.array([128, 88]) - 0.5).astype(np.float32)
    write_pose_csv(root / "fasion-resize-annotation-train.csv", {"fashionMENDenimid0000008001_1front.jpg": kp})
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    open_photo(qtbot, tab, path)
    wait_idle(qtbot, tab)
    assert "annotated in fasion-resize-annotation-train.csv" in tab.source_pose_panel.label.text()
    assert tab.source_pose() == pytest.approx(normalise_pixels(kp, (128, 88)), abs=1e-5)
    assert tab.result_canvas.image() is not None and tab.result_canvas.error_text() is None
    assert tab.settings()["source_pose"]["origin"] == "annotation"
    tab.set_joint(R_WRIST, 0.1, 0.1)
    assert tab.use_photo_pose()
    assert tab.target_pose() == pytest.approx(tab.source_pose(), abs=1e-5)


class _Gate:
    """Wraps PoseTransfer.run so that a request waits until the test lets it finish."""

    def __init__(self, run) -> None:
        self.run, self.open, self.entered = run, threading.Event(), threading.Event()

    def __call__(self, *args, **kwargs):
        self.entered.set()
        assert self.open.wait(20)
        return self.run(*args, **kwargs)


def test_an_older_result_does_not_land_after_the_target_pose_is_emptied(qtbot, model_files, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["pgpg"])
    tab.set_source_image(photo((90, 150)))
    wait_idle(qtbot, tab)
    assert tab.result_canvas.image() is not None
    transfer = tab._transfer_for(tab.model)
    gate = _Gate(transfer.run)
    transfer.run = gate
    tab.set_joint(R_WRIST, 0.2, 0.2)  # a request now in flight
    assert gate.entered.wait(10)
    tab.editor.set_pose(empty_pose())  # the designer empties the target meanwhile
    assert tab.note() == EMPTY_POSE
    gate.open.set()
    wait_idle(qtbot, tab)
    qtbot.wait(50)
    assert tab.note() == EMPTY_POSE and tab.result_canvas.error_text() == EMPTY_POSE
    assert tab.result_canvas.image() is None and tab.coarse_canvas.image() is None
    assert tab.shown_pose() is None


def test_a_target_with_no_joints_on_a_warping_model_gives_its_sentence(qtbot, model_files, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    tab.set_source_image(photo((90, 150)))
    qtbot.waitUntil(lambda: not tab.source_pose_panel.is_looking_up(), timeout=10_000)
    tab.source_pose_panel.start_marking()
    tab.source_pose_panel.finish_marking()
    wait_idle(qtbot, tab)
    assert tab.result_canvas.image() is not None
    tab.editor.set_pose(empty_pose())
    wait_idle(qtbot, tab)
    assert tab.note() == EMPTY_POSE and tab.result_canvas.image() is None


def test_a_new_photo_ends_marking_and_looks_up_its_own_pose(qtbot, tmp_path, open_tool_tab):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    photo((90, 150)).save(a)
    photo((150, 90), backdrop=(40, 40, 40)).save(b)
    tab = open_pose_tab(open_tool_tab, qtbot)
    open_photo(qtbot, tab, a)
    tab.source_pose_panel.start_marking()
    tab.source_pose_panel.overlay.move_joint(R_WRIST, 0.3, 0.3)
    open_photo(qtbot, tab, b)
    assert not tab.source_pose_panel.is_marking() and not tab.source_pose_panel.overlay.isVisible()
    assert tab.source_pose() is None
    assert tab.source_pose_panel.overlay.aspect() == pytest.approx(150 / 90)
    open_photo(qtbot, tab, a)
    assert tab.source_pose()[R_WRIST] == pytest.approx((0.3, 0.3))


def test_the_skeleton_is_painted_over_the_photo_only_while_marking(qtbot, tmp_path, open_tool_tab):
    path = tmp_path / "look.png"
    photo((90, 150)).save(path)
    tab = open_pose_tab(open_tool_tab, qtbot)
    open_photo(qtbot, tab, path)
    canvas, panel = tab.source_canvas, tab.source_pose_panel

    def shot() -> np.ndarray:
        img = canvas.grab().toImage().convertToFormat(canvas.grab().toImage().Format.Format_RGB888)
        return np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[
            :, : 3 * img.width()].reshape(img.height(), img.width(), 3).copy()

    plain = shot()
    panel.start_marking()
    qtbot.wait(20)
    marking = shot()
    changed = np.abs(marking.astype(int) - plain).sum(-1) > 30
    neck = panel.overlay.joint_position(1).toPoint()
    assert changed[neck.y() - 2: neck.y() + 3, neck.x() - 2: neck.x() + 3].all()
    rect = canvas.image_rect()
    inside = changed[int(rect.top()): int(rect.bottom()), int(rect.left()): int(rect.right())].sum()
    assert inside > 0.9 * changed[: int(rect.bottom())].sum()  # the skeleton lies on the photo (hint strip below)
    panel.finish_marking()
    qtbot.wait(20)
    assert np.array_equal(shot(), plain)


def test_the_sample_person_comes_with_its_pose_so_a_warping_model_runs_on_it(qtbot, model_files, open_tool_tab):
    from fashionstudio.core.samples import sample_path

    person = sample_path("person")
    img = Image.open(person).convert("RGB")
    backdrop = np.asarray(img)[2, 2].astype(int)
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    tab.open_sample()
    qtbot.waitUntil(lambda: tab.source_path == person, timeout=10_000)
    wait_idle(qtbot, tab)
    assert "annotated in samples-annotation.csv" in tab.source_pose_panel.label.text()
    assert tab.result_canvas.image() is not None and tab.result_canvas.error_text() is None
    # The annotation lies on the person: neck, shoulders and hips are on the figure, not on the backdrop.
    for joint in (1, 2, 5, 8, 11):
        y, x = tab.source_pose()[joint]
        pixel = np.asarray(img)[int(y * img.height), int(x * img.width)].astype(int)
        assert np.abs(pixel - backdrop).sum() > 40, joint


def test_in_a_short_window_the_sentence_brings_the_mark_button_into_view(qtbot, model_files, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    tab.resize(900, 430)  # the side panel's controls scroll at this height
    qtbot.waitUntil(lambda: tab.controls_scroll.verticalScrollBar().maximum() > 0, timeout=5_000)
    button = tab.source_pose_panel.mark_button
    assert button.visibleRegion().isEmpty()  # below the fold before anything asks for it
    tab.set_source_image(photo((90, 150)))
    wait_idle(qtbot, tab)
    assert tab.note() == NO_SOURCE_POSE
    qtbot.waitUntil(lambda: not button.visibleRegion().isEmpty(), timeout=5_000)


def test_the_self_test_runs_a_warping_model(qtbot, model_files, monkeypatch, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot)
    monkeypatch.setattr(tab.manager, "model_path", lambda key: model_files["warp"])
    report = tab.self_test(timeout_s=20)
    assert report["status"] == "ok", report


def test_looking_at_an_annotation_keeps_it_one_and_undo_stays_with_the_photo(qtbot, tmp_path, open_tool_tab):
    root = tmp_path / "inshop"
    folder = root / "Img" / "MEN" / "Denim" / "id_00000080"
    folder.mkdir(parents=True)
    annotated = folder / "01_1_front.jpg"
    photo((88, 128)).save(annotated)
    kp = np.round(np.asarray(default_target_pose(88 / 128)) * np.array([128, 88]) - 0.5).astype(np.float32)
    write_pose_csv(root / "fasion-resize-annotation-train.csv", {"fashionMENDenimid0000008001_1front.jpg": kp})
    plain = tmp_path / "plain.png"
    photo((90, 150)).save(plain)
    tab = open_pose_tab(open_tool_tab, qtbot)
    panel = tab.source_pose_panel
    open_photo(qtbot, tab, plain)
    panel.start_marking()
    start = panel.overlay.joint_position(R_WRIST).toPoint()
    drag(panel.overlay, start, start + QPoint(10, 20))
    assert panel.overlay.can_undo()
    panel.finish_marking()
    open_photo(qtbot, tab, annotated)
    panel.start_marking()
    assert not panel.overlay.can_undo()  # the plain photo's edit is not on this photo's undo stack
    panel.finish_marking()
    assert tab.source_pose_panel.source_pose().origin == "annotation"
    assert SourcePoseStore().get(photo_key(annotated)) is None


def test_an_imported_64px_annotation_lends_a_256px_photo_its_pose_unsquashed(qtbot, tmp_path, open_tool_tab):
    kp = np.round(np.asarray(default_target_pose(1.0)) * 64 - 0.5).astype(np.float32)
    csv = tmp_path / "atelier64.csv"
    write_pose_csv(csv, {"look.png": kp})
    tab = open_pose_tab(open_tool_tab, qtbot)
    tab.library.import_csv(csv)
    qtbot.waitUntil(lambda: "atelier64.csv" in tab.note(), timeout=10_000)
    photos = tmp_path / "photos"  # not beside the CSV: only the imported row knows this photo
    photos.mkdir()
    Image.new("RGB", (256, 256), (230, 225, 220)).save(photos / "look.png")
    open_photo(qtbot, tab, photos / "look.png")
    assert tab.source_pose() is None and tab.use_photo_pose()
    assert tab.target_pose() == pytest.approx(normalise_pixels(kp, (64, 64)), abs=1e-5)
    assert tab.target_pose()[13][0] > 0.8  # the left ankle near the bottom, not squashed into the top-left


def test_the_result_columns_are_named_after_the_model(qtbot, model_files, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    assert [label.text() for label in tab.stage_captions] == ["Warped photo", "Result"]
    tab.open_model(model_files["pgpg"])
    qtbot.waitUntil(lambda: tab.model is not None and tab.model.path == model_files["pgpg"], timeout=20_000)
    assert [label.text() for label in tab.stage_captions] == ["Coarse (G1)", "Refined (G2)"]


def test_a_refused_request_does_not_cancel_the_newer_one_that_fixed_the_pose(qtbot, model_files, open_tool_tab):
    tab = open_pose_tab(open_tool_tab, qtbot, model_files["warp"])
    tab.set_source_image(photo((90, 150)))
    panel = tab.source_pose_panel
    qtbot.waitUntil(lambda: not panel.is_looking_up(), timeout=10_000)
    panel.start_marking()
    wait_idle(qtbot, tab)
    transfer = tab._transfer_for(tab.model)
    gate = _Gate(transfer.run)
    transfer.run = gate
    panel.overlay.hide_joint(R_HIP)  # refused by the model, but only once it runs
    assert gate.entered.wait(10)
    panel.overlay.restore_joint(R_HIP)  # fixed while the refused request is still running
    gate.open.set()
    wait_idle(qtbot, tab)
    qtbot.wait(50)
    assert tab.result_canvas.image() is not None and tab.result_canvas.error_text() is None
    assert "right hip" not in tab.note()
