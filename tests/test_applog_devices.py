"""Where the app keeps its files on each platform, the rotating log, and the device choice with its reasons."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from fashionstudio.core import applog, devices


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {"XDG_DATA_HOME": "/data/xdg"}, "/data/xdg/FashionStudio"),
    ("linux", {}, "~/.local/share/FashionStudio"),
    ("win32", {"APPDATA": "/users/ana/AppData/Roaming"}, "/users/ana/AppData/Roaming/FashionStudio"),
    ("darwin", {}, "~/Library/Application Support/FashionStudio"),
])
def test_app_data_dir_follows_the_platform(monkeypatch, tmp_path, platform, env, expected):
    monkeypatch.delenv("FASHIONSTUDIO_HOME", raising=False)
    monkeypatch.delenv("FASHIONSTUDIO_TESTING", raising=False)
    for key in ("XDG_DATA_HOME", "APPDATA"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/home/ana")))
    made: list[Path] = []
    monkeypatch.setattr(Path, "mkdir", lambda self, *a, **k: made.append(self))  # never touch real folders
    folder = applog.app_data_dir()
    assert folder == Path(expected.replace("~", "/home/ana"))
    assert made == [folder]


def test_home_override_and_rotating_log(monkeypatch, tmp_path):
    monkeypatch.setenv("FASHIONSTUDIO_HOME", str(tmp_path / "home"))
    path = applog.setup_logging()
    assert path == tmp_path / "home" / "logs" / "fashionstudio.log"
    logging.getLogger("fashionstudio.test").warning("a line for the log")
    assert "a line for the log" in path.read_text()
    handler = applog._handler
    assert handler.maxBytes > 0 and handler.backupCount >= 1


def test_pick_device_on_this_machine():
    torch = pytest.importorskip("torch")
    device, description, reason = devices.pick_device("cpu")
    assert device == torch.device("cpu")
    n = torch.get_num_threads()
    assert description == f"CPU ({n} thread{'s' if n != 1 else ''})"
    assert reason == "CPU: chosen in settings"
    auto = devices.pick_device("auto")
    if not torch.cuda.is_available():
        assert auto[0].type in ("cpu", "mps")
        assert auto[2].startswith(("CPU: no CUDA GPU found", "MPS:"))
        fallback = devices.pick_device("cuda")
        assert fallback[0].type == "cpu" and "no CUDA GPU" in fallback[2]
    else:
        assert auto[1].startswith("CUDA: ")
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        devices.pick_device("tpu")
