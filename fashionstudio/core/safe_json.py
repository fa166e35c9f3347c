"""JSON from files a user hands us (model headers, PNG provenance, pose CSV rows, direction sets), parsed safely.

``json.loads`` alone lets hostile text escape as ``RecursionError`` (1000 nested brackets), accepts ``NaN`` and
``Infinity``, and hands back arbitrarily deep structures that later recursive code (``json.dumps``, a validator)
trips over. :func:`loads` bounds the size and the nesting depth, refuses non-finite numbers and raises only
:class:`SafeJsonError`, a ``ValueError`` whose message says what is wrong. Callers wrap that message into their
own sentence naming the file.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
MAX_CHARS = 16 * 1024 * 1024
# Each list or dict costs Python ~60 bytes even when empty, so "[[],[],...]" would be the costliest JSON per
# character; counting brackets (strings included, an upper bound) before parsing caps that at a few MB.
MAX_CONTAINERS = 200_000


class SafeJsonError(ValueError):
    """Text that is not JSON this project accepts; the message is a clause such as 'it is not valid JSON'."""


def _refuse_constant(name: str) -> Any:
    raise SafeJsonError(f"it contains {name}, which is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise SafeJsonError(f"it contains the number {text[:20]}, which is too large")
    return value


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_chars: int = MAX_CHARS,
          max_containers: int = MAX_CONTAINERS, allow_nan: bool = False) -> Any:
    """Parse ``text`` as JSON; raise :class:`SafeJsonError` for anything that is not plain, finite, shallow JSON.

    ``bytes`` must be UTF-8. Nesting deeper than ``max_depth`` containers and text longer than ``max_chars`` are
    refused, and so is text with more than ``max_containers`` opening brackets, so no input can exhaust the
    stack or memory of the parser or of code that walks the result. ``allow_nan`` accepts
    Python's ``NaN``/``Infinity`` extension (which ``json.dumps`` writes for a NaN metric) where the caller
    checks the numbers it uses itself.
    """
    if isinstance(text, (bytes, bytearray)):
        if len(text) > max_chars:
            raise SafeJsonError(f"it is too long ({len(text)} bytes; at most {max_chars} are read)")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            raise SafeJsonError("it is not UTF-8 text") from None
    if not isinstance(text, str):
        raise SafeJsonError(f"it is a {type(text).__name__}, not text")
    if len(text) > max_chars:
        raise SafeJsonError(f"it is too long ({len(text)} characters; at most {max_chars} are read)")
    if text.count("[") + text.count("{") > max_containers:
        raise SafeJsonError(f"it holds too many lists and tables (more than {max_containers})")
    try:
        if allow_nan:
            value = json.loads(text)
        else:
            value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except SafeJsonError:
        raise
    except RecursionError:
        raise SafeJsonError(f"it is nested too deeply (more than {max_depth} levels)") from None
    except json.JSONDecodeError as exc:
        raise SafeJsonError(f"it is not valid JSON ({exc.msg} at character {exc.pos})") from None
    except (ValueError, TypeError, MemoryError) as exc:  # e.g. an integer of more than 4300 digits
        raise SafeJsonError(f"it is not JSON this program can read ({str(exc)[:80]})") from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`SafeJsonError` when ``value`` nests lists/dicts deeper than ``max_depth`` (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth >= max_depth:
            raise SafeJsonError(f"it is nested too deeply (more than {max_depth} levels)")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))

