"""Hostile and damaged model files: every one ends in ModelFileError with a sentence, builds nothing large, and
the CLI answers with exit 2 (one tool) or lists it as unusable (``models``). The files are made in the test from a
small valid one; no payload does anything but describe an absurd network."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from fashionstudio import cli
from fashionstudio.core import registry
from fashionstudio.core.modelfile import DIGEST_KEY, ModelFileError, load_model_file, read_model_info, save_model_file
from fashionstudio.models import cyclegan

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "resources" / "models"
MATCH = {"preset": "demo", "resolution": 32, "g_base": 4, "g_res_blocks": 1, "d_base": 8}


def match_file(path: Path) -> Path:
    torch.manual_seed(0)
    save_model_file(path, "cyclegan", cyclegan.build(MATCH, which=("G_AB", "G_BA")), MATCH, resolution=32)
    return path


def split(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(path: Path, header: dict | str, payload: bytes) -> Path:
    raw = (header if isinstance(header, str) else json.dumps(header)).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)
    return path


def rewrite_meta(path: Path, change) -> Path:
    """Apply ``change`` (in place) to the FashionStudio metadata of ``path``."""
    header, payload = split(path)
    meta = json.loads(header["__metadata__"]["fashionstudio"])
    change(meta)
    header["__metadata__"]["fashionstudio"] = json.dumps(meta)
    return join(path, header, payload)


def replace_meta(path: Path, text: str) -> Path:
    """Replace the FashionStudio metadata of ``path`` by ``text`` (any string, valid JSON or not)."""
    header, payload = split(path)
    header["__metadata__"]["fashionstudio"] = text
    return join(path, header, payload)


@pytest.fixture
def spy_builds(monkeypatch):
    """Every build_networks call, with the device tensors were being created on at that moment."""
    calls: list[str] = []
    real = registry.build_networks

    def spy(family, config, which=None):
        calls.append(torch.empty(0).device.type)
        return real(family, config, which)

    monkeypatch.setattr(registry, "build_networks", spy)
    return calls


# -- memory bombs ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value", [
    ("g_res_blocks", 10_000_000), ("g_down", 10**9), ("d_blocks", 10**9), ("g_base", 10**9),
    ("resolution", 10**6), ("g_res_blocks", -1), ("g_res_blocks", 10**100), ("g_base", [4, 4]),
    ("g_upsample", "x" * 10_000), ("mapping_lr_mul", 1e300),
])
def test_absurd_architecture_value_is_named_and_nothing_is_built(tmp_path, spy_builds, key, value):
    path = rewrite_meta(match_file(tmp_path / "bomb.safetensors"), lambda m: m["config"].update({key: value}))
    spy_builds.clear()
    with pytest.raises(ModelFileError, match=f"'{key}'"):
        load_model_file(path)
    assert spy_builds == []  # refused before any builder ran, not even on the meta device


def test_big_network_within_the_bounds_is_compared_on_the_meta_device_only(tmp_path, spy_builds):
    """64 residual blocks of 65536 channels would be tens of GB; the meta build costs nothing and the header
    (a 0.1 MB file) says the weights are not there."""
    path = rewrite_meta(match_file(tmp_path / "big.safetensors"),
                        lambda m: m["config"].update(g_res_blocks=64, g_base=65536))
    spy_builds.clear()
    with pytest.raises(ModelFileError, match="shape|missing|does not use"):
        load_model_file(path)
    assert spy_builds == ["meta"]


def test_peak_memory_of_hostile_model_files_stays_under_1_gb(tmp_path):
    """Each attack runs in a fresh process that reports its own peak RSS (VmHWM: Linux keeps ru_maxrss across exec,
    so a child of a large pytest process would report its parent's size)."""
    _, payload = split(match_file(tmp_path / "good.safetensors"))
    attacks = {
        "res_blocks": rewrite_meta(match_file(tmp_path / "a.safetensors"),
                                   lambda m: m["config"].update(g_res_blocks=10_000_000)),
        "wide": rewrite_meta(match_file(tmp_path / "b.safetensors"),
                             lambda m: m["config"].update(g_res_blocks=64, g_base=131072)),
        "nested_meta": replace_meta(match_file(tmp_path / "c.safetensors"),
                                    '{"format": ' + "[" * 100_000 + "]" * 100_000 + "}"),
        # headers near the 4 MB limit, filled with the JSON that costs Python the most memory per byte
        "empty_lists": join(tmp_path / "d.safetensors", '{"x": [' + ",".join(["[]"] * 1_300_000) + "]}", payload),
        "short_strings": join(tmp_path / "e.safetensors", '{"x": [' + ",".join(['"ab"'] * 800_000) + "]}", payload),
    }
    script = textwrap.dedent("""
        import json, sys
        from fashionstudio.core.modelfile import ModelFileError, load_model_file

        def peak_mb():
            with open("/proc/self/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

        try:
            load_model_file(sys.argv[1])
            outcome = "loaded"
        except ModelFileError as exc:
            outcome = str(exc)
        print(json.dumps({"rss_mb": peak_mb(), "outcome": outcome}))
    """)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for name, path in attacks.items():
        done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                              timeout=300, env=env, cwd=REPO)
        assert done.returncode == 0, (name, done.stderr[-2000:])
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["outcome"] != "loaded", name
        assert report["rss_mb"] < 1024, (name, report)


# -- damaged or malformed files ---------------------------------------------------------------------------------

def test_exported_files_carry_a_checksum_and_a_flipped_byte_is_damage(tmp_path):
    path = match_file(tmp_path / "m.safetensors")
    assert len(read_model_info(path)[DIGEST_KEY]) == 64
    load_model_file(path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # one bit of one weight
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="This model file is damaged"):
        load_model_file(path)


def test_files_without_a_checksum_still_load(tmp_path):
    path = rewrite_meta(match_file(tmp_path / "old.safetensors"), lambda m: m.pop(DIGEST_KEY))
    assert DIGEST_KEY not in read_model_info(path)
    assert set(load_model_file(path).networks) == {"G_AB", "G_BA"}


def test_shipped_models_have_no_checksum_and_load_unchanged():
    for tool in ("pose", "extract", "match", "generate"):
        model = load_model_file(SHIPPED / f"{tool}.safetensors")
        assert model.networks and not any(p.is_meta for n in model.networks.values() for p in n.state_dict().values())


def test_nan_weights_are_refused_even_with_a_valid_checksum(tmp_path):
    torch.manual_seed(0)
    nets = cyclegan.build(MATCH, which=("G_AB", "G_BA"))
    with torch.no_grad():
        next(nets["G_AB"].parameters())[0].fill_(float("nan"))
    save_model_file(tmp_path / "nan.safetensors", "cyclegan", nets, MATCH, resolution=32)
    with pytest.raises(ModelFileError, match="not numbers"):
        load_model_file(tmp_path / "nan.safetensors")


def _header_change(change):
    def make(path: Path) -> Path:
        header, payload = split(path)
        change(header)
        return join(path, header, payload)
    return make


def _first_tensor(header: dict) -> dict:
    return header[next(k for k in header if k != "__metadata__")]


@pytest.mark.parametrize("make_bad, expected", [
    (lambda p: rewrite_meta(p, lambda m: m.update(resolution="abc")), "'resolution'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(resolution=True)), "'resolution'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(networks="G_AB")), "'networks'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(networks=[1, 2])), "'networks'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(networks=["G_AB", "G_AB"])), "'networks'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(config=[1])), "'config'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(family=["cyclegan"])), "'family'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(name={"a": 1})), "'name'"),
    (lambda p: rewrite_meta(p, lambda m: m.update(extra=[])), "'extra'"),
    (lambda p: rewrite_meta(p, lambda m: m.update({DIGEST_KEY: "not a checksum"})), DIGEST_KEY),
    (lambda p: rewrite_meta(p, lambda m: m.update(format_version="1")), "format version"),
    (lambda p: rewrite_meta(p, lambda m: m["config"].update(preset=["demo"])), "'preset'"),
    (lambda p: replace_meta(p, "[" * 1000 + "]" * 1000), "nested too deeply"),
    (lambda p: replace_meta(p, '{"a": ' * 1000 + "1" + "}" * 1000), "nested too deeply"),
    (lambda p: replace_meta(p, '{"format": 1e999}'), "FashionStudio model format"),
    (_header_change(lambda h: h.update(__metadata__={"fashionstudio": 5})), "table of texts"),
    (_header_change(lambda h: h.update(__metadata__=[1])), "table of texts"),
    (_header_change(lambda h: _first_tensor(h).update(dtype="F99")), "number type"),
    (_header_change(lambda h: _first_tensor(h).update(shape=[-1])), "no valid shape"),
    (_header_change(lambda h: _first_tensor(h).update(shape="big")), "no valid shape"),
    (_header_change(lambda h: _first_tensor(h).update(data_offsets=[0, 10**15])), "outside the file"),
    (_header_change(lambda h: _first_tensor(h).update(data_offsets="x")), "where its bytes are"),
    (_header_change(lambda h: _first_tensor(h).update(shape=[10**6, 10**6])), "does not match its size"),
    (_header_change(lambda h: h.update(extra={"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})), "overlap"),
    (lambda p: join(p, "{\"a\": " + "[" * 1000 + "]" * 1000 + "}", split(p)[1]), "nested too deeply"),
    (lambda p: join(p, '{"a": NaN}', split(p)[1]), "NaN"),
    (lambda p: p.write_bytes(struct.pack("<Q", 1 << 40) + b"{" + b" " * 100), "header claims"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_malformed_files_end_in_a_sentence(tmp_path, make_bad, expected):
    path = match_file(tmp_path / "bad.safetensors")
    make_bad(path)
    with pytest.raises(ModelFileError, match=expected):
        load_model_file(path)
    with pytest.raises(ModelFileError):  # the header-only path refuses it too
        read_model_info(path)


def test_reading_info_imports_no_torch_and_stays_small():
    """The header path (``fashionstudio-cli models``) never needs torch: checked in a fresh process."""
    code = ("import sys; from fashionstudio.core.modelfile import read_model_info; "
            f"read_model_info({str(SHIPPED / 'match.safetensors')!r}); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.stdout.strip() == "False", done.stderr


# -- the CLI -----------------------------------------------------------------------------------------------------

def test_cli_models_lists_every_file_and_names_the_damaged_one(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv("FASHIONSTUDIO_MODELS", str(folder))
    match_file(folder / "match.safetensors")
    for tool in ("extract", "pose"):
        (folder / f"{tool}.safetensors").write_bytes((SHIPPED / f"{tool}.safetensors").read_bytes())
    replace_meta(folder / "extract.safetensors", "[" * 1000 + "]" * 1000)
    assert cli.main(["models"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == {"pose", "extract", "match", "generate"}
    assert "UNUSABLE" in lines["extract"] and "nested too deeply" in lines["extract"]
    assert "posewarp" in lines["pose"] and "cyclegan" in lines["match"] and "none" in lines["generate"]


def test_cli_with_a_hostile_model_exits_2_with_the_sentence(tmp_path, capsys):
    photos = tmp_path / "in"
    photos.mkdir()
    from PIL import Image

    Image.new("RGB", (40, 40), (200, 10, 10)).save(photos / "a.png")
    bomb = rewrite_meta(match_file(tmp_path / "bomb.safetensors"),
                        lambda m: m["config"].update(g_res_blocks=10_000_000))
    nested = replace_meta(match_file(tmp_path / "nested.safetensors"), "[" * 1000 + "]" * 1000)
    for path, sentence in ((bomb, "'g_res_blocks' is 10000000"), (nested, "nested too deeply")):
        code = cli.main(["--device", "cpu", "match", str(photos), str(tmp_path / "out"), "--direction", "shoe2bag",
                         "--model", str(path)])
        err = capsys.readouterr().err
        assert code == cli.EXIT_FAILED and sentence in err and "Traceback" not in err, err



# -- no false alarms ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_every_preset_of_every_family_passes_the_bounds_and_builds_the_same_shapes_on_meta():
    """The bounds and the meta-device build must never refuse a real model: every preset of every built-in
    family passes ``check_architecture``, and its inference networks (the ones model files hold) have the same
    weight shapes built on the meta device as built for real."""
    import importlib

    from fashionstudio.core.arch_bounds import check_architecture
    from fashionstudio.core.meta_build import network_shapes

    for family in registry.builtin_families():  # known_families() also lists plug-ins other tests registered
        module = importlib.import_module(registry.get_builder(family).__module__)
        names = list(getattr(module, "INFERENCE_NETWORKS", module.NETWORKS))  # what model files hold
        for preset, config in module.PRESETS.items():
            check_architecture(config)
            real = registry.build_networks(family, {"preset": preset}, which=names)
            meta = network_shapes(family, {"preset": preset}, names)
            assert meta == {n: {k: tuple(v.shape) for k, v in net.state_dict().items()} for n, net in real.items()}, \
                (family, preset)
