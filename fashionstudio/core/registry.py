"""Family registry: every model family's declaration (:class:`fashionstudio.families.Family`), looked up by name.

Built-in families are the modules :data:`fashionstudio.families.BUILTIN` names (each a few lines of plain data,
imported on first use); plug-ins and tests add theirs with :func:`register`. A family's builder has the signature
``build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]``: it builds the named networks
(all of them when ``which`` is None) from a JSON-able architecture config; looking a builder up imports only that
family's model module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fashionstudio.families import BUILTIN, TAB_TOOLS, Family, load_builtin, resolve

Builder = Callable[..., dict[str, Any]]

_BUILTINS: dict[str, Family] = {}
_REGISTERED: dict[str, Family] = {}


class UnknownFamilyError(KeyError):
    """Raised for a family name no declaration is registered for."""

    def __str__(self) -> str:  # KeyError quotes its message; we want a plain sentence.
        return str(self.args[0])


def _builtins() -> dict[str, Family]:
    if not _BUILTINS:
        _BUILTINS.update({name: load_builtin(name) for name in BUILTIN})
    return _BUILTINS


def register(spec: Family) -> None:
    """Register (or replace) a family: the one call a plug-in (or a test) makes."""
    if not isinstance(spec, Family):
        raise TypeError(f"registry.register takes a fashionstudio.families.Family, not {type(spec).__name__}.")
    _REGISTERED[spec.name] = spec


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def families(tool: str | None = None) -> list[Family]:
    """Every known family (built-ins in their order, then plug-ins), or those ``tool`` runs."""
    table = {**_builtins(), **_REGISTERED}
    return [f for f in table.values() if tool is None or f.tool == tool]


def known_families() -> list[str]:
    return sorted(f.name for f in families())


def builtin_families() -> list[str]:
    return list(_builtins())


def family(name: str) -> Family:
    """The declaration of ``name`` or :class:`UnknownFamilyError` with a readable sentence."""
    spec = _REGISTERED.get(name) or _builtins().get(name)
    if spec is None:
        raise UnknownFamilyError(
            f"This model is of the family '{name}', which this version of FashionStudio does not know "
            f"(it knows: {', '.join(known_families())}). It may need a newer FashionStudio."
        )
    return spec


def tool_families(tool: str) -> tuple[str, ...]:
    """The families ``tool`` runs, the thesis's first."""
    return tuple(f.name for f in families(tool))


def default_family(tool: str) -> str | None:
    """The family of ``tool``'s shipped demo model."""
    return next((f.name for f in families(tool) if f.default), None)


def tool_defaults() -> dict[str, str]:
    """Tab tool -> the family of its shipped demo model."""
    return {tool: name for tool in TAB_TOOLS if (name := default_family(tool)) is not None}


def tool_family_error(tool: str, family_name: str, file_name: str) -> str | None:
    """The sentence for a model file of ``family_name`` opened in ``tool``, or None when the tool runs it."""
    allowed = tool_families(tool)
    if not allowed or family_name in allowed:
        return None
    return (f"'{file_name}' is a {family_name} model, but the {tool.capitalize()} tool needs a "
            f"{' or '.join(allowed)} model.")


def get_builder(name: str) -> Builder:
    """The builder of ``name`` or :class:`UnknownFamilyError`."""
    return resolve(family(name).build)


def build_networks(name: str, config: dict, which: Iterable[str] | None = None) -> dict[str, Any]:
    """Build the networks of ``name`` from its architecture ``config`` (all of them, or those in ``which``)."""
    return get_builder(name)(config, which=None if which is None else tuple(which))
