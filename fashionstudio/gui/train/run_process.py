"""A trainer command (``python -m training run|resume|export RUN_DIR``) as a QProcess, with its output kept.

The process's stdout and stderr are forwarded line by line, appended to ``RUN_DIR/console.log`` (so the output
of a crashed run can still be read after the app restarts), and the last stderr lines are kept for the error
banner. ``stop()`` asks the trainer to checkpoint and end: it writes ``RUN_DIR/STOP``, which the trainer looks
for after every step (the only way on Windows, where ``QProcess.terminate`` posts a WM_CLOSE a console Python
ignores), and on Linux and macOS also sends SIGTERM, which reaches a trainer busy before its first step too; the
trainer takes the two as one request (protocol: :mod:`fashionstudio.core.run_folder`).

A run folder is untrusted input (copied from a server, downloaded): the trainer starts with a safe import path
(``python -P`` and ``PYTHONSAFEPATH=1``, so neither its working folder nor the run folder is on ``sys.path``) in a
private empty working folder, never in the run folder, so a ``numpy.py`` planted in a run cannot run.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal, Slot

from fashionstudio.core.runs import CONSOLE_FILE
from fashionstudio.core.run_folder import STOP_FILE

log = logging.getLogger(__name__)

STDERR_TAIL_LINES = 40
STOP_GRACE_MS = 120_000   # a checkpoint of a large model on a slow disk can take a while
HAS_SIGTERM = sys.platform != "win32"


def trainer_environment() -> QProcessEnvironment:
    """The app's environment, unbuffered, with the folder holding the ``training`` package on PYTHONPATH (so
    ``-m training`` works from a source checkout whatever the working folder)."""
    env = QProcessEnvironment.systemEnvironment()
    env.insert("PYTHONUNBUFFERED", "1")
    env.insert("PYTHONSAFEPATH", "1")  # as -P: no working folder on sys.path (the frozen bundle ignores -P)
    spec = importlib.util.find_spec("training")
    if spec is not None and spec.origin:
        root = str(Path(spec.origin).resolve().parents[1])
        current = env.value("PYTHONPATH", "")
        if root not in current.split(os.pathsep):
            env.insert("PYTHONPATH", os.pathsep.join(p for p in (root, current) if p))
    return env


def trainer_working_dir() -> Path:
    """An empty folder of the app's own to start trainers in: not the run folder, nothing importable."""
    try:
        from fashionstudio.core.applog import app_data_dir

        folder = app_data_dir() / "trainer-cwd"
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError:
        return Path(tempfile.gettempdir())


def safe_python_args() -> list[str]:
    """Interpreter options before ``-m training``: ``-P`` (safe path) on a real interpreter; the frozen bundle's
    launcher takes only ``-m`` and has no working folder on its path anyway."""
    return [] if getattr(sys, "frozen", False) else ["-P"]


class RunProcess(QObject):
    """One trainer process working on one run folder."""

    output = Signal(str, bool)        # a line of output, True when it came from stderr
    started = Signal()
    finished = Signal(int, bool)      # exit code, True if the process crashed or was killed

    def __init__(self, run_dir: str | os.PathLike, command: str, args: list[str] | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir).absolute()  # the trainer does not start in the app's working folder
        self.command = command
        self.args = list(args or [])
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
        self.exit_code: int | None = None
        self.crashed = False
        self.stop_requested = False
        self.pid: int | None = None   # the trainer's process id once started (it is the run lock's holder)
        self._partial = {False: "", True: ""}
        self._console = None
        self.proc = QProcess(self)
        self.proc.setProcessEnvironment(trainer_environment())
        self.proc.setWorkingDirectory(str(trainer_working_dir()))
        self.proc.readyReadStandardOutput.connect(lambda: self._read(False))
        self.proc.readyReadStandardError.connect(lambda: self._read(True))
        self.proc.finished.connect(self._on_finished)
        self.proc.errorOccurred.connect(self._on_error)
        self.proc.started.connect(self._on_started)
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self.kill)

    def program_and_args(self) -> tuple[str, list[str]]:
        return sys.executable, [*safe_python_args(), "-m", "training", self.command, str(self.run_dir), *self.args]

    def start(self) -> None:
        program, args = self.program_and_args()
        if self.command in ("run", "resume"):
            try:  # a STOP left by a trainer that was killed would stop this one before its first step
                (self.run_dir / STOP_FILE).unlink(missing_ok=True)
            except OSError:
                pass
        try:
            self._console = open(self.run_dir / CONSOLE_FILE, "a", encoding="utf-8")
            shown = args[args.index("training") + 2:]
            self._console.write(f"\n$ python -m training {self.command} {' '.join(shown)}\n")
        except OSError:
            self._console = None
        log.info("starting %s %s", program, " ".join(args))
        self.proc.start(program, args)

    def _on_started(self) -> None:
        self.pid = int(self.proc.processId()) or None
        self.started.emit()

    def is_running(self) -> bool:
        return self.proc.state() != QProcess.ProcessState.NotRunning

    def stop(self) -> None:
        """Ask the trainer to checkpoint and stop (STOP file, and SIGTERM where there is one); kill it if it has
        not ended after the grace period."""
        if not self.is_running():
            return
        self.stop_requested = True
        try:
            (self.run_dir / STOP_FILE).write_text("stop requested by FashionStudio\n", encoding="utf-8")
        except OSError as exc:
            if not HAS_SIGTERM:  # no other way to ask: end it now rather than after the grace period
                self._emit_line(f"Cannot write '{self.run_dir / STOP_FILE}' to ask the trainer to stop "
                                f"({exc.strerror or exc}): ending it without a last checkpoint.", True)
                self.kill()
                return
        if HAS_SIGTERM:
            self.proc.terminate()
        self._kill_timer.start(STOP_GRACE_MS)

    def kill(self) -> None:
        if self.is_running():
            self.proc.kill()

    def wait(self, ms: int) -> bool:
        return self.proc.waitForFinished(ms)

    def _read(self, is_err: bool) -> None:
        data = self.proc.readAllStandardError() if is_err else self.proc.readAllStandardOutput()
        text = self._partial[is_err] + bytes(data.data()).decode("utf-8", errors="replace")
        *lines, self._partial[is_err] = text.split("\n")
        for line in lines:
            self._emit_line(line.rstrip("\r"), is_err)

    def _emit_line(self, line: str, is_err: bool) -> None:
        if is_err:
            self.stderr_tail.append(line)
        if self._console is not None:
            try:
                self._console.write(("! " if is_err else "") + line + "\n")
                self._console.flush()
            except OSError:
                self._console = None
        self.output.emit(line, is_err)

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        for is_err in (False, True):
            self._read(is_err)
            if self._partial[is_err]:
                self._emit_line(self._partial[is_err], is_err)
                self._partial[is_err] = ""
        self.exit_code = code
        self.crashed = status == QProcess.ExitStatus.CrashExit
        if self._console is not None:
            self._console.write(f"[exit code {code}{', killed' if self.crashed else ''}]\n")
            self._console.close()
            self._console = None
        self.finished.emit(code, self.crashed)

    @Slot(QProcess.ProcessError)
    def _on_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            message = f"Could not start the trainer ({sys.executable}): {self.proc.errorString()}"
            self._emit_line(message, True)
            self.exit_code = -1
            self.crashed = True
            if self._console is not None:
                self._console.close()
                self._console = None
            self.finished.emit(-1, True)
