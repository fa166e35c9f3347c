"""A dressed mannequin as drawing primitives: capsules, polygons and ellipses in body units, far to near.

Each primitive carries its segmentation label (the garment or skin it shows) and, for the body, its DensePose part
and the axis its U, V coordinates run along, so :mod:`.figure` draws the image and its ground truth from the same
shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fashionstudio.core.poses import KEYPOINT_INDEX as K
from . import attributes as A
from .body import Body, Projected
from .garments import Outfit

L = A.SEG_LABELS
SHADE = 16  # label offset for the far side of the body (drawn darker)

# DensePose part indices (1..24) used by the IUV map.
P_TORSO_BACK, P_TORSO_FRONT = 1, 2
P_HAND = {"right": 3, "left": 4}
P_FOOT = {"left": 5, "right": 6}
P_THIGH = {("right", False): 7, ("left", False): 8, ("right", True): 9, ("left", True): 10}
P_SHIN = {("right", False): 11, ("left", False): 12, ("right", True): 13, ("left", True): 14}
P_UPPER_ARM = {("left", True): 15, ("right", True): 16, ("left", False): 17, ("right", False): 18}
P_FOREARM = {("left", True): 19, ("right", True): 20, ("left", False): 21, ("right", False): 22}
P_HEAD_RIGHT, P_HEAD_LEFT = 23, 24


@dataclass
class Item:
    """One primitive in body units: 'capsule' (p0, p1, r0, r1), 'poly' (points) or 'ellipse' (c, rx, ry)."""

    shape: str
    geom: tuple
    label: int | None            # segmentation label (None: not drawn in the image)
    part: int | None = None      # DensePose part (None: not part of the body map)
    axis: tuple | None = None    # (A, B, half-width) for the in-part U, V coordinates


# --- geometry helpers -------------------------------------------------------------------------------------------

def _torso_levels(body: Body) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, half-width, half-depth) of the torso's cross-sections from neck to crotch."""
    g = body.girth
    y = np.array([0.0, 0.22, 0.9, 0.62 * body.torso, body.torso, body.torso + 0.42])
    a = np.array([0.26, body.shoulder + 0.14, 0.8 * body.shoulder + 0.08 + body.bust,
                  max(0.5, 0.62 * body.shoulder) * g, (body.hip + 0.36) * g, (body.hip + 0.12) * g])
    b = np.array([0.24, 0.42, 0.6 + body.bust, 0.5, 0.58, 0.5]) * g
    return y, a, b


def _extent(body: Body, proj: Projected, grow: float = 1.0, add: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    y, a, b = _torso_levels(body)
    c, s = np.cos(proj.yaw), np.sin(proj.yaw)
    e = np.sqrt((a * c) ** 2 + (b * s) ** 2) * grow + add
    return y, e


def _outline(y: np.ndarray, e: np.ndarray, y0: float, y1: float, dip: float = 0.0) -> list:
    """A symmetric torso-shaped polygon between heights y0 and y1 (optionally with a neckline dip)."""
    ys = np.concatenate([[y0], y[(y > y0) & (y < y1)], [y1]])
    es = np.interp(ys, y, e)
    left = [(-ei, yi) for ei, yi in zip(es, ys)]
    right = [(ei, yi) for ei, yi in zip(es[::-1], ys[::-1])]
    pts = left + right
    if dip > 0:
        pts.append((0.0, y0 + dip))
    return pts


def _along(p0: np.ndarray, p1: np.ndarray, t: float) -> np.ndarray:
    return p0 + (p1 - p0) * t


# --- scene construction -----------------------------------------------------------------------------------------

def _limb_layers(body: Body, proj: Projected, outfit: Outfit | None, far_shade: bool) -> list[tuple[float, list]]:
    """Depth-tagged item lists for arms and legs, each with the garments that cover it."""
    j, ex = proj.joints, proj.extra
    g = body.girth
    front = proj.front >= 0
    top = None if outfit is None else (outfit.top or outfit.dress)
    bottom = None if outfit is None else outfit.bottom
    layers = []
    torso_depth = 0.0
    for side in ("right", "left"):
        sh, el, wr = K[f"{side}_shoulder"], K[f"{side}_elbow"], K[f"{side}_wrist"]
        depth = float(np.mean(proj.depth[[sh, el, wr]])) - 0.05
        shade = SHADE if (far_shade and depth > torso_depth + 0.3) else 0
        ua = (j[sh], j[el], 0.27 * g, 0.21 * g)
        fa = (j[el], j[wr], 0.2 * g, 0.15 * g)
        hand = (j[wr], ex[f"{side}_wrist_tip"], 0.14, 0.11)
        items = [
            Item("capsule", ua, L["skin"] + shade, P_UPPER_ARM[(side, front)], (ua[0], ua[1], ua[2])),
            Item("capsule", fa, L["skin"] + shade, P_FOREARM[(side, front)], (fa[0], fa[1], fa[2])),
            Item("capsule", hand, L["skin"] + shade, P_HAND[side], (hand[0], hand[1], 0.14)),
        ]
        if top is not None and top.kind != "tank":
            lab = (L["dress"] if top.kind == "dress" else L["top"]) + shade
            extra_r = 0.1 if top.kind == "jacket" else 0.07
            if top.kind in ("tshirt", "dress"):
                end = _along(j[sh], j[el], 0.5)
                items.append(Item("capsule", (j[sh], end, ua[2] + extra_r, ua[2] + extra_r + 0.02), lab))
            else:
                items.append(Item("capsule", (j[sh], j[el], ua[2] + extra_r, ua[3] + extra_r), lab))
                items.append(Item("capsule", (j[el], j[wr], fa[2] + extra_r, fa[3] + extra_r + 0.02), lab))
        layers.append((depth, items))
    for side in ("right", "left"):
        hp, kn, an = K[f"{side}_hip"], K[f"{side}_knee"], K[f"{side}_ankle"]
        depth = float(np.mean(proj.depth[[hp, kn, an]])) + 0.05
        shade = SHADE if (far_shade and depth > torso_depth + 0.3) else 0
        th = (j[hp], j[kn], 0.42 * g, 0.29 * g)
        sn = (j[kn], j[an], 0.28 * g, 0.16 * g)
        foot = (ex[f"{side}_ankle_heel"], ex[f"{side}_ankle_toe"], 0.17, 0.14)
        items = [
            Item("capsule", th, L["skin"] + shade, P_THIGH[(side, front)], (th[0], th[1], th[2])),
            Item("capsule", sn, L["skin"] + shade, P_SHIN[(side, front)], (sn[0], sn[1], sn[2])),
        ]
        if bottom is not None and bottom.kind in ("trousers", "shorts"):
            lab = L["bottom"] + shade
            if bottom.kind == "trousers":
                items.append(Item("capsule", (th[0], th[1], th[2] + 0.07, th[3] + 0.08), lab))
                items.append(Item("capsule", (sn[0], sn[1], th[3] + 0.08, sn[3] + 0.1), lab))
            else:
                end = _along(th[0], th[1], 0.55)
                items.append(Item("capsule", (th[0], end, th[2] + 0.08, th[2] + 0.04), lab))
        shoe_lab = (L["shoes"] if outfit is not None else L["skin"]) + shade
        items.append(Item("capsule", foot, shoe_lab, P_FOOT[side], (foot[0], foot[1], 0.17)))
        layers.append((depth, items))
    return layers


def _torso_layer(body: Body, proj: Projected, outfit: Outfit | None, garment_only: str | None = None) -> list:
    """Body torso plus bottoms' waistband, skirt, top/dress body and jacket details, back to front."""
    yl, e = _extent(body, proj)
    items = [Item("poly", _outline(yl, e, 0.0, body.torso + 0.42), L["skin"],
                  P_TORSO_FRONT if proj.front >= 0 else P_TORSO_BACK,
                  (np.array([0.0, 0.0]), np.array([0.0, body.torso + 0.42]), float(e.max())))]
    if outfit is None:
        return items
    j = proj.joints
    waist = 0.62 * body.torso
    bottom, top, dress = outfit.bottom, outfit.top, outfit.dress
    if bottom is not None and bottom.kind in ("trousers", "shorts"):
        items.append(Item("poly", _outline(yl, e * 1.05 + 0.03, waist, body.torso + 0.45), L["bottom"]))
    skirt = dress if dress is not None else (bottom if bottom is not None and bottom.kind == "skirt" else None)
    if skirt is not None:
        lab = L["dress"] if skirt is dress else L["bottom"]
        knee_y = float(np.mean(j[[K["right_knee"], K["left_knee"]], 1]))
        hip_y = body.torso
        frac = 0.55 + 0.75 * skirt.length if skirt is dress else 0.45 + 0.5 * skirt.length
        hem_y = hip_y + (knee_y - hip_y) * frac
        kx = j[[K["right_knee"], K["left_knee"]], 0]
        e_hip = float(np.interp(hip_y, yl, e))
        half = max(e_hip * 1.25, abs(kx[1] - kx[0]) / 2 + 0.5) + 0.12 * frac
        cx = float(np.mean(kx)) * 0.6
        e_w = float(np.interp(waist, yl, e)) * 1.06
        pts = [(-e_w, waist), (-e_hip * 1.08, hip_y), (cx - half, hem_y), (cx + half, hem_y), (e_hip * 1.08, hip_y),
               (e_w, waist)]
        front = proj.front >= 0
        # DensePose labels a skirt as upper legs: two halves, person's right and left.
        img_left_is_right = proj.front >= 0
        for part_side, poly in (("right" if img_left_is_right else "left",
                                 [(0, waist), (-e_w, waist), (-e_hip * 1.08, hip_y), (cx - half, hem_y), (cx, hem_y)]),
                                ("left" if img_left_is_right else "right",
                                 [(0, waist), (cx, hem_y), (cx + half, hem_y), (e_hip * 1.08, hip_y), (e_w, waist)])):
            items.append(Item("poly", poly, None, P_THIGH[(part_side, front)],
                              (np.array([cx * 0.5, waist]), np.array([cx, hem_y]), half)))
        items.append(Item("poly", pts, lab))
    upper = dress if dress is not None else top
    if upper is not None:
        lab = L["dress"] if upper is dress else L["top"]
        kind = "tshirt" if upper is dress else upper.kind
        end = {"tank": body.torso - 0.15, "tshirt": body.torso - 0.05, "longsleeve": body.torso + 0.05,
               "jacket": body.torso + 0.5}[kind]
        if upper is dress:
            end = waist + 0.3
        dip = 0.3 * max(proj.front, 0.0)
        if kind == "tank":
            y, a, b = _torso_levels(body)
            a = a.copy()
            a[1] = 0.55 * body.shoulder
            c, s = np.cos(proj.yaw), np.sin(proj.yaw)
            et = np.sqrt((a * c) ** 2 + (b * s) ** 2) * 1.04 + 0.02
            items.append(Item("poly", _outline(y, et, 0.05, end, dip), lab))
        else:
            grow, add = (1.08, 0.08) if kind == "jacket" else (1.04, 0.03)
            items.append(Item("poly", _outline(yl, e * grow + add, 0.0, end, dip), lab))
            for side in ("right", "left"):  # shoulder caps join the body to the sleeves
                sh = j[K[f"{side}_shoulder"]]
                r = 0.26 * body.girth + (0.08 if kind == "jacket" else 0.04)
                items.append(Item("ellipse", (sh, r, r), lab))
        if kind == "jacket" and proj.front > 0.3:
            w = 0.24 * proj.front
            sx = -0.2 * proj.facing
            items.append(Item("poly", [(sx - w, 0.02), (sx + w, 0.02), (sx, 1.7)], L["inner"]))
    if garment_only is not None:
        keep = {L[garment_only]}
        items = [it for it in items if it.label in keep or it.label is None]
    return items


def _head_layer(body: Body, proj: Projected) -> tuple[list, list]:
    """Neck, head (split into DensePose's two head parts) and hair; returns (behind-body items, head items)."""
    h = proj.extra["head"]
    c, s = np.cos(proj.yaw), np.sin(proj.yaw)
    rx = float(np.sqrt((0.4 * c) ** 2 + (0.47 * s) ** 2))
    ry = 0.54
    right_on_left = proj.front >= 0
    axis = (h + np.array([0, -ry]), h + np.array([0, ry]), rx)
    items = [Item("capsule", (np.array([0.0, 0.05]), np.array([0.0, -0.35]), 0.19, 0.17), L["skin"],
                  P_TORSO_FRONT if proj.front >= 0 else P_TORSO_BACK, (np.array([0.0, -0.4]), np.array([0.0, 0.05]), 0.2)),
             Item("ellipse", (h, rx, ry), L["skin"], P_HEAD_RIGHT if right_on_left else P_HEAD_LEFT, axis),
             Item("halfellipse", (h, rx, ry), None, P_HEAD_LEFT if right_on_left else P_HEAD_RIGHT, axis)]
    behind: list = []
    hair = L["hair"]
    away = -proj.facing  # image-x direction of the back of the head
    if proj.front < -0.3:
        items.append(Item("ellipse", (h + np.array([0, -0.02]), rx * 1.04, ry * 1.03), hair))
    else:
        off = np.array([away * 0.16, -0.14 - 0.08 * max(proj.front, 0)])
        items.append(Item("ellipse", (h + off, rx * 1.02, ry * 0.82), hair))
    if body.hair_style == "long":
        panel = [(h[0] - 0.42 + away * 0.1, h[1] - 0.1), (h[0] + 0.42 + away * 0.1, h[1] - 0.1),
                 (h[0] + 0.5 + away * 0.2, 0.85), (h[0] - 0.5 + away * 0.2, 0.85)]
        (items if proj.front < -0.3 else behind).append(Item("poly", panel, hair))
    elif body.hair_style == "bun":
        items.append(Item("ellipse", (h + np.array([away * 0.3, -0.5]), 0.2, 0.18), hair))
    return behind, items


def build_scene(body: Body, proj: Projected, outfit: Outfit | None, garment_only: str | None = None) -> list[Item]:
    """All primitives of a (dressed) mannequin in draw order (far to near)."""
    if garment_only is not None:  # a flat: the garment alone, from the torso and arm layers
        layers = [(d, [it for it in items if it.label is not None and (it.label & 15) == L[garment_only]])
                  for d, items in _limb_layers(body, proj, outfit, far_shade=False)]
        torso = [it for it in _torso_layer(body, proj, outfit, garment_only) if it.label is not None]
        layers.append((0.0, torso))
        layers.sort(key=lambda t: -t[0])
        return [it for _, items in layers for it in items]
    layers = _limb_layers(body, proj, outfit, far_shade=abs(proj.facing) > 0.3)
    behind, head = _head_layer(body, proj)
    layers.append((0.6, behind))
    layers.append((0.0, _torso_layer(body, proj, outfit)))
    layers.append((-0.02, head))
    layers.sort(key=lambda t: -t[0])
    return [it for _, items in layers for it in items]


def items_bbox(items: list[Item]) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) in body units of everything drawn in the image."""
    xs, ys = [], []
    for it in items:
        if it.label is None:
            continue
        if it.shape == "capsule":
            p0, p1, r0, r1 = it.geom
            for p, r in ((p0, r0), (p1, r1)):
                xs += [p[0] - r, p[0] + r]
                ys += [p[1] - r, p[1] + r]
        elif it.shape == "poly":
            xs += [p[0] for p in it.geom]
            ys += [p[1] for p in it.geom]
        else:
            c, rx, ry = it.geom
            xs += [c[0] - rx, c[0] + rx]
            ys += [c[1] - ry, c[1] + ry]
    return min(xs), min(ys), max(xs), max(ys)
