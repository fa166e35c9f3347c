"""Build a family's networks on torch's ``meta`` device: every weight's shape, without memory for any weight.

The model loader compares these shapes with the file's header before it builds anything for real, so a file whose
metadata asks for a network much larger than the weights it carries is refused without allocating that network.

Plain ``with torch.device("meta")`` works, but some operations on meta tensors go through torch's Python
reference kernels, whose first use imports ``torch._dynamo`` (seconds, once per process). Building a network
only needs shapes, so :class:`_ShapesOnly` short-cuts the operations builders use that cannot change a shape:
in-place initialisation of a meta tensor is skipped (there is no data to fill), arithmetic between a float meta
tensor and a Python number gives an empty tensor of the same shape, and ``torch.tensor(data)`` (small
constants such as a blur kernel, sized by code rather than by the config) stays on the CPU. Everything else runs
as usual on meta tensors. The mode is thread-local, so a build on one thread does not affect another.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from fashionstudio.core import registry

_INPLACE_FILLS = frozenset({
    "normal_", "uniform_", "fill_", "zero_", "erfinv_", "mul_", "add_", "sub_", "div_", "clamp_", "copy_",
    "bernoulli_", "exponential_", "log_normal_", "cauchy_", "geometric_", "random_", "orthogonal_",
    "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "trunc_normal_", "constant_",
    "ones_", "zeros_", "eye_", "dirac_", "sparse_",
})
_SCALAR_OPS = frozenset({"__truediv__", "__mul__", "__rmul__", "__add__", "__radd__", "__sub__", "__rsub__",
                         "div", "mul", "add", "sub", "true_divide"})


class _ShapesOnly(TorchFunctionMode):
    """Short-cuts for shape-preserving work on meta tensors (see the module docstring)."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if func in (torch.tensor, torch.as_tensor) and kwargs.get("device") is None:
            return func(*args, **{**kwargs, "device": "cpu"})
        target = args[0] if args else kwargs.get("tensor")
        if name in _INPLACE_FILLS and isinstance(target, torch.Tensor) and target.is_meta:
            return target
        if (name in _SCALAR_OPS and not kwargs and len(args) == 2 and isinstance(args[0], torch.Tensor)
                and args[0].is_meta and args[0].is_floating_point()
                and isinstance(args[1], (int, float)) and not isinstance(args[1], bool)):
            return torch.empty_like(args[0])
        return func(*args, **kwargs)


def network_shapes(family: str, config: dict, which: list[str] | tuple[str, ...]) -> dict[str, dict[str, tuple[int, ...]]]:
    """{network name: {state-dict key: shape}} of the networks ``which`` of ``family`` built from ``config``,
    on the meta device. Raises whatever the family's builder raises for a config it rejects."""
    with torch.device("meta"), _ShapesOnly():
        networks = registry.build_networks(family, config, which=which)
    return {name: {k: tuple(v.shape) for k, v in net.state_dict().items()} for name, net in networks.items()}
