"""Named attribute sliders (Qt-free): boundary fitting, conditional projection, and the whole pipeline on a
tiny generator read by a simple colour reader, then on the shipped demo generator with the atelier classifier."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from fashionstudio.core import attribute_directions as A
from fashionstudio.core.latent import LatentSpace, apply_directions, directions_from_json, directions_to_json
from fashionstudio.models.stylegan2 import build
from fashionstudio.models.stylegan2_fast import FastSynthesis

TINY = {"preset": "demo", "resolution": 16, "z_dim": 32, "w_dim": 32, "mapping_layers": 2,
        "channel_base": 256, "channel_max": 32}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def test_boundaries_recover_the_planes_that_made_the_labels():
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3000, 16, generator=gen) * torch.linspace(0.5, 2.0, 16)  # anisotropic, like real w
    a, b = torch.zeros(16), torch.zeros(16)
    a[0], a[3] = 1.0, 1.0
    b[5] = 1.0
    readings = {"colour": (w @ a > 0.8).long().numpy(),             # "red" (1) for about a quarter of samples
                "pattern": (w @ b > 0).long().numpy()}
    classes = {"colour": ["other", "red"], "pattern": ["solid", "stripes"]}
    bounds = A.fit_boundaries(w, readings, classes)
    by = {(x.head, x.value): x for x in bounds}
    assert set(by) == {("colour", "other"), ("colour", "red"), ("pattern", "solid"), ("pattern", "stripes")}
    assert float(by["colour", "red"].normal @ _unit(a.numpy())) > 0.95
    assert float(by["colour", "other"].normal @ _unit(a.numpy())) < -0.95   # "more other" = "less red"
    assert float(by["pattern", "stripes"].normal @ b.numpy()) > 0.95
    assert by["colour", "red"].accuracy > 0.95 and by["colour", "red"].name == "less / more red (colour)"
    # conditional: "more red" keeps the pattern boundary's side; the pattern normals are projected out
    cond = dict(zip(by, A.conditional_normals(bounds)))
    for key in (("pattern", "solid"), ("pattern", "stripes")):
        assert abs(float(cond["colour", "red"] @ by[key].normal)) < 1e-4
    assert abs(np.linalg.norm(cond["colour", "red"]) - 1) < 1e-5


def test_a_value_too_rare_to_fit_gets_no_slider():
    w = torch.randn(500, 8, generator=torch.Generator().manual_seed(1))
    labels = np.zeros(500, np.int64)
    labels[:5] = 1  # five samples: below MIN_POSITIVES
    labels[5:300] = 2
    bounds = A.fit_boundaries(w, {"pose": labels}, {"pose": ["standing", "wave", "walking"]})
    assert sorted(b.value for b in bounds) == ["standing", "walking"]


class RedReader:
    """Reads 16 px images by colour: which channel is brightest on average (a stand-in for the classifier)."""

    classes = {"colour": ["red", "green", "blue"], "brightness": ["dark", "light"]}

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        means = images.mean(dim=(2, 3))
        return {"colour": means.argmax(1), "brightness": (images.mean(dim=(1, 2, 3)) > self.threshold).long()}

    threshold = 0.0


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(3)
    G = build(TINY, which=["G"])["G"].eval()
    with torch.no_grad():
        G.w_avg.copy_(G.mapping(torch.randn(1000, G.z_dim)).mean(0))
    space, synth = LatentSpace(G), FastSynthesis(G)
    reader = RedReader()
    with torch.inference_mode():
        sample = synth.render(space.w_samples(400)[:, None].expand(-1, G.num_ws, -1).contiguous(), stateless=True)
    reader.threshold = float(sample.mean(dim=(1, 2, 3)).median())
    return G, space, synth, reader


def test_sliders_move_the_reading_towards_their_value(tiny):
    G, space, synth, reader = tiny
    seen = []
    dirs = A.compute_attribute_directions(space, A.w_renderer(synth, G.num_ws), reader, n_samples=600,
                                          progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (600, 600) and len(seen) == 6
    assert all(d.source == A.METHOD and d.layers == (0, G.num_ws) for d in dirs)
    # one slider unit is UNIT_STD standard deviations of the sampled w along the slider
    w = space.w_samples(600).numpy()
    for d in dirs:
        assert d.sigma == pytest.approx(A.UNIT_STD * ((w - w.mean(0)) @ d.vector).std(), rel=1e-4)
    names = [d.name for d in dirs]
    assert "less / more light (brightness)" in names
    light = dirs[names.index("less / more light (brightness)")]
    base = space.w_for_seeds(list(range(40)))[:, None].expand(-1, G.num_ws, -1)

    def share_light(value: float) -> float:
        light.value = value
        ws = torch.stack([apply_directions(b.clone(), [light]) for b in base])
        with torch.inference_mode():
            return float(reader(synth.render(ws, stateless=True))["brightness"].float().mean())

    assert share_light(3.0) > share_light(0.0) + 0.3 and share_light(-3.0) < share_light(0.0) - 0.3
    # they save and load like any direction set, names and all
    back, header = directions_from_json(directions_to_json(dirs, method=A.METHOD, w_dim=G.w_dim), G.w_dim)
    assert header["method"] == A.METHOD and [d.name for d in back] == names


def test_cancel_stops_between_batches(tiny):
    G, space, synth, reader = tiny
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 200:
            cancel.set()

    assert A.compute_attribute_directions(space, A.w_renderer(synth, G.num_ws), reader, n_samples=600,
                                          progress=progress, cancel=cancel) is None


def test_a_reader_that_sees_one_value_gives_a_sentence(tiny):
    G, space, synth, _ = tiny

    class Blind:
        classes = {"colour": ["red", "green"]}

        def __call__(self, images):
            return {"colour": torch.zeros(images.shape[0], dtype=torch.long)}

    with pytest.raises(A.AttributeSliderError, match="reads every generated sample the same way"):
        A.compute_attribute_directions(space, A.w_renderer(synth, G.num_ws), Blind(), n_samples=200)


@pytest.mark.slow
def test_demo_generator_colour_slider_changes_the_atelier_reading():
    from fashionstudio.core.modelfile import load_model_file
    from fashionstudio.core.resources import resource_path

    G = load_model_file(resource_path("models", "generate.safetensors")).networks["G"]
    space, synth, reader = LatentSpace(G), FastSynthesis(G), A.AtelierReader()
    assert set(reader.classes) == set(A.PERSON_HEADS)
    dirs = A.compute_attribute_directions(space, A.w_renderer(synth, G.num_ws), reader, n_samples=600)
    names = [d.name for d in dirs]
    assert {"less / more orange (colour)", "less / more tank (garment)"} <= set(names)
    d = dirs[names.index("less / more orange (colour)")]
    base = space.w_for_seeds(list(range(24)))[:, None].expand(-1, G.num_ws, -1)
    orange = reader.classes["colour"].index("orange")

    def share(value: float) -> float:
        d.value = value
        ws = torch.stack([apply_directions(b.clone(), [d]) for b in base])
        with torch.inference_mode():
            return float((reader(synth.render(ws, stateless=True))["colour"] == orange).float().mean())

    assert share(3.0) > share(0.0) + 0.25  # the slider's end
