"""PixelDTGAN networks: thesis sizes, shapes, the two discriminators' inputs, model-file round trip."""

from __future__ import annotations

import pytest
import torch

from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.models import pixeldtgan
from fashionstudio.models.blocks import count_parameters


def test_thesis_parameter_counts_match_the_thesis():
    with torch.device("meta"):
        nets = pixeldtgan.build(pixeldtgan.PRESETS["thesis"])
    counts = {name: count_parameters(net) for name, net in nets.items()}
    assert counts == {"G": 37_711_719, "D_R": 6_199_553, "D_A": 6_203_009}
    for name, stated in {"G": 37.7e6, "D_R": 6.2e6, "D_A": 6.2e6}.items():
        assert abs(counts[name] - stated) <= 0.01 * stated, name
    assert abs(sum(counts.values()) - 50.1e6) <= 0.01 * 50.1e6


@pytest.mark.parametrize("preset", ["thesis", "studio", "demo"])
def test_forward_shapes_at_each_preset(preset):
    cfg = pixeldtgan.PRESETS[preset]
    r = cfg["resolution"]
    with torch.device("meta" if preset == "thesis" else "cpu"):
        nets = pixeldtgan.build(cfg)
        person = torch.randn(2, 3, r, r)
        garment = nets["G"](person)
        assert garment.shape == (2, 3, r, r)
        assert nets["G"].encode(person).shape == (2, cfg["z_dim"], 1, 1)
        assert nets["D_R"](garment).shape == (2, 1, r // 16, r // 16)
        assert nets["D_A"](person, garment).shape == (2, 1, r // 16, r // 16)


def test_bottleneck_code_is_pixel_normalised_and_decoder_ends_in_tanh():
    torch.manual_seed(0)
    g = pixeldtgan.build(pixeldtgan.PRESETS["demo"], which=["G"])["G"].eval()
    code = g.encode(torch.rand(3, 3, 64, 64) * 2 - 1)
    rms = code.square().mean(dim=1).sqrt().flatten()
    assert torch.allclose(rms, torch.ones(3), atol=1e-4)
    out = g.decode(code)
    assert out.abs().max() <= 1


def test_discriminators_take_the_inputs_the_spec_gives_them():
    nets = pixeldtgan.build(pixeldtgan.PRESETS["demo"], which=["D_R", "D_A"])
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(TypeError):
        nets["D_A"](x)  # the association D needs (person, garment)
    with pytest.raises(TypeError):
        nets["D_R"](x, x)  # the real/fake D sees the garment alone
    # D_A really looks at the person: changing only the condition changes its score.
    d_a = nets["D_A"].eval()
    assert not torch.equal(d_a(x, x), d_a(torch.randn(1, 3, 64, 64), x))


def test_wrong_image_size_gets_a_readable_error():
    g = pixeldtgan.build(pixeldtgan.PRESETS["demo"], which=["G"])["G"]
    with pytest.raises(ValueError, match="64x64"):
        g(torch.zeros(1, 3, 128, 128))


def test_build_which_builds_only_those():
    assert set(pixeldtgan.build(pixeldtgan.PRESETS["demo"], which=pixeldtgan.INFERENCE_NETWORKS)) == {"G"}
    assert set(pixeldtgan.build(pixeldtgan.PRESETS["demo"])) == set(pixeldtgan.NETWORKS)


def test_model_file_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(2)
    cfg = pixeldtgan.PRESETS["demo"]
    g = pixeldtgan.build(cfg, which=["G"])["G"]
    g.train()
    g(torch.randn(4, 3, 64, 64))  # move the BatchNorm running statistics away from their defaults
    g.eval()
    path = save_model_file(tmp_path / "extract.safetensors", "pixeldtgan", {"G": g}, cfg, resolution=64)
    loaded = load_model_file(path).networks["G"]
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(g(x), loaded(x))
