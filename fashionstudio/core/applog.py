"""Where FashionStudio keeps its own files (log, settings in tests) and how it logs.

Qt-free on purpose: the platform rules are applied by hand (XDG on Linux, %APPDATA% on Windows,
~/Library/Application Support on macOS). ``FASHIONSTUDIO_HOME`` overrides all of them; tests point it at a
temporary folder (and under ``FASHIONSTUDIO_TESTING`` without a home, a temporary folder is used). Nothing is ever written inside the installed package or the app bundle.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import tempfile
from pathlib import Path

APP_DIR_NAME = "FashionStudio"
LOG_FILE_NAME = "fashionstudio.log"
_LOG_MAX_BYTES = 1_000_000
_LOG_BACKUPS = 3
_handler: logging.Handler | None = None
_testing_home: Path | None = None


def app_data_dir() -> Path:
    """The per-user folder for FashionStudio's data, following the platform's convention (created on demand)."""
    global _testing_home
    override = os.environ.get("FASHIONSTUDIO_HOME")
    if override:
        base = Path(override).expanduser()
    elif os.environ.get("FASHIONSTUDIO_TESTING"):
        # A test that forgot to set a home must still never write into the user's real folder.
        if _testing_home is None:
            _testing_home = Path(tempfile.mkdtemp(prefix="fashionstudio-test-home-"))
        base = _testing_home
    elif sys.platform == "win32":
        root = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        base = Path(root) / APP_DIR_NAME
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    else:
        root = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        base = Path(root) / APP_DIR_NAME
    base.mkdir(parents=True, exist_ok=True)
    return base


def log_dir() -> Path:
    """The folder holding the log file (Help > Open log folder shows it)."""
    path = app_data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_file() -> Path:
    return log_dir() / LOG_FILE_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Send the ``fashionstudio`` loggers to a rotating log file; idempotent. Returns the log file path."""
    global _handler
    path = log_file()
    root = logging.getLogger("fashionstudio")
    if _handler is not None and Path(getattr(_handler, "baseFilename", "")) == path:
        return path
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    _handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=_LOG_MAX_BYTES, backupCount=_LOG_BACKUPS, encoding="utf-8"
    )
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    root.addHandler(_handler)
    root.setLevel(level)
    return path
