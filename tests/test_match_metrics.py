"""Match evaluation rows: category right catches a recolouring copier; shape copied and diversity see it too.

Two hand-made "models" on a small atelier shoes/bags set: one returns its input recoloured (what the CycleGAN demo
does too often), one returns real items of the other kind from a fixed bank. Colour agreement cannot tell the first
from a translation; the category, shape and diversity rows must.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from training.data import make_dataset
    from training.data.atelier import generate

    path = generate("shoes_bags", tmp_path_factory.mktemp("sb") / "sb", 32, resolution=64, seed=3)
    return make_dataset("shoes_bags", path, split="all", resolution=64)


class Recolour(nn.Module):
    """Returns its input with the channels rotated: the same item, in another colour."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.roll(1, dims=1)


class Bank(nn.Module):
    """Returns real items of the other kind (a fixed bank, picked by the input's mean so each input differs)."""

    def __init__(self, items: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("items", items)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pick = ((x.mean(dim=(1, 2, 3)) + 1) * 1000).long() % self.items.shape[0]
        return self.items[pick]


def _evaluate(networks, dataset):
    from training.metrics.atelier_features import AtelierClassifier, AtelierFeatures
    from training.metrics.evaluate import evaluate_networks

    return evaluate_networks(networks, "cyclegan", {}, dataset, n=32, extractor=AtelierFeatures(),
                             classifier=AtelierClassifier(), batch_size=16)


def test_category_shape_and_diversity_catch_a_recolouring_copier(data):
    copier = _evaluate({"G_AB": Recolour(), "G_BA": Recolour()}, data)
    bags = torch.stack([data[i]["B"] for i in range(len(data))])
    shoes = torch.stack([data[i]["A"] for i in range(len(data))])
    real = _evaluate({"G_AB": Bank(bags), "G_BA": Bank(shoes)}, data)

    cat = copier["agreement"]
    assert cat["category_shoe_to_bag"]["item"] <= 0.1 and cat["category_bag_to_shoe"]["item"] <= 0.1
    assert real["agreement"]["category_shoe_to_bag"]["item"] >= 0.9
    assert real["agreement"]["category_bag_to_shoe"]["item"] >= 0.9
    assert cat["category_ceiling_real_bag"]["item"] >= 0.9  # the classifier itself knows a bag

    s, r = copier["scores"], real["scores"]
    assert s["shape_iou/shoe_to_bag"] > 0.95 > s["shape_iou/random_real_pair_bag"] + 0.2
    assert r["shape_iou/shoe_to_bag"] < s["shape_iou/shoe_to_bag"] - 0.2
    # The copier's candidates are shifted/zoomed copies of one item: far less diverse than four real bags.
    assert s["diversity/shoe_to_bag"] < 0.6 * s["diversity/real_bags"]
    assert 0.0 <= s["duplicates/shoe_to_bag"] <= 1.0
