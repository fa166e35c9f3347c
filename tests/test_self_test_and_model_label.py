"""``--self-test`` fails when a tab has no model and never changes the remembered tab; the model label keeps
naming the model in use after a failed open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from fashionstudio.core import registry
from fashionstudio.families import Family
from fashionstudio.gui.model_manager import ModelManager
from fashionstudio.gui.tool_tab import ToolTab
from qt_helpers import open_model_and_wait


def _run_app(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "FASHIONSTUDIO_HOME": str(tmp_path / "home"),
           "FASHIONSTUDIO_MODELS": str(tmp_path / "no-models")}
    return subprocess.run([sys.executable, "-m", "fashionstudio", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_self_test_without_models_fails_and_keeps_the_remembered_tab(tmp_path):
    (tmp_path / "no-models").mkdir()
    settings = QSettings(str(tmp_path / "home" / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("window/tab", 1)  # the designer last worked on Extract
    settings.sync()
    proc = _run_app(tmp_path, "--self-test", "--device", "cpu")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 1 and report["ok"] is False
    assert report["self_test"]["extract"]["status"] == "no-model"
    assert "No Extract model was found" in report["self_test"]["extract"]["message"]
    settings = QSettings(str(tmp_path / "home" / "settings.ini"), QSettings.Format.IniFormat)
    assert int(settings.value("window/tab")) == 1  # not the Train tab the self-test visited last


FAMILY = "fs_test_label"


def _build(config, which=None):
    from torch import nn

    return {"G": nn.Linear(4, 4)}


@pytest.fixture
def family(isolated_home):
    registry.register(Family(FAMILY, build=_build))
    yield
    registry.unregister(FAMILY)


class LabelTab(ToolTab):
    tool = "labelled"
    title = "Labelled"

    def run_request(self):
        return None


def test_failed_open_keeps_naming_the_model_in_use(qtbot, tmp_path, family):
    from fashionstudio.core.modelfile import save_model_file

    good = save_model_file(tmp_path / "mine.safetensors", FAMILY, _build({}), {}, resolution=8,
                           name="My own model")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x80\x04 a pickle, not a model")
    manager = ModelManager("cpu")
    tab = LabelTab(manager)
    qtbot.addWidget(tab)
    try:
        open_model_and_wait(tab, qtbot, good)
        assert "My own model" in tab.model_message()
        failures: list[str] = []
        manager.failed.connect(lambda key, message: failures.append(message))
        tab.open_model(broken)
        qtbot.waitUntil(lambda: bool(failures), timeout=10_000)
        assert tab.model is not None and tab.model.path == good  # the previous model still works
        assert failures[0] in tab.model_message()  # the reason the new file failed ...
        assert "Still using: My own model (mine.safetensors)" in tab.model_message()  # ... and what is in use
        assert manager.model_path("labelled") == good  # a reload (device switch) reloads the model in use
    finally:
        tab.shutdown()
        manager.shutdown()


class RefusingTab(LabelTab):
    def run_request(self):
        self.status_message.emit("Drop a photo of a dressed person first.")
        return None


def test_a_tab_that_refuses_its_sample_input_fails_the_self_test_with_its_sentence(qtbot, isolated_home, family):
    from fashionstudio.core.modelfile import save_model_file
    from fashionstudio.gui.self_test import run_self_test

    isolated_home.models.mkdir()
    save_model_file(isolated_home.models / "labelled.safetensors", FAMILY, _build({}), {}, resolution=8)
    manager = ModelManager("cpu")
    tab = RefusingTab(manager)
    qtbot.addWidget(tab)
    try:
        report = run_self_test(tab, timeout_s=20)
    finally:
        tab.shutdown()
        manager.shutdown()
    assert report["status"] == "error" and report["message"] == "Drop a photo of a dressed person first."
