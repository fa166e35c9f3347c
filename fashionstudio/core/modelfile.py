"""The app model file: safetensors weights plus JSON metadata that describes the model completely.

Layout: one ``.safetensors`` file. Its tensors are the state dicts of the inference networks, each key prefixed
with the network's name (``"G1.enc.0.conv.weight"``). Its safetensors header metadata holds one entry,
``"fashionstudio"``, a JSON object::

    {
      "format": "fashionstudio-model", "format_version": 1,
      "family": "stylegan2",                 # registry key: which builder makes the networks
      "name": "Demo StyleGAN2 (synthetic atelier)",
      "networks": ["G"],                      # tensor-name prefixes, built with registry.build_networks
      "config": {...},                        # architecture config handed to the builder
      "resolution": 64,
      "normalisation": {"range": [-1, 1], "layout": "NCHW", "channels": "RGB"},
      "training": {...}, "metrics": {...}, "licence": "...", "created": "2026-11-23T10:00:00Z",
      "extra": {...}                          # family-specific inference settings
    }

Loading never executes code from the file: the header is JSON and the tensors are read by safetensors. A pickle
(``torch.save`` output) is recognised and refused without being unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fashionstudio.core import registry
from fashionstudio.core.atomic import atomic_write

FORMAT = "fashionstudio-model"
FORMAT_VERSION = 1
META_KEY = "fashionstudio"
DEFAULT_NORMALISATION = {"range": [-1, 1], "layout": "NCHW", "channels": "RGB"}
_MAX_HEADER = 100 * 1024 * 1024


class ModelFileError(ValueError):
    """A file that is not a model file this version can load. The message is meant for a designer."""


@dataclass
class LoadedModel:
    """A model file loaded into memory: its metadata and its built networks (in eval mode)."""

    path: Path
    sha256: str
    meta: dict[str, Any]
    networks: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.meta["family"]

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.path.stem

    @property
    def resolution(self) -> int:
        return int(self.meta["resolution"])

    @property
    def config(self) -> dict[str, Any]:
        return self.meta["config"]

    def nbytes(self) -> int:
        """Bytes held by parameters and buffers of all networks (for the model manager's memory budget)."""
        total = 0
        for net in self.networks.values():
            for t in list(net.parameters()) + list(net.buffers()):
                total += t.numel() * t.element_size()
        return total

    def to(self, device: Any) -> "LoadedModel":
        for net in self.networks.values():
            net.to(device)
        return self


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model_file(
    path: str | os.PathLike,
    family: str,
    networks: dict[str, Any],
    config: dict[str, Any],
    *,
    resolution: int,
    name: str | None = None,
    normalisation: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    licence: str = "unspecified",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``networks`` (name -> nn.Module) and their metadata to ``path`` atomically; return the path."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {}
    for net_name, net in networks.items():
        if "." in net_name:
            raise ValueError(f"network names may not contain '.': {net_name!r}")
        for key, value in net.state_dict().items():
            # clone: safetensors refuses tensors that share storage.
            tensors[f"{net_name}.{key}"] = value.detach().to("cpu").clone().contiguous()
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "family": family,
        "name": name or path.stem,
        "networks": list(networks),
        "config": config,
        "resolution": int(resolution),
        "normalisation": normalisation or DEFAULT_NORMALISATION,
        "training": training or {},
        "metrics": metrics or {},
        "licence": licence,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "extra": extra or {},
    }
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})
    return path


def read_model_info(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate only the metadata of a model file (no torch import, no tensors read)."""
    path = Path(path)
    header = _read_header(path)
    raw = (header.get("__metadata__") or {}).get(META_KEY)
    if raw is None:
        raise ModelFileError(
            f"'{path.name}' is a safetensors weights file but not a FashionStudio model: it carries no "
            "FashionStudio metadata. Export models with 'python -m training export RUN_DIR'."
        )
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"'{path.name}' has damaged FashionStudio metadata ({exc.msg}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"'{path.name}' has metadata, but not in the FashionStudio model format.")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ModelFileError(f"'{path.name}' does not say which model-file format version it uses.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"'{path.name}' was written by a newer FashionStudio (model format {version}; this version reads "
            f"up to {FORMAT_VERSION}). Update FashionStudio to open it."
        )
    for key in ("family", "networks", "config", "resolution"):
        if key not in meta:
            raise ModelFileError(f"'{path.name}' is incomplete: its metadata has no '{key}'.")
    if meta["family"] not in registry.known_families():
        raise ModelFileError(_unknown_family_sentence(path, meta["family"]))
    return meta


def load_model_file(path: str | os.PathLike, device: Any = "cpu") -> LoadedModel:
    """Load a model file: validate it, build its networks from the metadata alone, load the weights, eval mode."""
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    meta = read_model_info(path)
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for damaged payloads
        raise ModelFileError(f"'{path.name}' is damaged: its weights cannot be read ({exc}).") from None
    try:
        networks = registry.build_networks(meta["family"], meta["config"], which=meta["networks"])
    except Exception as exc:
        raise ModelFileError(
            f"'{path.name}' describes a {meta['family']} network this version cannot build ({exc})."
        ) from None

    for net_name, net in networks.items():
        prefix = net_name + "."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        expected = net.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing:
            raise ModelFileError(
                f"'{path.name}' is missing {len(missing)} weight tensor(s) of network {net_name} "
                f"(for example '{missing[0]}'): the file is incomplete or was made for another architecture."
            )
        if unexpected:
            raise ModelFileError(
                f"'{path.name}' has {len(unexpected)} weight tensor(s) network {net_name} does not use "
                f"(for example '{unexpected[0]}'): it was made for a different architecture."
            )
        for key, value in state.items():
            if tuple(value.shape) != tuple(expected[key].shape):
                raise ModelFileError(
                    f"'{path.name}': weight '{net_name}.{key}' has shape {tuple(value.shape)} but the architecture "
                    f"in its metadata needs {tuple(expected[key].shape)}."
                )
        with torch.no_grad():
            net.load_state_dict(state, strict=True)
        net.eval().requires_grad_(False)
    leftover = [k for k in tensors if k.split(".", 1)[0] not in networks]
    if leftover:
        raise ModelFileError(f"'{path.name}' holds weights of a network its metadata does not list ('{leftover[0]}').")
    model = LoadedModel(path=path, sha256=file_sha256(path), meta=meta, networks=networks)
    return model.to(device)


def _unknown_family_sentence(path: Path, family: str) -> str:
    return (
        f"'{path.name}' is a '{family}' model, a kind this version of FashionStudio does not know "
        f"(it knows: {', '.join(registry.known_families())})."
    )


def _read_header(path: Path) -> dict[str, Any]:
    """Parse the safetensors header (8-byte little-endian length, then JSON) with a readable error for anything else."""
    if not path.exists():
        raise ModelFileError(f"There is no model file at '{path}'.")
    if path.is_dir():
        raise ModelFileError(f"'{path}' is a folder, not a model file.")
    size = path.stat().st_size
    if size == 0:
        raise ModelFileError(f"'{path.name}' is empty (0 bytes): the download or copy did not finish.")
    with open(path, "rb") as f:
        head = f.read(9)
        # A safetensors header is 8 length bytes then '{'. Checking that first matters: a length whose low byte
        # is 0x80 would otherwise look like the start of a pickle.
        looks_safetensors = len(head) == 9 and head[8:9] == b"{"
        if not looks_safetensors and _is_pickle(head):
            raise ModelFileError(
                f"'{path.name}' is a PyTorch pickle (torch.save), which could run code when opened, so "
                "FashionStudio does not open it. Convert it with 'python -m training export'."
            )
        if len(head) < 9:
            raise ModelFileError(f"'{path.name}' is not a model file (it is only {size} bytes long).")
        (n,) = struct.unpack("<Q", head[:8])
        if not looks_safetensors or n < 2 or n > _MAX_HEADER:
            raise ModelFileError(f"'{path.name}' is not a FashionStudio model file (no safetensors header).")
        if n > size - 8:
            raise ModelFileError(f"'{path.name}' is damaged: it is cut short (an interrupted copy or download?).")
        f.seek(8)
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"'{path.name}' is not a FashionStudio model file (unreadable header).") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"'{path.name}' is not a FashionStudio model file (unexpected header).")
    return header


def _is_pickle(head: bytes) -> bool:
    """torch.save writes a zip archive (new format) or a raw pickle (legacy); both start recognisably."""
    return head.startswith(b"PK\x03\x04") or (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"))

