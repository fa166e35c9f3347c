"""Work around a reference-count bug of PySide6 6.12 on CPython 3.11: None, True and False lose references.

Measured here (PySide6 6.12.0, Python 3.11.7): every call of a Python override of a Qt virtual that returns None
(``paintEvent``, pyqtgraph's ``paint``...) and every ``setParentItem(None)`` / ``setParent(None)`` drops one
reference to None (bool results drop True/False). From Python 3.12 these objects are immortal and nothing
happens; on 3.11 the count reaches zero after some thousands of repaints and the interpreter aborts ("Fatal Python
error: none_dealloc"). A pyqtgraph chart repaint costs hundreds of references, so the Train tab hits it first,
but the whole app is affected.

:func:`guard` probes for the bug and, only when it is present, gives the three singletons the immortality they
have on newer Pythons by adding 2**40 to their counts (a decrement per repaint will never exhaust that).
"""

from __future__ import annotations

import sys

_applied: bool | None = None


def _bug_present() -> bool:
    from PySide6.QtWidgets import QGraphicsRectItem

    item = QGraphicsRectItem()
    before = sys.getrefcount(None)
    for _ in range(8):
        item.setParentItem(None)
    return sys.getrefcount(None) < before


def guard() -> bool:
    """Apply the workaround once if this PySide6/Python pair has the bug; return whether it is applied."""
    global _applied
    if _applied is None:
        _applied = False
        if sys.implementation.name == "cpython" and sys.version_info < (3, 12) and _bug_present():
            import ctypes

            for obj in (None, True, False):
                # ob_refcnt is the first field of every CPython object (non-debug builds)
                ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
            _applied = True
    return _applied
