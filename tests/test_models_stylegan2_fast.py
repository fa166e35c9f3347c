"""FastSynthesis equals the reference StyleGAN2 synthesis (``G.synthesis``) on fixed inputs, on every path it takes:
batched and batch-1 modulation, reused leading layers, noise strength and replaced noise maps, gradients."""

from __future__ import annotations

import pytest
import torch

from fashionstudio.models import stylegan2
from fashionstudio.models.stylegan2_fast import FastSynthesis

# 16 px with 32 channels takes both modulation paths at batch 1 (activations at 4-8 px, weights at 16 px).
TINY = {"preset": "demo", "resolution": 16, "z_dim": 32, "w_dim": 32, "mapping_layers": 2,
        "channel_base": 256, "channel_max": 32}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generator(config: dict) -> stylegan2.Generator:
    torch.manual_seed(1)
    g = stylegan2.build(config, which=["G"])["G"].eval()
    with torch.no_grad():
        for m in g.modules():
            if isinstance(m, stylegan2.StyledConv):
                m.noise_strength.fill_(0.3)  # fresh networks have zero noise gain, which would hide the noise path
    return g


@pytest.fixture(scope="module", params=["tiny", "demo"])
def G(request):
    return _generator(TINY if request.param == "tiny" else stylegan2.PRESETS["demo"])


def _ws(G, n: int = 3) -> torch.Tensor:
    gen = torch.Generator().manual_seed(3)
    return G.broadcast(G.mapping(torch.randn(n, G.z_dim, generator=gen))).clone() \
        + 0.3 * torch.randn(n, G.num_ws, G.w_dim, generator=gen)


def assert_same_image(fast: torch.Tensor, ref: torch.Tensor) -> None:
    # Float rounding only: 5e-6 of the largest value (float32 over 10-20 layers; a real change is >1e-3).
    assert fast.shape == ref.shape
    torch.testing.assert_close(fast, ref, rtol=0, atol=5e-6 * float(ref.abs().max()))


def test_batched_and_single_renders_equal_the_reference(G):
    ws = _ws(G)
    fast = FastSynthesis(G)
    with torch.inference_mode():
        for strength in (1.0, 0.7, 0.0):
            ref = G.synthesis(ws, "const", strength)
            assert_same_image(fast.render(ws, strength), ref)
            assert_same_image(fast.render(ws[:1], strength), ref[:1])
            assert_same_image(fast.render(ws[1:2], strength, stateless=True), ref[1:2])


def test_reused_leading_layers_give_the_reference_image(G):
    ws = _ws(G, 1)
    fast = FastSynthesis(G)
    with torch.inference_mode():
        fast.render(ws, 0.7)
        fine = ws.clone()
        fine[:, -2:] += 0.5  # only the last layers change: the cached leading activations are reused
        assert_same_image(fast.render(fine, 0.7), G.synthesis(fine, "const", 0.7))
        coarse = fine.clone()
        coarse[:, 0] -= 0.5  # the first layer changes: everything is rendered again
        assert_same_image(fast.render(coarse, 0.7), G.synthesis(coarse, "const", 0.7))
        assert_same_image(fast.render(coarse, 0.7), G.synthesis(coarse, "const", 0.7))  # nothing changed


def test_given_noise_maps_replace_the_const_noise(G):
    ws = _ws(G, 1)
    fast = FastSynthesis(G)
    consts = [m.noise_const[0, 0].clone() for m in G.modules() if isinstance(m, stylegan2.StyledConv)]
    assert [tuple(c.shape) for c in consts] == fast.noise_shapes
    with torch.inference_mode():
        ref = G.synthesis(ws, "const", 0.8)
        assert_same_image(fast.render(ws, 0.8, consts), ref)
        other = [torch.randn_like(c) for c in consts]
        assert (fast.render(ws, 0.8, other) - ref).abs().max() > 1e-3


def test_gradients_equal_the_reference_even_for_a_generator_built_in_inference_mode(G):
    ws = _ws(G, 1)
    with torch.inference_mode():  # the app loads models on workers inside inference mode
        built_there = _generator(TINY if G.resolution == 16 else stylegan2.PRESETS["demo"])
    fast = FastSynthesis(built_there)
    a, b = ws.clone().requires_grad_(True), ws.clone().requires_grad_(True)
    (grad_fast,) = torch.autograd.grad(fast.render(a, 0.7, differentiable=True).square().mean(), [a])
    (grad_ref,) = torch.autograd.grad(G.synthesis(b, "const", 0.7).square().mean(), [b])
    torch.testing.assert_close(grad_fast, grad_ref, rtol=1e-4, atol=1e-6 * float(grad_ref.abs().max()))


def test_the_renderer_copies_the_weights_and_checks_its_input(G):
    ws = _ws(G, 1)
    fast = FastSynthesis(G)
    with torch.inference_mode():
        before = fast.render(ws, stateless=True)
        with torch.no_grad():
            saved = G.synthesis_network.const.clone()
            G.synthesis_network.const.add_(1.0)
        try:
            assert torch.equal(fast.render(ws, stateless=True), before)
        finally:
            with torch.no_grad():
                G.synthesis_network.const.copy_(saved)
    with pytest.raises(ValueError, match="ws must be"):
        fast.render(ws[:, :-1])
