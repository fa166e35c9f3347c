"""StyleGAN2: shapes, modulation maths, truncation, style mixing, noise modes, w_avg, model-file round trip."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fashionstudio.core.modelfile import load_model_file, save_model_file
from fashionstudio.models import stylegan2
from fashionstudio.models.stylegan2 import ModulatedConv2d, MinibatchStd


def _demo_generator(seed: int = 0) -> stylegan2.Generator:
    torch.manual_seed(seed)
    g = stylegan2.build(stylegan2.PRESETS["demo"], which=["G"])["G"].eval()
    with torch.no_grad():
        # Fresh networks have zero noise strengths and a zero w_avg, which would make several checks vacuous.
        for name, p in g.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.3)
        g.w_avg.normal_()
    return g


@pytest.mark.parametrize("preset", ["thesis", "studio", "demo"])
def test_forward_shapes_at_each_preset(preset):
    cfg = stylegan2.PRESETS[preset]
    r = cfg["resolution"]
    with torch.device("meta" if preset == "thesis" else "cpu"), torch.no_grad():
        nets = stylegan2.build(cfg)
        g, d = nets["G"].eval(), nets["D"]
        z = torch.randn(2, cfg["z_dim"])
        w = g.mapping(z)
        ws = g.broadcast(w)
        img = g.synthesis(ws)
        score = d(img)
    assert w.shape == (2, cfg["w_dim"])
    assert g.num_ws == 2 * (r.bit_length() - 1) - 2 and ws.shape == (2, g.num_ws, cfg["w_dim"])
    assert img.shape == (2, 3, r, r)
    assert score.shape == (2, 1)


def test_modulated_conv_equals_per_sample_weight_modulation():
    """The batched 'scale the activations' form equals the paper's per-sample modulated, demodulated weights."""
    torch.manual_seed(0)
    for up in (False, True):
        conv = ModulatedConv2d(6, 5, 3, w_dim=8, up=up)
        x, w = torch.randn(3, 6, 8, 8), torch.randn(3, 8)
        got = conv(x, w)
        s = conv.affine(w)
        outs = []
        for n in range(3):
            wn = conv.weight * conv.weight_gain * s[n][None, :, None, None]
            wn = wn * torch.rsqrt(wn.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
            if up:
                y = conv.blur(F.conv_transpose2d(x[n : n + 1], wn.transpose(0, 1), stride=2))
            else:
                y = F.conv2d(x[n : n + 1], wn, padding=1)
            outs.append(y)
        assert got.shape == (3, 5, 16 if up else 8, 16 if up else 8)
        assert torch.allclose(got, torch.cat(outs), atol=1e-5)


def test_truncation_psi_zero_gives_the_w_avg_image():
    g = _demo_generator()
    with torch.no_grad():
        a = g(torch.randn(2, g.z_dim), truncation_psi=0.0, noise_mode="const")
        avg = g.synthesis(g.broadcast(g.w_avg[None]), noise_mode="const")
        full = g(torch.randn(2, g.z_dim), truncation_psi=1.0, noise_mode="const")
    assert torch.allclose(a[0], avg[0], atol=1e-5) and torch.allclose(a[1], avg[0], atol=1e-5)
    assert not torch.allclose(full[0], full[1], atol=1e-3)


def test_truncation_cutoff_only_touches_the_first_ws():
    g = _demo_generator()
    ws = torch.randn(1, g.num_ws, g.w_dim)
    t = g.truncate(ws, 0.0, cutoff=3)
    assert torch.equal(t[:, 3:], ws[:, 3:])
    assert torch.allclose(t[:, :3], g.w_avg.expand(1, 3, -1))


def test_style_mixing_changes_the_output_and_its_cutoff_selects_the_source():
    g = _demo_generator()
    z1, z2 = torch.randn(1, g.z_dim), torch.randn(1, g.z_dim)
    with torch.no_grad():
        a, b = g(z1), g(z2)
        mixed = g(z1, z_mix=z2, mix_cutoff=4)
        assert torch.allclose(g(z1, z_mix=z2, mix_cutoff=g.num_ws), a, atol=1e-6)
        assert torch.allclose(g(z1, z_mix=z2, mix_cutoff=0), b, atol=1e-6)
        # per-sample cutoffs (training-time mixing regularisation)
        pair = g(torch.cat([z1, z1]), z_mix=torch.cat([z2, z2]), mix_cutoff=torch.tensor([0, g.num_ws]))
        ws_mix = g.mix(g.broadcast(g.mapping(z1)), g.broadcast(g.mapping(z2)), range(4, g.num_ws))
        assert torch.allclose(g.synthesis(ws_mix), mixed, atol=1e-6)
    assert (mixed - a).abs().max() > 1e-3 and (mixed - b).abs().max() > 1e-3
    assert torch.allclose(pair[0], b[0], atol=1e-5) and torch.allclose(pair[1], a[0], atol=1e-5)


def test_noise_modes():
    g = _demo_generator()
    ws = g.broadcast(g.mapping(torch.randn(1, g.z_dim)))
    with torch.no_grad():
        c1, c2 = g.synthesis(ws, "const"), g.synthesis(ws, "const")
        r1, r2 = g.synthesis(ws, "random"), g.synthesis(ws, "random")
        none = g.synthesis(ws, "none")
        zero_strength = g.synthesis(ws, "const", noise_strength=0.0)
        half = g.synthesis(ws, "const", noise_strength=0.5)
    assert torch.equal(c1, c2)
    assert not torch.allclose(r1, r2, atol=1e-4)
    assert torch.equal(none, zero_strength)
    assert not torch.allclose(c1, half, atol=1e-4) and not torch.allclose(half, none, atol=1e-4)
    with pytest.raises(ValueError, match="noise_mode"):
        g.synthesis(ws, "fixed")


def test_w_avg_moves_only_when_asked():
    g = _demo_generator()
    before = g.w_avg.clone()
    g.mapping(torch.randn(8, g.z_dim))
    assert torch.equal(g.w_avg, before)
    w = g.mapping(torch.randn(8, g.z_dim), update_w_avg=True)
    assert torch.allclose(g.w_avg, w.mean(0).lerp(before, g.w_avg_beta))


def test_style_affines_cover_every_ws_index_with_their_input_widths():
    g = _demo_generator()
    affines = g.style_affines()
    assert sorted({a.ws_index for a in affines}) == list(range(g.num_ws))
    assert len(affines) == 2 + 3 * (len(g.synthesis_network.blocks))
    for a in affines:
        weight = a.layer.effective_weight()
        assert weight.shape[1] == g.w_dim
        assert weight.shape[0] == g.synthesis_network.channels[max(4, a.resolution // 2 if "conv_up" in a.name
                                                                   else a.resolution)]


def test_minibatch_std_handles_odd_batches_and_leaves_its_input_alone():
    layer = MinibatchStd(4)
    for n in (1, 3, 5, 6):
        x = torch.randn(n, 4, 4, 4)
        copy = x.clone()
        y = layer(x)
        assert y.shape == (n, 5, 4, 4) and torch.equal(x, copy) and torch.equal(y[:, :4], x)
    x = torch.randn(4, 2, 4, 4)
    expected = x.std(dim=0, unbiased=False).mean()
    assert torch.allclose(layer(x)[:, 2], expected.expand(4, 4, 4), atol=1e-5)


def test_discriminator_scores_depend_on_the_image():
    torch.manual_seed(0)
    d = stylegan2.build(stylegan2.PRESETS["demo"], which=["D"])["D"]
    x = torch.randn(4, 3, 64, 64)
    s = d(x)
    assert s.shape == (4, 1) and s.std() > 0
    with pytest.raises(ValueError, match="64 px"):
        d(torch.randn(1, 3, 32, 32))


def test_model_file_round_trip_gives_identical_outputs(tmp_path):
    g = _demo_generator(seed=4)
    cfg = stylegan2.PRESETS["demo"]
    path = save_model_file(tmp_path / "gen.safetensors", "stylegan2", {"G": g}, cfg, resolution=64)
    loaded = load_model_file(path).networks["G"]
    assert torch.equal(loaded.w_avg, g.w_avg)
    z = torch.randn(2, g.z_dim)
    with torch.no_grad():
        assert torch.equal(g(z, truncation_psi=0.7, noise_mode="const"),
                           loaded(z, truncation_psi=0.7, noise_mode="const"))
