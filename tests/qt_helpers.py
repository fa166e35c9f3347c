"""Helpers shared by the GUI tests."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


def drop_file(widget: QWidget, path: Path) -> None:
    """Drag ``path`` from the file manager onto ``widget`` and drop it there (asserting the drag is accepted)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    centre = widget.rect().center()
    # Qt declares QDragEnterEvent with an integer QPoint and QDropEvent with a QPointF.
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(widget, QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime,
                                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))


def open_model_and_wait(tab, qtbot, path: Path, timeout_ms: int = 10_000) -> None:
    """Open a model file on a tool tab and wait until the model manager has it loaded there."""
    tab.open_model(path)
    qtbot.waitUntil(lambda: tab.model is not None and tab.model.path == path, timeout=timeout_ms)


def open_pose_tab(open_tool_tab, qtbot, model_path: Path | None = None):
    """A shown Pose tab (conftest's ``open_tool_tab``) with its pose library read and, if given, a model loaded."""
    from fashionstudio.gui.tabs.pose_tab import PoseTab

    tab = open_tool_tab(PoseTab)
    qtbot.waitUntil(lambda: not tab.library.is_loading(), timeout=10_000)
    if model_path is not None:
        tab.open_model(model_path)
        qtbot.waitUntil(lambda: tab.model is not None, timeout=20_000)
    return tab
