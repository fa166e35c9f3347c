"""The mannequin: body proportions, pose sampling from joint-angle ranges, and orthographic projection.

Body frame (units of one head height): x = the person's left, y = down, z = away from the camera when the
person faces it. A view is a yaw about the vertical axis; projection is orthographic, so three-quarter and side
views come from foreshortening alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fashionstudio.core.poses import KEYPOINT_INDEX as K, NUM_KEYPOINTS

VIEW_YAW_DEG: dict[str, float] = {
    "front": 0.0, "three_quarter_left": -35.0, "three_quarter_right": 35.0,
    "side_left": -90.0, "side_right": 90.0, "back": 180.0,
}


@dataclass(frozen=True)
class Body:
    """One mannequin's proportions (head units) and looks; constant across all its poses."""

    shoulder: float   # half distance between the shoulder joints
    hip: float        # half distance between the hip joints
    torso: float      # neck to hip-joint height
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    girth: float      # limb/torso thickness multiplier
    bust: float       # extra chest width (women) in head units
    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    hair_style: str
    gender: str


def sample_body(rng: np.random.Generator, gender: str, skin, hair, hair_style: str) -> Body:
    """Plausible proportions for a fashion mannequin (about 7.5-8 heads tall)."""
    men = gender == "MEN"
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    return Body(
        shoulder=u(0.95, 1.1) if men else u(0.82, 0.95),
        hip=u(0.42, 0.5) if men else u(0.5, 0.6),
        torso=u(2.7, 2.95),
        upper_arm=u(1.3, 1.45), forearm=u(1.15, 1.3),
        thigh=u(1.95, 2.15), shin=u(1.85, 2.0),
        girth=u(0.95, 1.12) if men else u(0.85, 1.0),
        bust=0.0 if men else u(0.0, 0.08),
        skin=tuple(skin), hair=tuple(hair), hair_style=hair_style, gender=gender,
    )


@dataclass
class Pose3D:
    """Joint positions in the body frame plus extra points the renderer needs (hand tips, toes, heels)."""

    joints: np.ndarray                        # (18, 3)
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    kind: str = "standing"


def _dir(side: float, abduct: float, flex: float) -> np.ndarray:
    """Unit limb direction: hanging down, rotated outwards by ``abduct`` and forwards by ``flex`` (degrees)."""
    a, f = np.radians(abduct), np.radians(flex)
    return np.array([side * np.sin(a) * np.cos(f), np.cos(a) * np.cos(f), -np.sin(f)])


def _ik(start: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray) -> np.ndarray:
    """Two-bone inverse kinematics: the middle joint, bending towards ``pole``."""
    d = target - start
    dist = float(np.clip(np.linalg.norm(d), 1e-3, l1 + l2 - 1e-3))
    dhat = d / max(np.linalg.norm(d), 1e-6)
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = np.sqrt(max(l1 * l1 - a * a, 0.0))
    perp = pole - dhat * float(pole @ dhat)
    perp = perp / max(np.linalg.norm(perp), 1e-6)
    return start + a * dhat + h * perp


def _arm_angles(rng: np.random.Generator, kind: str, side: float, swing: float) -> tuple | None:
    """(abduct, flex, forearm abduct, forearm flex) for one arm, or None when the arm uses IK (hand on hip)."""
    u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
    left = side > 0
    if kind in ("hands_on_hips",) or (kind == "one_hand_on_hip" and left):
        return None
    if kind == "flat":  # a garment laid flat: sleeves spread so their shape reads
        return 42.0, 0.0, 40.0, 0.0
    if kind == "arms_raised":
        a = u(140, 170)
        return a, u(-5, 10), a + u(0, 15), u(-5, 10)
    if kind == "arms_out":
        a = u(70, 95)
        return a, u(-5, 15), a + u(-10, 10), u(0, 25)
    if kind == "wave" and not left:
        return u(65, 95), u(-5, 10), u(150, 175), u(-5, 10)
    if kind == "walking":
        return u(6, 12), swing, u(6, 14), swing + u(5, 25)
    a = u(5, 14)
    return a, u(-6, 8), a + u(-3, 6), u(0, 20)


def sample_pose(rng: np.random.Generator, body: Body, kind: str) -> Pose3D:
    """A pose of ``kind`` (see attributes.POSE_KINDS) for ``body``, from plausible joint-angle ranges."""
    j = np.zeros((NUM_KEYPOINTS, 3))
    j[K["neck"]] = (0, 0, 0)
    j[K["nose"]] = (0, -0.55, -0.40)
    j[K["right_eye"]], j[K["left_eye"]] = (-0.17, -0.72, -0.34), (0.17, -0.72, -0.34)
    j[K["right_ear"]], j[K["left_ear"]] = (-0.40, -0.66, 0.0), (0.40, -0.66, 0.0)
    tilt = float(rng.uniform(-0.06, 0.06))  # a slight head tilt/turn keeps poses from looking stamped
    for name in ("nose", "right_eye", "left_eye", "right_ear", "left_ear"):
        j[K[name], 0] += tilt * (j[K[name], 1] + 0.6) * -1
    extra: dict[str, np.ndarray] = {"head": np.array([0.0, -0.62, 0.0])}
    stride = float(rng.uniform(18, 30)) if kind == "walking" else 0.0
    lead = 1.0 if rng.random() < 0.5 else -1.0  # which leg steps forward

    for side, sh, el, wr in ((-1.0, "right_shoulder", "right_elbow", "right_wrist"),
                             (1.0, "left_shoulder", "left_elbow", "left_wrist")):
        s = np.array([side * body.shoulder, 0.22, 0.0])
        j[K[sh]] = s
        swing = -lead * side * stride * 0.8  # arms swing opposite to the legs
        angles = _arm_angles(rng, kind, side, swing)
        if angles is None:  # hand on hip: solve the elbow with IK, bending outwards and a little back
            target = np.array([side * (body.hip + 0.3 * body.girth), body.torso - 0.75, -0.05])
            e = _ik(s, target, body.upper_arm, body.forearm, np.array([side, -0.1, 0.25]))
            w = e + (target - e) / np.linalg.norm(target - e) * body.forearm
        else:
            a1, f1, a2, f2 = angles
            e = s + _dir(side, a1, f1) * body.upper_arm
            w = e + _dir(side, a2, f2) * body.forearm
        j[K[el]], j[K[wr]] = e, w
        extra[wr + "_tip"] = w + (w - e) / np.linalg.norm(w - e) * 0.38

    spread = float(rng.uniform(9, 16)) if kind == "wide_stance" else float(rng.uniform(1, 5))
    for side, hp, kn, an in ((-1.0, "right_hip", "right_knee", "right_ankle"),
                             (1.0, "left_hip", "left_knee", "left_ankle")):
        h = np.array([side * body.hip, body.torso, 0.0])
        f1 = lead * side * stride + float(rng.uniform(-3, 3))
        knee_bend = float(rng.uniform(15, 30)) if (kind == "walking" and f1 < 0) else float(rng.uniform(0, 5))
        k = h + _dir(side, spread, f1) * body.thigh
        a = k + _dir(side, spread * 0.6, f1 - knee_bend) * body.shin
        j[K[hp]], j[K[kn]], j[K[an]] = h, k, a
        extra[an + "_heel"] = a + np.array([0.0, 0.22, 0.12])
        extra[an + "_toe"] = a + np.array([side * 0.08, 0.3, -0.72])
    return Pose3D(joints=j, extra=extra, kind=kind)


@dataclass
class Projected:
    """A pose seen from a view: 2-D points in body units (x right, y down), depth, and the view's yaw."""

    joints: np.ndarray       # (18, 2)
    depth: np.ndarray        # (18,)
    extra: dict[str, np.ndarray]
    extra_depth: dict[str, float]
    yaw: float               # radians
    facing: float            # image-x direction of the face: -sin(yaw)
    front: float             # cos(yaw): > 0 when the face is visible


def project(pose: Pose3D, view: str, yaw_jitter: float = 0.0) -> Projected:
    """Orthographic projection of ``pose`` for ``view`` (a key of VIEW_YAW_DEG)."""
    yaw = np.radians(VIEW_YAW_DEG[view] + yaw_jitter)
    c, s = np.cos(yaw), np.sin(yaw)

    def proj(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = np.atleast_2d(p)
        x = p[:, 0] * c + p[:, 2] * s
        z = -p[:, 0] * s + p[:, 2] * c
        return np.stack([x, p[:, 1]], 1), z

    pj, dz = proj(pose.joints)
    extra, extra_depth = {}, {}
    for name, p in pose.extra.items():
        q, z = proj(p)
        extra[name], extra_depth[name] = q[0], float(z[0])
    return Projected(joints=pj, depth=dz, extra=extra, extra_depth=extra_depth, yaw=float(yaw),
                     facing=float(-s), front=float(c))


def visible_keypoints(proj: Projected) -> np.ndarray:
    """Which keypoints a pose annotator would mark: no face points from behind, no far eye/ear in profile."""
    ok = np.ones(NUM_KEYPOINTS, dtype=bool)
    if proj.front < -0.3:
        ok[[K["nose"], K["right_eye"], K["left_eye"]]] = False
    elif abs(proj.facing) > 0.85:  # profile: the far eye and ear are hidden behind the head
        far = ("left_eye", "left_ear") if proj.depth[K["left_ear"]] > proj.depth[K["right_ear"]] else (
            "right_eye", "right_ear")
        ok[[K[far[0]], K[far[1]]]] = False
    return ok
