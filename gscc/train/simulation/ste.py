"""Straight-through rounding: the forward pass sees the values on the encoder's grid
(``lo + round((y - lo) / step) * step``, clamped to its range), the backward pass the
identity (Bengio et al. 2013)."""

from __future__ import annotations

import torch

from .base import Quantizer, SymbolGrid


class SteQuantizer(Quantizer):
    name = "ste"

    def __call__(self, y: torch.Tensor, grid: SymbolGrid, generator: torch.Generator | None = None) -> torch.Tensor:
        levels = (1 << grid.bits) - 1
        q = torch.clamp(torch.round(grid.to_symbols(y.detach())), 0, levels)
        rounded = grid.lo + q * grid.step
        return y + (rounded - y).detach()
