"""The Train tab's right side: the banner, the loss charts, and the Samples / Console / Config panes.

Like the side panel it shows what it is given; the console keeps the last ``CONSOLE_LINES`` lines of each run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import QFrame, QLabel, QPlainTextEdit, QSplitter, QTabWidget, QVBoxLayout, QWidget

from fashionstudio.gui.train.loss_plot import LossPlots
from fashionstudio.gui.train.sample_viewer import SampleViewer

CONSOLE_LINES = 2000


def _card(widget: QWidget, margins: tuple[int, int, int, int]) -> QFrame:
    card = QFrame()
    card.setObjectName("trainCard")
    lay = QVBoxLayout(card)
    lay.setContentsMargins(*margins)
    lay.addWidget(widget)
    return card


class RunMonitor(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.console: dict[Path, deque[str]] = {}   # each run's console lines (its log's end, then our output)
        self.console_path: Path | None = None
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.plots = LossPlots()
        self.samples = SampleViewer()
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSize(9)
        self.console_view = QPlainTextEdit()
        self.console_view.setReadOnly(True)
        self.console_view.setMaximumBlockCount(CONSOLE_LINES)
        self.console_view.setFont(mono)
        self.details_view = QPlainTextEdit()
        self.details_view.setReadOnly(True)
        self.details_view.setFont(mono)
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.addTab(self.samples, "Samples")
        self.bottom_tabs.addTab(self.console_view, "Console")
        self.bottom_tabs.addTab(self.details_view, "Config")

        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.setChildrenCollapsible(False)
        self.right_split.setHandleWidth(10)
        self.right_split.addWidget(_card(self.plots, (12, 10, 12, 12)))
        self.right_split.addWidget(_card(self.bottom_tabs, (6, 6, 6, 6)))
        self.right_split.setStretchFactor(0, 3)
        self.right_split.setStretchFactor(1, 2)
        self.right_split.setSizes([560, 300])
        rl = QVBoxLayout(self)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(8)
        rl.addWidget(self.banner)
        rl.addWidget(self.right_split, 1)

    def show_banner(self, text: str | None, kind: str = "info") -> None:
        if not text:
            self.banner.hide()
            return
        self.banner.setText(text)
        self.banner.setProperty("kind", kind)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.show()

    def show_config(self, text: str) -> None:
        if self.details_view.toPlainText() != text:   # keeps the reader's scroll position between ticks
            self.details_view.setPlainText(text)

    # -- console --------------------------------------------------------------------------------------------------
    def show_console(self, path: Path | None) -> None:
        """Show ``path``'s console lines (none yet: empty until :meth:`seed_console` brings its log's end)."""
        self.console_path = path
        self.console_view.clear()
        lines = self.console.get(path) if path is not None else None
        if lines:
            self.console_view.setPlainText("\n".join(lines))
            self.console_view.moveCursor(QTextCursor.MoveOperation.End)

    def seed_console(self, path: Path, lines: Iterable[str]) -> None:
        """The end of the run's console.log, as a worker read it; only for a run with no lines here yet."""
        if path in self.console:
            return
        self.console[path] = deque(lines, maxlen=CONSOLE_LINES)
        if path == self.console_path:
            self.show_console(path)

    def append_console(self, path: Path, text: str) -> None:
        self.console.setdefault(path, deque(maxlen=CONSOLE_LINES)).append(text)
        if path == self.console_path:
            self.console_view.appendPlainText(text)
