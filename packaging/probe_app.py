"""A stand-in entry point that exercises what the bundle must carry, without the real app.

Used (1) for an early bundle before the app shell existed, to learn the bundle's size and start-up cost, and
(2) by ``build.py --preflight`` inside the build venv: it runs the same work as the bundle will and lists the
modules it imported, so an exclusion that would break the app is caught before a 10-minute build.

It shows a window (offscreen works), prints ``{"event": "window_shown", ...}``, then runs a small conv net
forward and one Adam step with torch, reads and writes a safetensors file and a PNG, and prints a final JSON
line. Exit code 0 means everything worked.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def main() -> int:
    t0 = time.perf_counter()
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("FashionStudio probe")
    window.setCentralWidget(QLabel("Loading..."))
    window.show()
    app.processEvents()
    print(json.dumps({"event": "window_shown", "seconds_since_main": round(time.perf_counter() - t0, 3)}), flush=True)

    result: dict = {"event": "probe_done", "ok": True, "errors": []}
    try:
        t1 = time.perf_counter()
        import numpy as np
        import torch
        from PIL import Image
        from safetensors.torch import load_file, save_file

        result["import_torch_s"] = round(time.perf_counter() - t1, 3)
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.InstanceNorm2d(8), torch.nn.LeakyReLU(0.2),
            torch.nn.ConvTranspose2d(8, 3, 4, 2, 1), torch.nn.Tanh(),
        )
        with torch.inference_mode():
            out = torch.nn.functional.interpolate(net(torch.randn(1, 3, 64, 64)), scale_factor=0.5, mode="bilinear")
        optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
        net(torch.randn(2, 3, 16, 16)).square().mean().backward()
        optimiser.step()
        with tempfile.TemporaryDirectory() as tmp:
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, os.path.join(tmp, "m.safetensors"))
            net.load_state_dict(load_file(os.path.join(tmp, "m.safetensors")))
            pixels = ((out[0].permute(1, 2, 0).numpy() + 1) * 127.5).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(os.path.join(tmp, "o.png"))
        import pyqtgraph  # noqa: F401  (the Train tab's plots)

        result["torch"] = torch.__version__
        result["cuda_available"] = torch.cuda.is_available()
    except Exception as exc:  # report everything that failed, the point of a probe
        result["ok"] = False
        result["errors"].append(f"{type(exc).__name__}: {exc}")
    result["total_s"] = round(time.perf_counter() - t0, 3)
    dump = os.environ.get("FASHIONSTUDIO_DUMP_MODULES")
    if dump:
        with open(dump, "w", encoding="utf-8") as fh:
            fh.write("\n".join(sorted(sys.modules)))
    print(json.dumps(result), flush=True)
    window.close()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
