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
      "extra": {...},                         # family-specific inference settings
      "tensor_sha256": "..."                  # checksum of the weights (files from before it still load)
    }

Loading never executes code from the file: the header is JSON and the tensors are read by safetensors. A pickle
(``torch.save`` output) is recognised and refused without being unpickled. Everything in the file is untrusted:
the header is checked against the file's size (:mod:`fashionstudio.core.model_header`), the metadata's types and
architecture values against bounds (:mod:`fashionstudio.core.arch_bounds`), the networks are first built on
torch's ``meta`` device and compared with the header's tensor shapes, and only then are the weights read,
verified against their checksum and loaded into networks built for real.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fashionstudio.core import registry, safe_json
from fashionstudio.core.arch_bounds import ArchitectureError, check_architecture, check_setting
from fashionstudio.core.atomic import atomic_write
from fashionstudio.core.model_header import Header, HeaderError, read_header

FORMAT = "fashionstudio-model"
FORMAT_VERSION = 1
META_KEY = "fashionstudio"
DEFAULT_NORMALISATION = {"range": [-1, 1], "layout": "NCHW", "channels": "RGB"}
# Checksum of the tensors (see :func:`tensor_sha256`), written at export, verified on load when present.
DIGEST_KEY = "tensor_sha256"


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
    tensors: dict[str, Any] = {}
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
        DIGEST_KEY: tensor_sha256(tensors),
    }
    with atomic_write(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})
    return path


def read_model_info(path: str | os.PathLike) -> dict[str, Any]:
    """Read and validate only the metadata of a model file (no torch import, no tensors read)."""
    path = Path(path)
    return _validated_meta(path, _read_header(path))


def _read_header(path: Path) -> Header:
    try:
        return read_header(path)
    except HeaderError as exc:
        raise ModelFileError(str(exc)) from None


def _validated_meta(path: Path, header: Header) -> dict[str, Any]:
    """The FashionStudio metadata of a checked header, with every field the loader relies on type-checked."""
    raw = header.metadata.get(META_KEY)
    if raw is None:
        raise ModelFileError(
            f"'{path.name}' is a safetensors weights file but not a FashionStudio model: it carries no "
            "FashionStudio metadata. Export models with 'python -m training export RUN_DIR'."
        )
    try:
        meta = safe_json.loads(raw, allow_nan=True)  # a NaN metric is harmless; config numbers are checked
    except safe_json.SafeJsonError as exc:
        raise ModelFileError(f"'{path.name}' has damaged FashionStudio metadata: {exc}.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"'{path.name}' has metadata, but not in the FashionStudio model format.")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"'{path.name}' does not say which model-file format version it uses.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"'{path.name}' was written by a newer FashionStudio (model format {version}; this version reads "
            f"up to {FORMAT_VERSION}). Update FashionStudio to open it."
        )
    for key in ("family", "networks", "config", "resolution"):
        if key not in meta:
            raise ModelFileError(f"'{path.name}' is incomplete: its metadata has no '{key}'.")
    _check_types(path, meta)
    if meta["family"] not in registry.known_families():
        raise ModelFileError(_unknown_family_sentence(path, meta["family"]))
    try:
        check_architecture(meta["config"])
        check_setting("resolution", meta["resolution"])
    except ArchitectureError as exc:
        raise ModelFileError(f"'{path.name}' cannot be opened: {exc}, so it is damaged or was not made by "
                             "FashionStudio.") from None
    return meta


def _check_types(path: Path, meta: dict[str, Any]) -> None:
    """Every metadata field the app reads has the type it expects; a wrong one is named in the sentence."""
    def bad(key: str, expected: str) -> ModelFileError:
        return ModelFileError(f"'{path.name}' has damaged metadata: '{key}' should be {expected}.")

    if not isinstance(meta["family"], str):
        raise bad("family", "a family name")
    nets = meta["networks"]
    if (not isinstance(nets, list) or not nets or len(nets) > 16 or len(set(map(str, nets))) != len(nets)
            or not all(isinstance(n, str) and n and "." not in n and len(n) <= 64 for n in nets)):
        raise bad("networks", "a list of network names")
    if not isinstance(meta["config"], dict):
        raise bad("config", "a table of architecture settings")
    if not isinstance(meta["resolution"], int) or isinstance(meta["resolution"], bool):
        raise bad("resolution", "a whole number of pixels")
    for key, kind, expected in (("name", str, "a text"), ("licence", str, "a text"), ("created", str, "a text"),
                                ("training", dict, "a table"), ("metrics", dict, "a table"),
                                ("extra", dict, "a table"), ("normalisation", dict, "a table")):
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise bad(key, expected)
    digest = meta.get(DIGEST_KEY)
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64
                                   and all(c in "0123456789abcdef" for c in digest)):
        raise bad(DIGEST_KEY, "a SHA-256 checksum")


def load_model_file(path: str | os.PathLike, device: Any = "cpu") -> LoadedModel:
    """Load a model file: validate it, check its networks' shapes on the ``meta`` device against the header,
    then read and verify the weights, build the networks for real and load them (eval mode)."""
    import torch
    from safetensors.torch import load_file

    path = Path(path)
    header = _read_header(path)
    meta = _validated_meta(path, header)
    shapes = _meta_shapes(path, meta)
    _compare_with_header(path, shapes, header)
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error types for damaged payloads
        raise ModelFileError(f"'{path.name}' is damaged: its weights cannot be read ({exc}).") from None
    _verify_weights(path, meta, tensors)
    try:
        networks = registry.build_networks(meta["family"], meta["config"], which=meta["networks"])
    except Exception as exc:  # the meta build succeeded, so this is unexpected; still a sentence, not a crash
        raise ModelFileError(
            f"'{path.name}' describes a {meta['family']} network this version cannot build ({exc})."
        ) from None
    for net_name, net in networks.items():
        prefix = net_name + "."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        with torch.no_grad():
            net.load_state_dict(state, strict=True)
        net.eval().requires_grad_(False)
    model = LoadedModel(path=path, sha256=file_sha256(path), meta=meta, networks=networks)
    return model.to(device)


def _meta_shapes(path: Path, meta: dict[str, Any]) -> dict[str, dict[str, tuple[int, ...]]]:
    """{network: {state-dict key: shape}} of the networks the metadata describes, built on the ``meta`` device
    (no memory for weights) after the architecture bounds passed."""
    from fashionstudio.core.meta_build import network_shapes

    try:
        return network_shapes(meta["family"], meta["config"], meta["networks"])
    except Exception as exc:  # the builders raise ValueError/KeyError/TypeError for configs they reject
        raise ModelFileError(
            f"'{path.name}' describes a {meta['family']} network this version cannot build ({exc})."
        ) from None


def _compare_with_header(path: Path, shapes: dict[str, dict[str, tuple[int, ...]]], header: Header) -> None:
    """The file's tensors are exactly the described networks' weights, with the same shapes."""
    for net_name, expected in shapes.items():
        prefix = net_name + "."
        state = {k[len(prefix):]: e.shape for k, e in header.tensors.items() if k.startswith(prefix)}
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
                f"(for example '{unexpected[0][:80]}'): it was made for a different architecture."
            )
        for key, shape in state.items():
            if shape != expected[key]:
                raise ModelFileError(
                    f"'{path.name}': weight '{net_name}.{key}' has shape {shape} but the architecture "
                    f"in its metadata needs {expected[key]}."
                )
    leftover = [k for k in header.tensors if k.split(".", 1)[0] not in shapes]
    if leftover:
        raise ModelFileError(f"'{path.name}' holds weights of a network its metadata does not list "
                             f"('{leftover[0][:80]}').")


def _verify_weights(path: Path, meta: dict[str, Any], tensors: dict[str, Any]) -> None:
    """The weights are the ones exported (checksum, when the file has one) and are all finite numbers."""
    import torch

    expected = meta.get(DIGEST_KEY)
    if expected is not None and tensor_sha256(tensors) != expected:
        raise ModelFileError(
            f"This model file is damaged: the weights in '{path.name}' do not match the checksum written when it "
            "was exported (a bad copy, download or disk). Copy or export it again."
        )
    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            bad = int((~torch.isfinite(value)).sum())
            raise ModelFileError(
                f"This model file is damaged: {bad} value(s) of weight '{key}' in '{path.name}' are not numbers "
                "(NaN or infinite), so every picture it made would be blank. Export it from an earlier checkpoint."
            )


def tensor_sha256(tensors: dict[str, Any]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order (independent of file layout)."""
    import torch

    h = hashlib.sha256()
    for key in sorted(tensors):
        t = tensors[key].detach().to("cpu").contiguous()
        h.update(f"{key}\0{str(t.dtype)}\0{tuple(t.shape)}\0".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _unknown_family_sentence(path: Path, family: str) -> str:
    return (
        f"'{path.name}' is a '{family}' model, a kind this version of FashionStudio does not know "
        f"(it knows: {', '.join(registry.known_families())})."
    )
