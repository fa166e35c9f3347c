"""Rendering a dressed mannequin: its primitives (:mod:`.primitives`) -> label map (supersampled) -> RGB,
keypoints, IUV.

Everything is drawn once as integer labels with PIL at ``ss`` times the output size; colours, patterns, far-side
shading and outlines are applied to the label map with numpy, and a box filter gives the antialiased image. The
same primitives, drawn with DensePose part indices, give the IUV map, so image and ground truth always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from . import attributes as A
from .body import Body, Projected, visible_keypoints
from .garments import Garment, Outfit
from .patterns import pattern_field
from .primitives import SHADE, Item, build_scene, items_bbox

L = A.SEG_LABELS


@dataclass
class Rendered:
    image: Image.Image           # RGB, size x size
    keypoints: np.ndarray        # (18, 2) (y, x), -1 for missing
    seg: np.ndarray              # (H, W) uint8 labels (attributes.SEG_LABELS)
    iuv: np.ndarray | None       # (H, W, 3) uint8: part index, U*255, V*255


# --- drawing ----------------------------------------------------------------------------------------------------

def _draw(draw: ImageDraw.ImageDraw, it: Item, value: int, scale: float, off) -> None:
    """Draw one primitive (plain float maths: this runs tens of thousands of times per dataset)."""
    ox, oy = float(off[0]), float(off[1])
    if it.shape == "capsule":
        p0, p1, r0, r1 = it.geom
        ax, ay = float(p0[0]) * scale + ox, float(p0[1]) * scale + oy
        bx, by = float(p1[0]) * scale + ox, float(p1[1]) * scale + oy
        r0, r1 = r0 * scale, r1 * scale
        dx, dy = bx - ax, by - ay
        norm = max(math.hypot(dx, dy), 1e-6)
        nx, ny = -dy / norm, dx / norm
        draw.polygon([(ax + nx * r0, ay + ny * r0), (bx + nx * r1, by + ny * r1), (bx - nx * r1, by - ny * r1),
                      (ax - nx * r0, ay - ny * r0)], fill=value)
        draw.ellipse([ax - r0, ay - r0, ax + r0, ay + r0], fill=value)
        draw.ellipse([bx - r1, by - r1, bx + r1, by + r1], fill=value)
    elif it.shape == "poly":
        draw.polygon([(float(p[0]) * scale + ox, float(p[1]) * scale + oy) for p in it.geom], fill=value)
    else:
        c, rx, ry = it.geom
        cx, cy = float(c[0]) * scale + ox, float(c[1]) * scale + oy
        box = [cx - rx * scale, cy - ry * scale, cx + rx * scale, cy + ry * scale]
        if it.shape == "ellipse":
            draw.ellipse(box, fill=value)
        else:  # right half in the image
            draw.pieslice(box, -90, 90, fill=value)


@dataclass
class Frame:
    """Where body units land in the output image: pixel = unit * scale + offset (output resolution)."""

    scale: float
    offset: tuple[float, float]   # (x, y)


def fit_frame(items: list[Item], size: int, height_frac: float, max_scale: float | None = None,
              shift: tuple[float, float] = (0.0, 0.0)) -> Frame:
    """Scale and centre a scene so its bounding box fills ``height_frac`` of the image (capped by max_scale)."""
    x0, y0, x1, y1 = items_bbox(items)
    scale = height_frac * size / max(y1 - y0, (x1 - x0) * 0.95)
    if max_scale is not None:
        scale = min(scale, max_scale)
    ox = size / 2 - scale * (x0 + x1) / 2 + shift[0] * size
    oy = size / 2 - scale * (y0 + y1) / 2 + shift[1] * size
    return Frame(scale, (ox, oy))


def _colour_lut(body: Body | None, outfit: Outfit | None) -> tuple[np.ndarray, dict[int, Garment]]:
    lut = np.zeros((2 * SHADE, 3), np.float32)
    patterned: dict[int, Garment] = {}
    if body is not None:
        lut[L["skin"]] = body.skin
        lut[L["hair"]] = body.hair
    if outfit is not None:
        for name, g in (("top", outfit.top), ("bottom", outfit.bottom), ("dress", outfit.dress),
                        ("shoes", outfit.shoes)):
            if g is not None:
                lut[L[name]] = g.colour
                if g.pattern != "solid":
                    patterned[L[name]] = g
        lut[L["inner"]] = outfit.inner
    lut[SHADE:] = lut[:SHADE] * 0.8
    return lut, patterned


PATTERN_BIT, EDGE_BIT = 32, 64


def colourise(labels: np.ndarray, lut: np.ndarray, patterned: dict[int, Garment], unit_px: float,
              background, ss: int, outline: float = 0.72) -> Image.Image:
    """Label map (supersampled) -> RGB image at output size: palette, patterns, shading, outlines, box filter.

    The atelier's hot loop, so colours go through a 256-entry palette (bits: 0-3 label, 4 far-side shade,
    5 pattern's secondary colour, 6 outline) and PIL does the lookup and the box-filter ``reduce``.
    """
    lab = labels.copy()
    base = labels & (SHADE - 1)
    pal = np.zeros((256, 3), np.float32)
    pal[:2 * SHADE] = lut
    bg = np.asarray(background, np.float32).reshape(3)
    pal[0] = pal[SHADE] = bg
    pal[L["shadow"]] = pal[L["shadow"] + SHADE] = bg * 0.9
    for lab_id, g in patterned.items():
        field = pattern_field(g.pattern, labels.shape, g.period * unit_px, vertical=g.vertical)
        lab |= ((base == lab_id) & field).view(np.uint8) << 5
        sec = np.asarray(g.secondary, np.float32)
        pal[PATTERN_BIT + lab_id], pal[PATTERN_BIT + SHADE + lab_id] = sec, sec * 0.8
    # Outlines where labels change make garments read as separate pieces, like a fashion flat drawing.
    edge = np.zeros(labels.shape, bool)
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    if ss > 2:  # thicken to about one output pixel's worth of dark line
        edge[:, :-1] |= edge[:, 1:]
    edge &= base != L["shadow"]
    lab |= edge.view(np.uint8) << 6
    pal[EDGE_BIT:2 * EDGE_BIT] = pal[:EDGE_BIT] * outline
    img = Image.fromarray(lab, "L")
    img.putpalette(np.clip(pal + 0.5, 0, 255).astype(np.uint8).ravel().tobytes())
    img = img.convert("RGB") if img.mode == "P" else img
    return img.reduce(ss) if ss > 1 else img


def studio_background(rng: np.random.Generator | None, white: bool = False) -> np.ndarray:
    """A light studio backdrop colour: off-white with a slight random tint (pure white for flats)."""
    if white or rng is None:
        return np.full(3, 255.0, np.float32)
    base = np.array([242, 240, 236], np.float32) + rng.uniform(-10, 8, 3).astype(np.float32)
    return np.minimum(base, 252)


def render(items: list[Item], frame: Frame, size: int, ss: int, lut: np.ndarray, patterned: dict,
           background: np.ndarray, keypoints_units: np.ndarray | None = None, kp_visible: np.ndarray | None = None,
           with_iuv: bool = True, shadow: tuple | None = None) -> Rendered:
    """Draw ``items`` into an RGB image plus ground truth at ``size`` px."""
    big = size * ss
    scale = frame.scale * ss
    off = np.array(frame.offset) * ss + (ss - 1) / 2.0  # output pixel centres -> supersampled pixel centres
    lab_img = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(lab_img)
    if shadow is not None:
        c, rx, ry = shadow
        _draw(draw, Item("ellipse", (c, rx, ry), L["shadow"]), L["shadow"], scale, off)
    for it in items:
        if it.label is not None:
            _draw(draw, it, it.label, scale, off)
    labels = np.asarray(lab_img)
    image = colourise(labels, lut, patterned, frame.scale * ss, background, ss)
    centre = slice(ss // 2, None, ss)
    seg = (labels[centre, centre] & (SHADE - 1)).astype(np.uint8)
    iuv = _iuv(items, scale, off, big, ss) if with_iuv else None
    if keypoints_units is not None:
        px = keypoints_units * frame.scale + np.array(frame.offset)
        kp = np.stack([px[:, 1], px[:, 0]], 1).astype(np.float32)
        inside = (kp[:, 0] >= 0) & (kp[:, 0] <= size - 1) & (kp[:, 1] >= 0) & (kp[:, 1] <= size - 1)
        ok = inside if kp_visible is None else (inside & kp_visible)
        kp[~ok] = -1
    else:
        kp = np.full((18, 2), -1, np.float32)
    return Rendered(image=image, keypoints=kp, seg=seg, iuv=iuv)


def _iuv(items: list[Item], scale: float, off: np.ndarray, big: int, ss: int) -> np.ndarray:
    part_img = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(part_img)
    axes = np.zeros((25, 5), np.float32)  # ax, ay, bx, by, half-width (supersampled px)
    axes[:, 2:4] = 1.0
    axes[:, 4] = 1.0
    for it in items:
        if it.part is None:
            continue
        _draw(draw, it, it.part, scale, off)
        a, b, w = it.axis
        axes[it.part] = (*(np.asarray(a) * scale + off), *(np.asarray(b) * scale + off), max(w * scale, 1e-3))
    centre = slice(ss // 2, None, ss)
    parts = np.asarray(part_img)[centre, centre]
    n = parts.shape[0]
    pos = np.arange(n, dtype=np.float32) * ss + ss // 2
    px, py = np.meshgrid(pos, pos)
    ax = axes[parts]
    dx, dy = ax[..., 2] - ax[..., 0], ax[..., 3] - ax[..., 1]
    length2 = np.maximum(dx * dx + dy * dy, 1e-6)
    rx, ry = px - ax[..., 0], py - ax[..., 1]
    u = np.clip((rx * dx + ry * dy) / length2, 0, 1)
    v = np.clip(0.5 + (rx * dy - ry * dx) / np.sqrt(length2) / (2 * ax[..., 4]), 0, 1)
    body = parts > 0
    iuv = np.zeros((n, n, 3), np.uint8)
    iuv[..., 0] = parts
    iuv[..., 1] = np.where(body, np.round(u * 255), 0)
    iuv[..., 2] = np.where(body, np.round(v * 255), 0)
    return iuv


def render_figure(rng: np.random.Generator, body: Body, proj: Projected, outfit: Outfit | None, size: int,
                  ss: int, base_scale: float, with_iuv: bool = True, background: np.ndarray | None = None) -> Rendered:
    """A dressed mannequin on a studio background, framed full-body, with keypoints, seg and IUV."""
    items = build_scene(body, proj, outfit)
    frame = fit_frame(items, size, 0.9, max_scale=base_scale * size,
                      shift=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.01, 0.02))))
    feet_y = max(proj.extra["right_ankle_toe"][1], proj.extra["left_ankle_toe"][1],
                 proj.extra["right_ankle_heel"][1], proj.extra["left_ankle_heel"][1]) + 0.12
    feet_x = float(np.mean([proj.extra["right_ankle_toe"][0], proj.extra["left_ankle_toe"][0]]))
    lut, patterned = _colour_lut(body, outfit)
    bg = background if background is not None else studio_background(rng)
    vis = visible_keypoints(proj)
    return render(items, frame, size, ss, lut, patterned, bg, proj.joints, vis, with_iuv,
                  shadow=(np.array([feet_x, feet_y]), 1.3, 0.22))


def render_flat(body: Body, proj: Projected, outfit: Outfit, size: int, ss: int) -> Rendered:
    """The outfit's catalogue garment alone, laid flat on white (a 'ghost mannequin' flat)."""
    which = "dress" if outfit.dress is not None else "top"
    items = build_scene(body, proj, outfit, garment_only=which)
    frame = fit_frame(items, size, 0.82)
    lut, patterned = _colour_lut(None, outfit)
    # The mannequin's joints in the flat's frame: where the shoulders, sleeves and hem of the layout sit.
    return render(items, frame, size, ss, lut, patterned, studio_background(None, white=True), proj.joints,
                  with_iuv=False)
