"""Sampling whole atelier subjects: a mannequin (body + looks) wearing an outfit, in chosen poses and views."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import attributes as A
from .body import Body, project, sample_body, sample_pose
from .figure import Rendered, render_figure, render_flat
from .garments import Outfit, sample_outfit

BASE_SCALE = 1 / 8.6  # fraction of the image height one head unit takes for a standing figure


def supersampling(size: int) -> int:
    """Supersampling factor: enough for smooth edges at small sizes without paying for it at large ones."""
    return 4 if size <= 48 else 3 if size <= 96 else 2


@dataclass
class Model:
    """A mannequin: constant proportions, skin, hair and gender."""

    body: Body

    @classmethod
    def sample(cls, rng: np.random.Generator, gender: str | None = None) -> "Model":
        g = gender or str(A.GENDERS[int(rng.integers(2))])
        skin = A.SKIN_TONES[int(rng.integers(len(A.SKIN_TONES)))]
        hair = A.HAIR_COLOURS[int(rng.integers(len(A.HAIR_COLOURS)))]
        styles = ("short", "short", "bun") if g == "MEN" else A.HAIR_STYLES
        style = str(styles[int(rng.integers(len(styles)))])
        return cls(sample_body(rng, g, skin, hair, style))


def sample_view(rng: np.random.Generator, weights=(0.4, 0.12, 0.12, 0.1, 0.1, 0.16)) -> str:
    return str(A.VIEWS[int(rng.choice(len(A.VIEWS), p=np.asarray(weights) / np.sum(weights)))])


def sample_pose_kind(rng: np.random.Generator) -> str:
    w = np.array([0.24, 0.18, 0.1, 0.1, 0.1, 0.08, 0.08, 0.12])
    return str(A.POSE_KINDS[int(rng.choice(len(A.POSE_KINDS), p=w / w.sum()))])


def render_model(rng: np.random.Generator, model: Model, outfit: Outfit | None, kind: str, view: str, size: int,
                 with_iuv: bool = True) -> Rendered:
    pose = sample_pose(rng, model.body, kind)
    proj = project(pose, view, yaw_jitter=float(rng.uniform(-6, 6)))
    return render_figure(rng, model.body, proj, outfit, size, supersampling(size), BASE_SCALE, with_iuv)


def render_outfit_flat(model: Model, outfit: Outfit, size: int) -> Rendered:
    rng = np.random.default_rng(0)  # the flat's pose is canonical: no randomness
    pose = sample_pose(rng, model.body, "flat")
    return render_flat(model.body, project(pose, "front"), outfit, size, supersampling(size))


def sample_outfit_for(rng: np.random.Generator, model: Model) -> Outfit:
    return sample_outfit(rng, model.body.gender)
