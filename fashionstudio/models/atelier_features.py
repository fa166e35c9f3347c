"""The atelier feature network's architecture and loading, shared by the app and the trainer.

A small CNN trained on the synthetic atelier's attribute labels (its training code lives in
``training/metrics/atelier_features.py``). The trunk turns a 64×64 image in [−1, 1] into a 160-d embedding;
one linear head per attribute classifies it. The app uses only the embedding (to tell whether an input looks
like a model's training pictures); the trainer's metrics use embedding and heads.

File format: one ``.safetensors`` file with the trunk and heads, and a JSON header entry ``"atelier_features"``
(architecture, head vocabularies, training facts). Loading never unpickles and never imports Qt or ``training``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

META_KEY = "atelier_features"
FORMAT_VERSION = 1
INPUT_SIZE = 64
# The file in a source checkout; the app finds it through fashionstudio.core.resources instead.
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "resources" / "features" / "atelier_features.safetensors"


def _conv(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class AtelierNet(nn.Module):
    """Trunk (64 → 4 px in four stride-2 stages) + global average pool + one linear head per attribute.

    The first conv runs at full resolution (``stem`` channels; 0 = none) before any striding: stripes, checks and
    dots are a few pixels wide at 64 px and alias away under a strided first layer."""

    def __init__(self, heads: dict[str, list[str]], widths: tuple[int, ...] = (32, 64, 96, 160),
                 stem: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(3, stem, 1), _conv(stem, widths[0], 2)] if stem else [_conv(3, widths[0], 2)]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [_conv(cin, cout, 2), _conv(cout, cout, 1)]
        self.trunk = nn.Sequential(*layers)
        self.dim = widths[-1]
        self.heads = nn.ModuleDict({name: nn.Linear(self.dim, len(classes)) for name, classes in heads.items()})
        self.head_classes = {name: list(classes) for name, classes in heads.items()}
        self.widths, self.stem = tuple(widths), stem

    def embed(self, images: Tensor) -> Tensor:
        """160-d embedding of images in [−1, 1] (resized to 64×64 first)."""
        x = images.float()
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False, antialias=True)
        return self.trunk(x).mean(dim=(2, 3))

    def forward(self, images: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        emb = self.embed(images)
        return emb, {name: head(emb) for name, head in self.heads.items()}


class AtelierFileError(ValueError):
    """The atelier feature file is missing or unusable; the message says what to do."""


def load_atelier(path: str | Path | None = None) -> tuple[AtelierNet, dict[str, Any]]:
    """Load the atelier CNN (eval mode) and its metadata from a safetensors file; nothing is unpickled."""
    from safetensors import safe_open

    path = Path(path) if path else DEFAULT_PATH
    if not path.is_file():
        raise AtelierFileError(
            f"There is no atelier feature network at '{path}'. Train it with "
            "'python -m training.metrics.atelier_features train resources/features/atelier_features.safetensors'."
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            raw = (f.metadata() or {}).get(META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own types for foreign or damaged files
        raise AtelierFileError(f"'{path.name}' is not a readable safetensors file ({exc}).") from None
    if raw is None:
        raise AtelierFileError(f"'{path.name}' is a safetensors file but not an atelier feature network.")
    try:
        meta = json.loads(raw)
        if meta.get("format_version", 0) > FORMAT_VERSION:
            raise AtelierFileError(f"'{path.name}' was written by a newer FashionStudio; update to use it.")
        net = AtelierNet(meta["heads"], tuple(meta["widths"]), int(meta.get("stem", 0)))
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, AtelierFileError):
            raise
        raise AtelierFileError(f"'{path.name}' has damaged atelier metadata ({exc}).") from None
    try:
        net.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise AtelierFileError(f"'{path.name}' does not match the atelier network its metadata describes ({exc}).") \
            from None
    net.eval().requires_grad_(False)
    return net, meta
