"""fashionstudio.core must stay usable without Qt: importing every core module never imports PySide6."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import fashionstudio.core

SCRIPT = """
import importlib, json, pkgutil, sys
import fashionstudio.core as core
names = sorted(m.name for m in pkgutil.walk_packages(core.__path__, "fashionstudio.core."))
for name in names:
    importlib.import_module(name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"))
print(json.dumps({"modules": names, "qt": qt}))
"""


def test_core_modules_import_without_qt():
    expected = {m.name for m in pkgutil.walk_packages(fashionstudio.core.__path__, "fashionstudio.core.")}
    assert {"fashionstudio.core.images", "fashionstudio.core.provenance", "fashionstudio.core.devices",
            "fashionstudio.core.applog"} <= expected
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(report["modules"]) == expected
    assert report["qt"] == [], f"core pulled in Qt: {report['qt']}"
