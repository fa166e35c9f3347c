"""The familiarity banner in the tool tabs and the warning in the CLI, with the shipped demo models and their
sidecar statistics: a shoe dropped on Extract is flagged, a mannequin photo is not; Match follows its toggle;
a model without statistics gets a note in the side panel and no banner."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashionstudio import cli
from fashionstudio.core.provenance import read_provenance
from fashionstudio.gui.model_manager import ModelManager
from fashionstudio.gui.tabs.extract_tab import ExtractTab
from fashionstudio.gui.tabs.generate_tab import GenerateTab
from fashionstudio.gui.tabs.match_tab import MatchTab
from fashionstudio.gui.tabs.pose_tab import PoseTab
from qt_helpers import drop_file, open_model_and_wait
from training import familiarity_calibration as cal

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """One freshly generated atelier person (LookBook kind), shoe and bag, as PNG files."""
    root = tmp_path_factory.mktemp("pictures")
    found = cal.atelier_pictures(root / "atelier", 2, kinds=("lookbook_person", "shoe", "bag", "image"))
    out = {}
    for kind in ("lookbook_person", "shoe", "bag", "image"):
        out[kind] = root / f"{kind}.png"
        found[kind][0].save(out[kind])
    return out


def _tab(qtbot, cls):
    manager = ModelManager("cpu")
    tab = cls(manager)
    qtbot.addWidget(tab)
    tab.resize(1000, 640)
    tab.show()
    return tab, manager


def _dropped(tab, qtbot, path: Path) -> None:
    tab.familiarity = None
    drop_file(tab.source_canvas, path)
    qtbot.waitUntil(lambda: tab.familiarity is not None, timeout=20_000)


def test_extract_flags_a_shoe_and_not_a_person(qtbot, pictures, tmp_path):
    tab, manager = _tab(qtbot, ExtractTab)
    try:
        open_model_and_wait(tab, qtbot, MODELS / "extract.safetensors", timeout_ms=20_000)
        _dropped(tab, qtbot, pictures["shoe"])
        assert tab.familiarity.status == "unfamiliar"
        assert tab.familiarity_banner.isVisible()
        text = tab.familiarity_banner.text()
        assert "unlike what the model learned from" in text and "mannequins" in text
        assert "Train tab" in text and "Garment extraction, warping (FlatWarp)" in text and "LookBook folder" in text
        qtbot.waitUntil(lambda: tab.result_image() is not None, timeout=20_000)
        out = tab.export_result(tmp_path / "shoe_extract.png")
        assert read_provenance(out)["familiarity"]["status"] == "unfamiliar"

        _dropped(tab, qtbot, pictures["lookbook_person"])
        assert tab.familiarity.status == "familiar"
        assert not tab.familiarity_banner.isVisible() and tab.familiarity_banner.text() == ""
    finally:
        tab.shutdown()
        manager.shutdown()


def test_pose_flags_a_bag_given_as_the_person(qtbot, pictures):
    tab, manager = _tab(qtbot, PoseTab)
    try:
        open_model_and_wait(tab, qtbot, MODELS / "pose.safetensors", timeout_ms=20_000)
        _dropped(tab, qtbot, pictures["bag"])
        assert tab.familiarity.unfamiliar and "DeepFashion In-shop folder" in tab.familiarity_banner.text()
        _dropped(tab, qtbot, pictures["lookbook_person"])  # another atelier mannequin rendering
        assert tab.familiarity.status == "familiar" and not tab.familiarity_banner.isVisible()
    finally:
        tab.shutdown()
        manager.shutdown()


def test_match_scores_against_the_side_its_toggle_names(qtbot, pictures):
    tab, manager = _tab(qtbot, MatchTab)
    try:
        tab.set_direction("shoe2bag")
        open_model_and_wait(tab, qtbot, MODELS / "match.safetensors", timeout_ms=20_000)
        _dropped(tab, qtbot, pictures["lookbook_person"])
        assert tab.familiarity.unfamiliar and tab.familiarity_banner.isVisible()
        assert "Shoes/handbags HDF5 folder" in tab.familiarity_banner.text()
        _dropped(tab, qtbot, pictures["shoe"])
        assert tab.familiarity.status == "familiar" and not tab.familiarity_banner.isVisible()
        tab.familiarity = None
        tab.set_direction("bag2shoe")  # the same shoe, now read as a bag
        qtbot.waitUntil(lambda: tab.familiarity is not None, timeout=20_000)
        assert tab.familiarity.role == "bag" and tab.familiarity.unfamiliar
    finally:
        tab.shutdown()
        manager.shutdown()


def test_generate_flags_a_photo_to_project_that_is_unlike_its_training_pictures(qtbot, pictures):
    tab, manager = _tab(qtbot, GenerateTab)
    try:
        open_model_and_wait(tab, qtbot, MODELS / "generate.safetensors", timeout_ms=20_000)
        _dropped(tab, qtbot, pictures["bag"])
        assert tab.familiarity.unfamiliar and tab.familiarity_banner.isVisible()
        assert "Folder or .zip of images" in tab.familiarity_banner.text()
        _dropped(tab, qtbot, pictures["image"])
        assert tab.familiarity.status == "familiar" and not tab.familiarity_banner.isVisible()
    finally:
        tab.shutdown()
        manager.shutdown()


def test_model_without_statistics_notes_it_and_shows_no_banner(qtbot, pictures, tmp_path):
    from test_familiarity import _tiny_extract

    tab, manager = _tab(qtbot, ExtractTab)
    try:
        open_model_and_wait(tab, qtbot, _tiny_extract(tmp_path / "old.safetensors"))
        qtbot.waitUntil(lambda: "not detected" in tab.model_message(), timeout=20_000)
        _dropped(tab, qtbot, pictures["shoe"])
        assert tab.familiarity.status == "unknown" and not tab.familiarity_banner.isVisible()
    finally:
        tab.shutdown()
        manager.shutdown()


def test_cli_warns_on_stderr_and_flags_the_provenance(pictures, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for kind in ("lookbook_person", "shoe", "bag"):
        (folder / pictures[kind].name).write_bytes(pictures[kind].read_bytes())
    code = cli.main(["--device", "cpu", "extract", str(folder), str(tmp_path / "out"), "-q",
                     "--model", str(MODELS / "extract.safetensors")])
    assert code == cli.EXIT_OK
    err = capsys.readouterr().err
    assert "warning: bag.png: This picture is unlike what the model learned from" in err
    assert "warning: shoe.png is also unlike" in err and "lookbook_person" not in err
    status = {p.stem: read_provenance(p)["familiarity"]["status"] for p in (tmp_path / "out").glob("*.png")}
    assert status == {"lookbook_person": "familiar", "shoe": "unfamiliar", "bag": "unfamiliar"}
    from PIL import Image

    with Image.open(tmp_path / "out" / "shoe.png") as im:
        assert im.text["input_familiarity"] == "unfamiliar"
