"""The family trainers on tiny synthetic-atelier datasets with tiny widths.

Per family: the loss that must fall does fall; N steps + resume + N steps equals 2N straight (torch.equal on every
weight, EMA and optimiser tensor); the exported model file gives the same outputs as the trainer's (EMA) networks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fashionstudio.core.modelfile import load_model_file
from fashionstudio.core.run_folder import read_events
from training import checkpoint as ckpt
from training import runner
from training.config import to_toml
from training.export import export_run

RES = 32
TINY_ARCH = {
    "pgpg": {"resolution": RES, "g1_base": 4, "g1_blocks": 2, "g1_bottleneck_channels": 4, "g2_base": 4,
             "g2_blocks": 2, "d_base": 4, "d_blocks": 2},
    "pixeldtgan": {"resolution": RES, "g_base": 8, "g_down": 3, "z_dim": 16, "d_base": 8, "d_blocks": 3},
    "cyclegan": {"resolution": RES, "g_base": 4, "g_down": 2, "g_res_blocks": 1, "d_base": 8, "d_blocks": 3},
    "stylegan2": {"resolution": RES, "z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 256,
                  "channel_max": 16},
    "posewarp": {"resolution": RES, "g_base": 4, "n_scales": 3, "d_base": 4, "d_blocks": 2},
    "flatwarp": {"resolution": RES, "g_base": 4, "n_scales": 3, "d_base": 4, "d_blocks": 2},
    "upscale": {"resolution": RES // 4, "width": 8, "n_blocks": 1},  # 8 -> 32 px
}
# StyleGAN2: regularisers every other step so a short run exercises R1, path length and their state.
TINY_LOSS = {"stylegan2": {"r1_interval": 2, "pl_weight": 2.0, "pl_interval": 2}}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("atelier-cache")


def make_run(folder: Path, family: str, cache: Path, steps: int, **over) -> Path:
    cfg = {"family": family, "preset": "demo", "seed": 5, "steps": steps, "batch_size": 4,
           "arch": TINY_ARCH[family], "data": {"kind": "atelier", "size": 16, "path": str(cache)},
           "loss": dict(TINY_LOSS.get(family, {})),
           "log": {"log_every": 1, "sample_every": 0, "checkpoint_every": 1000, "keep_last": 2, "eval_every": 0}}
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(to_toml(cfg))
    return folder


def scalars(run: Path, name: str) -> list[float]:
    return [e["values"][name] for e in read_events(run / "events.jsonl")[0]
            if e["kind"] == "scalars" and name in e["values"]]


def leaves(tree) -> list:
    return torch.utils._pytree.tree_leaves(tree)


@pytest.mark.parametrize("family", ["pgpg", "pixeldtgan", "cyclegan", "stylegan2", "posewarp", "upscale",
                                    "flatwarp"])
def test_resume_equals_straight_and_export_matches(family, tmp_path, cache, capsys):
    straight = make_run(tmp_path / "straight", family, cache, steps=5)
    assert runner.main(["run", str(straight)]) == 0
    split = make_run(tmp_path / "split", family, cache, steps=5)
    assert runner.main(["run", str(split), "--until", "3"]) == 0
    assert runner.main(["resume", str(split)]) == 0

    a = ckpt.load_checkpoint(ckpt.latest_checkpoint(straight))
    b = ckpt.load_checkpoint(ckpt.latest_checkpoint(split))
    assert a["step"] == b["step"] == 5 and a["data"] == b["data"]
    for part in ("networks", "ema", "optimizers", "extra"):
        la, lb = leaves(a["trainer"][part]), leaves(b["trainer"][part])
        assert len(la) == len(lb)
        for x, y in zip(la, lb):
            assert (torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y), (family, part)

    # Export writes only the inference networks, with EMA weights where the run has them.
    out = export_run(straight, tmp_path / "model.safetensors", which="latest")
    model = load_model_file(out)
    from training.trainers.trainer import family_module

    assert list(model.networks) == list(family_module(family).INFERENCE_NETWORKS)
    assert model.meta["training"]["steps"] == 5 and model.meta["training"]["config"]["family"] == family
    from fashionstudio.core import registry

    trained = registry.build_networks(family, a["arch"], which=list(model.networks))
    for name, net in trained.items():
        net.load_state_dict(a["trainer"]["ema"].get(name) or a["trainer"]["networks"][name])
        net.eval()
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, RES, RES, generator=g) * 2 - 1
    with torch.no_grad():
        if family == "pgpg":
            pose = torch.rand(2, 18, RES, RES, generator=g)
            c1 = model.networks["G1"](img, pose)
            assert torch.equal(c1, trained["G1"](img, pose))
            assert torch.equal(model.networks["G2"](img, c1), trained["G2"](img, c1))
        elif family == "posewarp":
            from fashionstudio.core.poses import render_heatmaps

            kp = torch.tensor([[4 + j, 8 + j % 5] for j in range(18)], dtype=torch.float32).numpy()
            src_pose = torch.from_numpy(render_heatmaps(kp, RES, 1.0))[None].expand(2, -1, -1, -1)
            tgt_pose = torch.from_numpy(render_heatmaps(kp + 3, RES, 1.0))[None].expand(2, -1, -1, -1)
            assert torch.equal(model.networks["G"](img, src_pose, tgt_pose), trained["G"](img, src_pose, tgt_pose))
        elif family == "stylegan2":
            z = torch.randn(2, 16, generator=g)
            assert model.meta["training"]["ema"] == ["G"]
            assert torch.equal(model.networks["G"](z, noise_mode="const"), trained["G"](z, noise_mode="const"))
            raw = registry.build_networks(family, a["arch"], which=["G"])["G"]
            raw.load_state_dict(a["trainer"]["networks"]["G"])
            assert not torch.equal(raw.eval()(z, noise_mode="const"), trained["G"](z, noise_mode="const"))
        else:
            for name, net in model.networks.items():
                assert torch.equal(net(img), trained[name](img)), name


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.mark.parametrize("family, loss, steps, over", [
    ("pgpg", "loss/G1_l1", 50, {"optim": {"lr": {"G": 3e-3}}}),
    ("pixeldtgan", "loss/l1", 50, {"optim": {"lr": {"G": 3e-3}}}),
    ("cyclegan", "loss/cycle", 40, {"optim": {"lr": {"G": 3e-3}}}),
    ("posewarp", "loss/l1", 50, {"optim": {"lr": {"G": 3e-3}}}),
    ("flatwarp", "loss/l1_in", 50, {"optim": {"lr": {"G": 3e-3}}}),  # inside the garment (l1_out falls later)
])
def test_the_reconstruction_loss_falls(family, loss, steps, over, tmp_path, cache, capsys):
    run = make_run(tmp_path / "run", family, cache, steps=steps, **over)
    assert runner.main(["run", str(run)]) == 0
    values = scalars(run, loss)
    assert len(values) == steps
    first, last = _mean(values[:5]), _mean(values[-5:])
    assert last < 0.7 * first, (family, first, last)


def test_stylegan2_generator_moves_toward_the_data(tmp_path, cache, capsys):
    """After a short run the generator's mean colour is much closer to the data's than after the first step."""
    run = make_run(tmp_path / "run", "stylegan2", cache, steps=30, log={"keep_last": 5})
    assert runner.main(["run", str(run), "--until", "1"]) == 0
    assert runner.main(["resume", str(run)]) == 0
    from training.config import load_config
    from training.trainers.data_adapter import family_dataset

    cfg = load_config(run)
    data = family_dataset(cfg, run, "train", {"resolution": RES})
    real_mean = torch.stack([data[i]["image"] for i in range(len(data))]).mean(dim=(0, 2, 3))
    from fashionstudio.core import registry

    def colour_gap(step: int) -> float:
        state = ckpt.load_checkpoint(run / "checkpoints" / ckpt.step_name(step))
        G = registry.build_networks("stylegan2", state["arch"], which=["G"])["G"]
        G.load_state_dict(state["trainer"]["networks"]["G"])
        with torch.no_grad():
            fake = G.eval()(torch.randn(32, 16, generator=torch.Generator().manual_seed(1)))
        return float((fake.mean(dim=(0, 2, 3)) - real_mean).abs().mean())

    before, after = colour_gap(1), colour_gap(30)
    assert after < 0.75 * before, (before, after)
    assert scalars(run, "loss/r1") and scalars(run, "loss/path_length")


@pytest.mark.parametrize("family, preset", [
    (family, preset) for family in ("pgpg", "pixeldtgan", "cyclegan", "stylegan2") for preset in ("thesis", "studio", "demo")
] + [("posewarp", "studio"), ("posewarp", "demo"), ("upscale", "studio"), ("upscale", "demo"),
      ("flatwarp", "studio"), ("flatwarp", "demo")])  # PoseWarp is not a thesis model: no thesis preset
def test_every_preset_file_is_a_valid_config(family, preset):
    """Each shipped preset loads, knows only its family's losses and optimisers, and matches a model preset."""
    from training.config import config_from_dict, merge_family_defaults, preset_path
    from training.trainers import get_trainer
    from training.trainers.trainer import resolve_arch

    assert preset_path(preset, family).is_file()
    cfg = config_from_dict({"family": family, "preset": preset})
    trainer = get_trainer(family)
    merge_family_defaults(cfg, trainer.DEFAULT_LR, trainer.DEFAULT_LOSS, trainer.DEFAULT_SCHEDULES)
    assert set(cfg.optim.lr) == set(trainer.DEFAULT_LR)
    arch = resolve_arch(cfg)
    assert arch["preset"] == preset and cfg.steps > 0
    if preset == "demo":
        assert arch["resolution"] == 64 and cfg.data.kind == "atelier"


def test_cyclegan_discriminators_see_augmented_images_when_asked(tmp_path, cache):
    """With [loss] augment, every image D_A / D_B judges (real or fake, in D's and G's step) is transformed; without
    it, D sees exactly the batch. An unknown transform is a config error."""
    from training.config import load_config
    from training.trainers import get_trainer

    def seen_by_d(augment: str) -> tuple[list[torch.Tensor], dict]:
        run = make_run(tmp_path / f"aug{len(augment)}", "cyclegan", cache, steps=1, loss={"augment": augment})
        trainer = get_trainer("cyclegan")(load_config(run), torch.device("cpu"))
        trainer.make_optimizers()
        seen: list[torch.Tensor] = []
        trainer.nets["D_A"].register_forward_pre_hook(lambda m, args: seen.append(args[0].detach().clone()))
        torch.manual_seed(0)
        a = torch.rand(2, 3, RES, RES) * 1.6 - 0.8
        b = torch.rand(2, 3, RES, RES) * 1.6 - 0.8
        trainer.train_step({"A": a, "B": b})
        return seen, {"a": a}

    seen, batch = seen_by_d("")
    assert len(seen) == 3 and torch.equal(seen[0], batch["a"])  # real shoes, fakes in D's step, fakes in G's step
    seen, batch = seen_by_d("cutout")
    assert len(seen) == 3 and not torch.equal(seen[0], batch["a"])
    assert all(bool((s == 0).any()) for s in seen)  # the cut-out square is zeros; the random batch has none
    run = make_run(tmp_path / "bad", "cyclegan", cache, steps=1, loss={"augment": "rotate"})
    assert runner.main(["run", str(run)]) == runner.EXIT_CONFIG


def test_cyclegan_colour_region_reaches_the_loss_and_a_bad_one_is_a_config_error(tmp_path, cache, monkeypatch):
    """[loss] colour_region picks the colour statistic the trainer compares; an unknown region stops the run
    before any step."""
    from training.config import load_config
    from training.trainers import get_trainer, losses

    used: list[str] = []
    real = losses.colour_consistency
    monkeypatch.setattr(losses, "colour_consistency", lambda out, src, region="item": used.append(region)
                        or real(out, src, region))
    run = make_run(tmp_path / "fabric", "cyclegan", cache, steps=1, loss={"colour": 10.0, "colour_region": "fabric"})
    trainer = get_trainer("cyclegan")(load_config(run), torch.device("cpu"))
    trainer.make_optimizers()
    values = trainer.train_step({"A": torch.rand(2, 3, RES, RES) * 2 - 1, "B": torch.rand(2, 3, RES, RES) * 2 - 1})
    assert used == ["fabric", "fabric"] and values["colour"] > 0
    run = make_run(tmp_path / "bad", "cyclegan", cache, steps=1, loss={"colour": 10.0, "colour_region": "sole"})
    assert runner.main(["run", str(run)]) == runner.EXIT_CONFIG


def test_cyclegan_cycle_blur_and_noise_change_only_the_way_back(tmp_path, cache):
    """With [loss] cycle_blur / cycle_noise the cycle terms translate back a blurred / noisy copy of the translation
    (σ as configured); without them, the translation itself. A negative σ is a config error."""
    from torchvision.transforms.v2.functional import gaussian_blur

    from training.config import load_config
    from training.trainers import get_trainer

    def way_back(**loss) -> tuple[torch.Tensor, torch.Tensor]:
        run = make_run(tmp_path / f"n{len(list(tmp_path.iterdir()))}", "cyclegan", cache, steps=1, loss=loss)
        trainer = get_trainer("cyclegan")(load_config(run), torch.device("cpu"))
        trainer.make_optimizers()
        made: list[torch.Tensor] = []
        fed: list[torch.Tensor] = []
        trainer.nets["G_AB"].register_forward_hook(lambda m, args, out: made.append(out.detach().clone()))
        trainer.nets["G_BA"].register_forward_pre_hook(lambda m, args: fed.append(args[0].detach().clone()))
        torch.manual_seed(0)
        trainer.train_step({"A": torch.rand(4, 3, RES, RES) * 2 - 1, "B": torch.rand(4, 3, RES, RES) * 2 - 1})
        return fed[1], made[0]  # G_BA's second call is the shoe -> bag -> shoe cycle on G_AB's first output

    back, fake = way_back(cycle_blur=0.0, cycle_noise=0.0)
    assert torch.equal(back, fake)
    back, fake = way_back(cycle_blur=0.0, cycle_noise=0.2)
    diff = back - fake
    assert abs(float(diff.std()) - 0.2) < 0.02 and abs(float(diff.mean())) < 0.02
    back, fake = way_back(cycle_blur=1.0, cycle_noise=0.0)
    assert torch.allclose(back, gaussian_blur(fake, [5, 5], [1.0, 1.0]), atol=1e-5)
    assert (back - fake).abs().mean() > 0.05  # a random image loses much of its detail
    for name in ("cycle_noise", "cycle_blur"):
        run = make_run(tmp_path / f"bad-{name}", "cyclegan", cache, steps=1, loss={name: -0.1})
        assert runner.main(["run", str(run)]) == runner.EXIT_CONFIG
