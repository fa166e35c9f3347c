"""Where training runs live and what a run folder holds: finding run folders under a runs directory (also ones
started from a terminal or copied from another machine) and reading their small files (config, checkpoint list,
console tail). Everything read is untrusted: an unreadable file reads as empty."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from fashionstudio.core.run_folder import CHECKPOINT_DIR, CONFIG_FILE, EVENTS_FILE, open_regular


def default_runs_dir() -> Path:
    """``$FASHIONSTUDIO_RUNS`` if set, else ``runs`` in the user's FashionStudio data folder (never in the app)."""
    env = os.environ.get("FASHIONSTUDIO_RUNS")
    if env:
        return Path(env).expanduser()
    from fashionstudio.core.applog import app_data_dir

    return app_data_dir() / "runs"


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG_FILE).is_file() or (path / EVENTS_FILE).is_file()


def discover_runs(runs_dir: str | os.PathLike, depth: int = 2) -> list[Path]:
    """Every run folder under ``runs_dir`` (a folder holding config.toml or events.jsonl), up to ``depth`` levels
    deep so that a copied-in ``server1/run_a`` is found too; sorted by name. A missing folder has no runs."""
    root = Path(runs_dir)
    found: list[Path] = []

    def walk(folder: Path, level: int) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            return
        for child in children:
            if is_run_dir(child):
                found.append(child)
            elif level < depth:
                walk(child, level + 1)

    walk(root, 1)
    return found


def read_toml_table(path: str | os.PathLike) -> dict[str, Any]:
    """A TOML file as a table; {} when missing or unreadable."""
    try:
        with open_regular(path) as f:
            return tomllib.load(f)
    except (OSError, ValueError, RecursionError):  # TOMLDecodeError, non-UTF-8 bytes, absurd nesting
        return {}


def read_run_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's own config.toml as a table (not layered on its preset); {} when missing or unreadable."""
    return read_toml_table(Path(run_dir) / CONFIG_FILE)


def checkpoint_files(run_dir: str | os.PathLike) -> list[Path]:
    """The run's checkpoint files (step_*.pt and best.pt); a run with any of them can be resumed and exported."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".pt" and not p.name.startswith("."))
    except OSError:
        return []
