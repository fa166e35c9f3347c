"""Run a script or module (like ``python``) and write the names of every module it imported to a file.

    python module_dump.py OUT.txt script.py [args...]
    python module_dump.py OUT.txt -m package.module [args...]

build.py's preflight uses it to run the app as the bundle will: every module that bundle_rules.py excludes is
blocked (importing it raises ModuleNotFoundError, as in the bundle), so a hard import of an excluded module
fails the run, while an optional ``try: import ...`` is tolerated exactly as it will be in the bundle.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_rules  # noqa: E402

sys.path.pop(0)


class BlockExcluded(importlib.abc.MetaPathFinder):
    """Makes the modules the bundle leaves out unimportable, as they will be in the bundle."""

    def find_spec(self, fullname, path=None, target=None):
        if not bundle_rules.is_excluded_module(fullname):
            return None
        if importlib.machinery.PathFinder.find_spec(fullname, path) is None:
            return None  # not installed here either: the ordinary "not found", as in the bundle
        raise ModuleNotFoundError(f"No module named '{fullname}' (excluded from the bundle)", name=fullname)


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    sys.meta_path.insert(0, BlockExcluded())
    atexit.register(lambda: open(out, "w", encoding="utf-8").write("\n".join(sorted(sys.modules))))
    if sys.argv[2] == "-m":
        sys.argv = [sys.argv[3], *sys.argv[4:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        sys.argv = sys.argv[2:]
        runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
