"""Network architectures shared by the app and the trainer, one module per GAN family.

Each family module (its declaration in :mod:`fashionstudio.families` names it as the builder) exposes:

- ``PRESETS: dict[str, dict]``: architecture configs named ``thesis``, ``studio`` and ``demo`` (JSON-able dicts,
  stored verbatim in model files and run configs);
- ``NETWORKS``: the names of all its networks, and ``INFERENCE_NETWORKS``: those an app model file stores;
- ``build(config: dict, which: Iterable[str] | None = None) -> dict[str, nn.Module]``: the registry builder.

Shared building blocks live in ``blocks.py``.
"""
