"""The README: its first two commands stay as they are, its demo-model table is what the model cards say, and
its screenshot command names a picture that ships."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _tool():
    spec = importlib.util.spec_from_file_location("readme_table", REPO / "tools" / "readme_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_first_two_commands_are_unchanged():
    blocks = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    assert blocks[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/fashionstudio",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest",
    ]


def test_cpu_only_linux_gets_a_way_to_the_cpu_torch_build():
    assert "--index-url https://download.pytorch.org/whl/cpu" in README


def test_demo_model_table_is_generated_from_the_cards():
    tool = _tool()
    assert tool.current_table(README) == tool.render_table(), "run: python tools/readme_table.py"


def test_the_table_reads_the_evaluation_files(tmp_path, monkeypatch):
    """A card updated later changes the table: the numbers are read, not typed into the tool."""
    tool = _tool()
    models = tmp_path / "models"
    models.mkdir()
    for path in (REPO / "resources" / "models").iterdir():
        if path.suffix in (".json", ".safetensors"):
            (models / path.name).symlink_to(path)
    ev = json.loads((REPO / "resources" / "models" / "match.eval.json").read_text())
    ev["agreement"]["shoe_to_bag"]["pattern"] = 0.123
    (models / "match.eval.json").unlink()
    (models / "match.eval.json").write_text(json.dumps(ev))
    monkeypatch.setattr(tool, "MODELS", models)
    table = tool.render_table()
    other = 100 * ev["agreement"]["bag_to_shoe"]["pattern"]
    assert f"pattern kept: 12.3% / {other:.1f}%" in table and "below chance" not in table


def test_screenshot_command_uses_a_shipped_sample():
    command = re.search(r"--screenshot resources/screenshot\.png (\S+?)`", README)
    assert command is not None
    assert (REPO / command.group(1)).is_file()
