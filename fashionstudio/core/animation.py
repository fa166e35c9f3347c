"""Write a sequence of frames as an animated GIF (always, with Pillow) or MP4 (when imageio has ffmpeg)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from fashionstudio.core.atomic import atomic_write

MP4_MISSING = ("MP4 export needs the 'imageio' and 'imageio-ffmpeg' packages, which are not installed here "
               "(pip install 'fashionstudio[video]' brings them); save the animation as GIF instead.")


class AnimationError(ValueError):
    """An animation that cannot be written. The message is meant for a designer."""


def mp4_available() -> bool:
    """True when imageio can find an ffmpeg executable to encode MP4."""
    try:
        import imageio_ffmpeg

        return bool(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception:  # not installed, or no binary for this platform
        return False


def available_formats() -> list[str]:
    """The suffixes this installation can write, GIF first."""
    return [".gif"] + ([".mp4"] if mp4_available() else [])


def _check(frames: Sequence[Image.Image]) -> list[Image.Image]:
    if len(frames) < 2:
        raise AnimationError("An animation needs at least two frames.")
    size = frames[0].size
    if any(f.size != size for f in frames):
        raise AnimationError("All frames of an animation must have the same size.")
    return [f.convert("RGB") for f in frames]


def save_gif(frames: Sequence[Image.Image], path: str | os.PathLike, fps: float = 12.0, *,
             boomerang: bool = True) -> Path:
    """Write ``frames`` as a looping GIF (played forward then back when ``boomerang``); atomic."""
    frames = _check(frames)
    if boomerang:
        frames = frames + frames[-2:0:-1]
    path = Path(path)
    duration = max(20, int(round(1000.0 / max(fps, 0.1))))
    # One shared adaptive palette keeps colours from flickering between frames.
    palette_src = Image.new("RGB", (frames[0].width, frames[0].height * min(len(frames), 8)))
    for i, f in enumerate(frames[:8]):
        palette_src.paste(f, (0, i * f.height))
    palette = palette_src.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    quantised = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    return _atomic(path, lambda tmp: quantised[0].save(tmp, format="GIF", save_all=True,
                                                        append_images=quantised[1:], duration=duration,
                                                        loop=0, disposal=1))


def save_mp4(frames: Sequence[Image.Image], path: str | os.PathLike, fps: float = 24.0) -> Path:
    """Write ``frames`` as H.264 MP4 through imageio-ffmpeg; raises :class:`AnimationError` when unavailable."""
    frames = _check(frames)
    if not mp4_available():
        raise AnimationError(MP4_MISSING)
    import imageio.v2 as imageio
    import numpy as np

    def write(tmp: str) -> None:
        with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                                macro_block_size=1) as writer:
            for f in frames:
                writer.append_data(np.asarray(f))

    return _atomic(Path(path), write, suffix=".mp4")


def save_animation(frames: Sequence[Image.Image], path: str | os.PathLike, fps: float = 12.0) -> Path:
    """Write by suffix: ``.gif`` or ``.mp4``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        return save_gif(frames, path, fps)
    if suffix == ".mp4":
        return save_mp4(frames, path, fps)
    raise AnimationError(f"'{path.name}': animations are saved as .gif or .mp4.")


def _atomic(path: Path, write, suffix: str = ".tmp") -> Path:
    try:
        with atomic_write(path, suffix=suffix) as tmp:
            write(str(tmp))
    except OSError as exc:
        raise AnimationError(f"'{path.name}' could not be written ({exc.strerror or exc}).") from None
    return path
