"""GenerateSession: what the Generate tab edits and remembers, without Qt.

The edited :class:`~fashionstudio.core.latent.GenerateState` (seed position, ψ, mixing, noise, sliders, a
projected photo), the state of the image on screen, undo and redo, the two images kept for an interpolation and
the strip's frames, the smooth walk to a neighbouring seed, and the words the tab shows about a state. The tab's
widgets show this object and call its methods; nothing here draws or renders.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from fashionstudio.core.latent import Direction, GenerateState
from fashionstudio.core.undo import UndoStack

HISTORY_LIMIT = 30
WALK_FRAMES = 8  # positions of the smooth walk to a neighbouring seed
MIX_PRESETS = ("coarse", "middle", "fine")


def walk_path(x0: float, y0: float, dx: int, dy: int, frames: int = WALK_FRAMES) -> list[tuple[float, float]]:
    """Lattice positions from (x0, y0) to the next lattice point in direction (dx, dy), ending exactly on it."""
    def target(v: float, d: int) -> int:  # from between seeds too
        if d > 0:
            return math.floor(v) + 1
        if d < 0:
            return max(0, math.ceil(v) - 1)
        return round(v)

    tx, ty = target(x0, dx), target(y0, dy)
    return [(x0 + (tx - x0) * (i + 1) / frames, y0 + (ty - y0) * (i + 1) / frames)
            for i in range(frames - 1)] + [(float(tx), float(ty))]


def caption(state: GenerateState) -> str:
    """One line about ``state`` under the image: what it is (seed, between seeds, photo) and what is changed."""
    what = "projected photo" if state.base_ws is not None else f"seed {state.seed}"
    if abs(state.x - round(state.x)) > 1e-6 or abs(state.y - round(state.y)) > 1e-6:
        what = f"between seeds near {state.seed}"
    extra = f" · ψ {state.psi:.2f}"
    if state.mix_seed is not None and state.mix_layers[1] > state.mix_layers[0]:
        extra += f" · mixed with seed {state.mix_seed} on layers {state.mix_layers[0]}-{state.mix_layers[1] - 1}"
    moved = sum(1 for d in state.directions if d.value)
    if moved:
        extra += f" · {moved} slider{'s' if moved > 1 else ''} moved"
    return what.capitalize() + extra


def export_name(state: GenerateState) -> str:
    return "projection_generate.png" if state.base_ws is not None else f"seed{state.seed}_generate.png"


def mix_preset_key(mix_layers: tuple[int, int], presets: dict[str, tuple[int, int]]) -> str:
    """The named layer range ``mix_layers`` is ("coarse", "middle", "fine"), or "custom"."""
    return next((k for k in MIX_PRESETS if tuple(presets[k]) == tuple(mix_layers)), "custom")


class GenerateSession:
    """The Generate tab's state. ``state`` is edited in place by the setters; ``shown`` is the state of the
    image on screen (None before the first render)."""

    def __init__(self) -> None:
        self.state = GenerateState()
        self.shown: GenerateState | None = None
        self.history: UndoStack[GenerateState] = UndoStack(HISTORY_LIMIT)
        self.kept: dict[str, GenerateState] = {}   # "A" / "B": the ends of the interpolation
        self.strip_states: list[GenerateState] = []
        self.walk: list[tuple[float, float]] = []  # lattice positions still to visit
        self.prepared_sha: str | None = None        # the model the sliders and ranges were set up for

    # -- snapshots and undo ------------------------------------------------------------------------------------
    def snapshot(self, directions: list[Direction] | None = None, model_sha256: str | None = None) -> GenerateState:
        """A copy of the edited state with ``directions`` (the sliders as shown) and the model it is for."""
        state = copy.copy(self.state)
        state.directions = list(directions) if directions else list(self.state.directions)
        state.model_sha256 = model_sha256 if model_sha256 is not None else state.model_sha256
        return state

    def remember(self, snapshot: GenerateState) -> None:
        """``snapshot`` (taken before a change) becomes the next undo step; a new change ends any redo."""
        self.history.push(snapshot)

    def undo(self, current: GenerateState) -> GenerateState | None:
        return self.history.undo(current)

    def redo(self, current: GenerateState) -> GenerateState | None:
        return self.history.redo(current)

    def replace(self, state: GenerateState) -> None:
        """Edit ``state`` from now on (a restored, undone or chosen one); any walk in progress stops."""
        self.walk = []
        self.state = state

    # -- edits ---------------------------------------------------------------------------------------------------
    def is_at_seed(self, seed: int) -> bool:
        s = self.state
        return s.base_ws is None and s.seed == seed and s.x == round(s.x)

    def set_seed(self, seed: int) -> None:
        """Go to ``seed`` (keeps ψ, mixing, noise and sliders; leaves a projected photo)."""
        self.walk = []
        self.state = self.state.with_seed(int(seed))

    def move_to(self, x: float, y: float) -> bool:
        """Blend the seeds around lattice position (x, y); False for a projected photo (it has no position)."""
        if self.state.base_ws is not None:
            return False
        self.state.x, self.state.y = max(0.0, x), max(0.0, y)
        return True

    def start_walk(self, dx: int, dy: int) -> bool:
        """Plan the glide to the neighbouring seed in direction (dx, dy), from the end of a walk already under
        way; False for a projected photo (there is no seed to walk to)."""
        if self.state.base_ws is not None:
            return False
        x0, y0 = self.walk[-1] if self.walk else (self.state.x, self.state.y)
        self.walk = walk_path(x0, y0, dx, dy)
        return True

    def walk_step(self) -> bool:
        """Move to the walk's next position; False when there was none left."""
        if not self.walk:
            return False
        self.move_to(*self.walk.pop(0))
        return True

    def set_psi(self, psi: float) -> None:
        self.state.psi = float(psi)

    def set_psi_cutoff(self, layers: int, num_layers: int) -> None:
        """ψ acts on the first ``layers`` of ``num_layers`` (all of them is stored as None)."""
        self.state.psi_cutoff = None if layers >= num_layers else int(layers)

    def set_mix(self, seed: int | None, first: int, last: int) -> None:
        """Style mixing with ``seed`` (None: off) on layers ``first`` to ``last`` inclusive, as the spin boxes show
        them; the state keeps [first, last + 1). "From 3 to 2" is empty."""
        self.state.mix_seed = None if seed is None else int(seed)
        self.state.mix_layers = (int(first), max(int(first), int(last) + 1))

    def set_noise(self, strength: float) -> None:
        self.state.noise_strength = float(strength)

    def set_directions(self, directions: list[Direction], method: str | None = None) -> None:
        self.state.directions = list(directions)
        if method is not None:
            self.state.method = method

    # -- models and projections -----------------------------------------------------------------------------------
    def adopt_model(self, sha256: str, w_dim: int) -> bool:
        """Prepare for the generator ``sha256``: a projection of another model is dropped, and so are sliders
        that do not fit it. Returns whether the restored sliders are kept."""
        self.prepared_sha = sha256
        s = self.state
        if s.base_ws is not None and s.model_sha256 not in (None, sha256):
            self.state = s = s.with_seed(s.seed)  # a projection belongs to its model
        keep = bool(s.directions) and s.model_sha256 in (None, sha256) \
            and all(d.vector.shape[0] == w_dim for d in s.directions)
        if not keep:
            s.directions = []
        return keep

    def projected(self, snapshot: GenerateState, ws: Any, noise: Any) -> GenerateState:
        """``snapshot`` turned into the edit of a projected photo: its w+ and noise, no truncation or mixing,
        every slider at zero."""
        state = copy.copy(snapshot)
        state.base_ws, state.base_noise = ws, noise
        state.psi, state.psi_cutoff, state.mix_seed = 1.0, None, None
        state.directions = [copy.copy(d) for d in state.directions]
        for d in state.directions:
            d.value = 0.0
        return state

    # -- interpolation ----------------------------------------------------------------------------------------------
    def keep(self, slot: str, state: GenerateState) -> bool:
        """Keep ``state`` as end ``slot`` ("A" or "B"); True once both ends are kept."""
        if slot not in ("A", "B"):
            raise ValueError(f"an interpolation has ends A and B, not {slot!r}")
        self.kept[slot] = state
        return len(self.kept) == 2

    def strip_frame(self, index: int) -> GenerateState | None:
        """A copy of the state of strip frame ``index`` (to edit it), or None when there is no such frame."""
        if 0 <= index < len(self.strip_states):
            return copy.deepcopy(self.strip_states[index])
        return None
