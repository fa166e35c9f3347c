"""Find the files FashionStudio ships with (icons, sample images, pose library, demo models).

The same code runs from three places, and each keeps ``resources/`` somewhere else:

1. a frozen bundle (PyInstaller; also the macOS ``.app``): ``sys._MEIPASS/resources``;
2. an installed wheel: ``fashionstudio/resources`` inside the installed package (package data);
3. a source checkout (also ``pip install -e .``): ``resources/`` at the top of the repository.

``FASHIONSTUDIO_RESOURCES`` overrides all three (for tests and for trying other demo models).
Resources are read-only: nothing may ever be written below :func:`resources_root`, because inside an
installed bundle that folder belongs to the system, not to the user.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

RESOURCES_ENV = "FASHIONSTUDIO_RESOURCES"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../fashionstudio


class ResourceNotFoundError(FileNotFoundError):
    """A file the app ships with is missing: the installation is incomplete or damaged."""


def candidate_roots() -> list[Path]:
    """Every place ``resources/`` may be, in the order they are tried."""
    candidates: list[Path] = []
    override = os.environ.get(RESOURCES_ENV)
    if override:
        candidates.append(Path(override).expanduser())
    bundle_dir = getattr(sys, "_MEIPASS", None)
    if bundle_dir:
        candidates.append(Path(bundle_dir) / "resources")
    if getattr(sys, "frozen", False):
        # Other freezers put data next to the executable.
        candidates.append(Path(sys.executable).resolve().parent / "resources")
    candidates.append(_PACKAGE_DIR / "resources")  # installed wheel (package data)
    candidates.append(_PACKAGE_DIR.parent / "resources")  # source checkout
    return candidates


def resources_root() -> Path:
    """The folder holding the shipped resources; raises :class:`ResourceNotFoundError` if there is none."""
    candidates = candidate_roots()
    override = os.environ.get(RESOURCES_ENV)
    if override and not candidates[0].is_dir():
        # An explicit override that points nowhere is a mistake worth reporting, not silently skipping.
        raise ResourceNotFoundError(
            f"{RESOURCES_ENV} points to {candidates[0]}, which is not a folder. "
            f"Unset it or point it to a folder with icons/ and models/ inside."
        )
    for root in candidates:
        if root.is_dir():
            return root
    tried = ", ".join(str(c) for c in candidates)
    raise ResourceNotFoundError(
        f"FashionStudio cannot find its resources folder (icons, demo models). Looked in: {tried}. "
        f"The installation is incomplete: please reinstall FashionStudio."
    )


def resource_path(*parts: str) -> Path:
    """Path of a shipped file or folder, e.g. ``resource_path("icons", "fashionstudio-256.png")``.

    With no parts, returns the resources folder itself. Raises :class:`ResourceNotFoundError` (a
    ``FileNotFoundError``) with a sentence naming the missing file when it does not exist.
    """
    root = resources_root()
    for part in parts:
        if Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"Resource names are relative names inside the resources folder, not {part!r}.")
    path = root.joinpath(*parts)
    if not path.exists():
        name = "/".join(parts)
        raise ResourceNotFoundError(
            f"The file '{name}' that FashionStudio ships with is missing from {root}. "
            f"The installation is incomplete: please reinstall FashionStudio."
        )
    return path
