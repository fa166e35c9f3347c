"""The synthetic atelier: procedural catalogue-style fashion data written in the real datasets' formats.

``generate(kind, out_dir, n, resolution, seed)`` writes one dataset and returns the path its reader
(``training.data.make_dataset(kind, path, ...)``) wants. Output is deterministic for a seed (same bytes).

Kinds and what ``n`` means:

* ``"inshop"``: DeepFashion In-shop layout (``Img/<MEN|WOMEN>/<Category>/id_XXXXXXXX/<group>_<k>_<view>.jpg`` with
  ``_IUV.png`` beside each posed photo, ``Eval/list_eval_partition.txt``, ``fasion-resize-annotation-*.csv``,
  ``fasion-resize-pairs-*.csv``, ground-truth garment masks in ``Anno/segmentation/``); ``n`` ≈ number of posed
  photos (``ceil(n/4)`` products).
* ``"lookbook"``: ``Img/id_<pid:08d>/{k.jpg, flat.jpg}`` plus the raw ``ImgHQ/PID<pid>_CLEAN<0|1>_IID<iid>.jpg``;
  ``n`` ≈ number of person photos (``ceil(n/3)`` products).
* ``"shoes_bags"``: ``shoes_64.hdf5`` and ``handbags_64.hdf5`` (iGAN: dataset ``imgs``, uint8 N×64×64×3) plus
  ``shoes_64_labels.csv`` / ``handbags_64_labels.csv``; ``n`` shoes and ``n`` bags.
* ``"images"``: a flat folder of ``NNNNNN.png`` full-body images; ``n`` images.
* ``"fisb"``: a Fashion Synthesis ``G2.h5`` (``ih``, ``ih_mean``); ``n`` images.

Every dataset folder also gets ``atelier.json`` with the ground-truth attribute labels (see ``attributes``).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np

from . import attributes, writers
from .cancel import GenerationCancelled, check_stop, stop_when

KINDS: tuple[str, ...] = ("inshop", "lookbook", "shoes_bags", "images", "fisb")


def _map(fn, indices: list[int], workers: int) -> list:
    """Run ``fn`` over indices, in order; in worker processes when ``workers`` > 1 (same results either way)."""
    out = []
    if workers <= 1 or len(indices) < 2 * workers:
        for i in indices:
            check_stop()
            out.append(fn(i))
        return out
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        for result in pool.map(fn, indices, chunksize=max(1, len(indices) // (4 * workers))):
            check_stop()
            out.append(result)
    finally:  # on a stop, what has not started yet is dropped instead of waited for
        pool.shutdown(wait=True, cancel_futures=True)
    return out


def _accessories(seed: int, stream: int, kinds: tuple, size: int, chunk: tuple[int, int]):
    return writers.accessory_batch(seed, stream, kinds, chunk[0], chunk[1], size)


def _fisb_image(seed: int, size: int, i: int) -> np.ndarray:
    return writers.images_render(seed, i, size)


def generate(kind: str, out_dir: str | os.PathLike, n: int, resolution: int = 64, seed: int = 0, *,
             workers: int = 0, raw: bool = True) -> Path:
    """Write an atelier dataset of ``kind`` into ``out_dir`` (created) and return the path for its reader.

    ``workers`` > 1 renders in that many processes (off by default: tests and the 2-core CI machine run many
    things at once). ``raw`` (LookBook only) also writes the raw ``ImgHQ`` file names.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown atelier kind {kind!r}; expected one of {', '.join(KINDS)}")
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    if resolution < 16:
        raise ValueError(f"resolution must be at least 16 px (got {resolution})")
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    writers.reset_dir_cache()
    size = int(resolution)
    if kind == "inshop":
        items = max(2, math.ceil(n / 4))
        records = _map(partial(writers.inshop_item, root, seed, size=size), list(range(items)), workers)
        writers.inshop_finish(root, seed, records)
    elif kind == "lookbook":
        items = max(2, math.ceil(n / 3))
        records = _map(partial(writers.lookbook_item, root, seed, size=size, raw=raw), list(range(items)), workers)
        writers.lookbook_finish(root, seed, records)
    elif kind == "images":
        records = _map(partial(writers.images_item, root, seed, size=size), list(range(n)), workers)
        writers.images_finish(root, seed, records)
    elif kind == "fisb":
        imgs = np.stack(_map(partial(_fisb_image, seed, size), list(range(n)), workers))
        writers.write_fisb_h5(root / "G2.h5", imgs)
    else:
        step = 256
        chunks = [(s, min(s + step, n)) for s in range(0, n, step)]
        for name, stream, kinds in (("shoes", 6, attributes.SHOE_KINDS), ("handbags", 7, attributes.BAG_KINDS)):
            parts = _map(partial(_accessories, seed, stream, kinds, size), chunks, workers)
            imgs = np.concatenate([p[0] for p in parts])
            labels = [lab for p in parts for lab in p[1]]
            writers.write_igan_hdf5(root / f"{name}_{size}.hdf5", imgs)
            writers.write_labels_csv(root / f"{name}_{size}_labels.csv", labels)
    return root


__all__ = ["KINDS", "GenerationCancelled", "generate", "attributes", "stop_when"]
