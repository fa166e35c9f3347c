"""Dataset readers for the real fashion dataset formats, and the synthetic atelier that writes them.

``make_dataset(kind, path, split, resolution, **options) -> torch.utils.data.Dataset``

All images are float tensors in [-1, 1], 3×R×R RGB (NCHW once batched). ``split`` is "train", "test" or "all";
splits are seeded (``seed=42``) 90/10 over *identities* (product ids, files), never over pairs. Readers raise
:class:`DatasetError` naming the path and what they expected; one unreadable image is skipped, logged and
counted in ``dataset.skipped`` (path -> reason) instead of stopping a run.

Kinds, their items and options:

* ``"inshop"`` (DeepFashion In-shop, PGPG; ``Img/`` tree or the papers' flattened ``train/``, ``test/``): ``{"src", "tgt": 3×R×R; "src_pose", "tgt_pose": C×R×R in [0,1]
  (C=18 Gaussian heatmaps, or 3 = (I/24, U, V) with ``pose="iuv"``); "tgt_mask": 1×R×R in {0,1} (DensePose body
  mask, or a skeleton mask without IUV); "src_name", "tgt_name"}``. Options: ``pose``, ``sigma`` (heatmap σ in
  output pixels, default 6·R/256), ``keypoint_frame`` ((h, w) of the CSV coordinates when the images on disk have
  another size, e.g. (256, 176)), ``seed``, ``test_fraction``, ``pairs`` ("groups": same item and group, not
  ``additional`` / ``flat``, both directions, split by item id; "csv": the ``fasion-resize-pairs-<split>.csv``
  file, i.e. the pose-transfer papers' split).
* ``"lookbook"`` (PixelDTGAN): ``{"person", "flat", "flat_other": 3×R×R; "product", "product_other"}``;
  ``flat_other`` is a real flat of another product, redrawn by ``set_epoch(e)``.
* ``"shoes_bags"`` (CycleGAN/DiscoGAN): unpaired ``{"A": shoe, "B": bag, "A_index", "B_index"}``;
  ``set_epoch(e)`` re-pairs randomly each epoch; ``labels_A[A_index]`` / ``labels_B[B_index]`` are dicts with
  kind, colour_family, pattern, formality, rgb (None for real data without a labels file).
* ``"images"`` (StyleGAN): a folder (recursive) or .zip of images, ``{"image", "name"}``; options ``hflip``,
  ``fit`` ("pad" with white or "crop").
* ``"fisb"`` (StyleGAN): the Fashion Synthesis ``G2.h5``, ``{"image", "index"}``; options ``hflip``, ``min_color``.

The atelier: ``training.data.atelier.generate(kind, out_dir, n, resolution, seed)`` writes any of these formats
and returns the path to give ``make_dataset``.
"""

from __future__ import annotations

from torch.utils.data import Dataset

from .common import DatasetError

KINDS: tuple[str, ...] = ("inshop", "lookbook", "shoes_bags", "images", "fisb")


def make_dataset(kind: str, path, split: str = "train", resolution: int = 64, **options) -> Dataset:
    """The reader for ``kind`` over ``path`` (see the module docstring for items and options)."""
    if kind == "inshop":
        from .inshop import InShopPairs
        return InShopPairs(path, split, resolution, **options)
    if kind == "lookbook":
        from .lookbook import LookBookPairs
        return LookBookPairs(path, split, resolution, **options)
    if kind == "shoes_bags":
        from .shoes_bags import ShoesBags
        return ShoesBags(path, split, resolution, **options)
    if kind == "images":
        from .image_folder import ImageFolder
        return ImageFolder(path, split, resolution, **options)
    if kind == "fisb":
        from .fisb import FashionSynthesis
        return FashionSynthesis(path, split, resolution, **options)
    raise DatasetError(f"unknown dataset kind {kind!r}; expected one of {', '.join(KINDS)}")


__all__ = ["KINDS", "DatasetError", "make_dataset"]
