"""Small helpers shared by the image-to-image tools (Extract, Match): square letterbox, one generator pass,
folder listing and the provenance of a batch result. Qt-free.

Image <-> tensor conversion lives in :mod:`fashionstudio.core.images` (``pil_to_tensor`` / ``tensor_to_pil``);
this module only adds what the tool pipelines need on top of it.

Note for merging: :mod:`fashionstudio.core.pose_transfer` has its own ``letterbox``/``unletterbox`` with the
same idea (border-matched backdrop); :func:`letterbox_to_square` / :func:`undo_letterbox` here are the
Extract/Match versions.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image

import fashionstudio
from fashionstudio.core.folder_scan import FolderScan, no_images_sentence, scan_folder
from fashionstudio.core.images import pil_to_tensor, tensor_to_pil
from fashionstudio.core.letterbox import RGB
from fashionstudio.core.modelfile import ModelFileError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})


class WrongModelError(ModelFileError):
    """A model of another family was given to a tool. The message is meant for a designer."""


class DegenerateOutputError(ModelFileError):
    """A model whose output is not numbers (NaN or infinite): it cannot make any picture. A sentence."""


# A ``convert`` of :func:`process_folder` puts an output's warning sentence under this settings key; it is
# stored as the result's ``warning`` in its provenance, not among its settings.
WARNING_KEY = "_warning"
# An 8-bit picture whose every channel spans at most this many levels is one flat colour. Zero: a broken model
# paints one exact colour (saturated tanh, NaN turned black, a dead layer), while even a tiny untrained one
# varies by a level or two, and "blank" must never be said of a real result.
FLAT_LEVELS = 0


def check_tool(model: Any, tool: str) -> None:
    """Raise WrongModelError unless the loaded ``model``'s family declares ``tool`` as the tool that runs it."""
    from fashionstudio.core import registry

    sentence = registry.tool_family_error(tool, model.family, model.path.name)
    if sentence:
        raise WrongModelError(sentence)


def network_device(net: Any) -> Any:
    """The device a network's weights are on (CPU for a network without parameters)."""
    for p in net.parameters():
        return p.device
    import torch

    return torch.device("cpu")


def run_generator(net: Any, squares: Sequence[Image.Image], model_name: str | None = None) -> list[Image.Image]:
    """Run an image-to-image generator once over a batch of same-size square images; return its outputs.

    Raises :class:`DegenerateOutputError` when the generator's numbers are not finite (``model_name`` goes into
    the sentence). Call inside ``torch.inference_mode()`` (the GUI's workers do; the CLI does too)."""
    import torch

    device = network_device(net)
    batch = torch.cat([pil_to_tensor(sq) for sq in squares]).to(device)
    out = net(batch)
    check_finite(out, model_name)
    return [tensor_to_pil(t) for t in out]


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder`` (by extension, sorted by name); raise ValueError with a
    sentence when the folder is missing, unreadable or holds no images."""
    return _scan_with_images(folder).images


def _scan_with_images(folder: str | os.PathLike) -> FolderScan:
    """The folder's pictures and left-out entries (core.folder_scan); ValueError when it holds no picture."""
    scan = scan_folder(folder)
    if not scan.images:
        raise ValueError(no_images_sentence(folder, scan))
    return scan


def output_names(inputs: Sequence[Path], suffix: str = "") -> dict[Path, str]:
    """A distinct ``<stem><suffix>.png`` name per input (``shirt.jpg`` and ``shirt.png`` get their
    extension added so neither overwrites the other)."""
    stems: dict[str, int] = {}
    for p in inputs:
        stems[p.stem.lower()] = stems.get(p.stem.lower(), 0) + 1
    names = {}
    for p in inputs:
        stem = p.stem if stems[p.stem.lower()] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}"
        names[p] = f"{stem}{suffix}.png"
    return names


def result_provenance(model: Any, tool: str, settings: dict[str, Any], source: str | None) -> dict[str, Any]:
    """The provenance written into a result PNG (the same keys the tabs' export writes)."""
    info: dict[str, Any] = {
        "software": f"FashionStudio {fashionstudio.__version__}",
        "tool": tool,
        "settings": settings,
        "source": source,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if model is not None:
        info.update(model=model.path.name, model_sha256=model.sha256, model_name=model.name, family=model.family)
    return info


def parse_colour(text: str) -> RGB:
    """``"#RRGGBB"`` (or ``RRGGBB``, or ``#RGB``) -> (r, g, b); ValueError with a sentence otherwise."""
    s = text.strip().lstrip("#")
    if len(s) == 3:
        s = "".join(c * 2 for c in s)
    try:
        if len(s) != 6:
            raise ValueError
        return int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)
    except ValueError:
        raise ValueError(f"'{text}' is not a colour: write it as #RRGGBB, for example #FFFFFF for white.") from None


def colour_hex(rgb: RGB) -> str:
    return "#{:02X}{:02X}{:02X}".format(*rgb)


@dataclass
class BatchReport:
    """What a folder run did: the files written, the inputs skipped with the reason, whether it was cancelled."""

    total: int = 0
    written: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input file name, reason sentence)
    cancelled: bool = False
    flagged: list[tuple[str, str]] = field(default_factory=list)  # (input file name, output warning), written

    def summary(self) -> str:
        done = len(self.written)
        text = f"Wrote {done} image{'s' if done != 1 else ''}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)} of {self.total} file{'s' if self.total != 1 else ''}"
        if self.flagged:
            text += f"; {len(self.flagged)} look{'s' if len(self.flagged) == 1 else ''} blank"
        if self.cancelled:
            text += "; stopped before the end"
        return text + "."


def process_folder(
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    convert: Callable[[Image.Image], list[tuple[str, Image.Image, dict[str, Any]]]],
    *,
    model: Any,
    tool: str,
    progress: Callable[[int, int, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    check: Callable[[Image.Image, str], dict[str, Any] | None] | None = None,
) -> BatchReport:
    """Run ``convert`` over every image of ``in_dir`` and write its outputs to ``out_dir`` as PNG with provenance.

    ``convert(image)`` returns ``[(name_suffix, image, settings), ...]``; each output is written as
    ``<input stem><name_suffix>.png``. A file that cannot be read or converted is recorded in the report's
    ``skipped`` list with the reason and the batch carries on. ``progress(done, total, name)`` is called after
    each file; ``cancel()`` returning True stops before the next file. Raises ValueError (a sentence) when the
    input folder has no images or the output folder cannot be used. ``check(image, file name)`` may return a
    flag stored as ``familiarity`` in each of that input's outputs' provenance (see core.familiarity).
    """
    from fashionstudio.core.images import ImageLoadError, load_image
    from fashionstudio.core.provenance import save_png_with_provenance

    scan = _scan_with_images(in_dir)
    inputs = scan.images
    out = Path(out_dir)
    if out.resolve() == Path(in_dir).resolve():
        raise ValueError("Choose an output folder different from the input folder, so no original is overwritten.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"The output folder '{out}' cannot be created ({exc.strerror or exc}).") from None
    names = output_names(inputs)
    # Entries that are not readable pictures (HEIC, SVG, pipes, broken links...) are listed, never dropped silently.
    report = BatchReport(total=len(inputs) + len(scan.skipped), skipped=list(scan.skipped))
    for i, path in enumerate(inputs):
        warned = False
        if cancel is not None and cancel():
            report.cancelled = True
            break
        try:
            img = load_image(path)
            flag = check(img, path.name) if check is not None else None
            for suffix, result, settings in convert(img):
                target = out / f"{names[path][:-4]}{suffix}.png"
                settings = dict(settings)
                warning = settings.pop(WARNING_KEY, None)
                info = result_provenance(model, tool, settings, path.name)
                if warning:
                    info["warning"] = warning
                    if not warned:
                        report.flagged.append((path.name, warning))
                        warned = True
                if flag is not None:
                    info["familiarity"] = flag
                report.written.append(save_png_with_provenance(result, target, info))
        except ImageLoadError as exc:
            report.skipped.append((path.name, str(exc)))
        except DegenerateOutputError:
            raise  # the model itself is broken: every further file would fail the same way
        except OSError as exc:
            report.skipped.append((path.name, f"'{path.name}': the result could not be written "
                                              f"({exc.strerror or exc})."))
        except Exception as exc:  # noqa: BLE001 - one bad file never stops the batch
            log.warning("batch: %s failed", path, exc_info=True)
            report.skipped.append((path.name, f"'{path.name}' could not be processed ({exc})."))
        if progress is not None:
            progress(i + 1, len(inputs), path.name)
    return report


def check_finite(output: Any, model_name: str | None = None) -> None:
    """Raise :class:`DegenerateOutputError` unless every value of a generator's ``output`` tensor is finite."""
    import torch

    if not bool(torch.isfinite(output).all()):
        who = f"'{model_name}'" if model_name else "The model"
        raise DegenerateOutputError(
            f"{who} produced invalid numbers (NaN or infinite) instead of a picture, so it cannot be used: its "
            "weights are damaged or training diverged. Open another model, or export an earlier checkpoint.")


def flat_output_warning(output: Any, model_name: str | None = None, source: Any = None) -> str | None:
    """The sentence for a generated picture that is one flat colour (all black, all white, ...), else None.

    ``output`` (and ``source``) is a PIL image, an 8-bit array (H, W, C), or a float tensor [C, H, W] /
    [N, C, H, W] in [-1, 1] (a batch is flat only when every image is). Such a result means the model ignores
    its input, unless the ``source`` it was made from is itself flat (then nothing is said).
    """
    if _spread(output) > FLAT_LEVELS or (source is not None and _spread(source) <= FLAT_LEVELS):
        return None
    who = f"'{model_name}'" if model_name else "The model"
    return (f"{who} returned a blank picture (one flat colour), which usually means the model ignores its input "
            "or is damaged; try another photo or another model.")


def _spread(picture: Any) -> float:
    """The largest per-channel range of a picture in 8-bit levels (the largest over a batch)."""
    import numpy as np

    if isinstance(picture, (Image.Image, np.ndarray)):
        arr = np.asarray(picture.convert("RGB") if isinstance(picture, Image.Image) else picture, dtype=np.float32)
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
        return float((arr.max(axis=(0, 1)) - arr.min(axis=(0, 1))).max())
    t = picture.detach().float()
    levels = ((t.clamp(-1, 1) + 1) * 127.5).round()  # the 8-bit values tensor_to_pil would write
    flat = levels.reshape(-1, *t.shape[-3:]).flatten(2)  # [N, C, H*W]
    return float((flat.amax(dim=2) - flat.amin(dim=2)).max())


def check_generated(output: Any, model_name: str | None = None) -> str | None:
    """For any generator output tensor in [-1, 1]: raise :class:`DegenerateOutputError` when it holds NaN or
    infinite values; return the flat-picture warning sentence when it is one flat colour; else None."""
    check_finite(output, model_name)
    return flat_output_warning(output, model_name)
