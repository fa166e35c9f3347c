"""GenerateSession and the Generate tab's file helpers, without Qt: edits, undo and redo, walks, models, captions."""

from __future__ import annotations

import numpy as np
import pytest

from fashionstudio.core.generate_state import GenerateSession, caption, export_name, mix_preset_key, walk_path
from fashionstudio.core.latent import Direction, layer_presets, seed_position


def direction(name: str = "d", value: float = 0.0, w_dim: int = 4) -> Direction:
    return Direction(name=name, vector=np.ones(w_dim, np.float32), layers=(0, 10), value=value, source="sefa")


def test_seed_edits_keep_the_look_and_undo_redo_walks_back_and_forth():
    s = GenerateSession()
    s.set_psi(0.5)
    s.set_mix(3, 2, 4)
    s.remember(s.snapshot())
    s.set_seed(5)
    assert (s.state.seed, s.state.psi, s.state.mix_seed, s.state.mix_layers) == (5, 0.5, 3, (2, 5))
    assert s.is_at_seed(5) and not s.is_at_seed(6)
    back = s.undo(s.snapshot())
    assert back.seed == 0 and s.redo(back).seed == 5
    s.remember(s.snapshot())
    s.set_seed(9)
    s.remember(s.snapshot())  # a new change ends what redo would walk
    assert not s.history.can_redo()
    assert s.undo(s.snapshot()).seed == 9


def test_mix_range_is_inclusive_in_the_controls_and_empty_when_reversed():
    s = GenerateSession()
    s.set_mix(None, 3, 2)
    assert s.state.mix_seed is None and s.state.mix_layers == (3, 3)
    s.set_psi_cutoff(10, 10)
    assert s.state.psi_cutoff is None
    s.set_psi_cutoff(4, 10)
    assert s.state.psi_cutoff == 4
    presets = layer_presets(10)
    assert mix_preset_key(presets["middle"], presets) == "middle" and mix_preset_key((1, 2), presets) == "custom"


def test_walk_glides_to_the_next_lattice_point_and_stops_there():
    path = walk_path(3.0, 0.0, 1, 0, frames=4)
    assert path == [(3.25, 0.0), (3.5, 0.0), (3.75, 0.0), (4.0, 0.0)]
    assert walk_path(3.5, 0.0, -1, 0, frames=2)[-1] == (3.0, 0.0)  # from between seeds: the nearer one
    assert walk_path(0.0, 0.0, -1, 0, frames=2)[-1] == (0.0, 0.0)  # never below seed 0
    s = GenerateSession()
    assert s.start_walk(1, 0)
    s.start_walk(1, 0)  # a second press continues from the end of the first walk
    assert s.walk[-1] == (2.0, 0.0)
    while s.walk_step():
        pass
    assert s.state.x == 2.0 and s.state.seed == 2 and not s.walk_step()
    s.set_seed(7)
    assert not s.walk  # going to a seed ends a walk


def test_a_projected_photo_has_no_seed_position_to_move():
    s = GenerateSession()
    s.set_directions([direction(value=1.5)])
    s.set_psi(0.6)
    s.set_mix(4, 0, 1)
    photo = s.projected(s.snapshot(), np.zeros((10, 4), np.float32), None)
    assert (photo.psi, photo.psi_cutoff, photo.mix_seed) == (1.0, None, None)
    assert photo.directions[0].value == 0.0 and s.state.directions[0].value == 1.5  # the snapshot is untouched
    s.replace(photo)
    assert not s.move_to(3.0, 0.0) and not s.start_walk(1, 0)
    assert caption(photo).startswith("Projected photo") and export_name(photo) == "projection_generate.png"


def test_a_new_model_drops_another_models_projection_and_unfitting_sliders():
    s = GenerateSession()
    s.set_directions([direction(w_dim=4)])
    s.state.model_sha256 = "aaa"
    assert s.adopt_model("aaa", w_dim=4) and s.state.directions  # restored sliders of this model stay
    assert not s.adopt_model("aaa", w_dim=8) and s.state.directions == []
    s.state.base_ws, s.state.model_sha256 = np.zeros((10, 4), np.float32), "aaa"
    s.adopt_model("bbb", w_dim=4)
    assert s.state.base_ws is None and s.prepared_sha == "bbb"


def test_captions_say_what_the_image_is():
    s = GenerateSession()
    s.set_seed(12)
    s.set_psi(0.55)
    assert caption(s.state) == "Seed 12 · ψ 0.55" and export_name(s.state) == "seed12_generate.png"
    s.set_mix(3, 0, 1)
    s.set_directions([direction(value=1.0), direction(value=-2.0), direction()])
    assert caption(s.state) == "Seed 12 · ψ 0.55 · mixed with seed 3 on layers 0-1 · 2 sliders moved"
    x, y = seed_position(12)
    s.move_to(x + 0.5, y)
    assert caption(s.state).startswith("Between seeds near")


def test_interpolation_ends_and_strip_frames():
    s = GenerateSession()
    a, b = s.snapshot(), s.snapshot()
    assert not s.keep("A", a) and s.keep("B", b)
    with pytest.raises(ValueError, match="A and B"):
        s.keep("C", a)
    s.strip_states = [a, b]
    frame = s.strip_frame(1)
    assert frame is not b and frame.seed == b.seed and s.strip_frame(2) is None


def test_favourites_are_written_reopenable_and_never_overwrite(tmp_path):
    from PIL import Image

    from fashionstudio.core.generate_files import read_generate_file, write_favourites
    from fashionstudio.core.latent import state_from_png

    s = GenerateSession()
    s.set_seed(4)
    img = Image.new("RGB", (8, 8), (200, 10, 10))
    prov = {"tool": "generate", "settings": {"state": s.state.to_dict()}}
    (tmp_path / "favourite_01_seed4.png").write_bytes(b"taken")
    written = write_favourites(tmp_path, [(img, (s.state, prov), "Seed 4")])
    assert [p.name for p in written] == ["favourite_01_seed4_2.png"]
    assert (tmp_path / "favourite_01_seed4.png").read_bytes() == b"taken"
    assert state_from_png(written[0]).seed == 4
    kind, state = read_generate_file(written[0])
    assert kind == "state" and state.seed == 4
    photo = tmp_path / "photo.png"
    img.save(photo)
    kind, value = read_generate_file(photo)
    assert kind == "photo" and value.size == (8, 8)
