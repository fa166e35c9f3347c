"""Draw FashionStudio's application icon and derive every size the three desktop platforms want.

The one source image is ``resources/icons/fashionstudio.png`` (1024 px). It is drawn by :func:`draw_icon`
(run ``python packaging/make_icons.py --draw`` to redraw it); everything else is derived from it:

- ``resources/icons/fashionstudio-<N>.png`` for N in 16 ... 512 (Linux hicolor theme, Qt window icon);
- ``resources/icons/fashionstudio.ico`` (Windows: 16, 24, 32, 48, 64, 128, 256 inside one file);
- ``resources/icons/fashionstudio.icns`` (macOS .app bundle), written by Pillow's ICNS writer.

Only Pillow and numpy are needed, so the icons can be regenerated on any build machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bundle_rules import source_resources_dir  # noqa: E402

ICON_DIR = source_resources_dir(Path(__file__).resolve().parents[1]) / "icons"
MASTER = ICON_DIR / "fashionstudio.png"
MASTER_SIZE = 1024
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
# Pillow's ICNS writer stores the sizes macOS uses (16 ... 1024, including the @2x variants).
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)

# Two brand colours: a deep plum at the top fading to a warm coral at the bottom.
TOP = np.array([74, 33, 112], dtype=np.float32)
BOTTOM = np.array([236, 94, 104], dtype=np.float32)


def draw_icon(size: int = MASTER_SIZE) -> Image.Image:
    """Draw the icon: a white dress on a hanger over a plum-to-coral rounded square."""
    ss = 4  # draw 4x larger and downsample, which anti-aliases every edge
    n = size * ss
    ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None, None]
    gradient = (TOP * (1.0 - ramp) + BOTTOM * ramp).repeat(n, axis=1)
    background = Image.fromarray(gradient.astype(np.uint8), "RGB").convert("RGBA")

    # macOS-style proportions: the square fills ~80 % of the canvas with a ~22 % corner radius.
    margin = round(n * 0.10)
    mask = Image.new("L", (n, n), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (margin, margin, n - margin, n - margin), radius=round(n * 0.18), fill=255
    )
    icon = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    icon.paste(background, (0, 0), mask)

    draw = ImageDraw.Draw(icon)
    white = (255, 255, 255, 255)

    def p(x: float, y: float) -> tuple[float, float]:
        """Coordinates in units of the full canvas (0..1)."""
        return (x * n, y * n)

    line = round(n * 0.022)
    # Hanger: the hook (an open arc) and the shoulders (a wide triangle outline).
    hook = (p(0.465, 0.185), p(0.535, 0.255))
    draw.arc([hook[0], hook[1]], start=180, end=90, fill=white, width=line)
    draw.line([p(0.50, 0.255), p(0.50, 0.285)], fill=white, width=line)
    draw.line([p(0.50, 0.285), p(0.27, 0.37), p(0.73, 0.37), p(0.50, 0.285)], fill=white, width=line, joint="curve")

    # Dress: straps, fitted bodice, a belt line and a flared skirt with a curved hem.
    draw.polygon([p(0.415, 0.37), p(0.44, 0.37), p(0.445, 0.425), p(0.405, 0.425)], fill=white)
    draw.polygon([p(0.585, 0.37), p(0.56, 0.37), p(0.555, 0.425), p(0.595, 0.425)], fill=white)
    draw.polygon([p(0.405, 0.42), p(0.595, 0.42), p(0.57, 0.545), p(0.43, 0.545)], fill=white)
    skirt = [p(0.43, 0.56), p(0.57, 0.56), p(0.71, 0.80)]
    hem = [p(0.71 - 0.42 * t, 0.80 + 0.035 * np.sin(np.pi * t)) for t in np.linspace(0.0, 1.0, 24)]
    draw.polygon(skirt + hem, fill=white)
    # Neckline: a soft scoop cut out of the bodice in the background colour at that height.
    neck_colour = tuple(int(c) for c in (TOP * (1 - 0.42) + BOTTOM * 0.42)) + (255,)
    draw.ellipse([p(0.45, 0.385), p(0.55, 0.46)], fill=neck_colour)
    return icon.resize((size, size), Image.Resampling.LANCZOS)


def derive_all(master: Path = MASTER, out_dir: Path = ICON_DIR) -> list[Path]:
    """Write every platform size from the master PNG; return the written paths."""
    image = Image.open(master).convert("RGBA")
    if image.size != (MASTER_SIZE, MASTER_SIZE):
        raise SystemExit(f"{master} must be {MASTER_SIZE}x{MASTER_SIZE} pixels, it is {image.size[0]}x{image.size[1]}.")
    written = []
    for size in PNG_SIZES:
        path = out_dir / f"fashionstudio-{size}.png"
        image.resize((size, size), Image.Resampling.LANCZOS).save(path, optimize=True)
        written.append(path)
    ico = out_dir / "fashionstudio.ico"
    image.save(ico, sizes=[(s, s) for s in ICO_SIZES])
    icns = out_dir / "fashionstudio.icns"
    image.save(icns, format="ICNS")
    written += [ico, icns]
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draw", action="store_true", help="redraw the 1024 px master before deriving the sizes")
    args = parser.parse_args(argv)
    ICON_DIR.mkdir(parents=True, exist_ok=True)
    if args.draw or not MASTER.exists():
        draw_icon().save(MASTER, optimize=True)
        print(f"drew {MASTER}")
    for path in derive_all():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
