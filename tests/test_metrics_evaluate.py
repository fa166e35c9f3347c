"""``evaluate``: each family's samples and baselines on tiny generated atelier data, the report, the cache, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fashionstudio.core import registry
from training.data import make_dataset
from training.data.atelier import generate
from training.metrics.atelier_features import (
    AtelierClassifier,
    AtelierFeatures,
    AtelierNet,
    default_heads,
    save_atelier,
)
from training.metrics.evaluate import evaluate_networks, headline_values, main
from training.metrics.paired import l1_distance
from training.metrics.sampling import centre_crop


@pytest.fixture(scope="module")
def atelier_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("feat") / "atelier.safetensors"
    return save_atelier(path, AtelierNet(default_heads()).eval(), {})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return {kind: generate(kind, root / kind, n, 64, seed=1)
            for kind, n in (("shoes_bags", 20), ("inshop", 12), ("lookbook", 9), ("images", 12))}


def _nets(family: str, seed: int = 0) -> dict:
    import importlib

    torch.manual_seed(seed)
    module = importlib.import_module(f"fashionstudio.models.{family}")
    return registry.build_networks(family, {"preset": "demo"}, which=module.INFERENCE_NETWORKS)


def _run(family, dataset, atelier_file, n=8, **kw):
    return evaluate_networks(_nets(family), family, {"preset": "demo"}, dataset, n=n,
                             extractor=AtelierFeatures(atelier_file), classifier=AtelierClassifier(atelier_file),
                             batch_size=4, **kw)


def test_pose_report_has_source_and_coarse_baselines(data, atelier_file):
    dataset = make_dataset("inshop", data["inshop"], "all", 64)
    report = _run("pgpg", dataset, atelier_file)
    assert report["n"] == 8 and report["tool"] == "pose"
    assert set(report["paired"]) == {"model", "g1_coarse", "baseline_source_unchanged"}
    # Independent check of the baseline: L1 between the same 8 sources and targets, computed here.
    g = torch.Generator().manual_seed(0)
    idx = torch.randperm(len(dataset), generator=g)[:8].tolist()
    src = torch.stack([dataset[i]["src"] for i in idx])
    tgt = torch.stack([dataset[i]["tgt"] for i in idx])
    assert report["paired"]["baseline_source_unchanged"]["l1"] == pytest.approx(float(l1_distance(src, tgt).mean()),
                                                                                rel=1e-6)
    for res in report["sets"].values():
        assert res["n_fake"] == 8 and np.isfinite(res["fid"])
    assert report["features"]["extractor"] == "atelier"
    # The target's body mask gives the masked scores; the source baseline's, checked here.
    from training.metrics.paired import masked_l1

    mask = torch.stack([dataset[i]["tgt_mask"] for i in idx]).float()
    base = report["paired"]["baseline_source_unchanged"]
    assert base["mask_n"] == 8
    assert base["mask_l1"] == pytest.approx(float(masked_l1(src, tgt, mask).mean()), rel=1e-6)


def test_extract_scores_colour_against_ground_truth_labels(data, atelier_file):
    dataset = make_dataset("lookbook", data["lookbook"], "all", 64)
    report = _run("pixeldtgan", dataset, atelier_file)
    assert set(report["paired"]) == {"model", "baseline_centre_crop"}
    assert report["agreement_labels"]["model/colour"] == "ground-truth labels"
    for name in ("model", "baseline_centre_crop"):
        assert 0.0 <= report["agreement"][name]["colour"] <= 1.0


def test_centre_crop_takes_the_middle():
    x = torch.zeros(1, 1, 8, 8)
    x[..., 2:6, 2:6] = 1.0
    assert torch.allclose(centre_crop(x, 0.5), torch.ones(1, 1, 8, 8))


def test_match_reports_both_directions_and_random_pairing_baseline(data, atelier_file):
    dataset = make_dataset("shoes_bags", data["shoes_bags"], "all", 64)
    report = _run("cyclegan", dataset, atelier_file)
    assert set(report["sets"]) == {"shoe_to_bag", "bag_to_shoe"}
    rows = {"shoe_to_bag", "bag_to_shoe", "baseline_random_bag", "baseline_random_shoe", "ceiling_real_bag",
            "ceiling_real_shoe"}
    category = {"category_shoe_to_bag", "category_bag_to_shoe", "category_ceiling_real_bag", "category_ceiling_real_shoe",
                "category_baseline_input_unchanged_bag", "category_baseline_input_unchanged_shoe"}
    assert set(report["agreement"]) == rows | category
    assert report["agreement_labels"]["baseline_random_bag/colour"] == "ground-truth labels"
    values = headline_values(report)
    assert "shoe_to_bag/colour_agreement" in values and "bag_to_shoe/fid" in values


def test_match_ceiling_is_the_classifiers_accuracy_on_real_items(data, atelier_file):
    # Over every item of the set once, the ceiling rows equal the classifier's accuracy on the real images,
    # computed here directly from the files.
    import h5py

    dataset = make_dataset("shoes_bags", data["shoes_bags"], "all", 64)
    n = len(dataset)
    report = _run("cyclegan", dataset, atelier_file, n=n)
    assert report["n"] == n
    classifier = AtelierClassifier(atelier_file)
    for name, files, rows in (("ceiling_real_shoe", "shoes", dataset.labels_A),
                              ("ceiling_real_bag", "handbags", dataset.labels_B)):
        with h5py.File(data["shoes_bags"] / f"{files}_64.hdf5") as f:
            images = torch.from_numpy(np.asarray(f["imgs"])).permute(0, 3, 1, 2).float() / 127.5 - 1
        for head, column in (("colour", "colour_family"), ("pattern", "pattern")):
            predicted = classifier.predict_names(images[:n], head)
            expected = np.mean([p == r[column] for p, r in zip(predicted, rows[:n])])
            assert report["agreement"][name][head] == pytest.approx(expected, abs=1e-9), (name, head)


def test_generate_untrained_reference_equals_model_with_initial_weights(data, atelier_file):
    # A model that IS the seeded initial network must score exactly like the 0-step reference.
    dataset = make_dataset("images", data["images"], "all", 64)
    report = evaluate_networks(_nets("stylegan2", seed=0), "stylegan2", {"preset": "demo"}, dataset, n=8,
                               extractor=AtelierFeatures(atelier_file), batch_size=4, seed=0)
    model, untrained = report["sets"]["model"], report["sets"]["untrained_0_steps"]
    assert model["fid"] == pytest.approx(untrained["fid"], rel=1e-9)
    other = evaluate_networks(_nets("stylegan2", seed=5), "stylegan2", {"preset": "demo"}, dataset, n=8,
                              extractor=AtelierFeatures(atelier_file), batch_size=4, seed=0)
    assert other["sets"]["model"]["fid"] != pytest.approx(other["sets"]["untrained_0_steps"]["fid"], rel=1e-6)


def test_cli_on_a_model_file_writes_report_and_reuses_cached_real_features(data, atelier_file, tmp_path):
    from fashionstudio.core.modelfile import save_model_file

    model = save_model_file(tmp_path / "match.safetensors", "cyclegan", _nets("cyclegan"), {"preset": "demo"},
                            resolution=64)
    args = ["evaluate", str(model), "--data", f"shoes_bags:{data['shoes_bags']}", "--split", "all", "--n", "8",
            "--batch-size", "4", "--features", f"atelier:{atelier_file}", "--classifier", str(atelier_file),
            "--cache-dir", str(tmp_path / "cache")]
    assert main(args + ["--out", str(tmp_path / "r1.json")]) == 0
    assert main(args + ["--out", str(tmp_path / "r2.json")]) == 0
    r1 = json.loads((tmp_path / "r1.json").read_text())
    r2 = json.loads((tmp_path / "r2.json").read_text())
    assert r1["n"] == 8 and r1["features"]["name"].startswith("atelier:") and r1["data"]["kind"] == "shoes_bags"
    assert r1["real_features_cached"] == [] and r2["real_features_cached"] == ["bag", "shoe"]
    assert r2["sets"]["shoe_to_bag"]["fid"] == pytest.approx(r1["sets"]["shoe_to_bag"]["fid"], rel=1e-6)


def test_cli_errors_are_sentences(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing.safetensors")]) == 2
    assert "no run folder or model file" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_a_run_folder_appends_a_metrics_event(tmp_path, atelier_file):
    """A real (2-step) CycleGAN run: evaluate exports its best checkpoint, writes RUN_DIR/eval/*.json and appends
    a metrics event the Train tab can plot."""
    from fashionstudio.core.run_folder import read_events
    from training.runner import main as run_main

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text(
        'family = "cyclegan"\npreset = "demo"\nsteps = 2\nbatch_size = 4\n[data]\nkind = "atelier"\nsize = 40\n'
        "[log]\nsample_every = 0\ncheckpoint_every = 2\n"
    )
    assert run_main(["run", str(run)]) == 0
    args = ["evaluate", str(run), "--n", "8", "--batch-size", "4", "--features", f"atelier:{atelier_file}",
            "--classifier", str(atelier_file), "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    events = [e for e in read_events(run)[0] if e["kind"] == "metrics"]
    assert events and events[-1]["step"] == 2 and events[-1]["features"].startswith("atelier:")
    report = json.loads((run / events[-1]["report"]).read_text())
    assert report["model"]["steps"] == 2 and report["data"]["kind"] == "atelier"
    assert "shoe_to_bag/colour_agreement" in events[-1]["values"]
