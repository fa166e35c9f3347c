"""``python -m training <command> ...`` (also installed as ``fashionstudio-train``).

Each command lives in its own module and exposes ``main(argv: list[str]) -> int``; this file only dispatches,
importing the one module a command needs.
"""

from __future__ import annotations

import importlib
import os
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("training.runner", "train from RUN_DIR/config.toml"),
    "resume": ("training.runner", "continue a stopped run from its last checkpoint"),
    "export": ("training.export", "write the app model file of a run"),
    "evaluate": ("training.metrics.evaluate", "compute FID/KID/PR/IS/SSIM for a run or model file"),
    "synth": ("training.data.atelier_cli", "generate synthetic atelier datasets in the real formats"),
    "check-data": ("training.data.check", "report counts, missing annotations and unreadable files"),
    "card": ("training.model_card", "write a model card from a model file and its evaluation report"),
}


def _usage() -> str:
    lines = ["usage: python -m training <command> [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


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
    sys.exit(main())
