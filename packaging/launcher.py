"""Entry point of the frozen FashionStudio bundle (what the installed icon starts).

It only adds what a frozen program needs before handing over to ``fashionstudio.__main__.main``:
``multiprocessing.freeze_support()``, so that a DataLoader worker or any other child process started by the
bundled executable runs its task instead of opening a second FashionStudio window.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    multiprocessing.freeze_support()
    from fashionstudio.__main__ import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(main())
