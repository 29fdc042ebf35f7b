"""Plain-Python readers of the byte-level pieces spec/codecs.md defines (varints, the rANS
stream of "ANS"), written from the spec alone, for the tests that check a chunk layout
needs nothing but the spec to decode."""

from __future__ import annotations

import struct


class SpecReader:
    """Reads ``data`` from ``pos``: bytes, varints, then an rANS stream of u32 words."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.state = 0
        self.words: list[int] = []

    def byte(self) -> int:
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        value = shift = 0
        while True:
            b = self.byte()
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    def start_stream(self) -> None:
        """``varint M`` and M little-endian u32 words; the state is the last words."""
        m = self.varint()
        self.words = list(struct.unpack_from(f"<{m}I", self.data, self.pos))
        self.pos += 4 * m
        if self.words:
            self.state = self.words.pop()
            while self.words and self.state < 1 << 32:
                self.state = (self.state << 32) | self.words.pop()

    def symbol(self, freqs: list[int], cdf: list[int]) -> int:
        """One symbol with 24-bit frequencies ``freqs`` and their cumulative ``cdf``."""
        x = self.state % (1 << 24)
        i = next(k for k in range(len(freqs)) if cdf[k] <= x < cdf[k + 1])
        self.state = (self.state >> 24) * freqs[i] + (x - cdf[i])
        if self.state < 1 << 32 and self.words:
            self.state = (self.state << 32) | self.words.pop()
        return i


def table(frequencies: list[int]) -> tuple[list[int], list[int]]:
    """A 16-bit frequency table as the rANS coder's 24-bit (freqs, cdf)."""
    freqs = [f * 256 for f in frequencies]
    cdf = [0]
    for f in freqs:
        cdf.append(cdf[-1] + f)
    assert cdf[-1] == 1 << 24
    return freqs, cdf
