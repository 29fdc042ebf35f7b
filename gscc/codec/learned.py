"""Coding attribute planes with learned distributions (format 1.2), and their registry.

An attribute trained under an entropy constraint comes with the distribution its values
were trained to follow. The encoder turns that distribution into integer tables that
travel in the file, so the decoder reads tables and never runs a density model (no torch).

* A *source* is what the encoder is given per attribute (``encode(..., distributions=)``):
  it names its distribution (``name``, recorded in the header, informative) and the
  *learned coding* that codes with it (``coding``, a key of ``LEARNED_CODINGS``).
  A :class:`TableSource` gives one probability table per channel for a quantizer.
* A *learned coding* codes one scalar-quantized attribute plane with a source, and decodes
  it from its header entry ``{codec: NAME, distribution: STR, params: {}, chunks: [...]}``.
  A coding may read attributes decoded before it (``context``: name -> DecodedPlane); the
  decoder decodes attributes in a fixed order, ``means`` first (spec/codecs.md).

A new learned coding is one new module plus one line in :func:`_codings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np

from ..container import LEARNED_VERSION, Container
from ..errors import HeaderError, VersionError
from .header_fields import check_keys, empty_params
from .lossless import PlaneCoding, check_plane
from .quantize import QuantParams


@dataclass(frozen=True)
class DecodedPlane:
    """A scalar-quantized attribute already coded (encoder) or decoded (decoder)."""

    plane: np.ndarray  # (H, W, C) integers in [0, 2**quant.bits)
    quant: QuantParams
    transform: str


Context = dict[str, DecodedPlane]


class LearnedSource(Protocol):
    name: str  # the distribution, e.g. "factorized"
    coding: str  # the LEARNED_CODINGS entry that codes with this source


class TableSource(LearnedSource, Protocol):
    def probabilities(self, quant: QuantParams) -> np.ndarray:
        """(C, 2**quant.bits) float64: per channel, the probability of each symbol of
        ``quant`` (rows sum to 1)."""


class LearnedCoding(Protocol):
    name: str  # the codec name in the header
    max_bits: int  # deepest plane it codes; the encoder falls back to empirical coding above

    def encode(self, plane: np.ndarray, quant: QuantParams, source: LearnedSource, context: Context) -> PlaneCoding:
        """Code the (H, W, C) ``plane`` quantized with ``quant``."""

    def decode(
        self, container: Container, entry: dict, shape: tuple[int, int, int], quant: QuantParams, context: Context
    ) -> np.ndarray:
        """Inverse of :meth:`encode`; raises FormatError for malformed input."""


def _codings() -> dict[str, LearnedCoding]:
    from .ans_table import AnsTableCoding
    from .context_coding import AnsContextCoding

    return {"ans-table": AnsTableCoding(), "ans-context": AnsContextCoding()}


LEARNED_CODINGS: dict[str, LearnedCoding] = _codings()


def is_learned(entry: object) -> bool:
    """Whether a coding entry names a learned coding (else: a lossless plane coder)."""
    return isinstance(entry, dict) and isinstance(entry.get("codec"), str) and entry["codec"] in LEARNED_CODINGS


def code_learned(
    plane: np.ndarray, quant: QuantParams, source: LearnedSource, context: Context
) -> Optional[PlaneCoding]:
    """The plane coded by ``source``'s learned coding, or None where that coding does not
    take planes this deep (or this plane would exceed a limit of the format)."""
    coding = LEARNED_CODINGS.get(getattr(source, "coding", None))
    if coding is None:
        raise ValueError(
            f"distribution {getattr(source, 'name', '?')!r} asks for coding {getattr(source, 'coding', None)!r}; "
            f"learned codings are {', '.join(LEARNED_CODINGS)}"
        )
    if quant.bits > coding.max_bits:
        return None
    return coding.encode(plane, quant, source, context)


def decode_learned(
    container: Container, entry: dict, shape: tuple[int, int, int], quant: QuantParams, context: Context
) -> np.ndarray:
    """Decode a plane whose coding entry names a learned coding (see :func:`is_learned`)."""
    name = entry["codec"]
    if container.version < LEARNED_VERSION:
        raise VersionError(f"{name} coding needs format %d.%d or later" % LEARNED_VERSION)
    check_keys(entry, f"{name} coding", ("codec", "params", "chunks"), ("distribution",))
    distribution = entry.get("distribution")
    if distribution is not None and not isinstance(distribution, str):
        raise HeaderError(f"{name} coding entry names a distribution that is not a string")
    empty_params(entry, f"{name} coding")
    if not isinstance(entry["chunks"], list):
        raise HeaderError(f"{name} coding entry is malformed")
    plane = LEARNED_CODINGS[name].decode(container, entry, shape, quant, context)
    return check_plane(name, plane, shape, quant.bits)
