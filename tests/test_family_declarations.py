"""Each model family is declared once (``fashionstudio/families/<name>.py``) and every table reads that one
declaration: a family registered by its declaration alone shows up in the tool checks, the New-run dialog's
list, the familiarity advice, the trainer lookup and the evaluator."""

from __future__ import annotations

import importlib

import pytest

from fashionstudio.core import registry
from fashionstudio.families import BUILTIN, TAB_TOOLS, Family, load_builtin, resolve


def test_every_builtin_declaration_names_its_module_and_resolves():
    from training.metrics.sampling import FamilySpec
    from training.trainers.trainer import Trainer

    for name in BUILTIN:
        spec = load_builtin(name)
        module = importlib.import_module(resolve(spec.build).__module__)
        assert callable(resolve(spec.build)) and hasattr(module, "PRESETS") and hasattr(module, "NETWORKS"), name
        assert issubclass(resolve(spec.trainer), Trainer), name
        if spec.evaluation is not None:
            assert isinstance(resolve(spec.evaluation), FamilySpec), name
        assert spec.label and spec.paper and spec.data_kinds, name


def test_each_tab_tool_has_exactly_one_shipped_default():
    for tool in TAB_TOOLS:
        defaults = [f.name for f in registry.families(tool) if f.default]
        assert len(defaults) == 1, (tool, defaults)
    assert set(registry.tool_defaults()) == set(TAB_TOOLS)


def test_a_family_registered_by_its_declaration_alone_is_known_everywhere():
    from fashionstudio.core import familiarity, runs
    from training.metrics.sampling import spec_for
    from training.trainers import get_trainer

    pixel = registry.family(registry.default_family("extract"))
    spec = Family("fs_test_declared", tool="extract", label="Garment extraction (Declared)", paper="Declared",
                  build=pixel.build, trainer=pixel.trainer, evaluation=pixel.evaluation,
                  data_kinds=("lookbook",), atelier_kind="lookbook", roles=(("person", "person"),))
    assert spec.name not in registry.known_families()
    with pytest.raises(KeyError, match="no trainer for the model family 'fs_test_declared'"):
        get_trainer(spec.name)
    registry.register(spec)
    try:
        assert spec.name in registry.tool_families("extract")
        assert registry.tool_family_error("extract", spec.name, "x.safetensors") is None
        assert spec.name in registry.tool_family_error("extract", "cyclegan", "x.safetensors")
        assert runs.trainable_families()[spec.name].data_kinds == ("lookbook",)
        assert "Garment extraction (Declared)" in familiarity.unfamiliar_message(spec.name, "")
        assert get_trainer(spec.name) is resolve(pixel.trainer)
        assert spec_for(spec.name) is resolve(pixel.evaluation)
        nets = registry.build_networks(spec.name, {"preset": "demo"}, which=["G"])
        assert set(nets) == {"G"}
    finally:
        registry.unregister(spec.name)
    assert spec.name not in registry.tool_families("extract")


@pytest.mark.parametrize("fields, words", [
    ({"name": "Bad Name"}, "lower-case letters"),
    ({"tool": "paint"}, "tool must be one of"),
    ({"trainer": "not a dotted name"}, "trainer must be 'package.module:name'"),
    ({"build": ""}, "needs a builder"),
    ({"default": True, "tool": ""}, "marked default but runs no tool"),
    ({"data_kinds": ("lookbook",), "atelier_kind": "inshop"}, "atelier_kind 'inshop' is not one of"),
])
def test_a_bad_declaration_is_refused_with_a_sentence(fields, words):
    base = {"name": "fs_test_bad", "build": "fashionstudio.models.pixeldtgan:build"}
    with pytest.raises(ValueError, match=words):
        Family(**{**base, **fields})


def test_register_takes_a_declaration():
    with pytest.raises(TypeError, match="takes a fashionstudio.families.Family"):
        registry.register("tinygan")  # type: ignore[arg-type]


def test_an_unknown_family_gets_the_known_ones_in_its_sentence():
    with pytest.raises(registry.UnknownFamilyError, match="does not know .*it knows: .*pgpg"):
        registry.family("fs_test_missing")
