"""Named attribute sliders on the demo generator: how long computing them takes, and how often an edit works.

Prints one JSON object:

- ``compute_seconds``: sampling, rendering, classifying and fitting every slider as the Generate tab does
  (:func:`fashionstudio.core.attribute_directions.compute_attribute_directions`), with the torch thread count
  given; ``compute_ratio_to_one_forward_batch`` divides it by one 100-image synthesis + classification batch
  timed right after (the machine is shared, so the ratio is the steadier figure).
- ``edits``: for each attribute value slider, seeds ``0 .. seeds-1`` at truncation ``psi`` whose classifier
  reading is not already that value are pushed along the slider like a designer dragging it: strengths
  ``step, 2 step, ... max`` slider units (``slider_unit_std`` standard deviations of w each), stopping at the first one where the reading becomes the asked value.
  ``reached`` is the share of seeds that get there within the slider's range (``median_strength``: the
  median strength that got them there); ``others_kept`` the share of those whose other attributes read as
  before at that strength (``kept_by_head``: the same per other attribute); ``success`` = reached and others kept (the
  issue's edit-success figure). Per head, the mean over its values (each value weighs the same).
- ``random_direction_control``: for each attribute, the share of the same seeds whose reading stays when they are
  moved as far (the edits' median strength) along a random direction: the ceiling for "others kept".

Usage: ``python benchmarks/attribute_edits.py [--seeds 64] [--psi 0.7] [--layers all|coarse|middle|fine]
[--max 3] [--step 0.5] [--plain] [--threads 1]``. ``--plain`` uses the boundary normals without the
conditional projection, for comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fashionstudio.core import attribute_directions as A  # noqa: E402
from fashionstudio.core.latent import (  # noqa: E402
    Direction, LatentSpace, apply_directions, layer_presets, truncate,
)
from fashionstudio.core.modelfile import load_model_file  # noqa: E402
from fashionstudio.models.stylegan2_fast import FastSynthesis  # noqa: E402


def read(reader: A.AtelierReader, synth: FastSynthesis, ws: torch.Tensor) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {h: [] for h in reader.classes}
    for start in range(0, ws.shape[0], A.BATCH):
        with torch.inference_mode():
            labels = reader(synth.render(ws[start:start + A.BATCH].contiguous(), 1.0, stateless=True))
        for h in out:
            out[h].append(labels[h].numpy())
    return {h: np.concatenate(v) for h, v in out.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resources/models/generate.safetensors")
    p.add_argument("--seeds", type=int, default=64)
    p.add_argument("--psi", type=float, default=0.7)
    p.add_argument("--layers", default="all", choices=("all", "coarse", "middle", "fine"))
    p.add_argument("--max", type=float, default=3.0, help="the slider's end, in slider units (the app's is 3)")
    p.add_argument("--step", type=float, default=0.25)
    p.add_argument("--plain", action="store_true", help="no conditional projection")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    model = load_model_file(args.model)
    G = model.networks["G"]
    space, synth = LatentSpace(G), FastSynthesis(G)
    reader = A.AtelierReader()
    layers = layer_presets(space.num_ws)[args.layers]

    t0 = time.perf_counter()
    directions = A.compute_attribute_directions(space, A.w_renderer(synth, space.num_ws), reader, layers)
    compute_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    read(reader, synth, space.w_samples(A.BATCH)[:, None].expand(-1, space.num_ws, -1))
    batch_s = time.perf_counter() - t0
    if args.plain:  # same boundaries, without projecting out the other attributes
        w = space.w_samples(A.DEFAULT_SAMPLES)
        readings = A.read_samples(w, A.w_renderer(synth, space.num_ws), reader)
        bounds = A.fit_boundaries(w, readings, reader.classes)
        directions = A.boundaries_to_directions(bounds, w, layers, space.num_ws, conditional=False)

    seeds = list(range(args.seeds))
    base = truncate(space.w_for_seeds(seeds), space.w_avg, args.psi)[:, None].expand(-1, space.num_ws, -1)
    base_read = read(reader, synth, base)
    strengths = np.arange(args.step, args.max + 1e-9, args.step)
    heads = list(reader.classes)
    rows = []
    for d in directions:
        head = next(h for h in heads if d.name.endswith(f"({A.HEAD_LABELS[h]})"))
        value_name = d.name[len("less / more "):-len(f" ({A.HEAD_LABELS[head]})")].replace(" ", "_")
        k = reader.classes[head].index(value_name)
        todo = np.flatnonzero(base_read[head] != k)
        reached_at = np.full(len(seeds), -1.0)
        kept = np.zeros(len(seeds), bool)
        kept_head = {h: np.zeros(len(seeds), bool) for h in heads if h != head}
        for s in strengths:
            left = [i for i in todo if reached_at[i] < 0]
            if not left:
                break
            d.value = float(s)
            ws = torch.stack([apply_directions(base[i].clone(), [d]) for i in left])
            r = read(reader, synth, ws)
            for j, i in enumerate(left):
                if r[head][j] == k:
                    reached_at[i] = s
                    for h in kept_head:
                        kept_head[h][i] = r[h][j] == base_read[h][i]
                    kept[i] = all(kept_head[h][i] for h in kept_head)
        n = max(1, len(todo))
        reached = float((reached_at[todo] > 0).sum()) / n
        kept_share = float(kept[todo].sum()) / max(1, int((reached_at[todo] > 0).sum()))
        hit = reached_at[todo][reached_at[todo] > 0]
        rows.append({"head": head, "value": value_name, "seeds": int(len(todo)), "reached": round(reached, 3),
                     "others_kept": round(kept_share, 3), "success": round(float(kept[todo].sum()) / n, 3),
                     "median_strength": round(float(np.median(hit)), 2) if hit.size else None,
                     "kept_by_head": {h: round(float(v[todo].sum()) / max(1, hit.size), 3)
                                      for h, v in kept_head.items()}})
    # Control: random unit directions (same layers, same units) moved as far as the median edit: how often does
    # each reading stay anyway? What an edit keeps cannot be expected to beat this.
    gen = np.random.default_rng(0)
    samples = (space.w_samples(A.DEFAULT_SAMPLES) - space.w_samples(A.DEFAULT_SAMPLES).mean(0)).numpy()
    hits = [r["median_strength"] for r in rows if r["median_strength"] is not None]
    control_strength = float(np.median(hits)) if hits else args.max
    stay = {h: [] for h in heads}
    for _ in range(4):
        v = gen.standard_normal(space.w_dim).astype(np.float32)
        v /= np.linalg.norm(v)
        rand = Direction("random", v, layers, sigma=A.UNIT_STD * float((samples @ v).std()), value=control_strength)
        r = read(reader, synth, torch.stack([apply_directions(b.clone(), [rand]) for b in base]))
        for h in heads:
            stay[h].append(float((r[h] == base_read[h]).mean()))
    control = {h: round(float(np.mean(v)), 3) for h, v in stay.items()}
    per_head = {}
    for h in heads:
        hr = [r for r in rows if r["head"] == h and r["seeds"]]
        if hr:
            per_head[h] = {key: round(float(np.mean([r[key] for r in hr])), 3)
                           for key in ("reached", "others_kept", "success")} | {"values": len(hr)}
    print(json.dumps({"model": Path(args.model).name, "threads": args.threads, "samples": A.DEFAULT_SAMPLES,
                      "sliders": len(directions), "compute_seconds": round(compute_s, 2),
                      "compute_ratio_to_one_forward_batch": round(compute_s / batch_s, 1),
                      "psi": args.psi, "layers": args.layers, "conditional": not args.plain,
                      "slider_unit_std": A.UNIT_STD, "strengths": [float(s) for s in strengths],
                      "per_head": per_head, "random_direction_control": {"strength": control_strength,
                                                                          "reading_kept": control},
                      "edits": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
