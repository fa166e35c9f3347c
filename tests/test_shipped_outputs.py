"""The shipped model files load and give the same outputs on fixed inputs as when this test's reference was
recorded (``tests/data/shipped_outputs.json``): refactors of the registry, builders and loading keep behaviour.

On the machine (torch version and CPU kernel set) that recorded the reference the outputs must be bit-identical
(SHA-256 of the output bytes); elsewhere the kernels may round differently, so 64 fixed sample values must agree
to 1e-4.  A shipped file replaced on purpose is re-recorded with ``python tests/test_shipped_outputs.py --record NAME``
(all files without NAME); the test names the file whose bytes no longer match the reference.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "resources" / "models"
REFERENCE = Path(__file__).with_name("data") / "shipped_outputs.json"
FILES = ("pose", "pose-pgpg", "extract", "extract-pixeldtgan", "match", "match-cyclegan", "generate", "upscale")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _platform() -> str:
    import torch

    return f"torch {torch.__version__} / {torch.backends.cpu.get_cpu_capability()}"


def _file_sha256(name: str) -> str:
    return hashlib.sha256((SHIPPED / f"{name}.safetensors").read_bytes()).hexdigest()


def _outputs(name: str) -> dict:
    """Every inference network of one shipped file, run on seeded inputs of the file's resolution."""
    import numpy as np
    import torch

    from fashionstudio.core.modelfile import load_model_file

    model = load_model_file(SHIPPED / f"{name}.safetensors")
    nets, cfg, r = model.networks, model.config, model.resolution
    gen = torch.Generator().manual_seed(7)

    def image(c: int = 3, size: int = r) -> torch.Tensor:
        return torch.rand(1, c, size, size, generator=gen).mul(2).sub(1)

    out: dict[str, torch.Tensor] = {}
    with torch.inference_mode():
        if set(nets) == {"G1", "G2"}:  # two-stage pose model
            src, pose = image(), torch.rand(1, cfg["pose_channels"], r, r, generator=gen)
            out["G1"] = nets["G1"](src, pose)
            out["G2"] = nets["G2"](src, out["G1"])
        elif "G_AB" in nets or "G_A" in nets:  # a translator (or a domain coder) per direction
            out.update({key: net(image()) for key, net in sorted(nets.items())})
        elif hasattr(nets["G"], "mapping"):  # style-based generator
            g = nets["G"]
            ws = g.broadcast(g.mapping(torch.randn(2, g.z_dim, generator=gen)))
            out["w"] = ws
            out["G"] = g.synthesis(ws, noise_mode="const")
        elif cfg.get("pose_channels"):  # warping pose model: photo, its pose, the target pose
            from fashionstudio.core.pose_transfer import default_target_pose, heatmap_sigma
            from fashionstudio.core.poses import render_heatmaps

            kp = default_target_pose(1.0) * r - 0.5
            heat = [torch.from_numpy(render_heatmaps(k.astype(np.float32), r, heatmap_sigma(r)))[None]
                    for k in (kp, kp + np.float32(r / 16))]
            result = nets["G"](image(), heat[0], heat[1])
            out.update({f"G{i}": t for i, t in enumerate(result if isinstance(result, tuple) else (result,))})
        else:  # image to image (Extract, Upscale)
            out["G"] = nets["G"](image())
    record = {"file_sha256": _file_sha256(name)}
    for key, t in out.items():
        t = t.detach().float().contiguous()
        flat = t.flatten()
        idx = torch.linspace(0, flat.numel() - 1, 64).long()
        record[key] = {"shape": list(t.shape), "sha256": hashlib.sha256(t.numpy().tobytes()).hexdigest(),
                       "samples": [float(v) for v in flat[idx]]}
    return record


@pytest.mark.slow
@pytest.mark.parametrize("name", FILES)
def test_shipped_model_gives_the_recorded_outputs(name):
    reference = json.loads(REFERENCE.read_text())
    expected = dict(reference["files"][name])
    assert _file_sha256(name) == expected.pop("file_sha256"), (
        f"resources/models/{name}.safetensors is not the file the reference was recorded with; after shipping a "
        f"new file on purpose, re-record it: python tests/test_shipped_outputs.py --record {name}")
    got = _outputs(name)
    got.pop("file_sha256")
    assert sorted(got) == sorted(expected)
    for key, want in expected.items():
        assert got[key]["shape"] == want["shape"], key
        if reference["platform"] == _platform():
            assert got[key]["sha256"] == want["sha256"], f"{name} {key}: outputs are not bit-identical"
        else:
            assert got[key]["samples"] == pytest.approx(want["samples"], abs=1e-4), key


if __name__ == "__main__" and "--record" in sys.argv:
    import torch

    torch.set_num_threads(1)
    names = [a for a in sys.argv[1:] if a != "--record"] or list(FILES)
    data = json.loads(REFERENCE.read_text()) if REFERENCE.is_file() else {"files": {}}
    if data.get("platform", _platform()) != _platform():
        sys.exit(f"the reference was recorded on {data['platform']}; this machine is {_platform()}")
    data["platform"] = _platform()
    data["files"].update({n: _outputs(n) for n in names})
    REFERENCE.write_text(json.dumps(data, indent=None) + "\n")
    print(f"wrote {REFERENCE}")
