"""Which numeric precision a run trains in on its device: the setting, what the hardware offers, and a probe.

``precision = "auto"`` times one representative convolution step (forward and backward, batch 8, 64 channels at
32 px) in fp32 and in bf16 autocast on the run's device and keeps bf16 only where it is clearly faster. That is
the measurement a CPU's flags only hint at: a CPU without AMX or AVX512-BF16 emulates bf16 and runs it many times
slower than fp32, one with them runs it several times faster.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import torch

from training.config import PRECISIONS
AUTO_MARGIN = 1.2  # bf16 must be this much faster than fp32 to be chosen: its rounding is not free


def cpu_bf16_flags(cpuinfo: str | None = None) -> list[str] | None:
    """The native-bf16 CPU flags present (``amx_bf16``, ``avx512_bf16``), or None where the OS does not say."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            return None
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[-1].split())
    return sorted(flags & {"amx_bf16", "avx512_bf16"})


def _step_seconds(device: torch.device, dtype: torch.dtype | None, repeats: int) -> float:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(device)
    x = torch.randn(8, 64, 32, 32, device=device)
    best = float("inf")
    for i in range(repeats + 1):  # the first call picks kernels
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            y = conv(x)
        y.float().square().mean().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            best = min(best, time.perf_counter() - t0)
    return best


@functools.lru_cache(maxsize=8)
def bf16_speedup(device_str: str, repeats: int = 3) -> float:
    """fp32 time / bf16-autocast time of the probe step on ``device_str`` (cached per process)."""
    device = torch.device(device_str)
    fp32 = _step_seconds(device, None, repeats)
    bf16 = _step_seconds(device, torch.bfloat16, 1 if device.type == "cpu" else repeats)
    return fp32 / bf16


def resolve_precision(want: str, device: torch.device) -> tuple[str, list[str]]:
    """The precision a run asking for ``want`` trains in on ``device``, and notes saying why (for the run log).

    fp32 stays fp32; bf16 and fp16 are honoured where the device runs them (fp16 only on CUDA, with a grad
    scaler); ``auto`` measures (see the module docstring)."""
    if want not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {want!r}")
    notes: list[str] = []
    if want == "fp32":
        return "fp32", notes
    if device.type == "cuda":
        if want in ("bf16", "auto") and not torch.cuda.is_bf16_supported():
            notes.append("This GPU has no bf16 support; training in fp16 autocast instead.")
            return "fp16", notes
        return ("bf16" if want == "auto" else want), notes
    if device.type != "cpu":
        notes.append(f"{want} autocast is not supported on {device.type} here; training in fp32.")
        return "fp32", notes
    if want == "fp16":
        notes.append("fp16 autocast needs a CUDA GPU (on a CPU use bf16); training in fp32.")
        return "fp32", notes
    flags = cpu_bf16_flags()
    if want == "bf16":
        if flags == []:
            notes.append("This CPU has no native bf16 (no AMX or AVX512-BF16): bf16 autocast runs emulated, "
                         "usually far slower than fp32; precision = \"auto\" measures it.")
        return "bf16", notes
    if flags == []:  # the OS says there is no native bf16: no need to time the emulation
        notes.append("precision auto: fp32 (this CPU has no native bf16: no AMX or AVX512-BF16).")
        return "fp32", notes
    speedup = bf16_speedup(str(device))
    chosen = "bf16" if speedup >= AUTO_MARGIN else "fp32"
    notes.append(f"precision auto: {chosen} (a probe convolution step ran {speedup:.2f}x as fast in bf16 as in "
                 f"fp32 on this CPU; bf16 needs {AUTO_MARGIN}x).")
    return chosen, notes
