"""Test-wide setup: Qt runs offscreen, torch stays on few threads, settings never touch the user's real ones."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FASHIONSTUDIO_TESTING", "1")
# Spinning OpenMP threads fight over 2 shared cores; passive waiting made the model tests ~5x faster here.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


import pytest  # noqa: E402


@pytest.fixture
def one_torch_thread():
    """Tiny networks run faster on one thread, and the CI machine has two cores for everything."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """Settings, logs and the models folder live under tmp_path, so no test sees the user's (or another test's).

    ``.models`` is not created: a test that needs an existing models folder makes it.
    """
    from types import SimpleNamespace

    home, models = tmp_path / "home", tmp_path / "models"
    monkeypatch.setenv("FASHIONSTUDIO_HOME", str(home))
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(models))
    return SimpleNamespace(home=home, models=models)


@pytest.fixture
def open_tool_tab(qtbot):
    """``open_tool_tab(TabClass)`` makes a shown tool tab on its own CPU model manager.

    The tab's worker and model loads stop before Qt deletes the widgets, as the window does on close (this fixture
    asks for qtbot, so it tears down first).
    """
    from fashionstudio.gui.model_manager import ModelManager

    opened = []

    def make(cls, size: tuple[int, int] = (1100, 700), **kwargs):
        tab = cls(ModelManager("cpu"), **kwargs)
        opened.append(tab)
        qtbot.addWidget(tab)
        tab.resize(*size)
        tab.show()
        return tab

    yield make
    for tab in reversed(opened):
        tab.shutdown()
        tab.manager.shutdown()
