"""The atelier feature network lives in fashionstudio.models (the app may not import training); the metrics
module re-exports it, and both paths give bit-identical features."""

from __future__ import annotations

import ast
from pathlib import Path

import torch

from fashionstudio.models import atelier_features as app_af
from training.metrics import atelier_features as train_af


def test_training_uses_the_app_network_class() -> None:
    assert train_af.AtelierNet is app_af.AtelierNet
    assert train_af.load_atelier is app_af.load_atelier


def test_features_bit_identical_between_app_and_metrics() -> None:
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(6, 3, 64, 64, generator=gen) * 2 - 1
    odd = torch.rand(2, 3, 90, 70, generator=gen) * 2 - 1  # resized inside embed
    net, _ = app_af.load_atelier()
    metrics = train_af.AtelierFeatures()
    with torch.no_grad():
        for x in (images, odd):
            assert torch.equal(net.embed(x), metrics(x)[0])


def test_app_module_imports_neither_training_nor_qt() -> None:
    tree = ast.parse(Path(app_af.__file__).read_text(encoding="utf-8"))
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.startswith(("training", "PySide6", "fashionstudio.core"))]
