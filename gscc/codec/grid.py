"""The grid splats are laid out on: near square, with as little padding as possible."""

from __future__ import annotations

import math


def grid_shape(n: int) -> tuple[int, int]:
    """Grid ``(H, W)`` with ``H * W >= n``, near square, minimising padding.

    Searches ``W`` in ``[ceil(sqrt(n) / 1.5), floor(sqrt(n) * 1.5)]`` with
    ``H = ceil(n / W)``; ties on padding go to the most square shape, then to
    ``H <= W``.  ``grid_shape(1) == (1, 1)``; ``grid_shape(100_000) == (250, 400)``.
    """
    if n < 1:
        raise ValueError(f"grid_shape needs n >= 1, got {n}")
    s = math.sqrt(n)
    lo = max(1, math.ceil(s / 1.5))
    hi = max(lo, math.floor(s * 1.5))
    best: tuple[int, int, int, int, int] | None = None
    for w in range(lo, hi + 1):
        h = -(-n // w)
        key = (h * w - n, abs(h - w), int(h > w), h, w)
        if best is None or key < best:
            best = key
    assert best is not None
    return best[3], best[4]
