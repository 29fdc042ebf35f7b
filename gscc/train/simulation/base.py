"""What a quantization simulator is, and the grid it works on.

A simulator takes an attribute's values ``y`` (N, C) in the encoder's domain
(:mod:`.domains`) and the channel grid (``lo``, ``step``) of the bit depth used at encode
time (:func:`symbol_grid`: the encoder's min/max quantizer, gscc.codec.quantize), and
returns new values that behave like the quantized ones; it never changes ``y`` in place
(``y`` is usually a view of a trained parameter).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SymbolGrid:
    """Per-channel uniform grid ``lo + q * step``, q in [0, 2**bits); no gradient."""

    bits: int
    lo: torch.Tensor  # (C,)
    step: torch.Tensor  # (C,), 0 for a constant channel

    def to_symbols(self, y: torch.Tensor) -> torch.Tensor:
        """``(y - lo) / step``: symbol units, one bin one unit wide (0 where step is 0)."""
        safe = torch.where(self.step > 0, self.step, torch.ones_like(self.step))
        return torch.where(self.step > 0, (y - self.lo) / safe, torch.zeros_like(y))


def symbol_grid(y: torch.Tensor, bits: int) -> SymbolGrid:
    """The encoder's quantizer for ``y`` (N, C) at ``bits``: per channel from min to max."""
    if not 1 <= bits <= 16:
        raise ValueError(f"bits must lie in 1..16, got {bits}")
    y = y.detach()
    lo = y.min(dim=0).values
    hi = y.max(dim=0).values
    step = torch.where(hi > lo, (hi - lo) / ((1 << bits) - 1), torch.zeros_like(lo))
    return SymbolGrid(bits, lo, step)


class Quantizer:
    """A differentiable stand-in for the encoder's rounding (see the module docstring)."""

    name = ""

    def __call__(self, y: torch.Tensor, grid: SymbolGrid, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError
