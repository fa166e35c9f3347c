"""Choosing the torch device: auto = CUDA, then Apple MPS, then CPU; the user may force one."""

from __future__ import annotations

from typing import Any

PREFERENCES = ("auto", "cpu", "cuda", "mps")


def _mps_available(torch: Any) -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def cpu_description() -> str:
    import torch

    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n != 1 else ''})"


def pick_device(preference: str = "auto") -> tuple[Any, str, str]:
    """Return ``(torch.device, description, reason)`` for ``preference`` (auto, cpu, cuda or mps).

    ``description`` is what the status bar shows ("CUDA: <GPU name>", "MPS", "CPU (2 threads)"); ``reason``
    says why this device was chosen, in a sentence (e.g. "CPU: no CUDA GPU found").
    """
    import torch

    pref = (preference or "auto").lower()
    if pref not in PREFERENCES:
        raise ValueError(f"Unknown device '{preference}': choose one of {', '.join(PREFERENCES)}.")
    has_cuda = torch.cuda.is_available()
    has_mps = _mps_available(torch)

    if pref in ("auto", "cuda") and has_cuda:
        name = torch.cuda.get_device_name(0)
        why = "CUDA: chosen in settings" if pref == "cuda" else "CUDA: a CUDA GPU was found"
        return torch.device("cuda", 0), f"CUDA: {name}", why
    if pref in ("auto", "mps") and has_mps:
        why = "MPS: chosen in settings" if pref == "mps" else "MPS: no CUDA GPU, Apple GPU available"
        return torch.device("mps"), "MPS", why
    if pref == "cpu":
        reason = "CPU: chosen in settings"
    elif pref == "cuda":
        reason = "CPU: CUDA was chosen but no CUDA GPU was found"
    elif pref == "mps":
        reason = "CPU: MPS was chosen but no Apple GPU is available"
    else:
        reason = "CPU: no CUDA GPU found" + ("" if has_mps or not hasattr(torch.backends, "mps") else " and no Apple GPU")
    return torch.device("cpu"), cpu_description(), reason
