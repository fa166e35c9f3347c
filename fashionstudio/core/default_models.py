"""Where each tool's default model file is found (``<tool>.safetensors``), shared by the GUI and the CLI."""

from __future__ import annotations

import os
from pathlib import Path

MODEL_SUFFIX = ".safetensors"
MODELS_ENV = "FASHIONSTUDIO_MODELS"


def model_search_dirs() -> list[Path]:
    """Folders searched for a tool's default model, first match wins.

    ``$FASHIONSTUDIO_MODELS``, when set, is the only folder searched (tests, trying other models). Otherwise:
    ``models/`` in every place the shipped resources may be (bundle, installed package, source checkout; see
    :mod:`fashionstudio.core.resources`), then the user's app-data ``models`` folder.
    """
    env = os.environ.get(MODELS_ENV)
    if env:
        return [Path(env)]
    from fashionstudio.core.applog import app_data_dir
    from fashionstudio.core.resources import candidate_roots

    return [root / "models" for root in candidate_roots()] + [app_data_dir() / "models"]


def default_model_path(tool: str) -> Path | None:
    """The default model file of ``tool`` (``<tool>.safetensors`` in the first search folder holding one)."""
    for folder in model_search_dirs():
        candidate = folder / f"{tool}{MODEL_SUFFIX}"
        if candidate.is_file():
            return candidate
    return None
