"""The app's pose library: a dozen named target poses as a pose-transfer CSV plus PNG thumbnails.

Written by ``python -m training synth poses resources/poses``. Keypoints are in a 256×256 frame (the square frame
the app's pose models use); ``fashionstudio.core.poses.scale_keypoints`` maps them to any other size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashionstudio.core.poses import draw_skeleton, write_pose_csv
from . import attributes as A
from .body import Body, project, sample_pose
from .figure import render_figure
from .garments import Garment, Outfit
from .scenes import BASE_SCALE

FRAME = 256
THUMB = 128
# name -> (pose kind, view, seed): the seed picks one plausible sample of the kind's joint-angle ranges.
LIBRARY: dict[str, tuple[str, str, int]] = {
    "standing": ("standing", "front", 1),
    "walking": ("walking", "front", 2),
    "walking-side": ("walking", "side_right", 3),
    "arms-raised": ("arms_raised", "front", 4),
    "hands-on-hips": ("hands_on_hips", "front", 5),
    "one-hand-on-hip": ("one_hand_on_hip", "three_quarter_left", 6),
    "arms-out": ("arms_out", "front", 7),
    "wave": ("wave", "front", 8),
    "wide-stance": ("wide_stance", "front", 9),
    "three-quarter": ("standing", "three_quarter_right", 10),
    "side": ("standing", "side_left", 11),
    "back": ("standing", "back", 12),
}

_NEUTRAL = Body(shoulder=0.92, hip=0.52, torso=2.82, upper_arm=1.37, forearm=1.22, thigh=2.05, shin=1.92,
                girth=0.97, bust=0.0, skin=(214, 200, 186), hair=(90, 80, 74), hair_style="short", gender="WOMEN")


def _grey(kind: str, rgb) -> Garment:
    return Garment(kind=kind, colour=tuple(rgb), family=A.colour_family(rgb), pattern="solid",
                   secondary=tuple(rgb))


_OUTFIT = Outfit(top=_grey("tshirt", (120, 150, 190)), bottom=_grey("trousers", (70, 74, 86)), dress=None,
                 shoes=_grey("shoes", (40, 40, 44)), inner=(240, 240, 240))


def library_poses() -> dict[str, tuple[np.ndarray, object]]:
    """{name: ((18, 2) keypoints in the 256×256 frame, thumbnail PIL image)}."""
    out = {}
    for name, (kind, view, seed) in LIBRARY.items():
        rng = np.random.default_rng(seed)
        proj = project(sample_pose(rng, _NEUTRAL, kind), view)
        full = render_figure(np.random.default_rng(0), _NEUTRAL, proj, _OUTFIT, FRAME, 2, BASE_SCALE, False,
                             background=np.array([245.0, 245.0, 245.0], np.float32))
        thumb = full.image.resize((THUMB, THUMB))
        kp_t = full.keypoints.copy()
        ok = kp_t[:, 0] >= 0
        kp_t[ok] = (kp_t[ok] + 0.5) * THUMB / FRAME - 0.5
        out[name] = (full.keypoints, draw_skeleton(kp_t, THUMB, thumb, width=2))
    return out


def write_pose_library(folder) -> list[str]:
    """Write ``poses.csv`` and ``<name>.png`` thumbnails into ``folder``; returns the pose names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    poses = library_poses()
    write_pose_csv(folder / "poses.csv", {name: kp for name, (kp, _) in poses.items()})
    for name, (_, thumb) in poses.items():
        thumb.save(folder / f"{name}.png", optimize=True)
    return list(poses)
