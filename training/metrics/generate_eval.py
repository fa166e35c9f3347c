"""Generate evaluation: distribution metrics of unconditional samples against the same architecture untrained."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from training.metrics.sampling import FamilySpec, Sampled, SamplingContext, as_output


def _real_images(batch: dict[str, Any]) -> Tensor:
    for key in ("image", "img", "real"):
        if key in batch:
            return batch[key]
    tensors = [v for v in batch.values() if isinstance(v, Tensor) and v.dim() == 4]
    if not tensors:
        raise ValueError("the image dataset's batches hold no image tensor.")
    return tensors[0]


def _sample_stylegan2(ctx: SamplingContext, batch: dict[str, Any]) -> Sampled:
    real = _real_images(batch)
    g = ctx.networks["G"]
    z = torch.randn(real.shape[0], g.z_dim, generator=ctx.generator).to(ctx.device)
    g0 = ctx.untrained(("G",))["G"]
    return Sampled({"real": as_output(real), "output": as_output(g(z, noise_mode="const")),
                    "untrained": as_output(g0(z, noise_mode="const"))})


STYLEGAN2 = FamilySpec(
    sample=_sample_stylegan2,
    sets={"model": ("output", "real"), "untrained_0_steps": ("untrained", "real")},
    real_split="train",
    baselines="untrained_0_steps: the same architecture with its seeded initial weights (0 training steps); "
              "real images come from the training split, as FID for unconditional generators does.",
)
