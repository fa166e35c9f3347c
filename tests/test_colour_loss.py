"""The Match trainer's colour-consistency term measures the item's colour, not the white around it."""

from __future__ import annotations

import torch

from training.trainers.losses import colour_consistency, item_colour


def _item_on_white(rgb: tuple[float, float, float], size: int = 16, frac: float = 0.25) -> torch.Tensor:
    img = torch.ones(1, 3, size, size)
    k = int(size * frac)
    img[:, :, k:-k, k:-k] = torch.tensor(rgb).view(1, 3, 1, 1)
    return img


def test_item_colour_ignores_the_white_background():
    yellow = _item_on_white((1.0, 1.0, -1.0))
    assert torch.allclose(item_colour(yellow), torch.tensor([[1.0, 1.0, -1.0]]), atol=0.02)


def test_same_colour_different_size_is_consistent_and_a_different_colour_is_not():
    small_red = _item_on_white((1.0, -1.0, -1.0), frac=0.375)
    big_red = _item_on_white((1.0, -1.0, -1.0), frac=0.125)
    blue = _item_on_white((-1.0, -1.0, 1.0))
    assert colour_consistency(big_red, small_red) < 0.02
    assert colour_consistency(blue, small_red) > 1.0


def test_gradient_reaches_the_output_colour():
    out = _item_on_white((0.0, 0.0, 0.0)).requires_grad_(True)
    colour_consistency(out, _item_on_white((1.0, -1.0, -1.0))).backward()
    assert out.grad is not None and out.grad.abs().sum() > 0


def _patterned(kind: str, size: int = 48, rgb=(0.6, -0.4, -0.4), shift: int = 0) -> torch.Tensor:
    """A square item on white; its fabric solid, striped (horizontal or vertical) or checked."""
    img = torch.ones(1, 3, size, size)
    lo, hi = size // 6, size - size // 6
    colour = torch.tensor(rgb).view(3, 1, 1)
    fabric = colour.expand(3, hi - lo, hi - lo).clone()
    idx = (torch.arange(hi - lo) + shift) % 5 < 2
    if kind in ("hstripes", "checks"):
        fabric[:, idx, :] = colour * 0.4
    if kind in ("vstripes", "checks"):
        fabric[:, :, idx] = colour * 0.4
    img[0, :, lo:hi, lo:hi] = fabric
    return img


def test_texture_term_tells_patterns_apart_but_not_positions_or_sizes():
    from training.trainers.losses import texture_consistency

    solid, h, v, c = (_patterned(k) for k in ("solid", "hstripes", "vstripes", "checks"))
    # The same pattern shifted by two pixels or on a larger item reads as the same fabric ...
    assert texture_consistency(h, _patterned("hstripes", shift=2)) < 0.02
    assert texture_consistency(h, _patterned("hstripes", size=64)) < 0.03
    assert texture_consistency(solid, _patterned("solid", size=64, rgb=(-0.5, 0.2, 0.7))) < 0.03
    # ... while solid, horizontal stripes, vertical stripes and checks are each far from the others.
    same = texture_consistency(h, _patterned("hstripes", shift=2))
    for a, b in ((solid, h), (solid, c), (h, v), (h, c), (v, c)):
        assert texture_consistency(a, b) > 5 * same + 0.02


def test_texture_gradient_reaches_the_output():
    from training.trainers.losses import texture_consistency

    out = _patterned("solid").requires_grad_(True)
    texture_consistency(out, _patterned("checks")).backward()
    assert out.grad is not None and out.grad.abs().sum() > 0
