"""Train tab (placeholder): starts, watches and exports training runs once the trainer exists."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class TrainTab(QWidget):
    title = "Train"
    tool = "train"

    def __init__(self, manager: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.manager = manager
        label = QLabel("Training runs will appear here: start, watch, stop and export GAN training runs.")
        label.setObjectName("placeholderText")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.addWidget(label)

    def self_test(self) -> dict[str, Any]:
        return {"tool": self.tool, "status": "not-implemented"}
