"""CycleGAN/DiscoGAN networks: thesis sizes, shapes at every preset, selective build, model-file round trip."""

from __future__ import annotations

import pytest
import torch

from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.models import cyclegan
from fashionstudio.models.blocks import count_parameters


def _within_thesis_figure(n: int, stated_millions: float) -> bool:
    """Within 1% of the thesis figure, or equal to it at the 0.1M precision the thesis prints small nets with."""
    return abs(n - stated_millions * 1e6) <= max(0.01 * stated_millions * 1e6, 0.05e6)


def test_thesis_parameter_counts_match_the_thesis():
    with torch.device("meta"):
        nets = cyclegan.build(cyclegan.PRESETS["thesis"])
    counts = {name: count_parameters(net) for name, net in nets.items()}
    # Exact counts pin the architecture; the thesis figures are G 11.4M each, D 1.6M each (Table 12).
    assert counts == {"G_AB": 11_378_179, "G_BA": 11_378_179, "D_A": 1_551_489, "D_B": 1_551_489}
    assert abs(counts["G_AB"] - 11.4e6) <= 0.01 * 11.4e6
    assert _within_thesis_figure(counts["D_A"], 1.6)
    assert abs(sum(counts.values()) - 25.9e6) <= 0.01 * 25.9e6


@pytest.mark.parametrize("preset", ["thesis", "studio", "demo"])
def test_forward_shapes_at_each_preset(preset):
    cfg = cyclegan.PRESETS[preset]
    r = cfg["resolution"]
    with torch.device("meta" if preset == "thesis" else "cpu"):
        nets = cyclegan.build(cfg)
        x = torch.randn(2, 3, r, r)
        for name in ("G_AB", "G_BA"):
            assert nets[name](x).shape == (2, 3, r, r)
        for name in ("D_A", "D_B"):
            assert nets[name](x).shape == (2, 1, r // 16, r // 16)


def test_generator_output_is_an_image_in_range():
    torch.manual_seed(0)
    g = cyclegan.build(cyclegan.PRESETS["demo"], which=["G_AB"])["G_AB"].eval()
    y = g(torch.rand(1, 3, 64, 64) * 2 - 1)
    assert y.min() >= -1 and y.max() <= 1 and y.std() > 0


def test_build_which_builds_only_those_and_rejects_unknown_names():
    nets = cyclegan.build(cyclegan.PRESETS["demo"], which=cyclegan.INFERENCE_NETWORKS)
    assert set(nets) == {"G_AB", "G_BA"}
    with pytest.raises(KeyError, match="D_C"):
        cyclegan.build(cyclegan.PRESETS["demo"], which=["D_C"])
    with pytest.raises(ValueError, match="g_bsae"):
        cyclegan.build({"preset": "demo", "g_bsae": 3})


def test_spectral_norm_is_only_on_the_last_projection():
    d = cyclegan.build(cyclegan.PRESETS["demo"], which=["D_A"])["D_A"]
    normed = [name for name, m in d.named_modules() if hasattr(m, "parametrizations")]
    assert normed == ["head"]


def test_model_file_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    cfg = cyclegan.PRESETS["demo"]
    nets = {k: v.eval() for k, v in cyclegan.build(cfg, which=cyclegan.INFERENCE_NETWORKS).items()}
    path = save_model_file(tmp_path / "match.safetensors", "cyclegan", nets, cfg, resolution=cfg["resolution"])
    loaded = load_model_file(path)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        for name in cyclegan.INFERENCE_NETWORKS:
            assert torch.equal(nets[name](x), loaded.networks[name](x))


def test_resize_upsampling_has_no_checkerboard_and_round_trips(tmp_path):
    """A generator with "resize" upsampling: same shapes, stored in and rebuilt from the model file; and on a
    constant code it decodes to an image without the stride-2 transposed conv's period-2 pattern."""
    cfg = {**cyclegan.PRESETS["demo"], "g_upsample": "resize"}
    torch.manual_seed(2)
    nets = {k: v.eval() for k, v in cyclegan.build(cfg, which=cyclegan.INFERENCE_NETWORKS).items()}
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    path = save_model_file(tmp_path / "match.safetensors", "cyclegan", nets, cfg, resolution=64)
    loaded = load_model_file(path)
    assert loaded.config["g_upsample"] == "resize"
    with torch.no_grad():
        assert torch.equal(nets["G_AB"](x), loaded.networks["G_AB"](x))

    def period2_energy(upsample: str) -> float:
        # The decoder half alone, fed a constant code with positive weights: any spatial variation in the middle of
        # the output comes from how upsampling spreads the code.
        torch.manual_seed(0)
        g = cyclegan.ResnetGenerator(3, 8, 2, 0, upsample)
        for m in g.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                torch.nn.init.constant_(m.weight, 0.01)
                torch.nn.init.zeros_(m.bias)
        decoder = g.net[1 + 2:-2]  # after the stem and two downsamplings (no residual blocks), before the output
        with torch.no_grad():
            y = decoder(torch.ones(1, 32, 8, 8))[..., 4:-4, 4:-4]
        return float((y - y.mean(dim=(2, 3), keepdim=True)).abs().mean())

    assert period2_energy("transpose") > 100 * period2_energy("resize") + 1e-6
    with pytest.raises(ValueError, match="g_upsample"):
        cyclegan.ResnetGenerator(3, 8, 2, 0, "bilinear")
