"""One trainer per run folder: an exclusive lock on ``RUN_DIR/.lock`` and a note saying who holds it.

Two trainers on one folder would interleave their events and overwrite each other's checkpoints, so ``run`` and
``resume`` hold :class:`RunLock` for their whole life. The lock is an OS lock (``filelock``: ``flock`` on POSIX,
``msvcrt.locking`` on Windows), so it disappears with its process however that process ends; nothing stale is
left to clean up. Because taking the lock truncates the lock file, the holder's details (pid, machine, command,
start time) go in a separate small JSON file beside it, read only to word the sentence.

The Train tab asks :func:`lock_holder` to show a run that some other process trains as "running elsewhere". The
probe takes and drops the lock at once; the trainer waits a few seconds for its lock, so a probe at the instant
a trainer starts never makes that trainer fail.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from fashionstudio.core.atomic import atomic_write

LOCK_FILE = ".lock"
HOLDER_FILE = ".lock-holder.json"
ACQUIRE_TIMEOUT_S = 3.0
_MAX_HOLDER_BYTES = 4096


class RunLocked(RuntimeError):
    """The run folder is being trained by another process; the message names it."""

    def __init__(self, run_dir: Path, holder: dict[str, Any]):
        super().__init__(holder_sentence(run_dir, holder))
        self.run_dir = run_dir
        self.holder = holder


def read_holder(run_dir: str | os.PathLike) -> dict[str, Any]:
    """What the holder wrote about itself; {} when missing or not a small JSON object (it is only for words)."""
    try:
        with open(Path(run_dir) / HOLDER_FILE, "rb") as f:
            raw = f.read(_MAX_HOLDER_BYTES + 1)
        if len(raw) > _MAX_HOLDER_BYTES:
            return {}
        data = json.loads(raw)
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, Any] = {}
    if isinstance(data.get("pid"), int) and not isinstance(data.get("pid"), bool):
        out["pid"] = data["pid"]
    for key in ("host", "command"):
        if isinstance(data.get(key), str):
            out[key] = data[key][:100]
    if isinstance(data.get("since"), (int, float)) and not isinstance(data.get("since"), bool):
        out["since"] = float(data["since"])
    return out


def holder_sentence(run_dir: str | os.PathLike, holder: dict[str, Any]) -> str:
    """"The run folder 'x' is being trained by process 1234 (resume, on host y, since 14:02) ..." """
    who = f"process {holder['pid']}" if "pid" in holder else "another process"
    details = [holder["command"]] if holder.get("command") else []
    if holder.get("host") and holder.get("host") != socket.gethostname():
        details.append(f"on {holder['host']}")
    if "since" in holder:
        details.append("since " + time.strftime("%Y-%m-%d %H:%M", time.localtime(holder["since"])))
    extra = f" ({', '.join(details)})" if details else ""
    return (f"The run folder '{run_dir}' is already being trained by {who}{extra}. Two trainers on one folder "
            "would overwrite each other's checkpoints: stop that one first, or wait for it to finish.")


class RunLock:
    """The exclusive lock of one run folder, with the holder note written while it is held."""

    def __init__(self, run_dir: str | os.PathLike, command: str = "run") -> None:
        self.run_dir = Path(run_dir)
        self.command = command
        self._lock = FileLock(str(self.run_dir / LOCK_FILE), thread_local=False)

    @property
    def held(self) -> bool:
        return self._lock.is_locked

    def acquire(self, timeout: float = ACQUIRE_TIMEOUT_S) -> None:
        """Take the lock or raise :class:`RunLocked` naming the holder (``OSError`` if the folder is unwritable)."""
        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            raise RunLocked(self.run_dir, read_holder(self.run_dir)) from None
        except NotImplementedError:  # a file system without locks (some network shares): train unguarded
            return
        note = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command, "since": time.time()}
        try:
            with atomic_write(self.run_dir / HOLDER_FILE) as tmp:
                tmp.write_text(json.dumps(note), encoding="utf-8")
        except OSError:
            pass  # the lock itself is what keeps a second trainer out; the note only words the sentence

    def release(self) -> None:
        if not self._lock.is_locked:
            return
        if read_holder(self.run_dir).get("pid") == os.getpid():
            try:
                (self.run_dir / HOLDER_FILE).unlink(missing_ok=True)
            except OSError:
                pass
        self._lock.release(force=True)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lock_holder(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The holder (maybe {} when it left no note) if some process holds the run's lock now, else None.

    A folder without a lock file was never locked (or is from an older version): None, and nothing is created."""
    path = Path(run_dir) / LOCK_FILE
    if not path.is_file():
        return None
    probe = FileLock(str(path), thread_local=False)
    try:
        probe.acquire(timeout=0)
    except Timeout:
        return read_holder(run_dir)
    except (OSError, NotImplementedError):  # a read-only copy, or no locks here: nothing to report
        return None
    probe.release(force=True)
    return None
