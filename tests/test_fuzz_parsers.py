"""Property-based fuzzing of the parsers that read files a user hands us: any input gives a value or the
project's own error (SafeJsonError, ModelFileError, ProvenanceError, PoseFormatError), never another exception.

Inputs are both unstructured (random bytes / text) and structured (valid JSON of random shape, a real model file
with random bytes changed, PNGs with random text chunks), so the fuzzing reaches past the first check."""

from __future__ import annotations

import io
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from fashionstudio.core import safe_json
from fashionstudio.core.modelfile import ModelFileError, load_model_file, read_model_info, save_model_file
from fashionstudio.core.poses import CSV_HEADER, PoseFormatError, read_pose_csv_with_frame
from fashionstudio.core.provenance import PROVENANCE_KEY, ProvenanceError, read_provenance
from fashionstudio.models import cyclegan

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=40,
)


def _nested(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "[":
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + closer * depth


@pytest.fixture(scope="module")
def workdir():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@pytest.fixture(scope="module")
def model_bytes(workdir) -> bytes:
    config = {"preset": "demo", "resolution": 16, "g_base": 2, "g_res_blocks": 1, "g_down": 2, "d_base": 4}
    torch.manual_seed(0)
    path = save_model_file(workdir / "small.safetensors", "cyclegan",
                           cyclegan.build(config, which=("G_AB", "G_BA")), config, resolution=16)
    return path.read_bytes()


# -- safe JSON ---------------------------------------------------------------------------------------------------

@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_safe_json_any_text_or_bytes(raw):
    try:
        safe_json.loads(raw)
    except safe_json.SafeJsonError:
        pass


@FUZZ
@given(json_values, st.integers(1, 3000), st.sampled_from(["[", "{"]))
def test_safe_json_valid_documents_and_deep_nesting(value, depth, opener):
    text = json.dumps(value)
    try:
        assert safe_json.loads(text, allow_nan=True) is not None or value is None
    except safe_json.SafeJsonError as exc:
        assert "nested too deeply" in str(exc)
    with pytest.raises(safe_json.SafeJsonError, match="nested too deeply"):
        safe_json.loads(_nested(max(depth, safe_json.MAX_DEPTH + 1), opener))


# -- model header and metadata -------------------------------------------------------------------------------------

def _write(workdir: Path, data: bytes) -> Path:
    path = workdir / "fuzz.safetensors"
    path.write_bytes(data)
    return path


@FUZZ
@given(st.binary(max_size=400))
@example(struct.pack("<Q", 2007) + b'{"a": ' + b"[" * 1000 + b"]" * 1000 + b"}")  # 1000 levels in the header
def test_model_info_from_random_bytes(workdir, raw):
    try:
        read_model_info(_write(workdir, raw))
    except ModelFileError:
        pass


@FUZZ
@given(json_values, st.binary(max_size=64))
def test_model_info_from_random_json_headers(workdir, header, payload):
    body = json.dumps(header).encode()
    try:
        read_model_info(_write(workdir, struct.pack("<Q", len(body)) + body + payload))
    except ModelFileError:
        pass


@FUZZ
@given(json_values)
def test_model_info_from_random_metadata(workdir, model_bytes, meta):
    (n,) = struct.unpack("<Q", model_bytes[:8])
    header = json.loads(model_bytes[8:8 + n])
    header["__metadata__"]["fashionstudio"] = json.dumps(meta)
    body = json.dumps(header).encode()
    try:
        read_model_info(_write(workdir, struct.pack("<Q", len(body)) + body + model_bytes[8 + n:]))
    except ModelFileError:
        pass


@SLOW_FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(1, 255)), min_size=1, max_size=4))
def test_model_load_with_random_bytes_changed(workdir, model_bytes, flips):
    data = bytearray(model_bytes)
    for where, xor in flips:
        data[where % len(data)] ^= xor
    try:
        model = load_model_file(_write(workdir, bytes(data)))
    except ModelFileError:
        return
    # A file that still loads had its change where nothing is read (header padding, unused metadata).
    assert model.networks


# -- PNG provenance --------------------------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=300))
def test_provenance_from_random_bytes(workdir, raw):
    path = workdir / "fuzz.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + raw)
    try:
        assert isinstance(read_provenance(path), dict)
    except ProvenanceError:
        pass


@FUZZ
@given(st.dictionaries(st.sampled_from([PROVENANCE_KEY, "settings", "model", "model_sha256", "other"]),
                       st.one_of(st.text(max_size=50), json_values.map(json.dumps),
                                 st.integers(1, 2000).map(_nested)), max_size=4))
@example({PROVENANCE_KEY: _nested(1000), "settings": _nested(1000, "{")})  # the attack run's 1000 levels
def test_provenance_from_random_text_chunks(workdir, chunks):
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value, zip=len(value) > 20)
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, format="PNG", pnginfo=info)
    path = workdir / "chunks.png"
    path.write_bytes(buf.getvalue())
    assert isinstance(read_provenance(path), dict)


def test_provenance_round_trip_and_damage(workdir):
    from fashionstudio.core.provenance import save_png_with_provenance

    good = save_png_with_provenance(Image.new("RGB", (4, 4)), workdir / "good.png",
                                    {"model": "m.safetensors", "settings": {"psi": 0.7}})
    assert read_provenance(good)["settings"] == {"psi": 0.7}
    torn = workdir / "torn.png"
    torn.write_bytes(good.read_bytes()[:40])
    with pytest.raises(ProvenanceError, match="not a readable PNG"):
        read_provenance(torn)


# -- pose CSV --------------------------------------------------------------------------------------------------

coordinate_lists = st.lists(st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=True), st.booleans(),
                                      st.text(max_size=3)), min_size=16, max_size=19).map(json.dumps)


@FUZZ
@given(st.lists(st.one_of(st.text(max_size=120),
                          st.tuples(st.text(max_size=10), coordinate_lists, coordinate_lists)
                          .map(lambda r: f"{r[0]}: {r[1]}: {r[2]}")), max_size=6),
       st.booleans())
def test_pose_csv_from_random_rows(workdir, lines, header):
    path = workdir / "fuzz.csv"
    path.write_text("\n".join(([CSV_HEADER] if header else []) + lines), encoding="utf-8", errors="surrogatepass")
    try:
        rows, _ = read_pose_csv_with_frame(path)
    except PoseFormatError:
        return
    for kp in rows.values():
        assert kp.shape == (18, 2) and np.isfinite(kp).all()


@FUZZ
@given(st.binary(max_size=300))
def test_pose_csv_from_random_bytes(workdir, raw):
    path = workdir / "bytes.csv"
    path.write_bytes(raw)
    try:
        read_pose_csv_with_frame(path)
    except PoseFormatError:
        pass
