"""The list of run folders under the runs directory: tick runs to overlay them, select one to act on it."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView, QWidget

from fashionstudio.core.run_display import STATE_TEXT
from fashionstudio.core.runs import RunSummary, trainable_families

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
STATE_COLOURS = {"running": "#2f62c9", "finished": "#2e7d32", "stopped": "#a86a00", "crashed": "#b3261e",
                 "new": "#6b717b", "elsewhere": "#5a4fb0", "copied": "#5a4fb0"}
COLUMNS = ("Run", "Status", "Progress")


def _swatch(colour: str | None) -> QIcon:
    pix = QPixmap(12, 12)
    pix.fill(QColor(colour) if colour else Qt.GlobalColor.transparent)
    return QIcon(pix)


class RunListModel(QStandardItemModel):
    """One row per run folder, keyed by its path; updated in place so ticks and selection survive refreshes."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.runs_dir: Path | None = None

    def row_of(self, path: Path) -> int:
        for row in range(self.rowCount()):
            if self.item(row, 0).data(PATH_ROLE) == str(path):
                return row
        return -1

    def path_at(self, row: int) -> Path:
        return Path(self.item(row, 0).data(PATH_ROLE))

    def paths(self) -> list[Path]:
        return [self.path_at(r) for r in range(self.rowCount())]

    def checked_paths(self) -> list[Path]:
        return [self.path_at(r) for r in range(self.rowCount())
                if self.item(r, 0).checkState() == Qt.CheckState.Checked]

    def set_checked(self, path: Path, on: bool) -> None:
        row = self.row_of(path)
        if row >= 0:
            self.item(row, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def set_colour(self, path: Path, colour: str | None) -> None:
        row = self.row_of(path)
        if row >= 0:
            self.item(row, 0).setIcon(_swatch(colour))

    def sync(self, summaries: list[RunSummary]) -> None:
        """Add new runs, update known ones, drop vanished ones."""
        wanted = {str(s.path) for s in summaries}
        for row in reversed(range(self.rowCount())):
            if self.item(row, 0).data(PATH_ROLE) not in wanted:
                self.removeRow(row)
        for summary in summaries:
            row = self.row_of(summary.path)
            if row < 0:
                row = self.rowCount()
                name = QStandardItem(self.name_of(summary.path))
                name.setCheckable(True)
                name.setEditable(False)
                name.setData(str(summary.path), PATH_ROLE)
                name.setIcon(_swatch(None))
                rest = [QStandardItem() for _ in COLUMNS[1:]]
                for item in rest:
                    item.setEditable(False)
                self.appendRow([name, *rest])
            self.update_row(summary)

    def update_row(self, summary: RunSummary) -> None:
        row = self.row_of(summary.path)
        if row < 0:
            return
        family = trainable_families().get(summary.family)
        model_text = (family.display_label if family else summary.family or "unknown model") + \
            (f", {summary.preset} preset" if summary.preset else "")
        name = self.item(row, 0)
        name.setToolTip(f"{summary.path}\n{model_text}")
        status = self.item(row, 1)
        status.setText(STATE_TEXT.get(summary.state, summary.state))
        status.setForeground(QBrush(QColor(STATE_COLOURS.get(summary.state, "#1d1f23"))))
        status.setToolTip(summary.error or ("Another process holds this run's lock (pid "
                                            f"{summary.locked_by.get('pid', '?')})" if summary.locked_by else ""))
        total = summary.steps
        progress = f"{summary.last_step:,}" + (f" / {total:,}" if total else "")
        self.item(row, 2).setText(progress if summary.last_step or total else "")

    def name_of(self, path: Path) -> str:
        if self.runs_dir is not None:
            try:
                return path.relative_to(self.runs_dir).as_posix()
            except ValueError:
                pass
        return path.name


class RunList(QTreeView):
    """The view: ticking emits ``checked_changed``, selecting emits ``current_changed(path or None)``."""

    checked_changed = Signal()
    current_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run_model = RunListModel(self)
        self.setModel(self.run_model)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self._checked: list[Path] = []
        self.run_model.itemChanged.connect(self._on_item_changed)
        self.selectionModel().currentRowChanged.connect(self._on_current)

    def _on_item_changed(self, item) -> None:
        # itemChanged also fires for icon/tooltip updates: report only real changes of the ticked set
        if item.column() == 0:
            checked = self.run_model.checked_paths()
            if checked != self._checked:
                self._checked = checked
                self.checked_changed.emit()

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.current_changed.emit(self.run_model.path_at(current.row()) if current.isValid() else None)

    def current_path(self) -> Path | None:
        index = self.currentIndex()
        return self.run_model.path_at(index.row()) if index.isValid() else None

    def select(self, path: Path) -> None:
        row = self.run_model.row_of(path)
        if row >= 0:
            self.setCurrentIndex(self.run_model.index(row, 0))
