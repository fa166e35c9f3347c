"""fashionstudio-cli end to end with tiny models: extract and match over folders (PNG + provenance), pose and
generate, the default-model lookup, and the exit codes and sentences for a missing model, an empty or missing
folder, a wrong-family model and a bad colour. The CLI never imports Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio import cli
from fashionstudio.core.modelfile import save_model_file
from fashionstudio.core.provenance import read_provenance
from fashionstudio.models import cyclegan, pgpg, pixeldtgan, stylegan2

EXTRACT = {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8}
MATCH = {"preset": "demo", "resolution": 32, "g_base": 4, "g_res_blocks": 1, "d_base": 8}
POSE = {**pgpg.PRESETS["demo"], "resolution": 32, "g1_base": 4, "g1_blocks": 2, "g1_bottleneck_channels": 4,
        "g2_base": 4, "g2_blocks": 2, "d_blocks": 3}
GENERATE = {"preset": "demo", "resolution": 16, "z_dim": 16, "w_dim": 16, "mapping_layers": 2,
            "channel_base": 256, "channel_max": 16}


def _save(path: Path, family: str, nets: dict, config: dict, resolution: int) -> Path:
    # modelfile's pickle sniffing refuses a header length whose low byte is 0x80 (reported to the lead).
    name = "Tiny"
    while True:
        save_model_file(path, family, nets, config, resolution=resolution, name=name)
        if path.read_bytes()[:1] != b"\x80":
            return path
        name += " "


def _paint(net, colour) -> None:
    with torch.no_grad():
        net.weight.zero_()
        net.bias.copy_(torch.tensor(colour))


def extract_model(path: Path) -> Path:
    torch.manual_seed(0)
    nets = pixeldtgan.build(EXTRACT, which=("G",))
    _paint(nets["G"].decoder[-2], (3.0, 3.0, 3.0))  # all white: every pixel is backdrop
    return _save(path, "pixeldtgan", nets, EXTRACT, 32)


def match_model(path: Path) -> Path:
    torch.manual_seed(0)
    nets = cyclegan.build(MATCH, which=("G_AB", "G_BA"))
    _paint(nets["G_AB"].net[-2], (3.0, -3.0, -3.0))  # shoe -> red
    _paint(nets["G_BA"].net[-2], (-3.0, -3.0, 3.0))  # bag -> blue
    return _save(path, "cyclegan", nets, MATCH, 32)


@pytest.fixture(autouse=True)
def _env(isolated_home):
    isolated_home.models.mkdir()


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i, size in enumerate([(48, 64), (64, 40), (50, 50)]):
        img = Image.new("RGB", size, (235, 232, 228))
        img.paste((120 + 40 * i, 50, 60), (10, 10, size[0] - 10, size[1] - 10))
        img.save(folder / f"item{i}.jpg")
    return folder


def run(*argv: str) -> int:
    return cli.main(["--device", "cpu", *argv])


def test_extract_writes_pngs_with_provenance_on_the_chosen_background(tmp_path, photos, capsys):
    model = extract_model(tmp_path / "ex.safetensors")
    code = run("extract", str(photos), str(tmp_path / "out"), "--model", str(model), "--background", "#203040", "-q")
    # This model paints white whatever it is given: every result is written, and each is flagged as blank.
    assert code == cli.EXIT_SKIPPED
    out = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in out] == ["item0.png", "item1.png", "item2.png"]
    assert np.asarray(Image.open(out[0])).reshape(-1, 3).tolist()[0] == [32, 48, 64]
    info = read_provenance(out[1])
    assert info["tool"] == "extract" and info["source"] == "item1.jpg" and info["model"] == "ex.safetensors"
    assert info["settings"] == {"background": "#203040"}
    captured = capsys.readouterr()
    assert "Wrote 3 images" in captured.out
    assert captured.err.count("returned a blank picture (one flat colour)") == 3


def test_default_model_is_found_and_a_corrupt_file_gives_exit_1(tmp_path, isolated_home, photos, capsys):
    extract_model(isolated_home.models / "extract.safetensors")
    (photos / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    code = run("extract", str(photos), str(tmp_path / "out"))
    captured = capsys.readouterr()
    assert code == cli.EXIT_SKIPPED
    assert "skipped torn.png" in captured.err and "[4/4]" in captured.err
    assert len(list((tmp_path / "out").iterdir())) == 3
    assert run("models") == cli.EXIT_OK
    listing = capsys.readouterr().out
    assert "extract.safetensors" in listing and "pixeldtgan" in listing
    assert "match     none" in listing


def test_match_both_directions_and_ranked_candidates(tmp_path, photos):
    model = str(match_model(tmp_path / "m.safetensors"))
    # Each generator paints one flat colour: results are written and flagged as blank (exit 1).
    assert run("match", str(photos), str(tmp_path / "bags"), "--direction", "shoe2bag", "--model", model, "-q") == 1
    assert run("match", str(photos), str(tmp_path / "shoes"), "--direction", "bag2shoe", "--model", model,
               "--candidates", "2", "-q") == 1
    bag = np.asarray(Image.open(tmp_path / "bags" / "item0.png"), np.float32).mean(axis=(0, 1))
    shoe = np.asarray(Image.open(tmp_path / "shoes" / "item0.png"), np.float32).mean(axis=(0, 1))
    assert bag[0] > 200 and bag[2] < 50  # G_AB
    assert shoe[2] > 200 and shoe[0] < 50  # G_BA
    assert sorted(p.name for p in (tmp_path / "shoes").iterdir())[:2] == ["item0.png", "item0_2.png"]
    first = read_provenance(tmp_path / "shoes" / "item0.png")["settings"]
    second = read_provenance(tmp_path / "shoes" / "item0_2.png")["settings"]
    assert first["direction"] == "bag2shoe" and (first["candidate"], second["candidate"]) == (1, 2)
    assert first["round_trip_l1"] <= second["round_trip_l1"]


def test_errors_exit_2_with_a_sentence(tmp_path, photos, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    match = str(match_model(tmp_path / "m.safetensors"))
    cases = [
        (("extract", str(photos), str(tmp_path / "o1")), "No extract model found"),
        (("extract", str(empty), str(tmp_path / "o2"), "--model", str(extract_model(tmp_path / "e.safetensors"))),
         "holds no images"),
        (("match", str(tmp_path / "nowhere"), str(tmp_path / "o3"), "--direction", "shoe2bag", "--model", match),
         "There is no folder"),
        (("extract", str(photos), str(tmp_path / "o4"), "--model", match), "needs a pixeldtgan or flatwarp model"),
        (("extract", str(photos), str(tmp_path / "o5"), "--background", "ivory"), "#RRGGBB"),
        (("match", str(photos), str(tmp_path / "o6"), "--direction", "shoe2bag", "--model",
          str(tmp_path / "missing.safetensors")), "There is no model file"),
    ]
    for argv, sentence in cases:
        assert run(*argv) == cli.EXIT_FAILED, argv
        err = capsys.readouterr().err
        assert sentence in err and "Traceback" not in err, (argv, err)
    with pytest.raises(SystemExit):  # argparse: direction is required, never guessed
        run("match", str(photos), str(tmp_path / "o7"))


def test_pose_from_the_library_and_from_a_csv(tmp_path, capsys):
    torch.manual_seed(0)
    nets = pgpg.build(POSE, ["G1", "G2"])
    model = _save(tmp_path / "pose.safetensors", "pgpg", nets, POSE, 32)
    src = tmp_path / "person.png"
    Image.new("RGB", (44, 64), (220, 214, 205)).save(src)
    assert run("pose", str(src), "walking", str(tmp_path / "walk.png"), "--model", str(model), "--coarse") == 0
    refined = Image.open(tmp_path / "walk.png")
    assert refined.size == (22, 32)  # the photo's aspect at the model's resolution
    assert read_provenance(tmp_path / "walk_coarse.png")["settings"] == {"pose": "walking", "stage": "coarse"}
    csv = tmp_path / "mine.csv"
    ys = [40, 60, 62, 100, 130, 62, 100, 130, 130, 180, 230, 130, 180, 230, 35, 35, 38, 38]
    xs = [88, 88, 66, 58, 54, 110, 118, 122, 75, 73, 72, 101, 103, 104, 83, 93, 77, 99]
    csv.write_text(f"name:keypoints_y:keypoints_x\nraised.jpg: {ys}: {xs}\n")
    assert run("pose", str(src), f"{csv}:raised", str(tmp_path / "mine.png"), "--model", str(model)) == 0
    assert read_provenance(tmp_path / "mine.png")["settings"]["pose"] == "raised"
    assert run("pose", str(src), "no-such-pose", str(tmp_path / "x.png"), "--model", str(model)) == 2
    assert "There is no pose 'no-such-pose'" in capsys.readouterr().err


def test_generate_seeds_with_psi(tmp_path, capsys):
    torch.manual_seed(0)
    model = _save(tmp_path / "gen.safetensors", "stylegan2", stylegan2.build(GENERATE, which=["G"]), GENERATE, 16)
    assert run("generate", str(tmp_path / "gen"), "--seeds", "3-5", "--psi", "0.5", "--model", str(model), "-q") == 0
    files = sorted(p.name for p in (tmp_path / "gen").iterdir())
    assert files == ["seed00003.png", "seed00004.png", "seed00005.png"]
    a = np.asarray(Image.open(tmp_path / "gen" / "seed00003.png"), np.float32)
    b = np.asarray(Image.open(tmp_path / "gen" / "seed00004.png"), np.float32)
    assert a.shape == (16, 16, 3) and np.abs(a - b).mean() > 0.5  # different seeds, different images
    settings = read_provenance(tmp_path / "gen" / "seed00004.png")["settings"]
    assert settings["seed"] == 4 and settings["psi"] == 0.5
    assert run("generate", str(tmp_path / "gen"), "--seeds", "five", "--model", str(model)) == 2
    assert "not a list of seeds" in capsys.readouterr().err


def test_cli_runs_as_a_program_without_qt(tmp_path, photos):
    # The command paths that need no network (argument errors, the model lookup) plus the pipeline modules the
    # others import: none of them may pull in Qt. (The networks' own runs are covered in-process above.)
    code = (
        "import sys; from fashionstudio import cli; "
        "import fashionstudio.core.extract, fashionstudio.core.match, fashionstudio.core.pose_transfer; "
        f"missing = cli.main(['extract', {str(photos)!r}, {str(tmp_path / 'o2')!r}]); "
        "listed = cli.main(['models']); "
        "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt was imported'; "
        "sys.exit(10 * listed + missing)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr  # models listed (0), then the missing model (2)
    assert "No extract model found" in done.stderr and "extract   none" in done.stdout


def test_each_tools_model_help_names_the_families_the_tool_runs():
    from fashionstudio.core import registry

    parser = cli.build_parser()
    for tool in ("pose", "extract", "match", "generate"):
        sub = parser._subparsers._group_actions[0].choices[tool]
        help_text = next(a.help for a in sub._actions if "--model" in a.option_strings)
        assert all(name in help_text for name in registry.tool_families(tool)), (tool, help_text)
