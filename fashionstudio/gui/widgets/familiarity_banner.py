"""A plain banner above a tool's canvases: the input is unlike what the model learned from.

It shows the sentence of a :class:`fashionstudio.core.familiarity.Verdict` (what the model learned from, that the
result will not look like the input, how to train a model on photos like it) and hides itself for familiar or
unknown inputs. The designer can close it for the current input; the next unfamiliar input shows it again.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

from fashionstudio.core.familiarity import Verdict

_STYLE = """
QFrame#familiarityBanner { background: #fff4d6; border: 1px solid #e8c66a; border-radius: 6px; }
QFrame#familiarityBanner QLabel { color: #4d3b00; }
QFrame#familiarityBanner QToolButton { border: none; background: transparent; color: #4d3b00; }
"""


class FamiliarityBanner(QFrame):
    """Hidden until :meth:`show_verdict` gets an unfamiliar verdict."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("familiarityBanner")
        self.setStyleSheet(_STYLE)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 8, 8)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setObjectName("familiarityText")
        lay.addWidget(self.label, 1)
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setToolTip("Hide this note for the current picture")
        self.close_button.clicked.connect(self.hide)
        lay.addWidget(self.close_button)
        self.verdict: Verdict | None = None
        self.hide()

    def show_verdict(self, verdict: Verdict | None) -> None:
        """Show the sentence of an unfamiliar verdict; hide for anything else."""
        self.verdict = verdict
        if verdict is not None and verdict.unfamiliar:
            self.label.setText(verdict.message)
            self.show()
        else:
            self.clear()

    def clear(self) -> None:
        self.label.clear()
        self.hide()

    def text(self) -> str:
        return self.label.text() if not self.isHidden() else ""
