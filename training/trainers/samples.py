"""Sample grids and metrics on the fixed inputs, computed so that they never change the training run: networks in
eval mode, the global RNG untouched, each grid a PNG written atomically into ``samples/``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import numpy as np
import torch


def eval_mode(trainer: Any) -> contextlib.ExitStack:
    """The trainer's networks in eval mode and the global RNG forked, for the ``with`` block."""
    stack = contextlib.ExitStack()
    devices = [trainer.device] if trainer.device.type == "cuda" else []
    stack.enter_context(torch.random.fork_rng(devices=devices))
    modes = {name: net.training for name, net in trainer.nets.items()}
    for net in trainer.nets.values():
        net.eval()
    stack.callback(lambda: [trainer.nets[n].train(m) for n, m in modes.items()])
    return stack


def images_to_grid(rows: list[tuple[str, torch.Tensor]]) -> np.ndarray:
    """Rows of N×3×H×W images in [-1, 1] -> one H×W×3 uint8 grid (rows stacked, 2 px gaps)."""
    gap = 2
    n = max(t.shape[0] for _, t in rows)
    h, w = rows[0][1].shape[-2:]
    grid = np.full((len(rows) * (h + gap) - gap, n * (w + gap) - gap, 3), 255, np.uint8)
    for r, (_, images) in enumerate(rows):
        imgs = images.detach().float().cpu()
        if imgs.shape[1] == 1:
            imgs = imgs.expand(-1, 3, -1, -1)
        imgs = imgs[:, :3]
        if imgs.shape[-2:] != (h, w):
            imgs = torch.nn.functional.interpolate(imgs, size=(h, w), mode="bilinear", align_corners=False)
        arr = ((imgs.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for c in range(arr.shape[0]):
            grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = arr[c]
    return grid


def save_grid(run_dir: Path, step: int, rows: list[tuple[str, torch.Tensor]]) -> str:
    """Write the grid of ``rows`` as ``samples/step_XXXXXXXX.png`` (a temporary file, then renamed); return that
    run-relative path."""
    from PIL import Image

    rel = f"samples/step_{step:08d}.png"
    path = Path(run_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    Image.fromarray(images_to_grid(rows)).save(tmp, format="PNG")
    tmp.replace(path)
    return rel


def pose_image(pose: torch.Tensor) -> torch.Tensor:
    """A pose tensor shown as an image in [-1, 1]: heatmaps as their maximum, an IUV map as it is."""
    if pose.shape[1] == 3:
        return pose * 2 - 1
    return pose.amax(dim=1, keepdim=True).clamp(0, 1) * 2 - 1
