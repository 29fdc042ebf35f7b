"""ANS coding of integer planes over empirical per-channel histograms (constriction).

Per channel the encoder picks the predictor (gscc.codec.predict) whose residual symbols
have the lowest empirical entropy, builds integer frequency tables from the histogram
and codes the symbols with constriction's range-ANS coder (64-bit state, 32-bit words,
24-bit probability precision). The tables travel in the chunk, so the decoder never
recomputes a probability. Symbols wider than 8 bits are split into a high byte and a low
byte; the low byte has one table for a zero high byte and one for the rest.

Chunk payload, one chunk per channel (spec/codecs.md, "ANS"):

    u8 predictor id (index into PREDICTORS)
    u8 table count T (1: direct; 3: high byte, low byte | high == 0, low byte | high > 0)
    T tables: varint A (alphabet size, 2..256), then A varints, the frequencies,
              each >= 1, summing to 2**TABLE_BITS
    varint M, then M little-endian u32 words: the ANS stream
"""

from __future__ import annotations

import constriction
import numpy as np

from ..container import VERSION
from ..errors import FormatError, HeaderError, PayloadError
from .predict import PREDICTORS, reconstruct, residuals

TABLE_BITS = 16
_TOTAL = 1 << TABLE_BITS


# ---------------------------------------------------------------------------- varints
def put_varint(out: bytearray, value: int) -> None:
    """Append ``value`` as an unsigned LEB128 varint."""
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


class Reader:
    """Bytes and varints from a chunk; FormatError (naming ``what``) past its end."""

    def __init__(self, data: bytes, what: str = "ANS chunk") -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise PayloadError(f"{self.what} is truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        """An unsigned LEB128 varint: at most 5 bytes, below 2**32, and minimal (a last
        byte of 0 after other bytes is an overlong encoding)."""
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if byte == 0 and shift:
                    raise PayloadError(f"{self.what} holds an overlong varint")
                if value >= 1 << 32:
                    raise PayloadError(f"{self.what} holds a varint of 2**32 or more")
                return value
            shift += 7
            if shift >= 35:
                raise PayloadError(f"{self.what} holds a varint longer than 5 bytes")

    def words(self) -> np.ndarray:
        """``varint M`` and M little-endian u32 words: an rANS stream (its last word, the
        first one read, must not be 0)."""
        count = self.varint()
        words = np.frombuffer(self.bytes(4 * count), dtype="<u4").astype(np.uint32)
        if count and words[-1] == 0:
            raise PayloadError(f"{self.what} holds an rANS stream whose last word is 0")
        return words

    def end(self) -> None:
        if self.pos != len(self.data):
            raise PayloadError(f"{self.what} has trailing bytes")

    def bytes(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise PayloadError(f"{self.what} is truncated")
        self.pos += n
        return self.data[self.pos - n : self.pos]


def stream_coder(words: np.ndarray):
    """constriction's rANS decoder over ``words`` (see :func:`check_stream_end`)."""
    return constriction.stream.stack.AnsCoder(words)


def check_stream_end(coder, what: str) -> None:
    """After its last symbol an rANS stream must have no words left and state 0
    (spec/validation.md): a stream that ran out of words, or holds more, is invalid."""
    if not coder.is_empty():
        raise PayloadError(f"{what}: the rANS stream does not end after its last symbol")


# ---------------------------------------------------------------------------- tables
def integer_frequencies(weights: np.ndarray) -> np.ndarray:
    """Integer frequencies (each >= 1, summing to 2**TABLE_BITS) proportional to the
    non-negative float64 ``weights`` (2..256 of them, positive sum), deterministically:
    one each, then ``floor(w * spare / sum)`` of the 2**TABLE_BITS - A spare ones, and the
    remainder one by one to the largest fractional parts (ties: the lower symbol)."""
    weights = np.asarray(weights, dtype=np.float64)
    alphabet = len(weights)
    if not 2 <= alphabet <= 256:
        raise ValueError(f"alphabet of {alphabet} symbols; tables have 2..256")
    if not np.isfinite(weights).all() or (weights < 0).any() or not weights.sum() > 0:
        raise ValueError("frequency weights must be finite, non-negative and not all zero")
    spare = _TOTAL - alphabet
    share = weights * spare / weights.sum()
    freq = 1 + np.floor(share).astype(np.int64)
    remainder = _TOTAL - int(freq.sum())
    order = np.lexsort((np.arange(alphabet), -(share - np.floor(share))))
    freq[order[:remainder]] += 1
    return freq


def frequency_table(symbols: np.ndarray) -> np.ndarray:
    """Integer frequencies (each >= 1, sum 2**TABLE_BITS) for symbols 0..max(symbols, 1).

    The alphabet has at least two symbols: constriction rejects one-symbol models."""
    counts = np.bincount(symbols, minlength=2).astype(np.float64)
    if len(counts) > 256:
        raise ValueError("alphabet larger than 256 symbols")
    return integer_frequencies(counts)


def categorical(freq: np.ndarray):
    """constriction's model of an integer table (exact: every frequency is a multiple of 2**-TABLE_BITS)."""
    return constriction.stream.model.Categorical(freq.astype(np.float64) / _TOTAL, perfect=True)


def _entropy_bits(symbols: np.ndarray) -> float:
    counts = np.bincount(symbols.reshape(-1))
    p = counts[counts > 0] / symbols.size
    return float(-(counts[counts > 0] * np.log2(p)).sum())


def _streams(symbols: np.ndarray, bits: int) -> list[np.ndarray]:
    """The symbol streams in decoding order: [all] or [high, low|high==0, low|high>0]."""
    if bits <= 8:
        return [symbols]
    high, low = symbols >> 8, symbols & 0xFF
    return [high, low[high == 0], low[high > 0]]


def _cost(symbols: np.ndarray, bits: int) -> float:
    return sum(_entropy_bits(s) + 16 * (int(s.max()) + 2 if s.size else 2) for s in _streams(symbols, bits))


# ---------------------------------------------------------------------------- channel coding
def encode_channel(q: np.ndarray, bits: int) -> bytes:
    """Code one (H, W) channel of integers in [0, 2**bits)."""
    best = min(PREDICTORS, key=lambda p: _cost(residuals(q, p, bits).reshape(-1), bits))
    symbols = residuals(q, best, bits).reshape(-1)
    streams = _streams(symbols, bits)
    out = bytearray([PREDICTORS.index(best), len(streams)])
    tables = []
    for stream in streams:
        freq = frequency_table(stream if stream.size else np.zeros(1, np.int64))
        tables.append(freq)
        put_varint(out, len(freq))
        for f in freq:
            put_varint(out, int(f))
    coder = constriction.stream.stack.AnsCoder()
    for stream, freq in reversed(list(zip(streams, tables))):
        if stream.size:
            coder.encode_reverse(stream.astype(np.int32), categorical(freq))
    words = coder.get_compressed().astype("<u4")
    put_varint(out, len(words))
    out += words.tobytes()
    return bytes(out)


def decode_channel(data: bytes, height: int, width: int, bits: int) -> np.ndarray:
    reader = Reader(data)
    predictor_id = reader.byte()
    if predictor_id >= len(PREDICTORS):
        raise PayloadError(f"ANS chunk names unknown predictor {predictor_id}")
    count = reader.byte()
    if count != (1 if bits <= 8 else 3):
        raise PayloadError(f"ANS chunk has {count} tables, expected {1 if bits <= 8 else 3}")
    tables = []
    for _ in range(count):
        alphabet = reader.varint()
        if not 2 <= alphabet <= 256:
            raise PayloadError(f"ANS table alphabet size {alphabet} is out of range")
        freq = np.array([reader.varint() for _ in range(alphabet)], dtype=np.int64)
        if freq.min() < 1 or int(freq.sum()) != _TOTAL:
            raise PayloadError("ANS frequency table is malformed")
        tables.append(freq)
    words = reader.words()
    reader.end()
    n = height * width
    try:
        coder = stream_coder(words)
        if bits <= 8:
            symbols = coder.decode(categorical(tables[0]), n)
            check_stream_end(coder, "ANS chunk")  # before any further work on the symbols
            symbols = symbols.astype(np.int64)
            if symbols.max(initial=0) >= 1 << bits:
                raise PayloadError("ANS stream decodes to out-of-range symbols")
        else:
            high = coder.decode(categorical(tables[0]), n).astype(np.int64)
            if high.max(initial=0) >= 1 << (bits - 8):
                raise PayloadError("ANS stream decodes to out-of-range symbols")
            zero = high == 0
            low = np.empty(n, np.int64)
            n_zero = int(zero.sum())
            low[zero] = coder.decode(categorical(tables[1]), n_zero) if n_zero else []
            low[~zero] = coder.decode(categorical(tables[2]), n - n_zero) if n - n_zero else []
            symbols = (high << 8) | low
        check_stream_end(coder, "ANS chunk")
    except FormatError:
        raise
    except Exception as exc:
        raise PayloadError(f"corrupt ANS stream: {exc}") from None
    return reconstruct(symbols.reshape(height, width), PREDICTORS[predictor_id], bits)


class AnsCoder:
    name = "ans"
    chunk_type = "ans"
    since = VERSION
    param_keys = ()

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        return {}, [encode_channel(plane[:, :, c], bits) for c in range(plane.shape[2])]

    def decode(self, params: dict, chunks: list[bytes], shape: tuple[int, int, int], bits: int) -> np.ndarray:
        height, width, channels = shape
        if len(chunks) != channels:
            raise HeaderError(f"ANS plane needs {channels} chunks, header lists {len(chunks)}")
        return np.stack([decode_channel(c, height, width, bits) for c in chunks], axis=2).astype(np.uint16)
