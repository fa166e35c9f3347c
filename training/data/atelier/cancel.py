"""Stopping atelier generation part-way: a check the renderers call after every item (see ``stop_when``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

_stop_check: Callable[[], bool] | None = None


class GenerationCancelled(Exception):
    """A stop was asked for (SIGTERM, Ctrl+C, a STOP file) while a dataset was being generated."""


@contextmanager
def stop_when(check: Callable[[], bool]) -> Iterator[None]:
    """Within the block, generation calls ``check()`` after every item and raises :class:`GenerationCancelled`
    once it is true, so a trainer asked to stop while it prepares 100k images ends within one image, not after
    all of them. (A module-level hook: the trainer's data code calls ``generate`` several layers down.)"""
    global _stop_check
    previous, _stop_check = _stop_check, check
    try:
        yield
    finally:
        _stop_check = previous


def check_stop() -> None:
    """Raise :class:`GenerationCancelled` if a stop was asked for (a no-op outside :func:`stop_when`)."""
    if _stop_check is not None and _stop_check():
        raise GenerationCancelled("stopped while generating the synthetic atelier")
