"""Model families: each one declares itself once, in ``fashionstudio/families/<name>.py``, as ``FAMILY``.

A declaration is plain data (no torch, no Qt, no ``training``): the app reads it to list, label and check models
at start-up, and the trainer resolves the dotted names it holds (builder, trainer, evaluation spec) on first use.
Every registry, menu, dialog, evaluator and error sentence reads these declarations.

Registering a built-in family is the one line naming its module in :data:`BUILTIN`; a plug-in family (a module
listed in a run's ``plugins``) calls ``fashionstudio.core.registry.register(Family(...))`` with the same fields.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Built-in families, in the order the New-run dialog offers them; the thesis's family of a tool before later ones.
BUILTIN: tuple[str, ...] = ("pgpg", "posewarp", "upscale", "pixeldtgan", "flatwarp", "cyclegan", "munit",
                           "stylegan2")

TAB_TOOLS = ("pose", "extract", "match", "generate")  # tools with a tab of their own
TOOLS = (*TAB_TOOLS, "upscale")                     # "upscale": the helper behind every tab's Sharpen x4
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

Ref = str | Callable[..., Any] | type | Any  # "package.module:attribute", or the object itself (plug-ins, tests)


@dataclass(frozen=True)
class Family:
    """Everything the app and the trainer need to know about one model family."""

    name: str                                  # the key in model-file headers and config.toml: family = "..."
    build: Ref                                 # build(config, which=None) -> {network name: nn.Module}
    tool: str = ""                             # the tool that runs it (TOOLS), "" for none (test plug-ins)
    label: str = ""                            # what a designer calls it (New-run dialog, run list, advice)
    paper: str = ""                            # its name in the literature (README table), e.g. "CycleGAN"
    default: bool = False                      # the family of the tool's shipped demo model
    trainer: Ref | None = None                 # a training.trainers.trainer.Trainer subclass
    evaluation: Ref | None = None              # a training.metrics.sampling.FamilySpec (in its tool's *_eval module)
    data_kinds: tuple[str, ...] = ()           # the real dataset kinds its trainer reads
    atelier_kind: str | None = None            # what the synthetic atelier generates for it (None: no atelier data)
    reader_options: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None  # architecture -> reader options
    roles: tuple[tuple[str, str], ...] = ()    # familiarity: (input role the tool scores, dataset item key)
    pipeline: Ref | None = None                # the tool's pipeline class, where the tool has several (Match)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"A model family name is 1-40 lower-case letters, digits or '_' starting with a "
                             f"letter, not {self.name!r}.")
        if self.tool and self.tool not in TOOLS:
            raise ValueError(f"Family '{self.name}': tool must be one of {', '.join(TOOLS)} (or empty), "
                             f"not {self.tool!r}.")
        if self.build is None or self.build == "":
            raise ValueError(f"Family '{self.name}' needs a builder.")
        for what, ref in (("build", self.build), ("trainer", self.trainer), ("evaluation", self.evaluation),
                          ("pipeline", self.pipeline)):
            if isinstance(ref, str) and not _DOTTED.match(ref):
                raise ValueError(f"Family '{self.name}': {what} must be 'package.module:name', not {ref!r}.")
        if self.default and self.tool not in TOOLS:
            raise ValueError(f"Family '{self.name}' is marked default but runs no tool.")
        if self.atelier_kind is not None and self.data_kinds and self.atelier_kind not in self.data_kinds:
            raise ValueError(f"Family '{self.name}': atelier_kind '{self.atelier_kind}' is not one of its "
                             f"data_kinds {self.data_kinds}.")

    @property
    def display_label(self) -> str:
        return self.label or self.name

    @property
    def display_paper(self) -> str:
        return self.paper or self.name

    @property
    def role_names(self) -> tuple[str, ...]:
        return tuple(role for role, _key in self.roles)

    @property
    def role_keys(self) -> dict[str, str]:
        return dict(self.roles)

    def default_reader_options(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        return dict(self.reader_options(arch)) if self.reader_options is not None else {}


def resolve(ref: Ref) -> Any:
    """The object a declaration names: ``"package.module:name"`` is imported now; anything else is returned."""
    if isinstance(ref, str):
        module, attr = ref.split(":")
        return getattr(importlib.import_module(module), attr)
    return ref


def load_builtin(name: str) -> Family:
    """The declaration in ``fashionstudio/families/<name>.py`` (its ``FAMILY``), checked to carry that name."""
    spec = importlib.import_module(f"{__name__}.{name}").FAMILY
    if not isinstance(spec, Family) or spec.name != name:
        raise TypeError(f"fashionstudio/families/{name}.py must declare FAMILY = Family(name={name!r}, ...).")
    return spec


def inshop_pose_options(arch: Mapping[str, Any]) -> dict[str, Any]:
    """In-shop reader options of a pose-conditioned family: the pose as the networks take it (3 channels: IUV)."""
    return {"pose": "iuv" if arch.get("pose_channels") == 3 else "heatmaps"}
