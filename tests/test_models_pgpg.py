"""PGPG / PoseGAN networks: thesis sizes, shapes, the G1/G2 contract (difference map, no gradient into G1)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.models import pgpg
from fashionstudio.models.blocks import count_parameters


def test_thesis_parameter_counts_match_the_thesis():
    with torch.device("meta"):
        nets = pgpg.build(pgpg.PRESETS["thesis"])
    counts = {name: count_parameters(net) for name, net in nets.items()}
    assert counts == {"G1": 276_035_555, "G2": 117_459_683, "D": 1_572_945}
    assert abs(counts["G1"] - 276.0e6) <= 0.01 * 276.0e6
    assert abs(counts["G2"] - 117.4e6) <= 0.01 * 117.4e6
    # The thesis prints D as 1.6M (0.1M precision); base 8 would give 0.4M.
    assert round(counts["D"] / 1e6, 1) == 1.6
    assert abs(sum(counts.values()) - 395.1e6) <= 0.01 * 395.1e6
    # The thesis's G1 bottleneck is FC 16384 -> 16384 (256 channels x 8 x 8).
    assert nets["G1"].unet.bottleneck.fc.weight.shape == (16384, 16384)


@pytest.mark.parametrize("preset", ["thesis", "studio", "demo"])
def test_forward_shapes_at_each_preset(preset):
    cfg = pgpg.PRESETS[preset]
    r, p = cfg["resolution"], cfg["pose_channels"]
    n = 2 if preset == "thesis" else 1  # real CPU passes stay small; the thesis nets run on the meta device
    with torch.device("meta" if preset == "thesis" else "cpu"), torch.no_grad():
        nets = {name: net.eval() for name, net in pgpg.build(cfg).items()}
        src, pose = torch.randn(n, 3, r, r), torch.rand(n, p, r, r)
        coarse = nets["G1"](src, pose)
        refined = nets["G2"](src, coarse)
        score = nets["D"](src, refined)
    assert coarse.shape == refined.shape == (n, 3, r, r)
    cells = r // 2 ** cfg["d_blocks"]
    assert score.shape == (n, 1, cells, cells)


def test_refined_is_coarse_plus_the_difference_map_and_g2_never_trains_g1():
    torch.manual_seed(0)
    nets = pgpg.build(pgpg.PRESETS["demo"], which=["G1", "G2"])
    g1, g2 = nets["G1"], nets["G2"].eval()  # eval: dropout off, so the two G2 calls agree
    src, pose = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 18, 64, 64)
    coarse = g1(src, pose)
    refined = g2(src, coarse)
    assert torch.allclose(refined, coarse + g2.difference(src, coarse), atol=1e-6)
    refined.square().mean().backward()
    assert all(p.grad is None for p in g1.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in g2.parameters())


def test_g2_dropout_only_in_the_first_half_of_the_encoder():
    with torch.device("meta"):
        g2 = pgpg.build(pgpg.PRESETS["thesis"], which=["G2"])["G2"]
    has_dropout = [any(isinstance(m, nn.Dropout2d) for m in block.modules()) for block in g2.unet.encoder]
    assert has_dropout == [True, True, True, False, False, False]
    assert not any(isinstance(m, nn.Dropout2d) for m in g2.unet.decoder.modules())


def test_pose_input_can_be_iuv_or_heatmaps_and_a_wrong_pose_is_explained():
    iuv = pgpg.build({"preset": "demo", "pose_channels": 3}, which=["G1"])["G1"]
    assert iuv(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64)).shape == (1, 3, 64, 64)
    heat = pgpg.build(pgpg.PRESETS["demo"], which=["G1"])["G1"]
    with pytest.raises(ValueError, match="target pose must be a \\[N, 18, 64, 64\\]"):
        heat(torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match="pose_channels"):
        pgpg.build({"preset": "demo", "pose_channels": 17})


def test_fc_bottleneck_mixes_information_across_the_whole_map():
    """A change in one cell of G1's bottleneck input reaches every cell of its output (the FC's purpose)."""
    torch.manual_seed(0)
    cfg = pgpg.PRESETS["demo"]
    bottleneck = pgpg.build(cfg, which=["G1"])["G1"].unet.bottleneck.eval()
    side = cfg["resolution"] // 2 ** cfg["g1_blocks"]
    x = torch.randn(1, cfg["g1_base"] * 2 ** cfg["g1_blocks"], side, side)
    moved = x.clone()
    moved[:, :, 0, 0] += 1.0
    with torch.no_grad():
        changed = (bottleneck(x) - bottleneck(moved)).abs().amax(dim=1)  # [1, 8, 8]
    assert (changed > 0).all()


def test_build_which_builds_only_those():
    assert set(pgpg.build(pgpg.PRESETS["demo"], which=["D"])) == {"D"}
    assert set(pgpg.build(pgpg.PRESETS["demo"], which=pgpg.INFERENCE_NETWORKS)) == {"G1", "G2"}


def test_model_file_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(3)
    cfg = pgpg.PRESETS["demo"]
    nets = pgpg.build(cfg, which=pgpg.INFERENCE_NETWORKS)
    src, pose = torch.rand(2, 3, 64, 64) * 2 - 1, torch.rand(2, 18, 64, 64)
    nets["G2"](src, nets["G1"](src, pose))  # train-mode pass: non-default BatchNorm statistics
    for net in nets.values():
        net.eval()
    path = save_model_file(tmp_path / "pose.safetensors", "pgpg", nets, cfg, resolution=64)
    loaded = load_model_file(path).networks
    with torch.no_grad():
        c1, c2 = nets["G1"](src, pose), loaded["G1"](src, pose)
        assert torch.equal(c1, c2)
        assert torch.equal(nets["G2"](src, c1), loaded["G2"](src, c2))
