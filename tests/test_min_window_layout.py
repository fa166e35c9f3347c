"""At the window's minimum size no control covers another and no canvas is cut off (every tab)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PIL import Image
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLabel, QLineEdit, QPlainTextEdit, QProgressBar,
    QSlider, QTextEdit, QWidget,
)

from fashionstudio.gui.app import create_settings
from fashionstudio.gui.canvas import ImageCanvas
from fashionstudio.gui.main_window import MainWindow

CONTROL_TYPES = (QAbstractButton, QLabel, QAbstractSpinBox, QComboBox, QLineEdit, QSlider, QProgressBar,
                 QAbstractItemView, QPlainTextEdit, QTextEdit, ImageCanvas)  # scroll areas are containers


@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


@pytest.fixture
def window(qtbot):
    w = MainWindow(settings=create_settings(), device_override="cpu")
    w.persist_state = False
    qtbot.addWidget(w)
    w.show()
    w.resize(w.minimumSize())
    qtbot.waitUntil(lambda: w.size() == w.minimumSize(), timeout=5000)
    yield w
    w.close()


def visible_rect(widget: QWidget) -> QRect:
    """The part of ``widget`` (global coordinates) that its ancestors do not clip away."""
    rect = QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())
    parent = widget.parentWidget()
    while parent is not None:
        rect = rect.intersected(QRect(parent.mapToGlobal(QPoint(0, 0)), parent.size()))
        parent = parent.parentWidget()
    return rect


def controls(root: QWidget) -> list[QWidget]:
    """Visible controls below ``root`` that are not inside another control (a spin box's line edit...)."""
    found = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, CONTROL_TYPES) or not w.isVisibleTo(root) or visible_rect(w).isEmpty():
            continue
        parent, nested = w.parentWidget(), False
        while parent is not None and parent is not root:
            if isinstance(parent, CONTROL_TYPES):
                nested = True
                break
            parent = parent.parentWidget()
        if not nested:
            found.append(w)
    return found


def overlaps(tab: QWidget) -> list[str]:
    items = [(w, visible_rect(w)) for w in controls(tab)]
    found = []
    for i, (a, ra) in enumerate(items):
        for b, rb in items[i + 1:]:
            common = ra.intersected(rb)
            if common.width() > 1 and common.height() > 1:
                found.append(f"{type(a).__name__} {getattr(a, 'text', lambda: '')()!r} / "
                             f"{type(b).__name__} {getattr(b, 'text', lambda: '')()!r}")
    return found


def show_tab(window, qtbot, index: int) -> QWidget:
    window.tabs.setCurrentIndex(index)
    qtbot.wait(50)
    return window.tabs.widget(index)


def test_no_control_covers_another_at_the_minimum_size(window, qtbot):
    for index in range(window.tabs.count()):
        tab = show_tab(window, qtbot, index)
        assert overlaps(tab) == [], window.tabs.tabText(index)


def test_side_panel_controls_scroll_but_are_never_cut_off_sideways(window, qtbot):
    for index in range(window.tabs.count()):
        tab = show_tab(window, qtbot, index)
        panel = getattr(tab, "side_panel", None)
        if panel is None:
            continue
        for control in controls(panel):
            assert visible_rect(control).width() == control.width(), (window.tabs.tabText(index), control)


def test_no_canvas_is_cut_off_at_the_minimum_size(window, qtbot):
    for index in range(window.tabs.count()):
        tab = show_tab(window, qtbot, index)
        for canvas in tab.findChildren(ImageCanvas):
            if canvas.isVisibleTo(tab):
                full = QRect(canvas.mapToGlobal(QPoint(0, 0)), canvas.size())
                assert visible_rect(canvas) == full, (window.tabs.tabText(index), canvas.placeholder())
                assert canvas.sample_button.isHidden() or \
                    visible_rect(canvas.sample_button).width() == canvas.sample_button.width()


def test_eight_match_candidates_fit_at_the_minimum_size(window, qtbot):
    index = [window.tabs.tabText(i) for i in range(window.tabs.count())].index("Match")
    tab = show_tab(window, qtbot, index)
    picture = Image.new("RGB", (64, 64), (120, 60, 40))
    fake = SimpleNamespace(candidates=[SimpleNamespace(output=picture, round_trip=picture, round_trip_l1=0.05 * i,
                                                       variation="as is", shape_iou=None, style_distance=None)
                                       for i in range(8)])
    tab._fill_candidates(fake)
    qtbot.wait(50)
    assert overlaps(tab) == []
