"""Write one untrained model file per tool (each family's ``demo`` preset) into a folder.

    python placeholder_models.py OUT_DIR

Run with a Python that has torch and this checkout's ``fashionstudio`` (the build venv). Used by the build's
preflight and by the smoke test while ``resources/models/`` holds no trained demo models yet: the app then still
loads a model and runs inference through the real code path, inside the bundle. The files say in their name
that they are untrained; they are never shipped.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def write_placeholder_models(out: Path) -> list[Path]:
    from fashionstudio.core.modelfile import save_model_file
    from fashionstudio.core import registry

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for tool, family in registry.tool_defaults().items():
        module = importlib.import_module(registry.get_builder(family).__module__)
        config = dict(module.PRESETS["demo"])
        networks = module.build(config, module.INFERENCE_NETWORKS)
        written.append(save_model_file(
            out / f"{tool}.safetensors", family, networks, config, resolution=config["resolution"],
            name=f"untrained {family} demo preset (packaging smoke test)", licence="MIT",
        ))
    return written


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    for path in write_placeholder_models(Path(sys.argv[1])):
        print(path)
