"""The layering contracts (``[tool.importlinter]`` in pyproject.toml, checked by import-linter, which reads every
import statement, also ones inside functions): the app (``fashionstudio``) never imports ``training``;
``fashionstudio.core`` and ``fashionstudio.models`` import neither Qt nor ``training``; the family declarations
import nothing heavy; ``training`` never imports the GUI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = REPO / "pyproject.toml"

pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install -e '.[test]'")


def _lint(root: Path) -> subprocess.CompletedProcess:
    """Run the repository's contracts over the packages found under ``root`` (in a fresh interpreter, so the
    packages it analyses are the ones on ``root``)."""
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(PYPROJECT)!r}, no_cache=True, no_logo=True))")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_repository_keeps_its_layering_contracts():
    done = _lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("fashionstudio/core/bad.py", "def f():\n    import training.config\n", "fashionstudio.core imports neither"),
    ("fashionstudio/core/bad.py", "import PySide6.QtCore\n", "fashionstudio.core imports neither"),
    ("fashionstudio/gui/bad.py", "def f():\n    from training.config import preset_path\n",
     "the app (fashionstudio) never imports training"),
    ("fashionstudio/models/bad.py", "from training import trainers\n", "fashionstudio.models imports neither"),
    ("fashionstudio/families/bad.py", "import torch\n", "fashionstudio.families is plain data"),
    ("training/bad.py", "from fashionstudio.gui import app\n", "training never imports fashionstudio.gui"),
])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, broken):
    """A copy of the package layout with one forbidden import (also a lazy one inside a function) fails."""
    for package in ("fashionstudio", "fashionstudio/core", "fashionstudio/models", "fashionstudio/families",
                    "fashionstudio/gui", "training", "training/trainers"):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "fashionstudio/gui/app.py").write_text("import PySide6.QtWidgets\n")
    (tmp_path / "fashionstudio/models/net.py").write_text("import torch\n")
    (tmp_path / "training/config.py").write_text("from fashionstudio.core import registry\n")
    (tmp_path / "fashionstudio/core/registry.py").write_text("")
    clean = _lint(tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    (tmp_path / module).write_text(line)
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert f"{broken}" in done.stdout and "BROKEN" in done.stdout, done.stdout
