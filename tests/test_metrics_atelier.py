"""The atelier feature network: file format (safetensors + JSON, no pickle), labels read from generated data,
and a short training run that must beat chance on held-out data."""

from __future__ import annotations

import json

import pytest
import torch

from training.metrics.atelier_features import (
    IGNORE,
    AtelierClassifier,
    AtelierFeatures,
    AtelierFileError,
    AtelierNet,
    accuracies,
    default_heads,
    generate_training_data,
    load_atelier,
    load_atelier_split,
    save_atelier,
)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("atelier")
    generate_training_data(root, 12, seed=3)
    return root


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(0)
    net = AtelierNet(default_heads()).eval()
    path = save_atelier(tmp_path / "a.safetensors", net, {"held_out_accuracy": {"colour": {"flat": 0.5}}})
    loaded, meta = load_atelier(path)
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(net(x)[0], loaded(x)[0], atol=1e-6)
    assert meta["held_out_accuracy"]["colour"]["flat"] == 0.5
    assert path.read_bytes()[:1] != b"\x80"  # not a pickle
    ext = AtelierFeatures(path)
    feats, probs = ext(torch.rand(2, 3, 128, 128) * 2 - 1)  # any size is resized to 64
    assert feats.shape == (2, net.dim) and probs.shape == (2, len(default_heads()["garment_type"]))
    assert ext.name.startswith("atelier:") and ext.info["dim"] == net.dim
    clf = AtelierClassifier(path)
    names = clf.predict_names(x, "colour")
    assert len(names) == 3 and all(n in default_heads()["colour"] for n in names)


def test_missing_and_foreign_files_give_clear_sentences(tmp_path):
    with pytest.raises(AtelierFileError, match="Train it with"):
        load_atelier(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(AtelierFileError, match="not an atelier feature network"):
        load_atelier(other)
    pickle = tmp_path / "p.safetensors"
    torch.save({"w": torch.zeros(2)}, pickle)
    with pytest.raises(AtelierFileError, match="not a readable safetensors file"):
        load_atelier(pickle)


def test_labels_follow_the_generated_ground_truth(tiny_data):
    heads = default_heads()
    images, labels, groups = load_atelier_split(tiny_data, heads)
    assert images.dtype == torch.uint8 and images.shape[1:] == (3, 64, 64)
    assert len(images) == len(labels) == len(groups)
    assert set(groups) == {"person", "flat", "shoe", "bag"}
    names = list(heads)
    col = {h: names.index(h) for h in names}
    # Shoes and bags: labels equal the CSV the generator wrote, and they have no garment type or pose.
    import csv

    with open(tiny_data / "shoes_bags" / "shoes_64_labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    shoe_rows = labels[[g == "shoe" for g in groups]]
    assert [heads["colour"][i] for i in shoe_rows[:, col["colour"]].tolist()] == [r["colour_family"] for r in rows]
    assert (shoe_rows[:, col["garment_type"]] == IGNORE).all() and (shoe_rows[:, col["pose"]] == IGNORE).all()
    # Full-body images carry their pose; flats their garment's colour from atelier.json.
    meta = json.loads((tiny_data / "images" / "atelier.json").read_text())
    first = labels[groups.index("person")]
    assert heads["pose"][int(first[col["pose"]])] == meta["items"][0]["pose_kind"]
    lb = json.loads((tiny_data / "lookbook" / "atelier.json").read_text())
    flat = labels[groups.index("flat")]
    assert heads["colour"][int(flat[col["colour"]])] == lb["items"][0]["garment"]["colour_family"]


def test_accuracies_count_only_labelled_images():
    heads = {"item": ["a", "b"], "colour": ["x", "y", "z"]}
    net = AtelierNet(heads, widths=(4, 8)).eval()
    images = torch.zeros(4, 3, 64, 64, dtype=torch.uint8)
    with torch.no_grad():
        pred = net(images.float() / 127.5 - 1)[1]
    item_pred = pred["item"].argmax(1)
    labels = torch.stack([item_pred, torch.tensor([IGNORE] * 4)], 1)  # colour unknown everywhere
    acc = accuracies(net, images, labels, ["g"] * 4)
    assert acc["item"]["g"] == 1.0 and "colour" not in acc


def test_shipped_network_reads_fresh_atelier_images(tmp_path):
    """The file in resources/ (what evaluate uses by default) on data it never saw (another seed)."""
    from training.metrics.atelier_features import DEFAULT_PATH

    net, meta = load_atelier(DEFAULT_PATH)
    assert DEFAULT_PATH.stat().st_size < 3_000_000
    assert meta["held_out_accuracy"]["colour"]["shoe"] >= 0.9  # the card's numbers are in the file
    generate_training_data(tmp_path, 24, seed=777)
    images, labels, groups = load_atelier_split(tmp_path, net.head_classes)
    acc = accuracies(net, images, labels, groups)
    assert min(acc["item"].values()) >= 0.95

    def pooled(head: str) -> float:
        j = list(net.head_classes).index(head)
        mask = labels[:, j] != IGNORE
        with torch.no_grad():
            pred = net(images[mask].float() / 127.5 - 1)[1][head].argmax(1)
        return float((pred == labels[mask, j]).float().mean())

    assert pooled("colour") >= 0.85  # chance: 1/13
    assert pooled("formality") >= 0.85
