"""Model files round-trip, and every kind of bad file is refused with its own sentence."""

from __future__ import annotations

import json
import pickle
import struct

import pytest
import torch
from torch import nn

from fashionstudio.core import registry
from fashionstudio.families import Family
from fashionstudio.core.modelfile import (
    ModelFileError,
    load_model_file,
    read_model_info,
    save_model_file,
)


class _TinyNet(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.norm = nn.BatchNorm2d(width)
        self.out = nn.Conv2d(width, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.out(torch.relu(self.norm(self.conv(x)))))


def _build_tiny(config: dict, which=None) -> dict[str, nn.Module]:
    names = which or ("G", "D")
    return {n: _TinyNet(config["width"]) for n in names}


@pytest.fixture()
def tiny_family():
    registry.register(Family("tiny", build=_build_tiny))
    yield "tiny"
    registry.unregister("tiny")


def _save(path, width=4, **kw):
    torch.manual_seed(0)
    nets = _build_tiny({"width": width}, which=("G",))
    nets["G"].norm.running_mean.uniform_()  # buffers must round-trip too
    save_model_file(path, "tiny", nets, {"width": width}, resolution=16, **kw)
    return nets["G"].eval()


def test_round_trip_same_outputs(tmp_path, tiny_family):
    ref = _save(tmp_path / "m.safetensors", metrics={"fid": 12.5}, training={"steps": 10})
    model = load_model_file(tmp_path / "m.safetensors")
    assert model.family == "tiny" and model.resolution == 16
    assert model.meta["metrics"] == {"fid": 12.5} and model.meta["training"] == {"steps": 10}
    assert len(model.sha256) == 64
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(ref(x), model.networks["G"](x))
    assert not model.networks["G"].training
    assert model.nbytes() > 0


def test_header_only_info_does_not_need_tensors(tmp_path, tiny_family):
    _save(tmp_path / "m.safetensors", name="My model")
    info = read_model_info(tmp_path / "m.safetensors")
    assert info["name"] == "My model" and info["networks"] == ["G"]


def _rewrite_meta(path, change):
    """Rewrite the JSON metadata of a saved model file in place (header stays valid safetensors)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = json.loads(header["__metadata__"]["fashionstudio"])
    change(meta)
    header["__metadata__"]["fashionstudio"] = json.dumps(meta)
    new = json.dumps(header).encode()
    new += b" " * ((8 - len(new) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + data[8 + n :])


@pytest.mark.parametrize(
    "make_bad, expected",
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"hello, this is a text file"), "not a FashionStudio model file"),
        (lambda p: p.write_bytes(pickle.dumps({"a": 1})), "pickle"),
        (lambda p: torch.save({"w": torch.zeros(2)}, p), "pickle"),
        (lambda p: _rewrite_meta(p, lambda m: m.update(format_version=99)), "newer FashionStudio"),
        (lambda p: _rewrite_meta(p, lambda m: m.update(family="quantum")), "'quantum'"),
        (lambda p: _rewrite_meta(p, lambda m: m["config"].update(width=8)), "shape"),
        (lambda p: _rewrite_meta(p, lambda m: m.update(networks=["G", "E"])), "missing"),
        (lambda p: _rewrite_meta(p, lambda m: m.pop("config")), "no 'config'"),
        (lambda p: p.write_bytes(p.read_bytes()[:-16]), "damaged"),
        (lambda p: p.write_bytes(p.read_bytes()[:40]), "damaged"),
    ],
    ids=["empty", "text", "pickle", "torch-save", "newer", "family", "shape", "missing", "incomplete", "truncated-weights", "truncated-header"],
)
def test_bad_files_get_specific_errors(tmp_path, tiny_family, make_bad, expected):
    path = tmp_path / "bad.safetensors"
    _save(path)
    make_bad(path)
    with pytest.raises(ModelFileError, match=expected):
        load_model_file(path)


def test_plain_safetensors_without_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(ModelFileError, match="no FashionStudio metadata"):
        load_model_file(tmp_path / "w.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="no model file"):
        load_model_file(tmp_path / "nope.safetensors")


def test_pickle_is_never_unpickled(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: calls.append(a))
    path = tmp_path / "evil.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(ModelFileError):
        load_model_file(path)
    assert calls == []


def test_header_length_ending_in_0x80_is_not_mistaken_for_a_pickle(tmp_path, tiny_family):
    """The first byte of a safetensors file is the low byte of its header length; 0x80 there is legitimate."""
    for i in range(600):
        path = tmp_path / f"m{i}.safetensors"
        _save(path, name="x" * i)
        if path.read_bytes()[0] == 0x80:
            break
        path.unlink()
    else:
        pytest.fail("could not produce a header length ending in 0x80")
    assert load_model_file(path).family == "tiny"


def test_saved_file_is_readable_like_any_other_file(tmp_path, tiny_family):
    import os
    import stat

    _save(tmp_path / "m.safetensors")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((tmp_path / "m.safetensors").stat().st_mode) == 0o666 & ~mask
