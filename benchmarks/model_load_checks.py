"""What the untrusted-input checks of the model loader cost on the shipped models, and how fast an attack ends.

Prints one JSON object. ``shipped``: per tool, the median seconds of :func:`load_model_file` (header and metadata
checks, architecture bounds, meta-device build compared with the header, checksum and finiteness of the
weights, then the real build) and of a plain load (file hash, safetensors read, build, load_state_dict: what
loading did before the checks), and their ratio. ``attacks``: seconds until the sentence for a few hostile files made from the
shipped Match model (a 10-million-block config, a 64-block x 65536-channel config, 1000-level metadata).

Usage: ``python benchmarks/model_load_checks.py [--repeat 5] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashionstudio.core import registry  # noqa: E402
from fashionstudio.core.modelfile import ModelFileError, file_sha256, load_model_file, read_model_info  # noqa: E402

TOOLS = ("pose", "extract", "match", "generate")


def plain_load(path: Path) -> None:
    """Loading as it was before these checks: read the weights, build, load them, hash the file."""
    from safetensors.torch import load_file

    file_sha256(path)
    meta = read_model_info(path)
    tensors = load_file(str(path))
    for name, net in registry.build_networks(meta["family"], meta["config"], which=meta["networks"]).items():
        net.load_state_dict({k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")})


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def with_meta(src: Path, dst: Path, text: str | None = None, **config) -> Path:
    data = src.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = json.loads(header["__metadata__"]["fashionstudio"])
    meta["config"].update(config)
    header["__metadata__"]["fashionstudio"] = text if text is not None else json.dumps(meta)
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])
    return dst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    shipped = {}
    for tool in TOOLS:
        path = ROOT / "resources" / "models" / f"{tool}.safetensors"
        load_model_file(path)  # imports the family module once, outside the timing
        checked = median_seconds(lambda: load_model_file(path), args.repeat)
        plain = median_seconds(lambda: plain_load(path), args.repeat)
        shipped[tool] = {"checked_s": round(checked, 4), "plain_s": round(plain, 4),
                         "ratio_checked_to_plain": round(checked / plain, 3)}
    attacks = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "match.safetensors"
        shutil.copy(ROOT / "resources" / "models" / "match.safetensors", src)
        cases = {
            "g_res_blocks_1e7": with_meta(src, Path(tmp) / "a.safetensors", g_res_blocks=10_000_000),
            "64_blocks_65536_channels": with_meta(src, Path(tmp) / "b.safetensors", g_res_blocks=64, g_base=65536),
            "metadata_1000_levels": with_meta(src, Path(tmp) / "c.safetensors", text="[" * 1000 + "]" * 1000),
        }
        for name, path in cases.items():
            t0 = time.perf_counter()
            try:
                load_model_file(path)
                outcome = "loaded"
            except ModelFileError as exc:
                outcome = str(exc)
            attacks[name] = {"seconds": round(time.perf_counter() - t0, 4), "sentence": outcome}
    print(json.dumps({"threads": args.threads, "repeat": args.repeat, "shipped": shipped, "attacks": attacks},
                     indent=1))


if __name__ == "__main__":
    main()
