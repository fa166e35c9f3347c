"""The safetensors header of a model file, read and checked without torch and without reading any weight.

A safetensors file is an 8-byte little-endian header length, a JSON header, then the tensor bytes. The header
maps each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the data that
follows) and may hold ``"__metadata__"``, a table of strings. Everything here is untrusted: :func:`read_header`
checks the JSON with :mod:`fashionstudio.core.safe_json` and every tensor entry against the file's real size, so
the shapes it returns can be trusted to describe bytes that are in the file (a header cannot claim a 4 GB
tensor in a 3 MB file).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionstudio.core.safe_json import SafeJsonError
from fashionstudio.core.safe_json import loads as safe_loads

# Far above any real model's header (the shipped ones are 6-25 kB; a thousand tensors take ~100 kB), and small
# enough that parsing the worst hostile header of this size costs well under 100 MB.
MAX_HEADER = 4 * 1024 * 1024
MAX_DIMS = 8
DTYPE_BYTES: dict[str, int] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}


class HeaderError(ValueError):
    """A file whose header is not a usable safetensors header; the message is a full sentence."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header describes it (already checked against the file's size)."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass
class Header:
    """A checked header: the tensor table and the ``__metadata__`` strings."""

    tensors: dict[str, TensorEntry] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)


def is_pickle(head: bytes) -> bool:
    """torch.save writes a zip archive (new format) or a raw pickle (legacy); both start recognisably."""
    return head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))


def read_header(path: Path) -> Header:
    """Read and check the header of ``path``; raise :class:`HeaderError` with a sentence for anything else."""
    try:
        size, n, raw = _read_raw(path)
    except OSError as exc:
        raise HeaderError(f"'{path.name}' cannot be read ({exc.strerror or exc}).") from None
    try:
        parsed = safe_loads(raw, max_chars=MAX_HEADER)
    except SafeJsonError as exc:
        raise HeaderError(f"'{path.name}' is not a FashionStudio model file (its header is unreadable: {exc}).") from None
    if not isinstance(parsed, dict):
        raise HeaderError(f"'{path.name}' is not a FashionStudio model file (unexpected header).")
    return _check_header(path, parsed, data_len=size - 8 - n)


def _read_raw(path: Path) -> tuple[int, int, bytes]:
    """(file size, header length, header bytes), after the checks that need no parsing."""
    if not path.exists():
        raise HeaderError(f"There is no model file at '{path}'.")
    if path.is_dir():
        raise HeaderError(f"'{path}' is a folder, not a model file.")
    if not path.is_file():
        raise HeaderError(f"'{path.name}' is not a regular file, so it cannot be a model file.")
    size = path.stat().st_size
    if size == 0:
        raise HeaderError(f"'{path.name}' is empty (0 bytes): the download or copy did not finish.")
    with open(path, "rb") as f:
        head = f.read(9)
        # A safetensors header is 8 length bytes then '{'. Checking that first matters: a length whose low byte
        # is 0x80 would otherwise look like the start of a pickle.
        looks_safetensors = len(head) == 9 and head[8:9] == b"{"
        if not looks_safetensors and is_pickle(head):
            raise HeaderError(
                f"'{path.name}' is a PyTorch pickle (torch.save), which could run code when opened, so "
                "FashionStudio does not open it. Convert it with 'python -m training export'."
            )
        if len(head) < 9:
            raise HeaderError(f"'{path.name}' is not a model file (it is only {size} bytes long).")
        (n,) = struct.unpack("<Q", head[:8])
        if not looks_safetensors or n < 2:
            raise HeaderError(f"'{path.name}' is not a FashionStudio model file (no safetensors header).")
        if n > MAX_HEADER:
            raise HeaderError(f"'{path.name}' is not a FashionStudio model file (its header claims {n} bytes; "
                              f"model headers are under {MAX_HEADER // (1024 * 1024)} MB).")
        if n > size - 8:
            raise HeaderError(f"'{path.name}' is damaged: it is cut short (an interrupted copy or download?).")
        f.seek(8)
        raw = f.read(n)
    return size, n, raw


def _check_header(path: Path, parsed: dict[str, Any], data_len: int) -> Header:
    header = Header()
    meta = parsed.get("__metadata__", {})
    if meta is None:
        meta = {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise HeaderError(f"'{path.name}' is damaged: its header's metadata is not a table of texts.")
    header.metadata = meta
    for name, entry in parsed.items():
        if name == "__metadata__":
            continue
        header.tensors[name] = _check_entry(path, name, entry, data_len)
    # The tensors must tile the data exactly: no gaps, no overlaps, nothing claimed past the end.
    covered = 0
    for name, e in sorted(header.tensors.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if e.begin != covered:
            raise HeaderError(f"'{path.name}' is damaged: the bytes of weight '{_short(name)}' overlap or leave a "
                              "gap in the file.")
        covered = e.end
    if covered != data_len:
        raise HeaderError(f"'{path.name}' is damaged: its header describes {covered} bytes of weights but the file "
                          f"holds {data_len} (an interrupted copy or download?).")
    return header


def _check_entry(path: Path, name: str, entry: Any, data_len: int) -> TensorEntry:
    where = f"'{path.name}' is damaged: weight '{_short(name)}'"
    if not isinstance(entry, dict):
        raise HeaderError(f"{where} has no description in the header.")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise HeaderError(f"{where} has a number type ({str(dtype)[:20]}) FashionStudio does not read.")
    if (not isinstance(shape, list) or len(shape) > MAX_DIMS
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape)):
        raise HeaderError(f"{where} has no valid shape.")
    if (not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise HeaderError(f"{where} says nothing valid about where its bytes are.")
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        raise HeaderError(f"{where} lies outside the file (cut short by an interrupted copy or download?).")
    if math.prod(shape) * DTYPE_BYTES[dtype] != end - begin:
        raise HeaderError(f"{where} has a shape that does not match its size in the file.")
    return TensorEntry(dtype, tuple(shape), begin, end)


def _short(name: str) -> str:
    return name if len(name) <= 80 else name[:77] + "..."
