"""Train tab: start, watch, stop, resume and export GAN training runs.

The run folder is the whole interface (ARCHITECTURE.md): the tab writes ``config.toml`` (New run), starts
``python -m training run|resume RUN_DIR`` as a QProcess, and tails ``RUN_DIR/events.jsonl`` by byte offset on a
worker thread; so it watches runs started from a terminal, or on a server and copied in, exactly like its own.
Reading, parsing and re-smoothing happen off the GUI thread; the GUI thread only appends parsed columns and
redraws decimated curves.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog, QFrame, QHBoxLayout, QLabel, QMessageBox, QPlainTextEdit, QPushButton, QSplitter, QTabWidget,
    QVBoxLayout, QWidget,
)

from fashionstudio.core.runlock import holder_sentence, lock_holder
from fashionstudio.core.runs import (
    CONFIG_FILE, CONSOLE_FILE, DEFAULT_MODEL_FILE, RunLog, RunSetupError, RunSpec, RunSummary,
    checkpoint_files, create_run, default_runs_dir, discover_runs, infer_state, read_run_config, summarize_run,
    tail_lines, trainable_families,
)
from fashionstudio.gui.train.loss_plot import PALETTE, LossPlots, PlottedRun
from fashionstudio.gui.train.new_run_dialog import NewRunDialog
from fashionstudio.gui.train.run_list import STATE_TEXT, RunList
from fashionstudio.gui.train.run_process import RunProcess
from fashionstudio.gui.train.sample_viewer import SampleViewer
from fashionstudio.gui.workers import run_in_background

log = logging.getLogger(__name__)

TAIL_INTERVAL_MS = 500
REFRESH_INTERVAL_MS = 5000
CONSOLE_LINES = 2000
READ_CHUNK_BYTES = 1 << 20   # per read of events.jsonl: ~6000 events, a few ms to add on the GUI thread

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
        self.logs: dict[Path, RunLog] = {}
        self.summaries: dict[Path, RunSummary] = {}
        self.processes: dict[Path, RunProcess] = {}
        self.exports: dict[Path, RunProcess] = {}
        self.console: dict[Path, deque[str]] = {}
        self.colours: dict[Path, str] = {}
        self._reading: set[Path] = set()
        self._refreshing = False
        self._closed = False
        self.setStyleSheet(TRAIN_STYLE)
        self._build()

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
        self.runs_dir_label.setText(self._runs_dir_text())
        self.run_list.run_model.sync([])
        self.refresh_runs()

    def _runs_dir_text(self) -> str:
        return f"Runs in {self.runs_dir}"

    # -- layout ---------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        # left: runs and the actions on the selected one
        side = QFrame()
        side.setObjectName("trainSide")
        side.setMinimumWidth(330)
        side.setMaximumWidth(440)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(14, 14, 14, 14)
        sl.setSpacing(8)
        head = QHBoxLayout()
        heading = QLabel("Runs")
        heading.setObjectName("panelHeading")
        head.addWidget(heading)
        head.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Look again for run folders (also done every few seconds)")
        self.refresh_button.clicked.connect(self.refresh_runs)
        head.addWidget(self.refresh_button)
        self.new_button = QPushButton("New run…")
        self.new_button.setObjectName("primaryButton")
        self.new_button.clicked.connect(self.new_run_dialog)
        head.addWidget(self.new_button)
        sl.addLayout(head)
        self.runs_dir_label = QLabel(self._runs_dir_text())
        self.runs_dir_label.setObjectName("runsDirLabel")
        self.runs_dir_label.setWordWrap(True)
        dir_row = QHBoxLayout()
        dir_row.addWidget(self.runs_dir_label, 1)
        self.change_dir_button = QPushButton("Change…")
        self.change_dir_button.clicked.connect(self._choose_runs_dir)
        dir_row.addWidget(self.change_dir_button)
        sl.addLayout(dir_row)

        self.run_list = RunList()
        self.run_list.run_model.runs_dir = self.runs_dir
        self.run_list.checked_changed.connect(self._on_checked)
        self.run_list.current_changed.connect(self._on_current)
        sl.addWidget(self.run_list, 1)

        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setObjectName("panelRule")
        sl.addWidget(rule)
        self.run_heading = QLabel("No run selected")
        self.run_heading.setObjectName("runHeading")
        self.run_heading.setWordWrap(True)
        sl.addWidget(self.run_heading)
        self.run_info = QLabel("Create a run with “New run…”, or copy run folders into the runs folder.")
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
        self.start_button.clicked.connect(lambda: self.start_run())
        self.stop_button.clicked.connect(lambda: self.stop_run())
        self.resume_button.clicked.connect(lambda: self.resume_run())
        self.use_button.clicked.connect(lambda: self.use_model())
        self.folder_button.clicked.connect(self._open_folder)

        # right: banner, charts, and samples / console / details
        self.banner = QLabel("")
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()
        self.plots = LossPlots()
        self.samples = SampleViewer()
        self.console_view = QPlainTextEdit()
        self.console_view.setReadOnly(True)
        self.console_view.setMaximumBlockCount(CONSOLE_LINES)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSize(9)
        self.console_view.setFont(mono)
        self.details_view = QPlainTextEdit()
        self.details_view.setReadOnly(True)
        self.details_view.setFont(mono)
        self.bottom_tabs = QTabWidget()
        self.bottom_tabs.addTab(self.samples, "Samples")
        self.bottom_tabs.addTab(self.console_view, "Console")
        self.bottom_tabs.addTab(self.details_view, "Config")

        plots_card = QFrame()
        plots_card.setObjectName("trainCard")
        pl = QVBoxLayout(plots_card)
        pl.setContentsMargins(12, 10, 12, 12)
        pl.addWidget(self.plots)
        bottom_card = QFrame()
        bottom_card.setObjectName("trainCard")
        bl = QVBoxLayout(bottom_card)
        bl.setContentsMargins(6, 6, 6, 6)
        bl.addWidget(self.bottom_tabs)
        self.right_split = QSplitter(Qt.Orientation.Vertical)
        self.right_split.setChildrenCollapsible(False)
        self.right_split.setHandleWidth(10)
        self.right_split.addWidget(plots_card)
        self.right_split.addWidget(bottom_card)
        self.right_split.setStretchFactor(0, 3)
        self.right_split.setStretchFactor(1, 2)
        self.right_split.setSizes([560, 300])
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(8)
        rl.addWidget(self.banner)
        rl.addWidget(self.right_split, 1)

        outer = QHBoxLayout(self)
        outer.setContentsMargins(16, 16, 16, 16)
        outer.setSpacing(16)
        outer.addWidget(side)
        outer.addWidget(right, 1)
        self._update_actions()

    # -- messages -------------------------------------------------------------------------------------------------
    def _say(self, message: str) -> None:
        self.status_message.emit(message)
        window = self.window()
        if window is not self and hasattr(window, "show_status"):
            window.show_status(message)

    def _show_banner(self, text: str | None, kind: str = "info") -> None:
        if not text:
            self.banner.hide()
            return
        self.banner.setText(text)
        self.banner.setProperty("kind", kind)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)
        self.banner.show()

    # -- run discovery --------------------------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """Find run folders and their states on a worker thread; the list updates when it is done."""
        if self._refreshing or self._closed:
            return
        self._refreshing = True
        root = self.runs_dir

        def job() -> list[RunSummary]:
            now = time.time()
            return [summarize_run(p, now=now) for p in discover_runs(root)]

        def done(summaries: list[RunSummary]) -> None:
            self._refreshing = False
            if root != self.runs_dir:
                self.refresh_runs()
                return
            self.summaries = {s.path: s for s in summaries}
            for s in summaries:
                self._merge_live_state(s)
            self.run_list.run_model.sync(summaries)
            for path in list(self.logs):
                if path not in self.summaries and path not in self.processes:
                    del self.logs[path]
            if self.run_list.current_path() is None and summaries:
                self.run_list.select(self._newest(summaries))
            self._update_actions()

        def failed(exc: BaseException) -> None:
            self._refreshing = False
            log.warning("could not list runs in %s: %s", root, exc)

        run_in_background(job, done, failed, context=self)

    @staticmethod
    def _newest(summaries: list[RunSummary]) -> Path:
        return max(summaries, key=lambda s: s.mtime).path

    def _merge_live_state(self, summary: RunSummary) -> None:
        """Prefer what the full log and our own process know over the quick summary."""
        run_log = self.logs.get(summary.path)
        if run_log is not None and run_log.n_events:
            summary.last_step = run_log.last_step
            summary.steps = run_log.total_steps or summary.steps
            err = run_log.last_error()
            summary.error = str(err.get("message", "")) if err else None
        summary.state = self.state_of(summary.path)
        summary.has_checkpoint = summary.has_checkpoint or bool(checkpoint_files(summary.path))

    def state_of(self, path: Path) -> str:
        proc = self.processes.get(path)
        run_log = self.logs.get(path)
        summary = self.summaries.get(path)
        # another process holds the run's lock (a trainer of ours that has just ended is not "elsewhere")
        own = {p.pid for p in self.processes.values()}
        locked = bool(summary and summary.locked_by is not None and summary.locked_by.get("pid") not in own)
        if run_log is None:
            if proc is not None and proc.is_running():
                return "running"
            return summary.state if summary else "new"
        copied = bool(summary and summary.copied_from)
        if proc is None:
            return infer_state(run_log, locked=locked, copied=copied)
        return infer_state(run_log, process_running=proc.is_running(), exit_code=proc.exit_code, locked=locked)

    # -- tailing --------------------------------------------------------------------------------------------------
    def watched(self) -> list[Path]:
        paths = set(self.run_list.run_model.checked_paths()) | set(self.processes)
        current = self.run_list.current_path()
        if current is not None:
            paths.add(current)
        return sorted(paths)

    def log_for(self, path: Path) -> RunLog:
        run_log = self.logs.get(path)
        if run_log is None:
            run_log = self.logs[path] = RunLog(path, smoothing=self.plots.smoothing, max_bytes=READ_CHUNK_BYTES)
        return run_log

    def tail(self) -> None:
        """Read what each watched run appended since the last tick (worker thread), then show it."""
        for path in self.watched():
            self._read_more(path)

    def _read_more(self, path: Path) -> None:
        if path in self._reading or self._closed:
            return
        run_log = self.log_for(path)
        self._reading.add(path)

        def done(delta: Any) -> None:
            self._reading.discard(path)
            if self.logs.get(path) is not run_log:
                return
            tags = run_log.apply(delta)
            if delta.n_events or delta.reset:
                self._on_log_changed(path, tags)
            if delta.more:  # a long file (a copied-in run): keep reading without waiting for the timer
                QTimer.singleShot(0, lambda: self._read_more(path))

        def failed(exc: BaseException) -> None:
            self._reading.discard(path)
            log.warning("reading %s failed: %s", run_log.path, exc)

        run_in_background(run_log.read_delta, done, failed, context=self)

    def wait_read(self, path: Path, timeout_s: float = 10.0) -> None:
        """Tests and scripts: read ``path``'s log to its current end."""
        deadline = time.monotonic() + timeout_s
        run_log = self.log_for(path)
        while time.monotonic() < deadline:
            QCoreApplication.processEvents()
            if path not in self._reading:
                try:
                    size = run_log.path.stat().st_size
                except OSError:
                    size = 0
                if run_log.offset >= size:
                    return
                self._read_more(path)
            time.sleep(0.005)

    def _on_log_changed(self, path: Path, tags: set[str]) -> None:
        self.plots.data_changed(str(path), tags)
        if path == self.run_list.current_path():
            self.samples.refresh()
        self._update_row(path)

    def _update_row(self, path: Path) -> None:
        summary = self.summaries.get(path) or RunSummary(path=path)
        previous = summary.state
        self._merge_live_state(summary)
        self.summaries[path] = summary
        self.run_list.run_model.update_row(summary)
        if path == self.run_list.current_path():
            self._show_run_details(path)
            self._update_actions()
        if summary.state != previous:
            self.run_state_changed.emit(str(path), summary.state)

    # -- selection and overlay ------------------------------------------------------------------------------------
    def _plotted_paths(self) -> list[Path]:
        checked = self.run_list.run_model.checked_paths()
        if checked:
            return checked
        current = self.run_list.current_path()
        return [current] if current is not None else []

    def _refresh_plots(self) -> None:
        plotted_paths = self._plotted_paths()
        used: set[str] = set()
        for path in plotted_paths:  # keep a run's colour while it stays plotted; never two runs in one colour
            colour = self.colours.get(path)
            if colour is None or colour in used:
                colour = next((c for c in PALETTE if c not in used), PALETTE[len(used) % len(PALETTE)])
                self.colours[path] = colour
            used.add(colour)
        model = self.run_list.run_model
        for path in model.paths():
            model.set_colour(path, self.colours.get(path) if path in plotted_paths else None)
        self.plots.set_runs([PlottedRun(str(p), self.log_for(p), self.colours[p], model._name(p))
                             for p in plotted_paths])
        self.tail()

    def _on_checked(self) -> None:
        self._refresh_plots()

    def _on_current(self, path: Path | None) -> None:
        self.samples.set_run(path, self.log_for(path) if path is not None else None)
        self._refresh_plots()
        self._show_run_details(path)
        self._show_console(path)
        self._update_actions()

    def select_run(self, path: str | Path) -> None:
        self.run_list.select(Path(path))

    # -- details, console ------------------------------------------------------------------------------------------
    def _show_run_details(self, path: Path | None) -> None:
        if path is None:
            self.run_heading.setText("No run selected")
            self._show_banner(None)
            self.details_view.setPlainText("")
            return
        state = self.state_of(path)
        run_log = self.logs.get(path)
        summary = self.summaries.get(path)
        name = self.run_list.run_model._name(path)
        self.run_heading.setText(f"{name} — {STATE_TEXT.get(state, state)}")
        cfg = read_run_config(path) if summary is None or not summary.family else None
        family = (summary.family if summary and summary.family else (cfg or {}).get("family", "?"))
        families = trainable_families()
        lines = [families[family].display_label if family in families else f"Family: {family}"]
        if run_log is not None and run_log.n_events:
            total = run_log.total_steps
            lines.append(f"Step {run_log.last_step:,}" + (f" of {total:,}" if total else ""))
            info = run_log.info
            if info.get("device"):
                lines.append(f"Device: {info['device']}, {info.get('precision', 'fp32')}, batch "
                             f"{info.get('batch_size', '?')}" + (f" × {info['world_size']} processes"
                                                                 if info.get("world_size", 1) > 1 else ""))
            for note in info.get("notes") or []:
                lines.append(f"Note: {note}")
            if run_log.last_time:
                lines.append("Last event " + time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run_log.last_time)))
        if run_log is not None and run_log.skipped:
            lines.append(f"Left out {sum(run_log.skipped.values()):,} unreadable or over-long line(s) of "
                         "events.jsonl")
        if checkpoint_files(path):
            lines.append("Has a checkpoint (can resume and export)")
        self.run_info.setText("\n".join(lines))
        if state == "elsewhere":
            self._show_banner(holder_sentence(path, summary.locked_by or {}) if summary else
                              "Another process is training this run.", "info")
        elif state == "copied":
            self._show_banner(self.copy_message(path), "info")
        elif state == "crashed":
            self._show_banner(self.crash_message(path), "error")
        elif state == "stopped":
            self._show_banner("Stopped with a checkpoint: “Resume” continues from it." if checkpoint_files(path)
                              else "Stopped before its first checkpoint: “Start” trains it from the beginning.",
                              "info")
        else:
            self._show_banner(None)
        try:
            text = (path / CONFIG_FILE).read_text(encoding="utf-8")
        except OSError:
            text = "(no config.toml)"
        self.details_view.setPlainText(f"# {path / CONFIG_FILE}\n{text}")

    def copy_message(self, path: Path) -> str:
        """The sentence for a run folder copied from another machine while it trained there."""
        summary = self.summaries.get(path)
        run_log = self.logs.get(path)
        host = summary.copied_from if summary and summary.copied_from else "another machine"
        step = run_log.last_step if run_log is not None else (summary.last_step if summary else 0)
        text = (f"This is a copy of a run that was training on {host} when it was copied (up to step {step:,}); "
                "it is not training here. Copy the folder again to see newer progress")
        return text + (", or “Resume” to continue it here from its last checkpoint." if checkpoint_files(path)
                       else ".")

    def crash_message(self, path: Path) -> str:
        """The sentence for a crashed run: its error event, else the last line of its stderr."""
        run_log = self.logs.get(path)
        err = run_log.last_error() if run_log is not None else None
        if err is not None:
            head = f"This run stopped with an error at step {int(err.get('step', 0)):,}: {err.get('message', '')}"
        else:
            proc = self.processes.get(path)
            last = [line for line in (proc.stderr_tail if proc else []) if line.strip()]
            if not last:
                last = [line[2:] for line in tail_lines(path / CONSOLE_FILE, 40) if line.startswith("! ")]
            head = "This run ended without finishing" + (f": {last[-1].strip()}" if last else
                                                          " (the process was killed or the machine stopped).")
        if checkpoint_files(path):
            head += "  It has a checkpoint: fix the cause, then “Resume”."
        return head

    def _show_console(self, path: Path | None) -> None:
        self.console_view.clear()
        if path is None:
            return
        lines = self.console.get(path)
        if lines is None:
            lines = deque(tail_lines(path / CONSOLE_FILE, 300), maxlen=CONSOLE_LINES)
            self.console[path] = lines
        self.console_view.setPlainText("\n".join(lines))
        self.console_view.moveCursor(QTextCursor.MoveOperation.End)

    def _append_console(self, path: Path, line: str, is_err: bool) -> None:
        text = ("! " if is_err else "") + line
        self.console.setdefault(path, deque(maxlen=CONSOLE_LINES)).append(text)
        if path == self.run_list.current_path():
            self.console_view.appendPlainText(text)

    # -- actions --------------------------------------------------------------------------------------------------
    def _update_actions(self) -> None:
        path = self.run_list.current_path()
        proc = self.processes.get(path) if path else None
        running_here = proc is not None and proc.is_running()
        state = self.state_of(path) if path else "new"
        has_ckpt = bool(path and checkpoint_files(path))
        exporting = bool(path and path in self.exports and self.exports[path].is_running())
        elsewhere = state in ("running", "elsewhere")
        self.start_button.setEnabled(bool(path) and not running_here and not elsewhere and not has_ckpt)
        self.stop_button.setEnabled(running_here)
        self.stop_button.setToolTip("" if running_here or not path or not elsewhere else
                                    "This run was started elsewhere (a terminal or another machine): stop it there.")
        self.resume_button.setEnabled(bool(path) and not running_here and state in ("stopped", "crashed", "copied")
                                      and has_ckpt)
        family = (self.summaries.get(path).family if path and path in self.summaries else "") or \
            (read_run_config(path).get("family", "") if path else "")
        self.use_button.setEnabled(bool(path) and has_ckpt and family in trainable_families() and not exporting)
        self.folder_button.setEnabled(bool(path))

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
            self._show_banner(str(exc), "error")
            self._say(str(exc))
            return None
        summary = RunSummary(path=path, family=spec.family, preset=spec.preset, steps=spec.steps)
        self.summaries[path] = summary
        self.run_list.run_model.sync(list(self.summaries.values()))
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

    def _launch(self, path: Path, command: str, args: list[str] | None = None) -> RunProcess | None:
        old = self.processes.get(path)
        if old is not None and old.is_running():
            self._say("This run is already training.")
            return None
        holder = lock_holder(path)  # asked now: the list's answer may be seconds old
        if holder is not None:
            self._say(holder_sentence(path, holder))
            return None
        plugins = read_run_config(path).get("plugins")
        if isinstance(plugins, list) and plugins:
            if not self.confirm_plugins(path, [str(p) for p in plugins]):
                self._say(f"Not started: “{path.name}” needs plug-in code you did not allow.")
                return None
            args = [*(args or []), "--allow-plugins"]
        proc = RunProcess(path, command, args, parent=self)
        proc.output.connect(lambda line, err, p=path: self._append_console(p, line, err))
        proc.finished.connect(lambda code, crashed, p=path: self._on_process_finished(p, code, crashed))
        self.processes[path] = proc
        self._append_console(path, f"$ python -m training {command} {path.name} {' '.join(args or [])}".rstrip(),
                             False)
        proc.start()
        self.log_for(path)
        self._show_banner(None)
        self._update_row(path)
        self._update_actions()
        return proc

    def start_run(self, path: str | Path | None = None) -> RunProcess | None:
        """Start training the run (``python -m training run``)."""
        path = Path(path) if path else self.run_list.current_path()
        if path is None:
            return None
        if checkpoint_files(path):
            self._say("This run already has checkpoints: use Resume.")
            return None
        self._say(f"Training {path.name}…")
        return self._launch(path, "run")

    def resume_run(self, path: str | Path | None = None) -> RunProcess | None:
        """Continue the run from its newest checkpoint (``python -m training resume``)."""
        path = Path(path) if path else self.run_list.current_path()
        if path is None:
            return None
        if not checkpoint_files(path):
            self._say("This run has no checkpoint to resume from: Start it instead.")
            return None
        self._say(f"Resuming {path.name}…")
        return self._launch(path, "resume")

    def stop_run(self, path: str | Path | None = None) -> bool:
        """Ask the run's trainer to checkpoint and stop."""
        path = Path(path) if path else self.run_list.current_path()
        proc = self.processes.get(path) if path else None
        if proc is None or not proc.is_running():
            return False
        proc.stop()
        self._say("Stopping: the trainer finishes its step and writes a checkpoint…")
        self.stop_button.setEnabled(False)
        return True

    def _on_process_finished(self, path: Path, code: int, crashed: bool) -> None:
        self._append_console(path, f"[exit code {code}{', killed' if crashed else ''}]", code != 0 or crashed)

        def after_read() -> None:
            self._update_row(path)
            state = self.state_of(path)
            if state == "crashed":
                self._say(self.crash_message(path))
            elif state == "finished":
                self._say(f"{path.name} finished training.")
            elif state == "stopped":
                self._say(f"{path.name} stopped with a checkpoint.")
            self._update_actions()

        self._final_read(path, after_read)

    def _final_read(self, path: Path, then: Any) -> None:
        """Read the log to its end (the process has exited), then call ``then``."""
        run_log = self.log_for(path)

        def job() -> list[Any]:
            deltas, offset = [], run_log.offset
            while True:
                delta = run_log.read_delta(offset)
                deltas.append(delta)
                offset = delta.offset
                if not delta.more:
                    return deltas

        def done(deltas: list[Any]) -> None:
            self._reading.discard(path)
            if self.logs.get(path) is not run_log:
                return
            tags: set[str] = set()
            for delta in deltas:
                tags |= run_log.apply(delta)
            self._on_log_changed(path, tags)
            then()

        def failed(exc: BaseException) -> None:
            self._reading.discard(path)
            then()

        if path in self._reading:  # a tick's read is in flight: let it land first
            QTimer.singleShot(20, lambda: self._final_read(path, then))
            return
        self._reading.add(path)  # no tick read can interleave with this one
        run_in_background(job, done, failed, context=self)

    # -- export and use ---------------------------------------------------------------------------------------------
    def use_model(self, path: str | Path | None = None) -> RunProcess | None:
        """Export the run's best checkpoint (``python -m training export``) and open it in the matching tool."""
        path = Path(path) if path else self.run_list.current_path()
        if path is None:
            return None
        family = read_run_config(path).get("family", "")
        if family not in trainable_families():
            self._say(f"Runs of the family “{family}” have no tool tab to load them.")
            return None
        existing = self.exports.get(path)
        if existing is not None and existing.is_running():
            return existing
        out = path / DEFAULT_MODEL_FILE
        proc = RunProcess(path, "export", ["--out", str(out)], parent=self)
        proc.output.connect(lambda line, err, p=path: self._append_console(p, line, err))
        proc.finished.connect(lambda code, crashed, p=path, o=out, f=family: self._on_exported(p, o, f, code))
        self.exports[path] = proc
        self._say(f"Exporting {path.name}…")
        proc.start()
        self._update_actions()
        return proc

    def _on_exported(self, path: Path, out: Path, family: str, code: int) -> None:
        self._update_actions()
        proc = self.exports.get(path)
        if code != 0 or not out.is_file():
            reason = next((l for l in reversed(proc.stderr_tail) if l.strip()), "") if proc else ""
            message = f"Could not export {path.name}" + (f": {reason.removeprefix('error: ')}" if reason else ".")
            self._show_banner(message, "error")
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
        running = [p for p in self.processes.values() if p.is_running()]
        for proc in running:
            proc.stop()
        deadline = time.monotonic() + timeout_s
        for proc in running + [p for p in self.exports.values() if p.is_running()]:
            if not proc.wait(max(0, int((deadline - time.monotonic()) * 1000))):
                proc.kill()
                proc.wait(2000)

    def self_test(self) -> dict[str, Any]:
        return {"tool": self.tool, "status": "ok", "runs_dir": str(self.runs_dir),
                "runs": self.run_list.run_model.rowCount()}
