"""A hostile model file opened in the app: the tab shows the loader's sentence at once, builds nothing, keeps
working, and a model whose output is not numbers gets its sentence instead of a black picture."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from fashionstudio.core.modelfile import save_model_file
from fashionstudio.gui.tabs.extract_tab import ExtractTab
from fashionstudio.models import pixeldtgan
from qt_helpers import drop_file, open_model_and_wait
from test_hostile_model_files import rewrite_meta

TINY = {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8}


def extract_model(path: Path, weight_scale: float = 1.0) -> Path:
    torch.manual_seed(0)
    nets = pixeldtgan.build(TINY, which=("G",))
    if weight_scale != 1.0:
        with torch.no_grad():
            for p in nets["G"].parameters():
                if p.dim() > 1:
                    p.mul_(weight_scale)
    name = "Tiny extract"
    while True:  # keep the header length's low byte off 0x80, as the other GUI tests do
        save_model_file(path, "pixeldtgan", nets, TINY, resolution=32, name=name)
        if path.read_bytes()[:1] != b"\x80":
            return path
        name += " "


@pytest.fixture(autouse=True)
def _env(isolated_home):
    """Own settings and no shipped models for every test here."""


@pytest.fixture
def tab(open_tool_tab):
    return open_tool_tab(ExtractTab, (1000, 640))


def person() -> Image.Image:
    img = Image.new("RGB", (40, 56), (236, 232, 226))
    img.paste((40, 70, 160), (10, 12, 30, 44))
    return img


def test_a_memory_bomb_model_is_refused_by_name_and_the_tab_keeps_working(tab, qtbot, tmp_path):
    bomb = rewrite_meta(extract_model(tmp_path / "bomb.safetensors"), lambda m: m["config"].update(g_base=10**9))
    tab.open_model(bomb)
    qtbot.waitUntil(lambda: "'g_base'" in tab.model_message(), timeout=10_000)
    assert tab.model is None
    open_model_and_wait(tab, qtbot, extract_model(tmp_path / "good.safetensors"))
    photo = tmp_path / "look.png"
    person().save(photo)
    drop_file(tab.source_canvas, photo)
    qtbot.waitUntil(lambda: tab.result_image() is not None, timeout=10_000)


def test_a_model_whose_output_overflows_gets_a_sentence_not_a_black_picture(tab, qtbot, tmp_path):
    open_model_and_wait(tab, qtbot, extract_model(tmp_path / "huge.safetensors", weight_scale=1e30))
    photo = tmp_path / "look.png"
    person().save(photo)
    drop_file(tab.source_canvas, photo)

    def shown() -> str:
        texts = [tab.source_canvas.error_text() or "", getattr(tab.result_canvas, "error_text", lambda: "")() or "",
                 tab.model_message() or ""]
        return " ".join(texts)

    qtbot.waitUntil(lambda: "invalid numbers" in shown(), timeout=10_000)
    assert tab.result_image() is None
