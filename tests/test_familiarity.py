"""Familiarity: the statistics (shrunk-covariance Mahalanobis), their file formats (header entry, sidecar), the
shipped sidecars' pass/flag rates on freshly generated pictures, the export round trip and the "unknown" fallback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fashionstudio.core import familiarity as fam
from fashionstudio.core.modelfile import file_sha256, load_model_file, save_model_file
from fashionstudio.models import pixeldtgan
from training import familiarity_calibration as cal

MODELS = Path(__file__).resolve().parents[1] / "resources" / "models"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def net() -> fam.FeatureNet:
    return fam.FeatureNet()


@pytest.fixture(scope="module")
def atelier(tmp_path_factory) -> dict[str, list[Image.Image]]:
    kinds = ("inshop_person", "lookbook_person", "flat", "shoe", "bag")
    return cal.atelier_pictures(tmp_path_factory.mktemp("atelier"), 24, kinds=kinds)


@pytest.fixture(scope="module")
def foreign() -> dict[str, list[Image.Image]]:
    return cal.synthetic_foreign(12)


def test_mahalanobis_passes_its_own_distribution_and_flags_a_shifted_one() -> None:
    rng = np.random.default_rng(0)
    scale = np.linspace(0.2, 3.0, 16)
    train, held, fresh = (rng.normal(size=(n, 16)) * scale for n in (400, 100, 1000))
    ref = fam.ReferenceStats.fit_calibrated(train, held)
    assert 0.0 <= ref.shrinkage < 0.5
    assert np.mean(ref.score(fresh) <= ref.threshold) >= 0.98
    # The same shift is far along the narrowest axis and ordinary along the widest: the covariance matters.
    narrow, wide = fresh.copy(), fresh.copy()
    narrow[:, 0] += 3.0
    wide[:, -1] += 3.0
    assert np.mean(ref.score(narrow) > ref.threshold) >= 0.95
    assert np.mean(ref.score(wide) > ref.threshold) <= 0.05
    assert ref.calibration["cross_fitted"] == 400 and ref.calibration["held_out"] == 100


def test_stats_json_round_trip_gives_the_same_scores() -> None:
    rng = np.random.default_rng(1)
    ref = fam.ReferenceStats.fit_calibrated(rng.normal(size=(60, 8)), rng.normal(size=(20, 8)), "mannequins")
    stats = fam.FamiliarityStats("pixeldtgan", {"person": ref}, "abc", "def")
    back = fam.FamiliarityStats.from_json(json.loads(stats.dumps()), "test")
    x = rng.normal(size=(5, 8))
    np.testing.assert_allclose(back.roles["person"].score(x), ref.score(x), rtol=1e-5)
    assert back.roles["person"].threshold == ref.threshold and back.model_sha256 == "def"
    with pytest.raises(fam.FamiliarityError, match="cannot be read"):
        fam.FamiliarityStats.from_json({"format": fam.FORMAT, "roles": {"person": {"dim": 8}}}, "'x.json'")


@pytest.mark.parametrize("tool, role", [("extract", "person"), ("pose", "person"), ("pose-pgpg", "person"),
                                        ("match", "shoe"), ("match", "bag"),
                                        ("match-cyclegan", "shoe"), ("match-cyclegan", "bag")])
def test_shipped_sidecars_pass_their_kind_and_flag_foreign_pictures(tool, role, net, atelier, foreign) -> None:
    path = MODELS / f"{tool}.safetensors"
    stats, source = fam.find_stats(path, file_sha256(path))
    # Files exported since the statistics existed carry them in their header; older ones ship a sidecar.
    assert source in ("sidecar", "file") and stats.features_sha256 == net.sha256
    tool = tool.split("-")[0]
    ref = stats.roles[role]
    own = ref.score(net.features(atelier[cal.OWN_KIND[(tool, role)]]))
    assert np.mean(own <= ref.threshold) >= 0.95, (tool, role, own.max(), ref.threshold)
    others = [p for kind in cal.FOREIGN_KINDS[(tool, role)] for p in atelier[kind][:12]]
    others += [p for pics in foreign.values() for p in pics]
    flagged = ref.score(net.features(others)) > ref.threshold
    assert flagged.mean() >= 0.95, (tool, role, flagged.mean())


def test_foreign_generators_cover_noise_textures_objects_and_photos(foreign) -> None:
    assert {"white_noise", "smooth_noise", "texture", "drawn_object"} <= set(foreign)
    pytest.importorskip("skimage")
    assert len(foreign["photo"]) == 12


def _tiny_extract(path: Path) -> Path:
    cfg = {"preset": "demo", "resolution": 32, "g_base": 8, "z_dim": 16, "d_base": 8}
    torch.manual_seed(0)
    nets = pixeldtgan.build(cfg, which=("G",))
    name = "Tiny"
    while True:  # modelfile's pickle sniffing refuses a header length whose low byte is 0x80
        save_model_file(path, "pixeldtgan", nets, cfg, resolution=32, name=name)
        if path.read_bytes()[:1] != b"\x80":
            return path
        name += " "


def test_old_file_without_statistics_is_unknown_with_a_note(tmp_path, net, atelier) -> None:
    model = load_model_file(_tiny_extract(tmp_path / "old.safetensors"))
    checker = fam.FamiliarityChecker.for_model(model, net)
    verdict = checker.check(atelier["shoe"][0])
    assert verdict.status == "unknown" and not verdict.unfamiliar
    assert "not detected" in checker.note and "carries no statistics" in checker.note
    # A sidecar made for another file (its checksum differs) is not used either.
    shutil.copy(MODELS / "extract-pixeldtgan.familiarity.json", fam.sidecar_path(model.path))
    checker = fam.FamiliarityChecker.for_model(model, net)
    assert checker.check(atelier["shoe"][0]).status == "unknown" and "another version" in checker.note
    # A damaged sidecar is a note, never a crash.
    fam.sidecar_path(model.path).write_text("{not json")
    checker = fam.FamiliarityChecker.for_model(model, net)
    assert checker.check(atelier["shoe"][0]).status == "unknown" and "cannot be read" in checker.note
    # So is one of the right file whose numbers do not fit the feature network.
    rng = np.random.default_rng(0)
    small = fam.ReferenceStats.fit_calibrated(rng.normal(size=(40, 8)), rng.normal(size=(10, 8)))
    stats = fam.FamiliarityStats("pixeldtgan", {"person": small}, net.sha256, model.sha256)
    fam.sidecar_path(model.path).write_text(stats.dumps())
    checker = fam.FamiliarityChecker.for_model(model, net)
    assert checker.check(atelier["shoe"][0]).status == "unknown" and "damaged" in checker.note


def test_statistics_stored_in_a_model_file_round_trip(tmp_path, net, atelier) -> None:
    from training.familiarity import store_in_model_file

    path = _tiny_extract(tmp_path / "tiny.safetensors")
    before = load_model_file(path)
    shipped, _ = fam.find_stats(MODELS / "extract.safetensors", file_sha256(MODELS / "extract.safetensors"))
    store_in_model_file(path, shipped)
    after = load_model_file(path)
    assert after.meta == before.meta  # the model's own metadata and weights are untouched
    for name, net_before in before.networks.items():
        for a, b in zip(net_before.state_dict().values(), after.networks[name].state_dict().values()):
            assert torch.equal(a, b)
    checker = fam.FamiliarityChecker.for_model(after, net)
    assert checker.source == "file" and checker.note == ""
    assert checker.check(atelier["lookbook_person"][0]).status == "familiar"
    shoe = checker.check(atelier["shoe"][0])
    assert shoe.unfamiliar and "studio backdrop" in shoe.message and "LookBook folder" in shoe.message
    assert shoe.provenance()["status"] == "unfamiliar" and shoe.provenance()["score"] > shoe.provenance()["threshold"]


def test_the_advice_uses_the_new_run_dialogs_words() -> None:
    from fashionstudio.core.runs import DATA_KIND_LABELS, trainable_families

    for family in trainable_families().values():
        if family.roles:  # the advice names the family's label and its atelier kind as the dialog shows them
            assert family.label and family.atelier_kind in family.data_kinds, family.name
            advice = fam.unfamiliar_message(family.name, "")
            assert family.label in advice and DATA_KIND_LABELS[family.atelier_kind] in advice, family.name


def test_every_tool_family_has_roles_and_the_trainers_dataset_kind() -> None:
    from fashionstudio.core import registry

    for tool in ("pose", "extract", "match", "generate"):
        for family in registry.families(tool):
            assert family.roles and family.atelier_kind, family.name


def test_export_of_a_tiny_run_stores_its_training_statistics(tmp_path, net, atelier, capsys) -> None:
    from training import runner
    from training.config import to_toml
    from training.export import export_run

    run = tmp_path / "run"
    run.mkdir()
    cfg = {"family": "pixeldtgan", "preset": "demo", "seed": 5, "steps": 2, "batch_size": 4,
           "arch": {"resolution": 32, "g_base": 8, "g_down": 3, "z_dim": 16, "d_base": 8, "d_blocks": 3},
           "data": {"kind": "atelier", "size": 60},
           "log": {"log_every": 1, "sample_every": 0, "checkpoint_every": 1000, "keep_last": 1, "eval_every": 0}}
    (run / "config.toml").write_text(to_toml(cfg))
    assert runner.main(["run", str(run)]) == 0
    out = export_run(run, tmp_path / "model.safetensors", which="latest")
    stats = fam.read_header_stats(out)
    assert stats is not None and set(stats.roles) == {"person"} and stats.family == "pixeldtgan"
    ref = stats.roles["person"]
    assert ref.n > 0 and np.isfinite(ref.threshold) and ref.learned_from == fam.ATELIER_WORDS["person"]
    model = load_model_file(out)
    checker = fam.FamiliarityChecker.for_model(model, net)
    assert checker.source == "file"
    assert checker.check(atelier["shoe"][0]).unfamiliar


def test_statistics_of_another_feature_network_or_none_at_all_mean_unknown(monkeypatch, net, atelier) -> None:
    model = load_model_file(MODELS / "extract.safetensors")

    class OtherNet:
        sha256 = "0" * 64

    checker = fam.FamiliarityChecker.for_model(model, OtherNet())  # type: ignore[arg-type]
    assert not checker.known and "another feature network" in checker.note
    assert checker.check(atelier["shoe"][0]).status == "unknown"

    def missing() -> fam.FeatureNet:
        raise FileNotFoundError("resources/features/atelier_features.safetensors is missing")

    monkeypatch.setattr(fam, "shared_feature_net", missing)
    checker = fam.FamiliarityChecker.for_model(model)
    assert checker.check(atelier["shoe"][0]).status == "unknown" and "is missing" in checker.note
