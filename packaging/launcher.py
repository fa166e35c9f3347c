"""Entry point of the frozen FashionStudio bundle (what the installed icon starts).

It adds what a frozen program needs before handing over to ``fashionstudio.__main__.main``:

- ``multiprocessing.freeze_support()``, so that a DataLoader worker or any other child process started by the
  bundled executable runs its task instead of opening a second FashionStudio window;
- ``-m training ...``: the Train tab starts the trainer as ``sys.executable -m training run RUN_DIR``. In the
  bundle ``sys.executable`` is this program, not a Python interpreter, so it answers that one ``-m`` itself and
  the same command line works from a checkout and from the bundle.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys

# What ``<bundle executable> -m NAME ...`` runs: only these, the bundle is not a general Python interpreter.
RUNNABLE_MODULES = {"training": "training.__main__"}


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) >= 2 and args[0] == "-m" and args[1] in RUNNABLE_MODULES:
        sys.argv = [sys.argv[0], *args[2:]]
        return int(importlib.import_module(RUNNABLE_MODULES[args[1]]).main(args[2:]) or 0)
    from fashionstudio.__main__ import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
