"""The main window: five tabs, drops, errors that leave the app usable, export provenance, bursts, clean exit."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QImage

from fashionstudio.core import registry
from fashionstudio.families import Family
from fashionstudio.core.provenance import read_provenance
from fashionstudio.gui.app import create_settings
from fashionstudio.gui.main_window import MainWindow
from fashionstudio.gui.model_manager import NO_MODEL_MESSAGE
from fashionstudio.gui.tool_tab import ToolTab
from qt_helpers import drop_file

FAMILY = "fs_test_window"


def _build(config, which=None):
    from torch import nn

    time.sleep(config.get("sleep", 0.0))
    return {"G": nn.Linear(4, 4)}


@pytest.fixture(autouse=True)
def _env(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(tmp_path / "no-models"))
    registry.register(Family(FAMILY, build=_build))
    yield
    registry.unregister(FAMILY)


@pytest.fixture
def window(qtbot):
    w = MainWindow(settings=create_settings(), device_override="cpu")
    qtbot.addWidget(w)
    w.show()
    w.start()
    qtbot.waitUntil(w.is_idle, timeout=30_000)
    yield w
    w.close()


def _model_file(path: Path, sleep: float = 0.0) -> Path:
    from fashionstudio.core.modelfile import save_model_file

    return save_model_file(path, FAMILY, _build({}), {"sleep": sleep}, resolution=8, name="Test model")




def _photo(path: Path, colour=(180, 40, 90), size=(64, 48)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


class EchoTab(ToolTab):
    """A tool tab for tests: its "inference" paints the input with a grey level taken from a slider value."""

    tool = "echo"
    title = "Echo"

    def __init__(self, manager, parent=None):
        super().__init__(manager, parent)
        self.level = 0
        self.delay = 0.0

    def settings(self):
        return {"level": self.level}

    def run_request(self):
        src, level, delay = self.source_image(), self.level, self.delay
        if src is None:
            return None

        def job():
            time.sleep(delay)
            return Image.new("RGB", src.size, (level, level, level))

        return job


def test_window_has_the_five_tabs_and_a_status_bar(window):
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Pose", "Extract", "Match", "Generate", "Train"]
    assert window.device_label.text().startswith("Device: CPU (")
    reason = window.device_label.toolTip()  # e.g. "CPU: chosen in settings"
    assert reason and reason.split(": ", 1)[-1] in window.device_label.text()  # the why is shown, not only hovered
    assert window.time_label.text() == "Last inference: none yet"
    pose = window.tool_tabs["pose"]
    assert pose.model_message() == NO_MODEL_MESSAGE  # no demo model: the tab says so and stays usable
    assert pose.source_canvas.placeholder() and not pose.source_canvas.has_image()
    shortcuts = {a.text(): a.shortcut().toString() for a in window.findChildren(type(window.open_action))}
    assert shortcuts["&Open image…"] == "Ctrl+O" and shortcuts["&Export result…"] == "Ctrl+S"
    assert shortcuts["&Paste image"] == "Ctrl+V" and shortcuts["&Undo"] == "Ctrl+Z"


def test_dropped_image_appears_and_corrupt_drop_shows_an_error(window, qtbot, tmp_path):
    tab = window.tool_tabs["extract"]
    window.tabs.setCurrentWidget(tab)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    drop_file(tab.source_canvas, bad)
    qtbot.waitUntil(lambda: tab.source_canvas.error_text() is not None, timeout=5000)
    assert "broken.jpg" in tab.source_canvas.error_text()
    assert "broken.jpg" in window.statusBar().currentMessage()
    assert not tab.source_canvas.has_image()

    good = _photo(tmp_path / "look.png")
    drop_file(tab.source_canvas, good)  # still usable after the error
    qtbot.waitUntil(tab.source_canvas.has_image, timeout=5000)
    assert tab.source_canvas.error_text() is None
    assert tab.source_image().size == (64, 48) and tab.source_image().getpixel((1, 1)) == (180, 40, 90)
    assert tab.source_path == good
    assert window.recent_files()[0] == str(good.resolve())


def test_open_files_from_command_line_and_undo(window, qtbot, tmp_path):
    first, second = _photo(tmp_path / "a.png", (10, 10, 10)), _photo(tmp_path / "b.png", (200, 200, 200))
    window.open_files([first])
    tab = window.current_tool_tab()
    qtbot.waitUntil(lambda: tab.source_path == first, timeout=5000)
    window.open_files([second])
    qtbot.waitUntil(lambda: tab.source_path == second, timeout=5000)
    window.undo()
    assert tab.source_path == first and tab.source_image().getpixel((0, 0)) == (10, 10, 10)


def test_paste_from_clipboard(window, qtbot):
    qimg = QImage(30, 20, QImage.Format.Format_RGB888)
    qimg.fill(Qt.GlobalColor.blue)
    QGuiApplication.clipboard().setImage(qimg)
    if not QGuiApplication.clipboard().mimeData().hasImage():
        pytest.skip("this Qt platform has no clipboard")
    window.paste()
    tab = window.current_tool_tab()
    qtbot.waitUntil(tab.source_canvas.has_image, timeout=5000)
    assert tab.source_image().size == (30, 20) and tab.source_image().getpixel((3, 3)) == (0, 0, 255)


def _echo_tab(window) -> EchoTab:
    tab = EchoTab(window.manager)
    window.tabs.addTab(tab, tab.title)
    tab.inference_finished.connect(window._on_inference_finished)
    window.tabs.setCurrentWidget(tab)
    return tab


def test_export_writes_provenance(window, qtbot, tmp_path):
    tab = _echo_tab(window)
    model_path = _model_file(tmp_path / "echo.safetensors")
    with qtbot.waitSignal(window.manager.ready, timeout=10_000):
        tab.open_model(model_path)
    assert "Test model" in tab.model_message() and "CPU" in tab.model_message()
    with pytest.raises(ValueError, match="no result"):
        tab.export_result(tmp_path / "nothing.png")
    tab.level = 77
    with qtbot.waitSignal(tab.inference_finished, timeout=5000):
        tab.set_source_image(Image.new("RGB", (12, 10), (1, 2, 3)), tmp_path / "dress.jpg")  # runs: model ready
    assert tab.result_canvas.image().getpixel((0, 0)) == (77, 77, 77)
    assert window.time_label.text().startswith("Last inference: ") and window.time_label.text().endswith("ms")
    out = tab.export_result(tmp_path / "export")  # suffix added
    assert out.suffix == ".png"
    prov = read_provenance(out)
    assert prov["model"] == "echo.safetensors"
    assert prov["model_sha256"] == window.manager.get("echo").sha256 and len(prov["model_sha256"]) == 64
    assert prov["settings"] == {"level": 77}
    assert prov["tool"] == "echo" and prov["source"] == "dress.jpg"


def test_burst_of_slider_moves_shows_the_last_request(window, qtbot):
    tab = _echo_tab(window)
    tab.delay = 0.02
    tab.source_canvas.set_image(Image.new("RGB", (8, 8)))
    for level in range(50):
        tab.level = level
        tab.trigger()
    qtbot.waitUntil(lambda: tab.last_result is not None and tab.last_result.getpixel((0, 0))[0] == 49
                    and not tab.worker.is_busy(), timeout=5000)
    assert tab.worker.runs <= 5
    assert tab.result_canvas.image().getpixel((0, 0)) == (49, 49, 49)


def test_closing_mid_load_and_mid_inference_exits_cleanly(qtbot, qtlog, tmp_path):
    w = MainWindow(settings=create_settings(), device_override="cpu")
    qtbot.addWidget(w)
    w.show()
    w.start()
    tab = _echo_tab(w)
    tab.delay = 0.5
    tab.source_canvas.set_image(Image.new("RGB", (8, 8)))
    tab.trigger()
    w.manager.load("slow", _model_file(tmp_path / "slow.safetensors", sleep=0.5))
    assert w.manager.is_loading("slow") and tab.worker.is_busy()
    t0 = time.perf_counter()
    assert w.close()
    assert time.perf_counter() - t0 < 5
    qtbot.wait(200)  # any late signal would land here
    assert not tab.worker.is_busy()
    assert w.manager.get("slow") is None  # the finished load was not delivered to a closed window
    assert not [r for r in qtlog.records if "Destroyed while thread" in r.message]


def test_settings_are_remembered(qtbot, tmp_path):
    w = MainWindow(settings=create_settings())
    qtbot.addWidget(w)
    w.show()
    w.resize(900, 571)  # the minimum width (the offscreen screen is 800 wide: a wider one would be clamped)
    w.tabs.setCurrentIndex(2)
    w.add_recent_file(str(tmp_path / "x.png"))
    w.set_device_preference("cpu")
    w.close()
    again = MainWindow(settings=create_settings())
    qtbot.addWidget(again)
    again.show()
    assert again.size() == QSize(900, 571) and again.tabs.currentIndex() == 2
    assert again.recent_files() == [str((tmp_path / "x.png").resolve())]
    assert again.manager.device_preference == "cpu"
    assert (tmp_path / "home" / "settings.ini").is_file()  # the test's home, never the user's settings


def test_excepthook_logs_and_shows_a_sentence(tmp_path, monkeypatch):
    from fashionstudio.core.applog import log_file, setup_logging
    from fashionstudio.gui.app import install_excepthook

    setup_logging()
    shown: list[str] = []
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    install_excepthook(shown.append)
    try:
        raise ZeroDivisionError("oops")
    except ZeroDivisionError:
        sys.excepthook(*sys.exc_info())
    assert shown and "ZeroDivisionError: oops" in shown[0] and "log file" in shown[0]
    assert "Traceback" in log_file().read_text()
    assert str(log_file()).startswith(str(tmp_path / "home"))


def _run_app(tmp_path, *args, timeout=120):
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen", "FASHIONSTUDIO_HOME": str(tmp_path / "home"),
           "FASHIONSTUDIO_MODELS": str(tmp_path / "no-models")}
    return subprocess.run([sys.executable, "-m", "fashionstudio", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_screenshot_from_the_command_line(tmp_path):
    shot = tmp_path / "shot.png"
    proc = _run_app(tmp_path, "--screenshot", str(shot), "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    with Image.open(shot) as im:
        assert im.size == (1280, 800)
        assert len(im.convert("RGB").getcolors(1 << 24)) > 10  # a drawn window, not a blank grab


def test_window_shows_before_torch_is_imported():
    script = (
        "import sys\n"
        "from fashionstudio.gui.app import create_app\n"
        "from fashionstudio.gui.main_window import MainWindow\n"
        "app = create_app(['x'])\n"
        "w = MainWindow()\n"
        "w.show(); app.processEvents()\n"
        "print('torch' in sys.modules)\n"
    )
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


def test_self_test_runs_one_inference_through_the_user_path(window, tmp_path, monkeypatch):
    models = tmp_path / "models"
    _model_file(models / "echo.safetensors")
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(models))
    tab = _echo_tab(window)
    tab.level = 5
    report = tab.self_test(timeout_s=30)
    assert report["status"] == "ok" and report["inference_ms"] >= 0
    assert tab.result_canvas.image().getpixel((0, 0)) == (5, 5, 5)  # the result went to the canvas as usual
    assert window.tool_tabs["pose"].self_test()["status"] == "no-model"


def test_self_test_exit_code_reports_a_broken_model(tmp_path):
    models = tmp_path / "no-models"
    models.mkdir()
    (models / "pose.safetensors").write_bytes(b"\x80\x04 a pickle, not a model")
    proc = _run_app(tmp_path, "--self-test")
    assert proc.returncode == 1
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"] is False and set(report["self_test"]) == {"pose", "extract", "match", "generate", "train"}
    assert report["self_test"]["pose"]["status"] == "error"
    assert "pickle" in report["self_test"]["pose"]["message"]
    assert report["self_test"]["extract"]["status"] == "no-model"
