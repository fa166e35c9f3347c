"""Run a script or module (like ``python``) and write the names of every module it imported to a file.

    python module_dump.py OUT.txt script.py [args...]
    python module_dump.py OUT.txt -m package.module [args...]

build.py's preflight uses it to check that no module excluded from the bundle is imported by a real run.
"""

from __future__ import annotations

import atexit
import runpy
import sys


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    atexit.register(lambda: open(out, "w", encoding="utf-8").write("\n".join(sorted(sys.modules))))
    if sys.argv[2] == "-m":
        sys.argv = [sys.argv[3], *sys.argv[4:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[2:]
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
