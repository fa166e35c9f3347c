"""The Train tab's side panel: the runs folder, the run list, and the selected run's heading, details and buttons.

It shows what it is given (:class:`~fashionstudio.core.run_display.RunView` and
:class:`~fashionstudio.core.run_display.Actions`) and decides nothing; the tab connects its buttons.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from fashionstudio.core.run_display import NO_RUN, Actions, RunView
from fashionstudio.gui.train.run_list import RunList


class RunPanel(QFrame):
    def __init__(self, runs_dir_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainSide")
        self.setMinimumWidth(330)
        self.setMaximumWidth(440)
        sl = QVBoxLayout(self)
        sl.setContentsMargins(14, 14, 14, 14)
        sl.setSpacing(8)
        head = QHBoxLayout()
        heading = QLabel("Runs")
        heading.setObjectName("panelHeading")
        head.addWidget(heading)
        head.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look again for run folders (also done every few seconds)")
        head.addWidget(self.refresh_button)
        self.new_button = QPushButton("New run…")
        self.new_button.setObjectName("primaryButton")
        head.addWidget(self.new_button)
        sl.addLayout(head)
        self.runs_dir_label = QLabel(runs_dir_text)
        self.runs_dir_label.setObjectName("runsDirLabel")
        self.runs_dir_label.setWordWrap(True)
        dir_row = QHBoxLayout()
        dir_row.addWidget(self.runs_dir_label, 1)
        self.change_dir_button = QPushButton("Change…")
        dir_row.addWidget(self.change_dir_button)
        sl.addLayout(dir_row)

        self.run_list = RunList()
        sl.addWidget(self.run_list, 1)

        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setObjectName("panelRule")
        sl.addWidget(rule)
        self.run_heading = QLabel(NO_RUN.heading)
        self.run_heading.setObjectName("runHeading")
        self.run_heading.setWordWrap(True)
        sl.addWidget(self.run_heading)
        self.run_info = QLabel(NO_RUN.info)
        self.run_info.setObjectName("runInfo")
        self.run_info.setWordWrap(True)
        self.run_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        sl.addWidget(self.run_info)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.stop_button = QPushButton("Stop")
        self.resume_button = QPushButton("Resume")
        for b in (self.start_button, self.stop_button, self.resume_button):
            buttons.addWidget(b)
        sl.addLayout(buttons)
        more = QHBoxLayout()
        self.use_button = QPushButton("Use this model")
        self.use_button.setObjectName("primaryButton")
        self.folder_button = QPushButton("Open folder")
        more.addWidget(self.use_button, 1)
        more.addWidget(self.folder_button)
        sl.addLayout(more)
        self.show_actions(Actions())

    def show_view(self, view: RunView) -> None:
        self.run_heading.setText(view.heading)
        self.run_info.setText(view.info)

    def show_actions(self, actions: Actions) -> None:
        self.start_button.setEnabled(actions.start)
        self.stop_button.setEnabled(actions.stop)
        self.stop_button.setToolTip(actions.stop_tip)
        self.resume_button.setEnabled(actions.resume)
        self.use_button.setEnabled(actions.use)
        self.folder_button.setEnabled(actions.folder)
