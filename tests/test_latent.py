"""Latent-space editing (Qt-free): seeds, presets, SeFa/GANSpace, truncation, mixing, state,
direction sets, interpolation, projection and animation files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

from fashionstudio.core import latent
from fashionstudio.core.animation import AnimationError, mp4_available, save_animation, save_gif
from fashionstudio.core.latent import (
    Direction, GenerateState, LatentSpace, StateError, images_to_pil, interpolation_ws, layer_presets,
)
from fashionstudio.core.projection import project
from fashionstudio.models.stylegan2 import build
from fashionstudio.models.stylegan2_fast import FastSynthesis

TINY = {"preset": "demo", "resolution": 16, "z_dim": 32, "w_dim": 32, "mapping_layers": 2,
        "channel_base": 256, "channel_max": 32}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(1)
    g = build(TINY, which=["G"])["G"].eval()
    with torch.no_grad():
        for m in g.modules():
            if hasattr(m, "noise_const"):
                m.noise_strength.fill_(0.2)  # untrained nets have zero noise gain; make noise visible
        g.w_avg.copy_(g.mapping(torch.randn(2000, g.z_dim)).mean(0))
    return g


@pytest.fixture(scope="module")
def space(G):
    return LatentSpace(G)


def render(G, ws, **kw):
    with torch.inference_mode():
        return FastSynthesis(G).render(ws, **kw)


def test_seed_to_z_is_stable_and_w_is_cached(space):
    z1, z2 = latent.seed_to_z(7, 32), latent.seed_to_z(7, 32)
    assert np.array_equal(z1, z2) and not np.array_equal(z1, latent.seed_to_z(8, 32))
    w = space.w_for_seeds([7, 8, 7])
    assert torch.equal(w[0], w[2]) and not torch.equal(w[0], w[1])
    assert torch.equal(space.blended_w(7.0, 0.0), w[0])
    half = space.blended_w(7.5, 0.0)
    assert torch.allclose(half, 0.5 * (w[0] + w[1]), atol=1e-6)


def test_layer_presets_partition_the_layers():
    for num_ws in (6, 8, 10, 12, 14, 18):
        p = layer_presets(num_ws)
        assert p["all"] == (0, num_ws)
        assert p["coarse"][0] == 0 and p["coarse"][1] == p["middle"][0] and p["middle"][1] == p["fine"][0]
        assert p["fine"][1] == num_ws
        assert all(p[k][1] > p[k][0] for k in ("coarse", "middle", "fine"))


def test_sefa_directions_are_orthonormal_and_move_the_image(G, space):
    dirs = space.compute_directions("sefa", k=10)
    assert len(dirs) == 10
    V = np.stack([d.vector for d in dirs])
    assert np.allclose(V @ V.T, np.eye(10), atol=1e-5)
    for rng in layer_presets(G.num_ws).values():
        vecs, evals = latent.sefa_directions(G, rng, k=5)
        assert np.allclose(vecs @ vecs.T, np.eye(5), atol=1e-5)
        assert np.all(np.diff(evals) <= 1e-6)  # strongest first
    state = GenerateState(x=3, psi=1.0, directions=dirs)
    before = render(G, space.state_ws(state))
    state.directions[0].value = 2.0
    after = render(G, space.state_ws(state))
    assert (after - before).abs().mean() > 1e-3


def test_ganspace_directions_are_orthonormal_with_decreasing_spread(space):
    dirs = space.compute_directions("ganspace", k=8, n_samples=4000)
    V = np.stack([d.vector for d in dirs])
    assert np.allclose(V @ V.T, np.eye(8), atol=1e-5)
    sigmas = [d.sigma for d in dirs]
    assert sigmas == sorted(sigmas, reverse=True) and sigmas[0] > 0


def test_psi_zero_gives_the_mean_image(G, space):
    a = space.state_ws(GenerateState(x=1, psi=0.0))
    b = space.state_ws(GenerateState(x=2, psi=0.0, mix_seed=9, mix_layers=(0, 4)))
    mean = G.w_avg[None, None].expand(1, G.num_ws, -1)
    assert torch.allclose(a, mean, atol=1e-6) and torch.allclose(b, mean, atol=1e-6)
    with torch.inference_mode():
        assert torch.allclose(render(G, a), G.synthesis(mean.contiguous()), atol=1e-4)
    # a cutoff truncates only the first layers
    c = space.state_ws(GenerateState(x=1, psi=0.0, psi_cutoff=2))
    assert torch.allclose(c[0, :2], mean[0, :2], atol=1e-6) and not torch.allclose(c[0, 2:], mean[0, 2:])


def test_mixing_changes_only_with_a_non_empty_range(G, space):
    plain = render(G, space.state_ws(GenerateState(x=4, psi=1.0)))
    empty = render(G, space.state_ws(GenerateState(x=4, psi=1.0, mix_seed=11, mix_layers=(3, 3))))
    coarse = layer_presets(G.num_ws)["coarse"]
    mixed_ws = space.state_ws(GenerateState(x=4, psi=1.0, mix_seed=11, mix_layers=coarse))
    assert torch.equal(plain, empty)
    assert (render(G, mixed_ws) - plain).abs().mean() > 1e-3
    w11 = space.w_for_seeds([11])[0]
    assert torch.equal(mixed_ws[0, coarse[0]:coarse[1]], w11.expand(coarse[1] - coarse[0], -1))


def test_state_round_trips_through_json_and_rejects_damage(G, space):
    dirs = space.compute_directions("sefa", k=3)
    dirs[1].value, dirs[1].name, dirs[1].layers = -1.25, "sleeve length", (2, 5)
    state = GenerateState(x=12, psi=0.55, psi_cutoff=4, mix_seed=3, mix_layers=(0, 3), noise_strength=0.4,
                          directions=dirs, base_ws=np.random.randn(G.num_ws, G.w_dim).astype(np.float32),
                          base_noise=[np.random.randn(4, 4).astype(np.float32)])
    text = json.dumps(state.to_dict())
    back = GenerateState.from_dict(json.loads(text), num_ws=G.num_ws, w_dim=G.w_dim)
    assert (back.seed, back.psi, back.psi_cutoff, back.mix_seed, back.mix_layers, back.noise_strength) == \
        (12, 0.55, 4, 3, (0, 3), 0.4)
    assert [d.name for d in back.directions] == [d.name for d in dirs]
    assert back.directions[1].value == -1.25 and back.directions[1].layers == (2, 5)
    assert np.array_equal(back.base_ws, state.base_ws)
    assert np.allclose(back.base_noise[0], state.base_noise[0], atol=1e-2)  # stored as float16
    assert torch.equal(space.state_ws(back), space.state_ws(state))
    with pytest.raises(StateError):
        GenerateState.from_dict("{not json")
    broken = json.loads(text)
    del broken["psi"]
    with pytest.raises(StateError, match="incomplete or damaged"):
        GenerateState.from_dict(broken)
    with pytest.raises(StateError, match="different model"):
        GenerateState.from_dict(json.loads(text), num_ws=G.num_ws + 2, w_dim=G.w_dim)
    with pytest.raises(latent.ModelMismatchError, match="different model"):
        GenerateState.from_dict(json.loads(text), num_ws=G.num_ws, w_dim=G.w_dim + 1)


def test_state_from_png(tmp_path, G):
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert latent.state_from_png(plain) is None
    good = tmp_path / "good.png"
    meta = PngImagePlugin.PngInfo()
    stored = {"tool": "generate", "settings": {"state": GenerateState(x=5).to_dict()}}
    meta.add_text("fashionstudio", json.dumps(stored))
    Image.new("RGB", (8, 8)).save(good, pnginfo=meta)
    assert latent.state_from_png(good).seed == 5
    bad = tmp_path / "bad.png"
    meta = PngImagePlugin.PngInfo()
    meta.add_text("fashionstudio", '{"tool": "generate", "settings": {"state": {"kind": "fashionstudio-gen')
    Image.new("RGB", (8, 8)).save(bad, pnginfo=meta)
    with pytest.raises(StateError, match="damaged"):
        latent.state_from_png(bad)


def test_direction_sets_save_and_load(tmp_path, space):
    dirs = space.compute_directions("ganspace", k=4, n_samples=2000)
    dirs[0].name = "skirt length"
    path = latent.save_directions(tmp_path / "set.json", dirs, method="ganspace", w_dim=space.w_dim)
    back, header = latent.load_directions(path, w_dim=space.w_dim)
    assert header["method"] == "ganspace" and back[0].name == "skirt length"
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(dirs, back))
    with pytest.raises(StateError, match="w has"):
        latent.load_directions(path, w_dim=space.w_dim + 1)
    (tmp_path / "junk.json").write_text("[1, 2")
    with pytest.raises(StateError, match="junk.json"):
        latent.load_directions(tmp_path / "junk.json")


def test_interpolation_starts_and_ends_at_the_kept_ws(space):
    a = space.state_ws(GenerateState(x=1))[0]
    b = space.state_ws(GenerateState(x=2, psi=0.3))[0]
    frames = interpolation_ws(a, b, 7)
    assert frames.shape == (7, *a.shape)
    assert torch.equal(frames[0], a) and torch.equal(frames[-1], b)
    assert torch.allclose(frames[3], 0.5 * (a + b), atol=1e-6)
    states = latent.interpolation_states(space, GenerateState(x=1), GenerateState(x=2, psi=0.3), 5)
    assert torch.allclose(space.state_ws(states[0])[0], a) and torch.allclose(space.state_ws(states[-1])[0], b)
    assert torch.allclose(space.state_ws(states[2])[0], 0.5 * (a + b), atol=1e-6)
    za, zb = torch.randn(16), torch.randn(16)
    assert torch.allclose(latent.slerp(za, zb, 0.0), za, atol=1e-5)
    assert torch.allclose(latent.slerp(za, zb, 1.0), zb, atol=1e-5)


def test_projection_reduces_its_loss_and_stops_when_asked(G):
    torch.manual_seed(5)
    with torch.inference_mode():
        ws = G.broadcast(G.mapping(torch.randn(1, G.z_dim))).clone()
        target = images_to_pil(FastSynthesis(G).render(ws))[0]
    steps = list(project(G, target, steps=25, preview_every=5))
    assert [s.step for s in steps] == list(range(1, 26))
    assert steps[-1].loss < 0.7 * steps[0].loss
    assert steps[-1].ws.shape == (G.num_ws, G.w_dim) and steps[-1].preview.size == (16, 16)
    assert len(steps[-1].noise) == len(FastSynthesis(G).noise_shapes)
    run = project(G, target, steps=1000)
    for i, step in enumerate(run):
        if i == 2:
            break
    run.close()  # cancelling: the generator is closed without running the remaining steps
    assert step.step == 3


def test_animation_files(tmp_path):
    frames = [Image.new("RGB", (16, 16), (i * 40, 100, 200 - i * 40)) for i in range(5)]
    path = save_gif(frames, tmp_path / "a.gif", fps=10)
    with Image.open(path) as im:
        assert im.n_frames == 8  # forward 5 then back 3 (boomerang)
    with pytest.raises(AnimationError, match="two frames"):
        save_animation(frames[:1], tmp_path / "b.gif")
    with pytest.raises(AnimationError, match=".gif or .mp4"):
        save_animation(frames, tmp_path / "c.avi")
    if not mp4_available():
        with pytest.raises(AnimationError, match="GIF instead"):
            save_animation(frames, tmp_path / "d.mp4")


def test_direction_from_dict_rejects_bad_entries():
    good = Direction("x", np.ones(4, np.float32) / 2, (0, 2)).to_dict()
    assert Direction.from_dict(good, 4).name == "x"
    with pytest.raises(StateError):
        Direction.from_dict({"name": "x"}, 4)
    bad = dict(good, vector=[float("nan")] * 4)
    with pytest.raises(StateError, match="not finite"):
        Direction.from_dict(bad, 4)


@pytest.mark.skipif(not mp4_available(), reason="MP4 needs the video extra: pip install -e '.[video]'")
def test_mp4_export_when_the_video_extra_is_installed(tmp_path):
    import imageio.v2 as imageio

    frames = [Image.new("RGB", (32, 32), (i * 50, 100, 250 - i * 50)) for i in range(5)]
    path = save_animation(frames, tmp_path / "walk.mp4", fps=10)
    with imageio.get_reader(path, format="FFMPEG") as reader:
        back = [np.asarray(f) for f in reader]
    assert len(back) == 5 and back[0].shape == (32, 32, 3)
    # H.264 is lossy, but the colours of the first and last frames survive
    assert np.abs(back[0].astype(int).mean((0, 1)) - (0, 100, 250)).max() < 12
    assert np.abs(back[-1].astype(int).mean((0, 1)) - (200, 100, 50)).max() < 12
