"""Sharpen x4: the upscale family's network and pairs, core.upscale's loader, and the tool tabs' option.

GUI: the result first shows at model resolution, the sharpened one follows when results settle, computed on a
worker thread; exports are 4x with the upscaler in the provenance; a missing or bad upscaler leaves the tab
working at model resolution with one sentence in the status bar.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio.core.modelfile import save_model_file
from fashionstudio.core.provenance import read_provenance
from fashionstudio.core.upscale import SharpenError, load_sharpener, missing_sentence
from fashionstudio.models import upscaler

TINY_UP = {"preset": "demo", "resolution": 32, "width": 8, "n_blocks": 1}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def upscale_model(path: Path, name: str = "Tiny sharpen") -> Path:
    torch.manual_seed(0)
    nets = upscaler.build(TINY_UP)
    with torch.no_grad():  # a non-zero tail, so the result is not plain bilinear
        nets["G"].tail[0].weight.normal_(0, 0.05)
    while True:  # see tests/test_extract.py: a header whose first byte is 0x80 is refused as a pickle
        save_model_file(path, "upscale", nets, TINY_UP, resolution=32, name=name)
        if path.read_bytes()[:1] != b"\x80":
            return path
        name += " "


# -- network and pairs ---------------------------------------------------------------------------------------------

def test_network_is_x4_x2_and_starts_as_bilinear():
    x = torch.rand(2, 3, 16, 20) * 2 - 1
    g4 = upscaler.build({"preset": "demo"})["G"]
    assert g4(x).shape == (2, 3, 64, 80)
    assert torch.allclose(g4(x), torch.nn.functional.interpolate(x, scale_factor=4, mode="bilinear"), atol=1e-6)
    assert upscaler.build({"preset": "x2"})["G"](x).shape == (2, 3, 32, 40)
    with pytest.raises(ValueError, match="scale must be 2, 4 or 8"):
        upscaler.build({"preset": "demo", "scale": 3})
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        g4(torch.zeros(1, 1, 16, 16))


def test_pairs_are_degraded_small_copies_redrawn_each_epoch_but_fixed_on_test(tmp_path):
    from training.data.atelier import generate
    from training.data.upscale_pairs import UpscalePairs

    generate("images", tmp_path / "images", 20, resolution=64, seed=1)
    generate("shoes_bags", tmp_path / "sb", 8, resolution=64, seed=1)
    sources = [("images", tmp_path / "images"), ("shoes_bags", tmp_path / "sb")]
    train = UpscalePairs(sources, "train", resolution=16, scale=4, seed=3, clean_share=0.0)
    item = train[0]
    assert item["lr"].shape == (3, 16, 16) and item["hr"].shape == (3, 64, 64)
    assert len(train) == len(train.parts[0]) + len(train.parts[1]) and len(train.parts[1]) % 2 == 0
    assert torch.equal(train[0]["lr"], item["lr"])  # a function of (seed, epoch, index): resumes reproduce it
    area = torch.nn.functional.interpolate(item["hr"][None], size=(16, 16), mode="area")[0]
    assert 0.005 < float((item["lr"] - area).abs().mean()) < 0.3  # degraded, but the same picture
    train.set_epoch(1)
    assert not torch.equal(train[0]["lr"], item["lr"])
    test = UpscalePairs(sources, "test", resolution=16, scale=4, seed=3)
    first = test[0]["lr"]
    test.set_epoch(5)
    assert torch.equal(test[0]["lr"], first)
    crops = UpscalePairs(sources, "train", resolution=16, scale=4, seed=3, crop=32)
    assert crops[0]["hr"].shape == (3, 32, 32) and crops[0]["lr"].shape == (3, 8, 8)
    assert test[0]["hr"].shape == (3, 64, 64)  # held-out pairs are whole pictures
    with pytest.raises(ValueError, match="multiple of the scale"):
        UpscalePairs(sources, "train", resolution=16, scale=4, crop=30)


def test_a_short_run_beats_bilinear_on_held_out_pairs(tmp_path, capsys):
    """120 steps on tiny atelier pairs: the trained network's held-out L1 is below bilinear upscaling's."""
    from training import checkpoint as ckpt
    from training import runner
    from training.config import load_config, to_toml
    from training.trainers.upscale import UpscaleTrainer

    run = tmp_path / "run"
    run.mkdir()
    cfg = {"family": "upscale", "preset": "demo", "seed": 2, "steps": 120, "batch_size": 4,
           "arch": {"resolution": 8, "width": 16, "n_blocks": 1},
           "data": {"kind": "atelier", "size": 16, "path": str(tmp_path / "cache")},
           "optim": {"lr": {"G": 3e-3}}, "loss": {"feature": 0.0},
           "log": {"log_every": 10, "sample_every": 0, "checkpoint_every": 1000, "eval_every": 0}}
    (run / "config.toml").write_text(to_toml(cfg))
    assert runner.main(["run", str(run)]) == 0
    trainer = UpscaleTrainer(load_config(run), torch.device("cpu"))
    trainer.nets["G"].load_state_dict(ckpt.load_checkpoint(ckpt.latest_checkpoint(run))["trainer"]["networks"]["G"])
    trainer.nets["G"].eval()
    test = trainer.build_dataset(run, "test")
    metrics = trainer.evaluate(trainer.fixed_inputs(test, 16))
    assert metrics["l1"] < 0.9 * metrics["l1_bilinear"], metrics


# -- core loader ---------------------------------------------------------------------------------------------------

def test_loader_sentences_for_missing_bad_and_wrong_models(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(tmp_path / "none"))
    with pytest.raises(SharpenError) as missing:
        load_sharpener()
    assert str(missing.value) == missing_sentence() and "upscale.safetensors" in str(missing.value)
    bad = tmp_path / "upscale.safetensors"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(SharpenError, match=r"upscale\.safetensors could not be used.*model's own size"):
        load_sharpener(bad)
    from fashionstudio.models import pixeldtgan

    other = tmp_path / "other.safetensors"
    cfg = {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8}
    save_model_file(other, "pixeldtgan", pixeldtgan.build(cfg, which=("G",)), cfg, resolution=32)
    with pytest.raises(SharpenError, match="is a pixeldtgan model, not a sharpening"):
        load_sharpener(other)


def test_sharpener_makes_any_result_four_times_larger(tmp_path):
    sharpener = load_sharpener(upscale_model(tmp_path / "upscale.safetensors"))
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 40, 3), dtype=np.uint8))
    out = sharpener.sharpen(img)
    assert out.size == (160, 96) and out.mode == "RGB"
    prov = sharpener.provenance()
    assert prov["model"] == "upscale.safetensors" and prov["scale"] == 4 and len(prov["model_sha256"]) == 64
    with pytest.raises(SharpenError, match="up to 512 px"):
        sharpener.sharpen(Image.new("RGB", (600, 600)))


# -- the tool tabs -------------------------------------------------------------------------------------------------

def _extract_tab(qtbot, tmp_path, monkeypatch, upscale: str):
    """An Extract tab on a tiny PixelDTGAN with ``upscale`` = "good", "bad" or "missing" as upscale.safetensors."""
    from fashionstudio.gui.model_manager import ModelManager
    from fashionstudio.gui.tabs.extract_tab import ExtractTab
    from test_extract import extract_model

    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("FASHIONSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(folder))
    extract_model(folder / "extract.safetensors")
    if upscale == "good":
        upscale_model(folder / "upscale.safetensors")
    elif upscale == "bad":
        (folder / "upscale.safetensors").write_bytes(b"\x00" * 64)
    tab = ExtractTab(ModelManager("cpu"))
    qtbot.addWidget(tab)
    messages: list[str] = []
    tab.status_message.connect(messages.append)
    tab.activate()
    qtbot.waitUntil(lambda: tab.model is not None, timeout=10_000)
    return tab, messages


def _photo(tmp_path: Path) -> Path:
    from test_extract import person

    path = tmp_path / "photo.png"
    person().save(path)
    return path


def test_tab_shows_model_size_first_then_the_sharpened_result_and_exports_it(qtbot, tmp_path, monkeypatch):
    from fashionstudio.core import upscale as core_upscale

    threads: list[threading.Thread] = []
    real = core_upscale.Sharpener.sharpen
    monkeypatch.setattr(core_upscale.Sharpener, "sharpen",
                        lambda self, img: threads.append(threading.current_thread()) or real(self, img))
    tab, messages = _extract_tab(qtbot, tmp_path, monkeypatch, "good")
    qtbot.waitUntil(lambda: tab.sharpen.check.isEnabled(), timeout=10_000)
    assert tab.sharpen.check.isChecked()  # on by default when the model is there
    tab.open_image(_photo(tmp_path))
    qtbot.waitUntil(lambda: tab.result_image() is not None, timeout=10_000)
    assert tab.result_image().size == (32, 32)  # the live result: model resolution
    qtbot.waitUntil(lambda: tab.result_image().size == (128, 128), timeout=10_000)
    assert threads and all(t is not threading.main_thread() for t in threads)

    out = read_provenance(tab.export_result(tmp_path / "out.png"))
    assert Image.open(tmp_path / "out.png").size == (128, 128)
    assert out["upscaler"]["model"] == "upscale.safetensors" and out["upscaler"]["from_size"] == [32, 32]
    assert out["model"] == "extract.safetensors"

    from test_extract import person

    other = tmp_path / "other.png"
    person((60, 40), backdrop=(200, 210, 220)).save(other)
    tab.open_image(other)  # a new input, then undo: the sharpened result comes back, still known as such
    qtbot.waitUntil(lambda: tab.source_path == other and tab.result_image() is not None, timeout=10_000)
    assert tab.undo() and tab.result_image().size == (128, 128)
    assert read_provenance(tab.export_result(tmp_path / "undo.png"))["upscaler"]["from_size"] == [32, 32]

    tab.sharpen.check.setChecked(False)  # off: back to the generator's own picture, exported as such
    assert tab.result_image().size == (32, 32)
    assert read_provenance(tab.export_result(tmp_path / "off.png"))["upscaler"] is None
    assert not any("Sharpen" in m for m in messages)


def test_changing_results_are_sharpened_only_once_they_settle(qtbot, tmp_path, monkeypatch):
    """A background colour change (a new result) every 40 ms: nothing is sharpened until they stop."""
    from fashionstudio.core import upscale as core_upscale

    calls: list[int] = []
    real = core_upscale.Sharpener.sharpen
    monkeypatch.setattr(core_upscale.Sharpener, "sharpen", lambda self, img: calls.append(1) or real(self, img))
    tab, _ = _extract_tab(qtbot, tmp_path, monkeypatch, "good")
    qtbot.waitUntil(lambda: tab.sharpen.check.isEnabled(), timeout=10_000)
    tab.open_image(_photo(tmp_path))
    qtbot.waitUntil(lambda: tab.result_image() is not None and tab.result_image().size == (128, 128),
                    timeout=10_000)
    calls.clear()
    for i in range(8):  # like a drag: faster than the settle time
        tab.set_background((10 * i, 200, 30))
        qtbot.wait(40)
        assert tab.result_image().size == (32, 32)
    assert calls == []
    qtbot.waitUntil(lambda: tab.result_image().size == (128, 128), timeout=10_000)
    assert len(calls) == 1


@pytest.mark.parametrize("upscale, words", [("missing", "no sharpening model"), ("bad", "could not be used")])
def test_missing_or_bad_upscaler_leaves_the_tab_at_model_size_with_one_sentence(qtbot, tmp_path, monkeypatch,
                                                                                  upscale, words):
    tab, messages = _extract_tab(qtbot, tmp_path, monkeypatch, upscale)
    qtbot.waitUntil(lambda: any("Sharpen x4 is off" in m for m in messages), timeout=10_000)
    sentences = [m for m in messages if "Sharpen x4 is off" in m]
    assert len(sentences) == 1 and words in sentences[0] and sentences[0].endswith("model's own size.")
    assert not tab.sharpen.check.isEnabled()
    tab.open_image(_photo(tmp_path))
    qtbot.waitUntil(lambda: tab.result_image() is not None, timeout=10_000)
    qtbot.wait(400)
    assert tab.result_image().size == (32, 32)
    prov = read_provenance(tab.export_result(tmp_path / "out.png"))
    assert prov["upscaler"] is None and prov["upscaler_note"] == "unavailable"


# -- the batch CLI -------------------------------------------------------------------------------------------------

def test_cli_sharpens_every_output_unless_asked_not_to(tmp_path, monkeypatch, capsys):
    from fashionstudio import cli
    from test_extract import extract_model, person

    folder, photos = tmp_path / "models", tmp_path / "in"
    folder.mkdir()
    photos.mkdir()
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(folder))
    extract_model(folder / "extract.safetensors")
    person().save(photos / "a.png")
    person((60, 60)).save(photos / "b.png")

    assert cli.main(["--device", "cpu", "extract", str(photos), str(tmp_path / "plain"), "-q"]) == 0
    assert "no sharpening model" in capsys.readouterr().err  # missing: one note, results at model size
    assert Image.open(tmp_path / "plain" / "a.png").size == (32, 32)

    upscale_model(folder / "upscale.safetensors")
    assert cli.main(["--device", "cpu", "extract", str(photos), str(tmp_path / "sharp"), "-q"]) == 0
    assert "Sharpened 2 results x4" in capsys.readouterr().err
    for name in ("a.png", "b.png"):
        assert Image.open(tmp_path / "sharp" / name).size == (128, 128)
        prov = read_provenance(tmp_path / "sharp" / name)
        assert prov["upscaler"]["model"] == "upscale.safetensors" and prov["model"] == "extract.safetensors"

    assert cli.main(["--device", "cpu", "extract", str(photos), str(tmp_path / "off"), "-q", "--no-sharpen"]) == 0
    assert Image.open(tmp_path / "off" / "a.png").size == (32, 32)
    assert "upscaler" not in read_provenance(tmp_path / "off" / "a.png")

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert cli.main(["--device", "cpu", "extract", str(photos), str(tmp_path / "x"), "--upscaler", str(bad)]) == 2
    assert "bad.safetensors could not be used" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["pose", "extract", "match", "generate"])
def test_every_tool_tab_offers_sharpening_and_records_it(qtbot, tmp_path, monkeypatch, name):
    """Each tab has the check box in its side panel, and its exports say whether they were sharpened."""
    import importlib

    from fashionstudio.gui.model_manager import ModelManager

    monkeypatch.setenv("FASHIONSTUDIO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(tmp_path / "none"))
    module = importlib.import_module(f"fashionstudio.gui.tabs.{name}_tab")
    cls = next(c for c in vars(module).values() if isinstance(c, type) and getattr(c, "tool", None) == name)
    tab = cls(ModelManager("cpu"))
    qtbot.addWidget(tab)
    messages: list[str] = []
    tab.status_message.connect(messages.append)
    assert tab.side_panel.isAncestorOf(tab.sharpen.check) and tab.sharpen.check.text() == "Sharpen x4"
    tab.activate()
    qtbot.waitUntil(lambda: any("Sharpen x4 is off" in m for m in messages), timeout=5000)
    assert not tab.sharpen.check.isEnabled()
    assert tab.provenance()["upscaler"] is None
    tab.shutdown()
