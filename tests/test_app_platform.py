"""Without a display the app falls back to the offscreen platform instead of letting Qt abort."""

from __future__ import annotations

import sys

import pytest

from fashionstudio.gui.app import choose_platform


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fallback is Linux-only by design")
def test_no_display_falls_back_to_offscreen(monkeypatch, capsys):
    for var in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    assert choose_platform() == "offscreen"
    assert "no display found" in capsys.readouterr().err


def test_explicit_platform_or_display_is_respected(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert choose_platform() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("DISPLAY", ":0")
    assert choose_platform() is None


def test_file_open_event_reaches_the_window(qapp):
    """A macOS "Open with" on the running app arrives as a QFileOpenEvent and is handed to open_files."""
    from PySide6.QtGui import QFileOpenEvent

    from fashionstudio.gui.app import FileOpenFilter

    opened: list[list[str]] = []
    flt = FileOpenFilter(opened.append)
    assert flt.eventFilter(qapp, QFileOpenEvent("/tmp/look.png")) is True
    assert opened == [["/tmp/look.png"]]
