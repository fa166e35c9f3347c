"""The installed Qt binding must not leak references to None (PySide6 6.12.0 on CPython 3.11 did, fatally)."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QGraphicsRectItem, QWidget


class _Painted(QWidget):
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name); a Python override returning None
        pass


def test_python_overrides_and_reparenting_keep_none_alive(qapp):
    item = QGraphicsRectItem()
    widget = _Painted()
    widget.resize(40, 40)
    widget.show()
    qapp.processEvents()
    before = sys.getrefcount(None)
    for _ in range(300):
        item.setParentItem(None)
        widget.repaint()
    # A leaking binding loses ~600 here; a sound one stays within a few references of where it started.
    assert sys.getrefcount(None) >= before - 20
    widget.close()
