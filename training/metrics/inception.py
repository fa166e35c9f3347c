"""Inception-v3 feature extractor for FID/KID/PR/IS, built with torchvision's architecture from a local file.

Two weight files are understood (nothing is ever downloaded):

- ``pt_inception-2015-12-05-6726825d.pth``: the TensorFlow FID Inception ported by pytorch-fid (the same file
  torch-fidelity ships as ``weights-inception-2015-12-05-6726825d.pth``). It has 1008 classes, and its pooling
  branches differ from torchvision's: the average pools ignore padding, and the last block max-pools. We patch
  those blocks so the features match the reference FID network; FID from this file is comparable with
  published numbers (up to the resize filter, see ``RESIZE``).
- torchvision's ImageNet ``inception_v3_google-*.pth`` (1000 classes): usable, but its FID values are not
  comparable with published ones (the thesis used it).

Both networks expect pixels in [−1, 1] at 299×299, which is what the app's tensors already are, so images are
only resized. Files are read with safetensors or ``torch.load(weights_only=True)``: nothing is unpickled.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

RESIZE = "bilinear 299x299, align_corners=False (pytorch-fid convention)"
TF_FID_CLASSES = 1008
IMAGENET_CLASSES = 1000


class InceptionWeightsError(ValueError):
    """The file given for the Inception extractor cannot be used; the message says why and what to do."""


def _fid_inception_blocks():
    """Subclasses of torchvision's blocks with the pooling of the TensorFlow FID graph."""
    from torchvision.models.inception import InceptionA, InceptionC, InceptionE

    def avg_pool_no_pad(x: Tensor) -> Tensor:
        # TF's average pool divides by the number of real (non-padding) pixels.
        return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)

    class FIDInceptionA(InceptionA):
        def _forward(self, x: Tensor) -> list[Tensor]:
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return [self.branch1x1(x), b5, b3, self.branch_pool(avg_pool_no_pad(x))]

    class FIDInceptionC(InceptionC):
        def _forward(self, x: Tensor) -> list[Tensor]:
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d = x
            for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                          self.branch7x7dbl_4, self.branch7x7dbl_5):
                d = layer(d)
            return [self.branch1x1(x), b7, d, self.branch_pool(avg_pool_no_pad(x))]

    class FIDInceptionE(InceptionE):
        max_pool = False  # Mixed_7c of the TF graph max-pools its pooling branch

        def _forward(self, x: Tensor) -> list[Tensor]:
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
            if self.max_pool:
                pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
            else:
                pooled = avg_pool_no_pad(x)
            return [self.branch1x1(x), b3, d, self.branch_pool(pooled)]

    return FIDInceptionA, FIDInceptionC, FIDInceptionE


def _file_digest(path: Path) -> str:
    """First 16 hex digits of the file's sha256: identifies the weights in reports and cache keys."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.exists():
        raise InceptionWeightsError(
            f"There is no Inception weights file at '{path}'. Inception-based FID/KID/IS need the "
            "pt_inception-2015-12-05 weights of pytorch-fid / torch-fidelity (or torchvision's ImageNet "
            "inception_v3 weights) on disk; FashionStudio never downloads them. Download one by hand and pass "
            "--features inception:PATH, or use --features atelier."
        )
    if path.is_dir():
        raise InceptionWeightsError(f"'{path}' is a folder; --features inception:FILE needs the weights file itself.")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/safetensors raise many types for foreign files
        raise InceptionWeightsError(
            f"'{path.name}' cannot be read as a plain weights file ({type(exc).__name__}). TorchScript programs "
            "such as NVIDIA's inception-2015-12-05.pt are not run by FashionStudio; use pytorch-fid's "
            "pt_inception-2015-12-05-6726825d.pth or torchvision's inception_v3_google .pth instead."
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise InceptionWeightsError(f"'{path.name}' does not hold a state dict of tensors.")
    return {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("AuxLogits.")}


def build_inception(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Build the Inception-v3 of the weights file at ``path``; return the network (eval mode, fc intact) and
    a description for reports (variant, classes, file name and sha256 prefix)."""
    from torchvision.models import inception_v3

    path = Path(path)
    state = _read_state_dict(path)
    fc = state.get("fc.weight")
    if fc is None or fc.ndim != 2 or fc.shape[1] != 2048 or fc.shape[0] not in (TF_FID_CLASSES, IMAGENET_CLASSES):
        raise InceptionWeightsError(
            f"'{path.name}' is not an Inception-v3 weights file: it has no 'fc.weight' of shape (1008, 2048) "
            "(pytorch-fid FID weights) or (1000, 2048) (torchvision ImageNet weights)."
        )
    classes = int(fc.shape[0])
    net = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=classes)
    variant = "torchvision-imagenet"
    if classes == TF_FID_CLASSES:
        variant = "tf-fid-2015-12-05"
        block_a, block_c, block_e = _fid_inception_blocks()
        for name in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
            getattr(net, name).__class__ = block_a
        for name in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
            getattr(net, name).__class__ = block_c
        net.Mixed_7b.__class__ = block_e
        net.Mixed_7c.__class__ = block_e
        net.Mixed_7c.max_pool = True
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        example = (missing or extra)[0]
        raise InceptionWeightsError(
            f"'{path.name}' is not in torchvision's Inception-v3 layout ({len(missing)} tensor(s) missing, "
            f"{len(extra)} unexpected, e.g. '{example}')."
        )
    for key, value in state.items():
        if value.shape != expected[key].shape:
            raise InceptionWeightsError(
                f"'{path.name}': tensor '{key}' has shape {tuple(value.shape)}, Inception-v3 needs "
                f"{tuple(expected[key].shape)}."
            )
    net.load_state_dict(state, strict=True)
    net.eval().requires_grad_(False)
    return net, {"variant": variant, "classes": classes, "weights": path.name, "sha256": _file_digest(path),
                 "resize": RESIZE}


class InceptionFeatures:
    """2048-d pool3 features and class probabilities of images in [−1, 1] (any size, resized to 299)."""

    dim = 2048

    def __init__(self, path: str | Path, device: str | torch.device = "cpu") -> None:
        net, info = build_inception(path)
        self.fc = net.fc
        net.fc = nn.Identity()  # the network now ends at the 2048-d average pool
        self.net = net.to(device)
        self.fc.to(device)
        self.device = torch.device(device)
        self.info = {"extractor": "inception", **info}
        self.name = f"inception:{info['variant']}:{info['sha256']}"

    @torch.no_grad()
    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = images.to(self.device, torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        feats = self.net(x)
        probs = torch.softmax(self.fc(feats), dim=1)
        return feats.float().cpu(), probs.float().cpu()
