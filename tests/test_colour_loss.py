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
