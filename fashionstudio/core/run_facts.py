"""The small files of a run folder that the Train tab shows beside its events, read in one bounded pass.

:func:`read_run_facts` is the only place the tab reads ``config.toml``, the checkpoint folder and ``console.log``;
the tab calls it on a worker thread, never on the GUI thread. A run folder is untrusted and may sit on a slow
share: every read is bounded in bytes, and a name that is not a regular file is never read (opening a FIFO called
``config.toml`` would wait for a writer for ever).
"""

from __future__ import annotations

import os
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionstudio.core.run_folder import CONFIG_FILE, CONSOLE_FILE, EVENTS_FILE, NotRegularFileError, open_regular
from fashionstudio.core.runs import checkpoint_files

CONFIG_TEXT_MAX = 256 << 10     # bytes of config.toml shown and parsed; a longer one is no config the trainer writes
CONSOLE_TAIL_BYTES = 64 << 10
CONSOLE_TAIL_LINES = 300


@dataclass(frozen=True)
class RunFacts:
    """What one read of a run folder found, stamped with when the read began (``time.monotonic()``)."""

    path: Path
    read_at: float
    config: dict[str, Any] = field(default_factory=dict)   # config.toml as a table; {} when missing or unreadable
    config_text: str | None = None    # its text (None: there is none to show)
    config_problem: str = ""          # why the text is missing or cut, as the end of a sentence
    has_checkpoint: bool = False
    console_tail: tuple[str, ...] = ()
    events_mtime: float | None = None

    @property
    def family(self) -> str:
        value = self.config.get("family", "")
        return value if isinstance(value, str) else ""


def read_config(run_dir: str | os.PathLike) -> tuple[dict[str, Any], str | None, str]:
    """``config.toml`` as (table, text, problem): ({}, None, "") when there is none, a ``problem`` (the end of a
    sentence beginning "config.toml ...") when it cannot be read, is too long or is not TOML."""
    path = Path(run_dir) / CONFIG_FILE
    try:
        f = open_regular(path)
    except FileNotFoundError:
        return {}, None, ""
    except NotRegularFileError:
        return {}, None, "is not a regular file"
    except OSError as exc:
        return {}, None, f"cannot be read ({exc.strerror or exc})"
    with f:
        data = f.read(CONFIG_TEXT_MAX + 1)
    text = data[:CONFIG_TEXT_MAX].decode("utf-8", errors="replace")
    if len(data) > CONFIG_TEXT_MAX:
        return {}, text, f"is over {CONFIG_TEXT_MAX >> 10} KiB: only its start is shown, and it is not read"
    try:
        config = tomllib.loads(text)
    except (ValueError, RecursionError):   # TOMLDecodeError, absurd nesting
        return {}, text, "is not valid TOML"
    return config, text, ""


def _console_tail(run_dir: Path, n: int) -> tuple[str, ...]:
    try:
        f = open_regular(run_dir / CONSOLE_FILE)
    except OSError:
        return ()
    with f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - CONSOLE_TAIL_BYTES))
        data = f.read(CONSOLE_TAIL_BYTES)
    return tuple(data.decode("utf-8", errors="replace").splitlines()[-n:]) if n > 0 else ()


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def read_run_facts(run_dir: str | os.PathLike, console_lines: int = CONSOLE_TAIL_LINES) -> RunFacts:
    """Read ``run_dir``'s config, whether it has a checkpoint, the end of its console log and its events' mtime."""
    run_dir = Path(run_dir)
    read_at = time.monotonic()
    config, text, problem = read_config(run_dir)
    return RunFacts(path=run_dir, read_at=read_at, config=config, config_text=text, config_problem=problem,
                    has_checkpoint=bool(checkpoint_files(run_dir)), console_tail=_console_tail(run_dir, console_lines),
                    events_mtime=_mtime(run_dir / EVENTS_FILE))
