"""Train tab: start, watch, stop, resume and export GAN training runs.

The run folder is the whole interface (ARCHITECTURE.md): the tab writes ``config.toml`` (New run), starts
``python -m training run|resume RUN_DIR`` as a QProcess, and tails ``RUN_DIR/events.jsonl`` by byte offset; so it
watches runs started from a terminal, or on a server and copied in, exactly like its own.

The tab is a composition: a side panel (:class:`RunPanel`) and a monitor (:class:`RunMonitor`) show what a Qt-free
:class:`~fashionstudio.core.train_state.TrainState` says about the runs; a :class:`LogTailer` and a
:class:`FolderReader` fill that state from worker threads. A tick does no file reads on the GUI thread, so a slow
or hostile run folder never freezes the window; the GUI thread only applies results. A click on Start, Resume or
Use this model reads the folder once where it is (its lock and plug-ins must be asked at that moment).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QMessageBox, QWidget

from fashionstudio.core.run_facts import RunFacts
from fashionstudio.core.runs import (
    RunLog, RunSetupError, RunSpec, RunSummary, create_run, default_runs_dir, discover_runs, summarize_run,
    trainable_families,
)
from fashionstudio.core.train_state import TrainState
from fashionstudio.gui.train.folder_reader import FolderReader
from fashionstudio.gui.train.log_tailer import LogTailer
from fashionstudio.gui.train.loss_plot import PALETTE, PlottedRun
from fashionstudio.gui.train.new_run_dialog import NewRunDialog
from fashionstudio.gui.train.run_monitor import RunMonitor
from fashionstudio.gui.train.run_panel import RunPanel
from fashionstudio.gui.train.run_process import RunProcess
from fashionstudio.gui.train.trainer_control import TrainerControl
from fashionstudio.gui.workers import run_in_background

log = logging.getLogger(__name__)

TAIL_INTERVAL_MS = 500
REFRESH_INTERVAL_MS = 5000

TRAIN_STYLE = """
QFrame#trainSide, QFrame#trainCard { background: #ffffff; border: 1px solid #dfe2e7; border-radius: 8px; }
QFrame#chartCard { background: #ffffff; border: 1px solid #e3e6ea; border-radius: 6px; }
QLabel#chartTitle { color: #3d4248; font-weight: 600; }
QLabel#runHeading { font-size: 13pt; font-weight: 600; color: #1d1f23; }
QLabel#runInfo { color: #4a4f57; }
QLabel#runsDirLabel { color: #6b717b; }
QLabel#banner { border-radius: 6px; padding: 8px 10px; }
QLabel#banner[kind="error"] { background: #fdecea; color: #8c1d18; border: 1px solid #f3c1bc; }
QLabel#banner[kind="info"] { background: #e9f0fd; color: #1f3f85; border: 1px solid #c5d5f6; }
QPushButton#primaryButton { padding: 6px 12px; border-radius: 6px; background: #3b6fd8; color: white; border: none; }
QPushButton#primaryButton:hover { background: #335fbd; }
QPushButton#primaryButton:disabled { background: #b8c6e6; }
QTreeView { border: none; }
"""


class TrainTab(QWidget):
    title = "Train"
    tool = "train"

    status_message = Signal(str)
    model_exported = Signal(str, str)        # tool, model file: "Use this model" finished exporting
    run_state_changed = Signal(str, str)     # run folder, state

    def __init__(self, manager: Any = None, parent: QWidget | None = None, runs_dir: str | Path | None = None,
                 settings: Any = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self._settings = settings
        self.runs_dir = Path(runs_dir) if runs_dir is not None else self._configured_runs_dir()
        self.state = TrainState()
        self._refreshing = False
        self._closed = False
        self.setStyleSheet(TRAIN_STYLE)
        self._build()
        self.tailer = LogTailer(self.state, lambda: self.plots.smoothing, self)
        self.tailer.log_changed.connect(self._on_log_changed)
        self.reader = FolderReader(self)
        self.reader.facts_read.connect(self._on_facts)
        self.control = TrainerControl(self.state, lambda path, plugins: self.confirm_plugins(path, plugins), self)
        self.control.output.connect(self.monitor.append_console)
        self.control.said.connect(self._say)
        self.control.launched.connect(self._on_launched)
        self.control.finished.connect(self._on_process_finished)
        self.control.export_done.connect(self._on_exported)

        self.tail_timer = QTimer(self)
        self.tail_timer.setInterval(TAIL_INTERVAL_MS)
        self.tail_timer.timeout.connect(self.tail)
        self.tail_timer.start()
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setInterval(REFRESH_INTERVAL_MS)
        self.refresh_timer.timeout.connect(self.refresh_runs)
        self.refresh_timer.start()
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        self.refresh_runs()

    # what the tab knows is held by its state; these names are the tab's own for scripts and tests
    @property
    def logs(self) -> dict[Path, RunLog]:
        return self.state.logs

    @property
    def processes(self) -> dict[Path, Any]:   # run folder -> RunProcess
        return self.state.processes

    def state_of(self, path: Path) -> str:
        return self.state.state_of(path)

    # -- settings -------------------------------------------------------------------------------------------------
    def _settings_obj(self) -> Any:
        if self._settings is None:
            from fashionstudio.gui.app import create_settings

            self._settings = create_settings()
        return self._settings

    def _configured_runs_dir(self) -> Path:
        value = str(self._settings_obj().value("train/runs_dir", "") or "")
        return Path(value) if value else default_runs_dir()

    def set_runs_dir(self, folder: str | Path, remember: bool = True) -> None:
        self.runs_dir = Path(folder)
        if remember:
            self._settings_obj().setValue("train/runs_dir", str(self.runs_dir))
        self.run_list.run_model.runs_dir = self.runs_dir
        self.side.runs_dir_label.setText(self._runs_dir_text())
        self.run_list.run_model.sync([])
        self.refresh_runs()

    def _runs_dir_text(self) -> str:
        return f"Runs in {self.runs_dir}"

    # -- layout ---------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.side = side = RunPanel(self._runs_dir_text())
        self.monitor = monitor = RunMonitor()
        self.run_list, self.run_heading, self.run_info = side.run_list, side.run_heading, side.run_info
        self.refresh_button, self.new_button = side.refresh_button, side.new_button
        self.start_button, self.stop_button, self.resume_button = side.start_button, side.stop_button, \
            side.resume_button
        self.use_button, self.folder_button = side.use_button, side.folder_button
        self.banner, self.plots, self.samples = monitor.banner, monitor.plots, monitor.samples
        self.console_view, self.details_view = monitor.console_view, monitor.details_view

        self.run_list.run_model.runs_dir = self.runs_dir
        self.run_list.checked_changed.connect(self._refresh_plots)
        self.run_list.current_changed.connect(self._on_current)
        side.refresh_button.clicked.connect(self.refresh_runs)
        side.new_button.clicked.connect(self.new_run_dialog)
        side.change_dir_button.clicked.connect(self._choose_runs_dir)
        side.start_button.clicked.connect(lambda: self.start_run())
        side.stop_button.clicked.connect(lambda: self.stop_run())
        side.resume_button.clicked.connect(lambda: self.resume_run())
        side.use_button.clicked.connect(lambda: self.use_model())
        side.folder_button.clicked.connect(self._open_folder)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(16, 16, 16, 16)
        outer.setSpacing(16)
        outer.addWidget(side)
        outer.addWidget(monitor, 1)

    def _say(self, message: str) -> None:
        self.status_message.emit(message)
        window = self.window()
        if window is not self and hasattr(window, "show_status"):
            window.show_status(message)

    # -- run discovery --------------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """Find run folders and their states on a worker thread; the list updates when it is done."""
        if self._refreshing or self._closed:
            return
        self._refreshing = True
        root = self.runs_dir

        def job() -> tuple[float, list[RunSummary]]:
            read_at, now = time.monotonic(), time.time()
            return read_at, [summarize_run(p, now=now) for p in discover_runs(root)]

        def done(result: tuple[float, list[RunSummary]]) -> None:
            self._refreshing = False
            if root != self.runs_dir:
                self.refresh_runs()
                return
            summaries = self.state.set_summaries(result[1], read_at=result[0])
            self.run_list.run_model.sync(summaries)
            current = self.run_list.current_path()
            if current is None and summaries:
                self.run_list.select(max(summaries, key=lambda s: s.mtime).path)
            elif current is not None:
                self._show_run_details(current)
            self._update_actions()

        def failed(exc: BaseException) -> None:
            self._refreshing = False
            log.warning("could not list runs in %s: %s", root, exc)

        run_in_background(job, done, failed, context=self)

    # -- the tick: read on workers, apply here ----------------------------------------------------------------------
    def tail(self) -> None:
        """Ask the workers for what each followed run appended, and for the selected run's folder when due."""
        current = self.run_list.current_path()
        for path in self.state.watched(self.run_list.run_model.checked_paths(), current):
            self.tailer.read_more(path)
        if current is not None and self.state.facts_due(current, time.monotonic()):
            self.reader.request(current)

    def wait_read(self, path: Path, timeout_s: float = 10.0) -> None:
        """Tests and scripts: read ``path``'s log to its current end."""
        self.tailer.wait_read(path, timeout_s)

    def _on_log_changed(self, path: Path, tags: set[str]) -> None:
        self.plots.data_changed(str(path), tags)
        if path == self.run_list.current_path():
            self.samples.refresh()
            self.reader.request(path)   # a new checkpoint or a last word may have come with these events
        self._update_row(path)

    def _on_facts(self, facts: RunFacts) -> None:
        if self.state.set_facts(facts):
            self.monitor.seed_console(facts.path, facts.console_tail)
            if facts.path in self.state.summaries or facts.path == self.run_list.current_path():
                self._update_row(facts.path)

    def _update_row(self, path: Path) -> None:
        summary, previous = self.state.refresh_summary(path)
        self.run_list.run_model.update_row(summary)
        if path == self.run_list.current_path():
            self._show_run_details(path)
            self._update_actions()
        if summary.state != previous:
            self.run_state_changed.emit(str(path), summary.state)

    # -- selection and overlay ------------------------------------------------------------------------------------
    def _refresh_plots(self) -> None:
        model = self.run_list.run_model
        plotted = self.state.plotted(model.checked_paths(), self.run_list.current_path())
        colours = self.state.assign_colours(plotted, PALETTE)
        for path in model.paths():
            model.set_colour(path, colours.get(path))
        self.plots.set_runs([PlottedRun(str(p), self.tailer.log_for(p), colours[p], model.name_of(p))
                             for p in plotted])
        self.tail()

    def _on_current(self, path: Path | None) -> None:
        self.samples.set_run(path, self.tailer.log_for(path) if path is not None else None)
        self._refresh_plots()
        self._show_run_details(path)
        self.monitor.show_console(path)
        self._update_actions()

    def select_run(self, path: str | Path) -> None:
        self.run_list.select(Path(path))

    def _show_run_details(self, path: Path | None) -> None:
        view = self.state.view(path, self.run_list.run_model.name_of(path) if path is not None else "")
        self.side.show_view(view)
        self.monitor.show_banner(view.banner, view.banner_kind)
        self.monitor.show_config(self.state.config_pane(path))

    def _update_actions(self) -> None:
        self.side.show_actions(self.state.actions(self.run_list.current_path()))

    # -- actions --------------------------------------------------------------------------------------------------
    def new_run_dialog(self) -> NewRunDialog:
        """Open the New run dialog (non-blocking); on OK the run is created (and started if asked)."""
        dialog = NewRunDialog(self.runs_dir, self)
        dialog.setModal(True)

        def accepted() -> None:
            path = self.create_run(dialog.spec())
            if path is not None and dialog.start_now:
                self.start_run(path)

        dialog.accepted.connect(accepted)
        dialog.open()
        self._dialog = dialog
        return dialog

    def create_run(self, spec: RunSpec) -> Path | None:
        """Write the run folder; select it. A problem is shown and None returned."""
        try:
            path = create_run(self.runs_dir, spec)
        except RunSetupError as exc:
            self.monitor.show_banner(str(exc), "error")
            self._say(str(exc))
            return None
        summary = RunSummary(path=path, family=spec.family, preset=spec.preset, steps=spec.steps)
        self.state.add_summary(summary, read_at=time.monotonic())
        self.run_list.run_model.sync(list(self.state.summaries.values()))
        self.run_list.select(path)
        self._say(f"Created the run “{spec.name}”.")
        return path

    def confirm_plugins(self, path: Path, plugins: list[str]) -> bool:
        """Ask before a run imports plug-in modules: they are Python code, and the run may come from anywhere."""
        answer = QMessageBox.warning(
            self, "Run plug-in code?",
            f"The run “{path.name}” asks to import the plug-in module(s) {', '.join(plugins)}. A plug-in is Python "
            "code that runs with your permissions.\n\nOnly continue if you trust where this run folder came from.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def _selected(self, path: str | Path | None) -> Path | None:
        return Path(path) if path else self.run_list.current_path()

    def start_run(self, path: str | Path | None = None) -> RunProcess | None:
        """Start training the run (``python -m training run``)."""
        path = self._selected(path)
        return self.control.start(path) if path is not None else None

    def resume_run(self, path: str | Path | None = None) -> RunProcess | None:
        """Continue the run from its newest checkpoint (``python -m training resume``)."""
        path = self._selected(path)
        return self.control.resume(path) if path is not None else None

    def stop_run(self, path: str | Path | None = None) -> bool:
        """Ask the run's trainer to checkpoint and stop."""
        path = self._selected(path)
        if path is None or not self.control.stop(path):
            return False
        self.stop_button.setEnabled(False)
        return True

    def use_model(self, path: str | Path | None = None) -> RunProcess | None:
        """Export the run's best checkpoint (``python -m training export``) and open it in the matching tool."""
        path = self._selected(path)
        proc = self.control.export(path) if path is not None else None
        self._update_actions()
        return proc

    def _on_launched(self, path: Path) -> None:
        self.tailer.log_for(path)
        self.monitor.show_banner(None)
        self._update_row(path)
        self._update_actions()

    def _on_process_finished(self, path: Path) -> None:
        def after_reads() -> None:
            self._update_row(path)
            state = self.state_of(path)
            if state == "crashed":
                self._say(self.state.view(path).banner or "")
            elif state == "finished":
                self._say(f"{path.name} finished training.")
            elif state == "stopped":
                self._say(f"{path.name} stopped with a checkpoint.")
            self._update_actions()

        # the log to its end, then the folder (the checkpoint the trainer wrote last), then what it all means
        self.tailer.final_read(path, lambda: self.reader.request(path, after_reads))

    def _on_exported(self, path: Path, out: Path, family: str, code: int) -> None:
        self._update_actions()
        if code != 0 or not out.is_file():
            message = self.control.export_failure(path)
            self.monitor.show_banner(message, "error")
            self._say(message)
            return
        tool = trainable_families()[family].tool
        window = self.window()
        tabs = getattr(window, "tool_tabs", {})
        tab = tabs.get(tool) if isinstance(tabs, dict) else None
        if tab is not None and hasattr(tab, "open_model"):
            tab.open_model(out)
            if hasattr(window, "tabs"):
                window.tabs.setCurrentWidget(tab)
        elif self.manager is not None:
            self.manager.load(tool, out)
        self._say(f"Exported {out.name}; loading it in the {tool.capitalize()} tab.")
        self.model_exported.emit(tool, str(out))

    # -- misc -----------------------------------------------------------------------------------------------------
    def _open_folder(self) -> None:
        path = self.run_list.current_path()
        if path is not None and not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self._say(f"The run folder is {path}")

    def _choose_runs_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder holding training runs", str(self.runs_dir))
        if folder:
            self.set_runs_dir(folder)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Ask running trainers to checkpoint and stop, and wait for them (the app is closing)."""
        if self._closed:
            return
        self._closed = True
        self.tail_timer.stop()
        self.refresh_timer.stop()
        self.tailer.close()
        self.reader.close()
        self.control.shutdown(timeout_s)

    def self_test(self) -> dict[str, Any]:
        return {"tool": self.tool, "status": "ok", "runs_dir": str(self.runs_dir),
                "runs": self.run_list.run_model.rowCount()}
