"""Generated pictures that are not numbers (NaN/inf) stop with a sentence; pictures of one flat colour carry a
warning sentence, in the core results, the batch report, the provenance and the CLI's exit code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio import cli
from fashionstudio.core.extract import GarmentExtractor
from fashionstudio.core.match import StyleMatcher
from fashionstudio.core.modelfile import LoadedModel, load_model_file, save_model_file
from fashionstudio.core.pipeline_common import (DegenerateOutputError, check_finite, check_generated,
                                                flat_output_warning)
from fashionstudio.core.provenance import read_provenance
from fashionstudio.models import cyclegan, pixeldtgan

EXTRACT = {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8}
MATCH = {"preset": "demo", "resolution": 32, "g_base": 4, "g_res_blocks": 1, "d_base": 8}


def photo(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (40, 48), (230, 228, 224))
    img.paste(tuple(int(v) for v in rng.integers(20, 200, 3)), (8, 8, 32, 40))
    return img


def in_memory(family: str, nets: dict, config: dict) -> LoadedModel:
    meta = {"family": family, "name": "Broken", "config": config, "resolution": 32, "networks": list(nets)}
    for net in nets.values():
        net.eval().requires_grad_(False)
    return LoadedModel(path=Path("broken.safetensors"), sha256="0" * 64, meta=meta, networks=nets)


def nan_extractor() -> LoadedModel:
    """Finite weights are checked at load; NaN can still appear at run time (e.g. overflow), as here."""
    torch.manual_seed(0)
    nets = pixeldtgan.build(EXTRACT, which=("G",))
    with torch.no_grad():
        nets["G"].decoder[-2].bias.fill_(float("nan"))
    return in_memory("pixeldtgan", nets, EXTRACT)


def overflowing_extractor(path: Path) -> Path:
    """Every weight finite (it loads), but so large that the activations overflow to inf and then NaN."""
    torch.manual_seed(0)
    nets = pixeldtgan.build(EXTRACT, which=("G",))
    with torch.no_grad():
        for p in nets["G"].parameters():
            if p.dim() > 1:
                p.mul_(1e30)
    save_model_file(path, "pixeldtgan", nets, EXTRACT, resolution=32)
    return path


def flat_matcher() -> LoadedModel:
    torch.manual_seed(0)
    nets = cyclegan.build(MATCH, which=("G_AB", "G_BA"))
    for net in nets.values():
        with torch.no_grad():
            net.net[-2].weight.zero_()
            net.net[-2].bias.fill_(-3.0)  # black whatever the input
    return in_memory("cyclegan", nets, MATCH)


def test_helpers_on_tensors_arrays_and_images():
    with pytest.raises(DegenerateOutputError, match="invalid numbers"):
        check_finite(torch.tensor([[[0.0, float("nan")]]]), "m")
    with pytest.raises(DegenerateOutputError):
        check_generated(torch.full((1, 3, 4, 4), float("inf")))
    flat = torch.full((1, 3, 8, 8), -1.0)
    assert "blank picture" in check_generated(flat, "m")
    varied = torch.linspace(-1, 1, 3 * 64).reshape(1, 3, 8, 8)
    assert check_generated(varied) is None
    assert flat_output_warning(torch.cat([flat, varied])) is None  # a batch is flat only when all are
    assert flat_output_warning(Image.new("RGB", (8, 8), (0, 0, 0))) is not None
    assert flat_output_warning(np.zeros((8, 8, 3), np.uint8)) is not None
    assert flat_output_warning(photo()) is None
    # a flat result of a flat input says nothing about the model
    assert flat_output_warning(Image.new("RGB", (8, 8)), source=Image.new("RGB", (8, 8), (9, 9, 9))) is None


def test_extract_stops_on_nan_output_and_the_batch_keeps_what_was_written(tmp_path):
    extractor = GarmentExtractor(nan_extractor())
    with torch.inference_mode(), pytest.raises(DegenerateOutputError, match="'Broken' produced invalid numbers"):
        extractor.run(photo())
    folder = tmp_path / "in"
    folder.mkdir()
    photo().save(folder / "a.png")
    with pytest.raises(DegenerateOutputError):
        extractor.run_folder(folder, tmp_path / "out")


def test_cli_exits_2_with_the_sentence_for_a_model_whose_output_overflows(tmp_path, capsys):
    model = overflowing_extractor(tmp_path / "huge.safetensors")
    load_model_file(model)  # its weights are finite: the problem only shows when it runs
    folder = tmp_path / "in"
    folder.mkdir()
    photo().save(folder / "a.png")
    code = cli.main(["--device", "cpu", "extract", str(folder), str(tmp_path / "out"), "--model", str(model), "-q"])
    err = capsys.readouterr().err
    assert code == cli.EXIT_FAILED and "invalid numbers" in err and "Traceback" not in err


def test_match_flags_a_flat_result_in_result_report_and_provenance(tmp_path):
    matcher = StyleMatcher(flat_matcher())
    with torch.inference_mode():
        result = matcher.run(photo(), "shoe2bag", candidates=2)
    assert result.warning and "blank picture" in result.warning
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        photo(i).save(folder / f"s{i}.png")
    report = matcher.run_folder(folder, tmp_path / "out", "shoe2bag")
    assert [name for name, _ in report.flagged] == ["s0.png", "s1.png"] and "2 look blank" in report.summary()
    info = read_provenance(tmp_path / "out" / "s0.png")
    assert "blank picture" in info["warning"] and "_warning" not in info["settings"]


def test_a_working_model_gets_no_warning(tmp_path):
    torch.manual_seed(0)
    model = in_memory("cyclegan", cyclegan.build(MATCH, which=("G_AB", "G_BA")), MATCH)
    with torch.inference_mode():
        result = StyleMatcher(model).run(photo(), "shoe2bag", candidates=1)
    assert result.warning is None
