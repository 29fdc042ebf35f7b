"""Compression simulation: differentiable stand-ins for the encoder's quantization.

``QUANTIZERS[name]()`` is a :class:`~.base.Quantizer`: ``noise`` (uniform noise of one bin,
:mod:`.noise`) or ``ste`` (straight-through rounding, :mod:`.ste`). They work on an
attribute in the encoder's domain (:mod:`.domains`) on the grid of the encode-time bit
depth (:func:`~.base.symbol_grid`). A new technique is one module plus one line here.
"""

from __future__ import annotations

from .base import Quantizer, SymbolGrid, symbol_grid
from .domains import DOMAINS, from_coded, to_coded
from .noise import NoiseQuantizer
from .ste import SteQuantizer

QUANTIZERS: dict[str, type[Quantizer]] = {"noise": NoiseQuantizer, "ste": SteQuantizer}

__all__ = ["DOMAINS", "QUANTIZERS", "Quantizer", "SymbolGrid", "from_coded", "symbol_grid", "to_coded"]
