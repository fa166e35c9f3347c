"""``python -m training <command> ...`` (also installed as ``fashionstudio-train``).

Each command lives in its own module and exposes ``main(argv: list[str]) -> int``; this file only dispatches,
importing the one module a command needs.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("training.runner", "train from RUN_DIR/config.toml"),
    "resume": ("training.runner", "continue a stopped run from its last checkpoint"),
    "export": ("training.export", "write the app model file of a run"),
    "evaluate": ("training.metrics.evaluate", "compute FID/KID/PR/IS/SSIM for a run or model file"),
    "synth": ("training.data.atelier_cli", "generate synthetic atelier datasets in the real formats"),
    "check-data": ("training.data.check", "report counts, missing annotations and unreadable files"),
    "card": ("training.model_card", "write a model card from a model file and its evaluation report"),
    "familiarity": ("training.familiarity", "write a model file's training-input statistics as a sidecar"),
}


def _usage() -> str:
    lines = ["usage: python -m training <command> [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def drop_working_folder_from_path() -> None:
    """``python -m training`` puts the working folder first on ``sys.path``; started inside a run folder, that
    folder's ``numpy.py`` would shadow numpy and run. Keep the working folder only when it is the source checkout
    holding this package. (``python -P -m training``, which the Train tab uses, never adds it.)"""
    try:
        cwd = Path.cwd().resolve()
    except OSError:  # the working folder was deleted: nothing to import from it either
        return
    source_root = Path(__file__).resolve().parents[1]
    if cwd == source_root:
        return
    keep = []
    for entry in sys.path:  # the entry -m adds, and any empty PYTHONPATH element (which also means "here")
        try:
            same = Path(entry or ".").resolve() == cwd
        except (OSError, RuntimeError):
            same = False
        if not same:
            keep.append(entry)
    sys.path[:] = keep


def main(argv: list[str] | None = None) -> int:
    # Before torch is imported: busy-waiting OpenMP threads slow every other process on a shared CPU (the app's
    # GUI among them) far more than they speed up training.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command '{command}'\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main([command, *rest]) or 0)


if __name__ == "__main__":
    drop_working_folder_from_path()
    sys.exit(main())
