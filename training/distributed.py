"""Data-parallel training over several processes (``torchrun --nproc_per_node=N -m training run RUN_DIR``).

torchrun starts one process per GPU (or CPU slot) and sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR; we join
its process group (NCCL on CUDA, gloo on CPU), give each rank its own slice of every epoch's data order, start all
ranks from rank 0's weights and average gradients across ranks after every backward pass.

Why gradients are averaged with ``all_reduce`` instead of wrapping each network in ``DistributedDataParallel``:
a GAN step calls the same network several times per backward (CycleGAN's generators three times, D on real and
fake), freezes D while G learns, and StyleGAN2's R1 penalty differentiates through D twice. DDP's reducer assumes
one forward per backward with a fixed set of parameters receiving gradients, and breaks (or needs
``find_unused_parameters`` and static-graph workarounds) on each of these. NVIDIA's own StyleGAN2-ADA/StyleGAN3
PyTorch trainers take the same route for the same reasons. Same PyTorch engine (torch.distributed collectives,
torchrun, NCCL/gloo), one explicit synchronisation point.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_from_env(device_type: str) -> DistInfo:
    """Join torchrun's process group if this process was started by it; a single process otherwise."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistInfo()
    backend = "nccl" if device_type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=int(os.environ.get("LOCAL_RANK", 0)))


def shutdown(clean: bool = True) -> None:
    """Leave the process group. After a clean run every rank first waits for the others: a rank that tears its
    gloo connections down while a peer still talks to it aborts ("terminate called without an active exception")."""
    if dist.is_available() and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank (called once, after building)."""
    if not info.enabled:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def average_gradients(params: Iterable[torch.nn.Parameter], info: DistInfo) -> None:
    """Average ``.grad`` over ranks in one flat all_reduce (missing grads count as zeros)."""
    if not info.enabled:
        return
    params = [p for p in params if p.requires_grad]
    if not params:
        return
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= info.world_size
    offset = 0
    for p in params:
        n = p.numel()
        chunk = flat[offset:offset + n].view_as(p)
        if p.grad is None:
            p.grad = chunk.clone()
        else:
            p.grad.copy_(chunk)
        offset += n


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any rank (to stop all ranks at the same step)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_scalar(value: float, info: DistInfo, device: torch.device) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item() / info.world_size)
