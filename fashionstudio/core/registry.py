"""Family registry: maps a model family name to the function that builds its networks.

A builder has the signature ``build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]``:
it builds the named networks (all of them when ``which`` is None) from a JSON-able architecture config.
Built-in families are referenced by import path so that looking one up imports only that family's module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

Builder = Callable[..., dict[str, Any]]

# family -> "module:function". Importing lazily keeps start-up fast and avoids importing torch early.
_BUILTIN: dict[str, str] = {
    "pgpg": "fashionstudio.models.pgpg:build",
    "pixeldtgan": "fashionstudio.models.pixeldtgan:build",
    "cyclegan": "fashionstudio.models.cyclegan:build",
    "stylegan2": "fashionstudio.models.stylegan2:build",
    "posewarp": "fashionstudio.models.posewarp:build",
    "upscale": "fashionstudio.models.upscaler:build",
    "munit": "fashionstudio.models.munit:build",
}
_REGISTERED: dict[str, Builder] = {}

# Which families each tool tab runs; the thesis's family first.
TOOL_FAMILIES: dict[str, tuple[str, ...]] = {
    "pose": ("pgpg", "posewarp"),
    "extract": ("pixeldtgan",),
    "match": ("cyclegan", "munit"),
    "generate": ("stylegan2",),
}
# The family of each tool's shipped demo model.
TOOL_FAMILY: dict[str, str] = {"pose": "posewarp", "extract": "pixeldtgan", "match": "cyclegan",
                               "generate": "stylegan2"}


def tool_family_error(tool: str, family: str, file_name: str) -> str | None:
    """The sentence for a model file of ``family`` opened in ``tool``, or None when the tool runs that family."""
    allowed = TOOL_FAMILIES.get(tool)
    if allowed is None or family in allowed:
        return None
    return (f"'{file_name}' is a {family} model, but the {tool.capitalize()} tool needs a "
            f"{' or '.join(allowed)} model.")


class UnknownFamilyError(KeyError):
    """Raised for a family name no builder is registered for."""

    def __str__(self) -> str:  # KeyError quotes its message; we want a plain sentence.
        return str(self.args[0])


def register(family: str, builder: Builder) -> None:
    """Register (or replace) the builder of ``family``. Used by tests and plug-ins."""
    _REGISTERED[family] = builder


def unregister(family: str) -> None:
    _REGISTERED.pop(family, None)


def known_families() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTERED))


def get_builder(family: str) -> Builder:
    """Return the builder of ``family`` or raise :class:`UnknownFamilyError` with a readable sentence."""
    if family in _REGISTERED:
        return _REGISTERED[family]
    target = _BUILTIN.get(family)
    if target is None:
        raise UnknownFamilyError(
            f"This model is of the family '{family}', which this version of FashionStudio does not know "
            f"(it knows: {', '.join(known_families())}). It may need a newer FashionStudio."
        )
    module_name, func_name = target.split(":")
    return getattr(importlib.import_module(module_name), func_name)


def build_networks(family: str, config: dict, which: Iterable[str] | None = None) -> dict[str, Any]:
    """Build the networks of ``family`` from its architecture ``config`` (all of them, or those in ``which``)."""
    return get_builder(family)(config, which=None if which is None else tuple(which))
