"""Bounds on the architecture values a model file's metadata may ask for, checked before any network is built.

A model file describes its networks by a config (``"g_res_blocks": 4``) that the family builder turns into
modules. Without bounds, a 3 MB file saying ``g_res_blocks = 10000000`` makes the builder create ten million
blocks (gigabytes) before any weight is compared. These limits sit far above every preset (the largest thesis
configs use 9 blocks, 8 mapping layers, 1024 px, channel_base 32768) and far below anything that could exhaust
memory while building on the ``meta`` device, where tensors cost nothing but each module is a Python object.

The rules go by the setting's name so that they cover every family, present and future: a resolution is a pixel
size; a width (a name with ``base``, ``dim``, ``channels``, ``max``, ``width`` or ``features``) may be large,
since on the ``meta`` device its tensors cost nothing and the real build is compared with the file's own tensor
shapes first; every other integer (blocks, layers, scales, groups, ...) is a small count, because counts are what
multiply modules. Floats are finite; strings are short words.
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_RESOLUTION = 4096
MAX_REPEATS = 64
MAX_WIDTH = 1 << 17
MAX_FLOAT = 1e6
MAX_SETTINGS = 64
MAX_WORD = 100
_WIDTH = re.compile(r"base|dim|channels|max|width|features")


class ArchitectureError(ValueError):
    """An architecture value no FashionStudio network can have; the message names the setting."""


def _int_limit(key: str) -> tuple[int, int, str]:
    """(lowest, highest, what it is) for an integer setting named ``key``."""
    if key.endswith("resolution"):
        return 1, MAX_RESOLUTION, "pixels"
    if _WIDTH.search(key):
        return 0, MAX_WIDTH, "channels or dimensions"
    return 0, MAX_REPEATS, "repeats"


def check_setting(key: str, value: Any) -> None:
    """Raise :class:`ArchitectureError` naming ``key`` when ``value`` is out of bounds or of the wrong type."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        low, high, what = _int_limit(key)
        if not low <= value <= high:
            shown = str(value) if abs(value) < 10**12 else f"a {len(str(abs(value)))}-digit number"
            raise ArchitectureError(
                f"its architecture setting '{key}' is {shown}, outside what any FashionStudio network uses "
                f"({low} to {high} {what})")
        return
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) > MAX_FLOAT:
            raise ArchitectureError(f"its architecture setting '{key}' is {value}, not a usable number")
        return
    if isinstance(value, str):
        if len(value) > MAX_WORD:
            raise ArchitectureError(f"its architecture setting '{key}' is a {len(value)}-character text, "
                                    "not a setting value")
        return
    raise ArchitectureError(f"its architecture setting '{key}' is a {type(value).__name__}, where a number "
                            "or a word is expected")


def check_architecture(config: Any) -> None:
    """Validate a model file's architecture ``config`` (a flat dict of settings) before building from it."""
    if not isinstance(config, dict):
        raise ArchitectureError(f"its architecture config is a {type(config).__name__}, not a table of settings")
    if len(config) > MAX_SETTINGS:
        raise ArchitectureError(f"its architecture config has {len(config)} settings (at most {MAX_SETTINGS})")
    for key, value in config.items():
        if not isinstance(key, str) or len(key) > MAX_WORD:
            raise ArchitectureError("its architecture config has a setting whose name is not a short word")
        check_setting(key, value)
