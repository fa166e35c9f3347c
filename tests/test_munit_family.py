"""The content/style Match family (munit): trains, resumes bit-exactly, exports, loads; codes decide candidates.

Tiny widths on a tiny synthetic atelier, like tests/test_trainer_families.py.
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
TINY = {"resolution": RES, "enc_base": 4, "dec_base": 16, "content_dim": 4, "style_dim": 4, "d_base": 8,
        "d_blocks": 3}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("atelier-cache")


def make_run(folder: Path, cache: Path, steps: int, **over) -> Path:
    cfg = {"family": "munit", "preset": "demo", "seed": 5, "steps": steps, "batch_size": 4, "arch": TINY,
           "data": {"kind": "atelier", "size": 16, "path": str(cache)},
           "log": {"log_every": 1, "sample_every": 0, "checkpoint_every": 1000, "keep_last": 2, "eval_every": 0}}
    cfg.update(over)
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(to_toml(cfg))
    return folder


def leaves(tree) -> list:
    return torch.utils._pytree.tree_leaves(tree)


def test_resume_equals_straight_and_export_loads(tmp_path, cache, capsys):
    straight = make_run(tmp_path / "straight", cache, steps=4)
    assert runner.main(["run", str(straight)]) == 0
    split = make_run(tmp_path / "split", cache, steps=4)
    assert runner.main(["run", str(split), "--until", "2"]) == 0
    assert runner.main(["resume", str(split)]) == 0
    a = ckpt.load_checkpoint(ckpt.latest_checkpoint(straight))
    b = ckpt.load_checkpoint(ckpt.latest_checkpoint(split))
    assert a["step"] == b["step"] == 4
    for part in ("networks", "ema", "optimizers"):
        la, lb = leaves(a["trainer"][part]), leaves(b["trainer"][part])
        assert len(la) == len(lb) > 0
        for x, y in zip(la, lb):
            assert (torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y), part

    model = load_model_file(export_run(straight, tmp_path / "m.safetensors", which="latest"))
    assert model.family == "munit" and list(model.networks) == ["G_A", "G_B"]
    from fashionstudio.core import registry

    trained = registry.build_networks("munit", a["arch"], which=["G_A", "G_B"])
    g = torch.Generator().manual_seed(0)
    img = torch.rand(2, 3, RES, RES, generator=g) * 2 - 1
    style_dim = model.networks["G_A"].style_dim
    c, s = torch.randn(2, 4, generator=g), torch.randn(2, style_dim, generator=g)
    with torch.no_grad():
        for name, net in trained.items():
            net.load_state_dict(a["trainer"]["ema"].get(name) or a["trainer"]["networks"][name])
            net.eval()
            assert torch.equal(model.networks[name](img), net(img)), name
            assert torch.equal(model.networks[name].decode(c, s), net.decode(c, s)), name


def test_reconstruction_falls(tmp_path, cache, capsys):
    run = make_run(tmp_path / "run", cache, steps=40, optim={"lr": {"G": 3e-3, "D": 2e-4}})
    assert runner.main(["run", str(run)]) == 0
    values = [e["values"]["loss/recon"] for e in read_events(run / "events.jsonl")[0]
              if e["kind"] == "scalars" and "loss/recon" in e["values"]]
    assert len(values) == 40
    first, last = sum(values[:5]) / 5, sum(values[-5:]) / 5
    assert last < 0.7 * first, (first, last)


def test_content_code_decides_the_item_and_style_code_is_shared():
    """Different content codes give different pictures, the same code the same picture; the bag decoder reads a
    shoe's style code (one style space), and the style changes the picture."""
    from fashionstudio.core import registry

    torch.manual_seed(0)
    nets = registry.build_networks("munit", TINY, which=["G_A", "G_B"])
    G_A, G_B = nets["G_A"].eval(), nets["G_B"].eval()
    for m in (G_A, G_B):  # untrained AdaIN starts style-blind: give the style a say
        for mod in m.modules():
            if hasattr(mod, "affine") and isinstance(mod.affine, torch.nn.Linear):
                torch.nn.init.normal_(mod.affine.weight, 0.0, 0.5)
    shoe = torch.rand(1, 3, RES, RES) * 2 - 1
    with torch.no_grad():
        s = G_A.style(shoe)
        c = torch.randn(3, 4, generator=torch.Generator().manual_seed(1))
        bags = G_B.decode(c, s.expand(3, -1))
        again = G_B.decode(c, s.expand(3, -1))
        other_style = G_B.decode(c, torch.randn(3, G_B.style_dim))
    assert torch.equal(bags, again)
    assert (bags[0] - bags[1]).abs().mean() > 1e-3 and (bags[1] - bags[2]).abs().mean() > 1e-3
    assert (bags - other_style).abs().mean() > 1e-3


def _item(shape: str, rgb: tuple[float, float, float], stripes: bool) -> torch.Tensor:
    """A white 64 px picture with a shoe-like bar or a bag-like box in one fabric (horizontal stripes if asked)."""
    x = torch.ones(1, 3, 64, 64)
    ys, xs = (slice(32, 52), slice(6, 58)) if shape == "shoe" else (slice(14, 54), slice(16, 48))
    fabric = torch.tensor(rgb).view(3, 1, 1).expand(3, 64, 64).clone()
    if stripes:
        fabric[:, ::3] *= 0.5
    x[0, :, ys, xs] = fabric[:, ys, xs]
    return x


def test_measured_style_names_the_same_fabric_in_both_domains():
    """The presets' style code is read from the pixels: a shoe and a bag of one fabric get nearly one code, another
    colour or a pattern moves it, and both domains' coders give the same code for one picture."""
    from fashionstudio.models import munit

    nets = munit.build({**TINY, "resolution": 64}, which=["G_A", "G_B"])
    G_A, G_B = nets["G_A"], nets["G_B"]
    assert G_A.style_head is None and G_A.style_dim == munit.MEASURED_STYLE_DIM
    red_shoe, red_bag = _item("shoe", (0.8, -0.6, -0.6), False), _item("bag", (0.8, -0.6, -0.6), False)
    blue_bag, striped_bag = _item("bag", (-0.6, -0.4, 0.8), False), _item("bag", (0.8, -0.6, -0.6), True)
    with torch.no_grad():
        shoe, bag = G_A.style(red_shoe), G_B.style(red_bag)
        blue, striped = G_B.style(blue_bag), G_B.style(striped_bag)
        assert torch.equal(G_A.style(red_bag), bag)
    colour, texture = slice(0, 3), slice(3, None)
    assert (shoe - bag)[:, colour].abs().max() < 0.02 and (bag - blue)[:, colour].abs().max() > 1.0
    same_fabric = (shoe - bag)[:, texture].abs().mean()  # the outlines of two shapes differ a little
    assert (bag - striped)[:, texture].abs().mean() > 4 * same_fabric, same_fabric


def test_learned_style_is_still_available_and_bad_styles_are_refused():
    from fashionstudio.models import munit

    nets = munit.build({**TINY, "style": "learned"}, which=["G_A"])
    assert nets["G_A"].style_head is not None and nets["G_A"].style_dim == TINY["style_dim"]
    with pytest.raises(ValueError, match="style must be one of"):
        munit.build({**TINY, "style": "painted"}, which=["G_A"])


def test_preset_files_are_valid_configs():
    from training.config import config_from_dict, merge_family_defaults, preset_path
    from training.trainers import get_trainer
    from training.trainers.trainer import resolve_arch

    for preset in ("studio", "demo"):
        assert preset_path(preset, "munit").is_file()
        cfg = config_from_dict({"family": "munit", "preset": preset})
        trainer = get_trainer("munit")
        merge_family_defaults(cfg, trainer.DEFAULT_LR, trainer.DEFAULT_LOSS, trainer.DEFAULT_SCHEDULES)
        assert set(cfg.loss) == set(trainer.DEFAULT_LOSS) and set(cfg.optim.lr) == set(trainer.DEFAULT_LR)
        assert resolve_arch(cfg)["preset"] == preset


def test_match_tool_opens_munit_models():
    from fashionstudio.core import registry
    from fashionstudio.core.runs import trainable_families

    assert "munit" in registry.tool_families("match") and registry.tool_family_error("match", "munit", "m") is None
    assert trainable_families()["munit"].tool == "match"
