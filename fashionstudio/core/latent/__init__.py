"""Latent-space editing for StyleGAN2 generators, without Qt: what the Generate tab drives live.

``seeds`` (seed -> z, the seed lattice, layer ranges), ``directions`` (SeFa / GANSpace sliders, direction-set
files), ``state`` (:class:`GenerateState`, saved in exported PNGs), ``space`` (:class:`LatentSpace`: seed -> w,
mixing, truncation, edits), ``interpolation``, ``encoding`` (the JSON forms and their errors). The renderer is
:class:`fashionstudio.models.stylegan2_fast.FastSynthesis`. Importing this package does not import torch.
"""

from fashionstudio.core.latent.directions import (
    DIRECTIONS_KIND, Direction, directions_from_json, directions_to_json, ganspace_directions, load_directions,
    save_directions, sefa_directions,
)
from fashionstudio.core.latent.encoding import ModelMismatchError, StateError, decode_array, encode_array, parse_json
from fashionstudio.core.latent.interpolation import interpolation_states, interpolation_ws, slerp
from fashionstudio.core.latent.seeds import (
    LATTICE_STRIDE, SEED_MASK, clamp_range, lattice_seed, layer_presets, seed_position, seed_to_z, ws_levels,
)
from fashionstudio.core.latent.space import LatentSpace, apply_directions, images_to_pil, truncate
from fashionstudio.core.latent.state import STATE_KIND, STATE_VERSION, GenerateState, state_from_png, state_summary

__all__ = [
    "DIRECTIONS_KIND", "Direction", "GenerateState", "LATTICE_STRIDE", "LatentSpace", "ModelMismatchError",
    "SEED_MASK", "STATE_KIND", "STATE_VERSION", "StateError", "apply_directions", "clamp_range", "decode_array",
    "directions_from_json", "directions_to_json", "encode_array", "ganspace_directions", "images_to_pil",
    "interpolation_states", "interpolation_ws", "lattice_seed", "layer_presets", "load_directions", "parse_json",
    "save_directions", "sefa_directions", "seed_position", "seed_to_z", "slerp", "state_from_png", "state_summary",
    "truncate", "ws_levels",
]
