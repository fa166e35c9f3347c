"""Starts, stops, resumes and exports runs as trainer processes (:class:`RunProcess`), one per run and job.

A click reads the run folder once where it is made: whether it has checkpoints, who holds its lock (the list's
answer may be seconds old) and which plug-ins its config asks for (always confirmed by the person first). The
processes are kept in the tab's :class:`~fashionstudio.core.train_state.TrainState`; what they print and how they
end is passed on by signals.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from fashionstudio.core.run_facts import read_config
from fashionstudio.core.runlock import holder_sentence, lock_holder
from fashionstudio.core.runs import DEFAULT_MODEL_FILE, checkpoint_files, trainable_families
from fashionstudio.core.train_state import TrainState
from fashionstudio.gui.train.run_process import RunProcess


class TrainerControl(QObject):
    output = Signal(object, str)                   # run folder, console line ("! " before a stderr line)
    said = Signal(str)                             # a sentence for the status bar
    launched = Signal(object)                      # run folder: its trainer has started
    finished = Signal(object)                      # run folder: its trainer has ended
    export_done = Signal(object, object, str, int)   # run folder, model file, family, exit code

    def __init__(self, state: TrainState, confirm_plugins: Callable[[Path, list[str]], bool],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._confirm_plugins = confirm_plugins

    def _process(self, path: Path, command: str, args: list[str]) -> RunProcess:
        proc = RunProcess(path, command, args, parent=self)
        proc.output.connect(lambda line, err, p=path: self.output.emit(p, ("! " if err else "") + line))
        return proc

    def _launch(self, path: Path, command: str) -> RunProcess | None:
        if self.state.running_here(path):
            self.said.emit("This run is already training.")
            return None
        holder = lock_holder(path)
        if holder is not None:
            self.said.emit(holder_sentence(path, holder))
            return None
        args: list[str] = []
        plugins = read_config(path)[0].get("plugins")
        if isinstance(plugins, list) and plugins:
            if not self._confirm_plugins(path, [str(p) for p in plugins]):
                self.said.emit(f"Not started: “{path.name}” needs plug-in code you did not allow.")
                return None
            args.append("--allow-plugins")
        proc = self._process(path, command, args)
        proc.finished.connect(lambda code, crashed, p=path: self._on_finished(p, code, crashed))
        self.state.processes[path] = proc
        self.output.emit(path, f"$ python -m training {command} {path.name} {' '.join(args)}".rstrip())
        proc.start()
        self.launched.emit(path)
        return proc

    def start(self, path: Path) -> RunProcess | None:
        """Start training the run (``python -m training run``)."""
        if checkpoint_files(path):
            self.said.emit("This run already has checkpoints: use Resume.")
            return None
        self.said.emit(f"Training {path.name}…")
        return self._launch(path, "run")

    def resume(self, path: Path) -> RunProcess | None:
        """Continue the run from its newest checkpoint (``python -m training resume``)."""
        if not checkpoint_files(path):
            self.said.emit("This run has no checkpoint to resume from: Start it instead.")
            return None
        self.said.emit(f"Resuming {path.name}…")
        return self._launch(path, "resume")

    def stop(self, path: Path) -> bool:
        """Ask the run's trainer to checkpoint and stop."""
        if not self.state.running_here(path):
            return False
        self.state.processes[path].stop()
        self.said.emit("Stopping: the trainer finishes its step and writes a checkpoint…")
        return True

    def _on_finished(self, path: Path, code: int, crashed: bool) -> None:
        self.output.emit(path, ("! " if code != 0 or crashed else "") +
                         f"[exit code {code}{', killed' if crashed else ''}]")
        self.finished.emit(path)

    def export(self, path: Path) -> RunProcess | None:
        """Export the run's best checkpoint (``python -m training export``); ``export_done`` says how it went."""
        family = read_config(path)[0].get("family", "")
        if family not in trainable_families():
            self.said.emit(f"Runs of the family “{family}” have no tool tab to load them.")
            return None
        if self.state.exporting(path):
            return self.state.exports[path]
        out = path / DEFAULT_MODEL_FILE
        proc = self._process(path, "export", ["--out", str(out)])
        proc.finished.connect(lambda code, crashed, p=path, o=out, f=family: self.export_done.emit(p, o, f, code))
        self.state.exports[path] = proc
        self.said.emit(f"Exporting {path.name}…")
        proc.start()
        return proc

    def export_failure(self, path: Path) -> str:
        """Why the last export of ``path`` failed, from its stderr."""
        proc = self.state.exports.get(path)
        reason = next((l for l in reversed(proc.stderr_tail) if l.strip()), "") if proc else ""
        return f"Could not export {path.name}" + (f": {reason.removeprefix('error: ')}" if reason else ".")

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Ask running trainers to checkpoint and stop, and wait for them and for exports (the app is closing)."""
        running = [p for p in self.state.processes.values() if p.is_running()]
        for proc in running:
            proc.stop()
        deadline = time.monotonic() + timeout_s
        for proc in running + [p for p in self.state.exports.values() if p.is_running()]:
            if not proc.wait(max(0, int((deadline - time.monotonic()) * 1000))):
                proc.kill()
                proc.wait(2000)
