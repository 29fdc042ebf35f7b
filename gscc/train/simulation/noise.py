"""Uniform-noise quantization (Ballé et al. 2017): ``y + step * U(-1/2, 1/2)``.

The noisy values have the density of the quantized ones convolved with the bin, so an
entropy model evaluated on them estimates the coded rate, and gradients pass unchanged.
"""

from __future__ import annotations

import torch

from .base import Quantizer, SymbolGrid


class NoiseQuantizer(Quantizer):
    name = "noise"

    def __call__(self, y: torch.Tensor, grid: SymbolGrid, generator: torch.Generator | None = None) -> torch.Tensor:
        u = torch.rand(y.shape, generator=generator, dtype=y.dtype, device=y.device) - 0.5
        return y + u * grid.step
