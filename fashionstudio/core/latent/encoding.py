"""The JSON forms that saved Generate settings and direction sets share: their errors, checked parsing, arrays.

Both are read from untrusted files (an exported PNG's text chunks, a direction-set file), so every reader turns
damage into a :class:`StateError` meant for a designer.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np


class StateError(ValueError):
    """Stored generator settings (PNG text chunk, direction file) that cannot be used. Meant for a designer."""


class ModelMismatchError(StateError):
    """Stored settings whose latent sizes belong to another generator."""


# Everything a malformed (untrusted) JSON document can raise while it is read into settings: wrong types,
# missing keys, numbers too large for an int, nesting deeper than Python's stack.
JSON_DAMAGE = (KeyError, TypeError, ValueError, IndexError, OverflowError, AttributeError, RecursionError)


def parse_json(text: str | bytes) -> Any:
    """``json.loads`` that raises :class:`StateError` for anything unreadable, including absurd nesting."""
    try:
        return json.loads(text)
    except RecursionError:
        raise StateError("it is nested too deeply to be FashionStudio settings") from None
    except (json.JSONDecodeError, UnicodeDecodeError, TypeError, ValueError) as exc:
        raise StateError(f"it is not valid JSON ({getattr(exc, 'msg', exc)})") from None


def layer_range(value: Any) -> tuple[int, int]:
    """A stored [start, stop) layer range: exactly two whole numbers."""
    if not isinstance(value, (list, tuple)) or len(value) != 2 \
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"a layer range must be two whole numbers, not {str(value)[:40]}")
    return int(value[0]), int(value[1])


def encode_array(arr: np.ndarray) -> dict[str, Any]:
    """A compact JSON form of an array: dtype, shape and base64 bytes (little-endian)."""
    arr = np.ascontiguousarray(arr)
    dtype = arr.dtype.newbyteorder("<")
    return {"dtype": dtype.str, "shape": list(arr.shape), "b64": base64.b64encode(arr.astype(dtype).tobytes()).decode()}


def decode_array(data: Any, dtype: Any = np.float32) -> np.ndarray:
    """Inverse of :func:`encode_array` (also accepts a plain nested list)."""
    if isinstance(data, list):
        return np.asarray(data, dtype=dtype)
    if not isinstance(data, dict):
        raise ValueError("an array must be a list or an encoded object")
    stored = np.dtype(data["dtype"])
    if stored.kind not in "fiu":  # only plain numbers: no objects, strings or structured records
        raise ValueError(f"an array of {stored} is not numbers")
    raw = base64.b64decode(data["b64"], validate=True)
    arr = np.frombuffer(raw, dtype=stored).reshape([int(s) for s in data["shape"]])
    return arr.astype(dtype)

