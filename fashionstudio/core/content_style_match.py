"""The Match tool's pipeline for content/style models (family ``munit``): a shoe's style drawn as new handbags.

Qt-free, the same interface as :class:`fashionstudio.core.match.StyleMatcher` (``run``, ``translate``,
``run_folder``) plus :meth:`ContentStyleMatcher.more_like`::

    matcher = ContentStyleMatcher(load_model_file("match.safetensors"))
    result = matcher.run(shoe_photo, "shoe2bag", candidates=4, seed=0)
    nearby = matcher.more_like(shoe_photo, "shoe2bag", result.best.code)

The input gives only its **style code** (colour, fabric); each candidate is the target decoder drawing that style
with a different **content code** (a bag's or shoe's shape) drawn from the model's content prior N(0, I) by a
seeded generator, so the same seed gives the same candidates. A pool of codes is drawn and ranked by how well the
style survives: the input is redrawn (its own content code) in the style the candidate carries, and the mean
absolute difference of that round trip from the input is the score, as for CycleGAN's round trip. Candidates
closer than :data:`MIN_DIFFERENCE` to a better one are passed over, so the designer sees items that differ.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PIL import Image

from fashionstudio.core.letterbox import letterbox
from fashionstudio.core.match import (
    MAX_CANDIDATES, Candidate, MatchResult, check_direction, check_pipeline, match_folder, round_trip_l1,
)
from fashionstudio.core.pipeline_common import (BatchReport, check_finite, flat_output_warning,
                                                network_device)

# direction -> (the input's network, the output's network)
NETWORKS = {"shoe2bag": ("G_A", "G_B"), "bag2shoe": ("G_B", "G_A")}
POOL = 12  # content codes drawn per run; the best-ranked distinct ones are kept
MIN_DIFFERENCE = 6 / 255  # mean absolute difference below which two candidates look the same
MORE_LIKE_SPREAD = 0.35  # standard deviation of the step away from a chosen content code (the prior's is 1)


class ContentStyleMatcher:
    """Runs a loaded content/style model file in either direction. Call inside ``torch.inference_mode()``."""

    seeded = True  # its candidates' shape codes are drawn from a seed (run(..., seed=))

    def __init__(self, model: Any) -> None:
        check_pipeline(model, ContentStyleMatcher)
        self.model = model
        self.resolution = model.resolution
        self.content_dim = int(model.networks["G_A"].content_dim)

    def _nets(self, direction: str) -> tuple[Any, Any]:
        src, tgt = NETWORKS[check_direction(direction)]
        return self.model.networks[src], self.model.networks[tgt]

    def codes(self, seed: int, n: int) -> Any:
        """``n`` content codes from the prior, a function of ``seed`` alone."""
        import torch

        return torch.randn(n, self.content_dim, generator=torch.Generator().manual_seed(int(seed)))

    def _candidates(self, square: Image.Image, direction: str, codes: Any, names: list[str]) -> list[Candidate]:
        """Every code drawn in the square's style, with its round trip, in the order of ``codes``."""
        from fashionstudio.core.images import pil_to_tensor, tensor_to_pil
        from fashionstudio.core.match_scores import silhouette_iou, style_distance

        src, tgt = self._nets(direction)
        device = network_device(src)
        x = pil_to_tensor(square).to(device)
        mu, _, style = src.encode(x)
        k = codes.shape[0]
        outs = tgt.decode(codes.to(device), style.expand(k, -1))
        check_finite(outs, self.model.name)
        trips = src.decode(mu.expand(k, -1), tgt.style(outs))
        shapes = silhouette_iou(outs.cpu(), x.cpu().expand(k, -1, -1, -1))
        styles = style_distance(outs.cpu(), x.cpu().expand(k, -1, -1, -1))
        found = []
        for i in range(k):
            out, trip = tensor_to_pil(outs[i:i + 1]), tensor_to_pil(trips[i:i + 1])
            found.append(Candidate(names[i], square, out, trip, round_trip_l1(square, trip),
                                   code=[float(v) for v in codes[i]], style_distance=float(styles[i]),
                                   shape_iou=float(shapes[i])))
        return found

    @staticmethod
    def _distinct(found: list[Candidate], n: int, keep_first: bool = False) -> list[Candidate]:
        """Up to ``n`` candidates best first, skipping near-duplicates of one already kept (filled up with the
        skipped ones, best first, when too few differ)."""
        head = found[:1] if keep_first else []
        rest = sorted(found[1:] if keep_first else found, key=lambda c: c.round_trip_l1)
        kept, skipped = list(head), []
        for c in rest:
            if len(kept) == n:
                break
            if all(round_trip_l1(c.output, k.output) >= MIN_DIFFERENCE for k in kept):
                kept.append(c)
            else:
                skipped.append(c)
        return kept + skipped[: n - len(kept)]

    def run(self, photo: Image.Image, direction: str, candidates: int = 4, seed: int = 0) -> MatchResult:
        """``candidates`` (1..8) items of the other kind in the photo's style, best-kept style first."""
        if not 1 <= candidates <= MAX_CANDIDATES:
            raise ValueError(f"Ask for 1 to {MAX_CANDIDATES} candidates, not {candidates}.")
        square, _ = letterbox(photo, self.resolution)
        pool = max(POOL, 2 * candidates)
        names = [f"shape {i + 1} of seed {seed}" for i in range(pool)]
        kept = self._distinct(self._candidates(square, direction, self.codes(seed, pool), names), candidates)
        return MatchResult(direction, square, kept,
                           flat_output_warning(kept[0].output, self.model.name, source=kept[0].input), seed=seed)

    def more_like(self, photo: Image.Image, direction: str, code: list[float], candidates: int = 4,
                  seed: int = 0, spread: float = MORE_LIKE_SPREAD) -> MatchResult:
        """The chosen candidate (its content ``code``) first, then ``candidates - 1`` items with shapes near it."""
        import torch

        if not 2 <= candidates <= MAX_CANDIDATES:
            raise ValueError(f"Ask for 2 to {MAX_CANDIDATES} candidates, not {candidates}.")
        if len(code) != self.content_dim:
            raise ValueError(f"This candidate's shape code has {len(code)} numbers; the model needs "
                             f"{self.content_dim}. Find a match again, then choose a candidate.")
        square, _ = letterbox(photo, self.resolution)
        centre = torch.tensor([code], dtype=torch.float32)
        pool = max(POOL, 2 * candidates)
        codes = torch.cat([centre, centre + spread * self.codes(seed, pool - 1)])
        names = ["chosen"] + [f"near the chosen, {i + 1} of seed {seed}" for i in range(pool - 1)]
        kept = self._distinct(self._candidates(square, direction, codes, names), candidates, keep_first=True)
        return MatchResult(direction, square, kept,
                           flat_output_warning(kept[0].output, self.model.name, source=kept[0].input), seed=seed)

    def translate(self, photo: Image.Image, direction: str) -> Image.Image:
        """The best candidate of seed 0."""
        return self.run(photo, direction, 1).best.output

    def run_folder(self, in_dir: str | os.PathLike, out_dir: str | os.PathLike, direction: str, *,
                   candidates: int = 1, seed: int = 0, progress: Callable[[int, int, str], None] | None = None,
                   cancel: Callable[[], bool] | None = None,
                   check: Callable[[Image.Image, str], dict[str, Any] | None] | None = None) -> BatchReport:
        """Like :meth:`StyleMatcher.run_folder`: ``<name>.png`` the best candidate, ``<name>_2.png`` ... the rest."""
        check_direction(direction)
        return match_folder(self.model, lambda img: self.run(img, direction, candidates, seed), in_dir, out_dir,
                            progress=progress, cancel=cancel, check=check)
