"""Stored Generate settings and direction sets are untrusted input: every way they can be wrong (wrong types,
missing keys, absurd numbers, deep nesting) ends in the project's StateError with a sentence, never another
exception."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from fashionstudio.core import latent
from fashionstudio.core.latent import Direction, GenerateState, StateError

W_DIM = 4
BAD_VALUES: list[Any] = [None, True, -1, 10**40, 1e308, "x", "", [], {}, [1], [[1, 2]], {"a": 1},
                         [None, None], ["a", "b"], {"b64": 5}, {"dtype": "<U4", "shape": [1], "b64": "QUFBQQ=="}]


def _variants(node: Any) -> list[tuple[Any, ...]]:
    """Every (path, replacement) and (path, deleted) change of one leaf or key of ``node``."""
    out: list[tuple[Any, ...]] = []

    def walk(n: Any, path: tuple[Any, ...]) -> None:
        keys = list(n) if isinstance(n, dict) else range(len(n)) if isinstance(n, list) else []
        for k in keys:
            for bad in BAD_VALUES:
                out.append((path + (k,), bad))
            if isinstance(n, dict):
                out.append((path + (k,), "<delete>"))
            walk(n[k], path + (k,))

    walk(node, ())
    return out


def _apply(doc: Any, path: tuple[Any, ...], bad: Any) -> Any:
    doc = copy.deepcopy(doc)
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    if bad == "<delete>":
        del parent[path[-1]]
    else:
        parent[path[-1]] = bad
    return doc


def _good_set() -> dict[str, Any]:
    d = Direction("hem", np.array([0.5, 0.5, 0.5, 0.5], np.float32), (0, 2), sigma=0.3, value=1.0)
    return json.loads(latent.directions_to_json([d], method="ganspace", w_dim=W_DIM))


def test_every_damaged_direction_set_gives_a_state_error():
    good = _good_set()
    assert latent.directions_from_json(json.dumps(good), W_DIM)[0][0].name == "hem"
    texts = [json.dumps(_apply(good, path, bad)) for path, bad in _variants(good)]
    texts += ["[" * 100_000 + "]" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
              json.dumps(dict(good, directions=[{"vector": [[[1]]] * 4, "layers": [0, 2]}])),
              json.dumps(dict(good, directions=[dict(good["directions"][0], layers=[0, 1e400])])).replace(
                  "Infinity", "1e400"),
              json.dumps(dict(good, directions=[dict(good["directions"][0], layers=[0, 2, 3])])),
              json.dumps(dict(good, directions=[dict(good["directions"][0], vector="AAAA")])),
              "\x00\xff", ""]
    escaped = []
    for text in texts:
        try:
            latent.directions_from_json(text, W_DIM)
        except StateError:
            pass
        except Exception as exc:  # noqa: BLE001 - the point of the test
            escaped.append(f"{type(exc).__name__}: {text[:120]}")
    assert not escaped, "\n".join(escaped[:10])


def test_a_direction_with_a_wrong_layer_range_is_refused():
    good = _good_set()
    for layers in ([0, 2, 3], [2], "02", [0.5, 2]):
        entry = dict(good["directions"][0], layers=layers)
        with pytest.raises(StateError):
            Direction.from_dict(entry, W_DIM)


def test_every_damaged_generate_state_gives_a_state_error():
    d = Direction("hem", np.array([0.5, 0.5, 0.5, 0.5], np.float32), (0, 2), sigma=0.3, value=1.0)
    state = GenerateState(x=3, psi=0.6, mix_seed=2, mix_layers=(1, 3), directions=[d],
                          base_ws=np.zeros((5, W_DIM), np.float32),
                          base_noise=[np.zeros((4, 4), np.float32)]).to_dict()
    state = json.loads(json.dumps(state))
    assert GenerateState.from_dict(state, num_ws=5, w_dim=W_DIM).x == 3
    escaped = []
    variants = [_apply(state, path, bad) for path, bad in _variants(state)]
    variants += ["[" * 100_000, dict(state, version="new"), dict(state, version=[2])]
    for v in variants:
        try:
            GenerateState.from_dict(v, num_ws=5, w_dim=W_DIM)
        except StateError:
            pass
        except Exception as exc:  # noqa: BLE001
            escaped.append(f"{type(exc).__name__}: {json.dumps(v)[:160] if not isinstance(v, str) else v[:40]}")
    assert not escaped, "\n".join(escaped[:10])


def test_a_png_with_deeply_nested_settings_is_damaged_not_a_crash(tmp_path):
    path = tmp_path / "deep.png"
    meta = PngImagePlugin.PngInfo()
    meta.add_text("fashionstudio", '{"tool": "generate", "settings": ' + "[" * 100_000 + "]" * 100_000 + "}")
    Image.new("RGB", (8, 8)).save(path, pnginfo=meta)
    with pytest.raises(StateError, match="deep.png"):
        latent.state_from_png(path)


def test_a_png_whose_settings_are_the_state_itself_reopens(tmp_path):
    # what fashionstudio-cli generate wrote before it used the tab's form ({summary..., "state": ...})
    from fashionstudio.core.provenance import save_png_with_provenance

    state = GenerateState(x=6, psi=0.5)
    path = save_png_with_provenance(Image.new("RGB", (8, 8)), tmp_path / "seed00006.png",
                                    {"tool": "generate", "settings": state.to_dict()})
    back = latent.state_from_png(path)
    assert back is not None and (back.seed, back.psi) == (6, 0.5)
