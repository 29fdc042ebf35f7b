"""The ``ans-table`` learned coding (format 1.2): each channel of a plane is coded with
rANS over one integer table made from a table source's probabilities (e.g. a trained
factorized density). No spatial predictor: the distribution is of the values themselves.

Chunk ``ans-table``, one per channel (spec/codecs.md, "Learned table coding"):

    varint first    first symbol with an explicit frequency, 0 <= first < A
    varint n        number of explicit frequencies, 1 <= n <= A - first
    n varints       zigzag(f[first + i] - f[first + i - 1]), with f[first - 1] = 1
    varint M, then M little-endian u32 words: the ANS stream of the H*W symbols

A = 2**bits (bits <= 8). Symbols outside first .. first + n - 1 have frequency 1 (a smooth
learned table usually has runs of the minimum in its tails); every frequency is >= 1 and
they sum to 2**16. Delta coding keeps a smooth table near one byte per symbol.
"""

from __future__ import annotations

import constriction
import numpy as np

from ..container import Container
from ..errors import FormatError, HeaderError, PayloadError
from .ans import TABLE_BITS, Reader, categorical, check_stream_end, integer_frequencies, put_varint, stream_coder
from .lossless import PlaneCoding
from .quantize import QuantParams

CHUNK_TYPE = "ans-table"
MAX_BITS = 8
_TOTAL = 1 << TABLE_BITS


def _zigzag(d: int) -> int:
    return 2 * d if d >= 0 else -2 * d - 1


def _unzigzag(z: int) -> int:
    return z >> 1 if z % 2 == 0 else -((z + 1) >> 1)


def table_frequencies(probabilities: np.ndarray, quant: QuantParams) -> np.ndarray:
    """(C, 2**bits) int64 tables (each frequency >= 1, each row summing to 2**16) from a
    source's probabilities; ValueError when they are not one distribution per channel."""
    p = np.asarray(probabilities, dtype=np.float64)
    expected = (len(quant.lo), 1 << quant.bits)
    if p.shape != expected:
        raise ValueError(f"a table source gave probabilities of shape {p.shape}, expected {expected}")
    return np.stack([integer_frequencies(row) for row in p])


def put_table(out: bytearray, freq: np.ndarray) -> None:
    explicit = np.flatnonzero(freq > 1)  # not empty: A <= 256 ones cannot sum to 2**16
    first, last = int(explicit[0]), int(explicit[-1])
    put_varint(out, first)
    put_varint(out, last - first + 1)
    previous = 1
    for f in freq[first : last + 1]:
        put_varint(out, _zigzag(int(f) - previous))
        previous = int(f)


def read_table(reader: Reader, alphabet: int) -> np.ndarray:
    first = reader.varint()
    if first >= alphabet:
        raise PayloadError(f"ans-table table starts at symbol {first}, past its {alphabet}-symbol alphabet")
    count = reader.varint()
    if not 1 <= count <= alphabet - first:
        raise PayloadError(f"ans-table table lists {count} frequencies from symbol {first} of {alphabet}")
    freq = np.ones(alphabet, dtype=np.int64)
    value = 1
    for i in range(count):
        value += _unzigzag(reader.varint())
        if value < 1:
            raise PayloadError("ans-table frequency table has a frequency below 1")
        freq[first + i] = value
    if int(freq.sum()) != _TOTAL:
        raise PayloadError(f"ans-table frequencies sum to {int(freq.sum())}, not {_TOTAL}")
    return freq


def encode_channel(q: np.ndarray, freq: np.ndarray) -> bytes:
    """Code one (H, W) channel with the integer table ``freq``."""
    out = bytearray()
    put_table(out, freq)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(q.reshape(-1).astype(np.int32), categorical(freq))
    words = coder.get_compressed().astype("<u4")
    put_varint(out, len(words))
    out += words.tobytes()
    return bytes(out)


def decode_channel(data: bytes, height: int, width: int, bits: int) -> np.ndarray:
    reader = Reader(data, "ans-table chunk")
    freq = read_table(reader, 1 << bits)
    words = reader.words()
    reader.end()
    try:
        coder = stream_coder(words)
        symbols = coder.decode(categorical(freq), height * width)
        check_stream_end(coder, "ans-table chunk")
    except FormatError:
        raise
    except Exception as exc:
        raise PayloadError(f"corrupt ans-table stream: {exc}") from None
    return symbols.astype(np.int64).reshape(height, width)


class AnsTableCoding:
    name = "ans-table"
    max_bits = MAX_BITS

    def encode(self, plane: np.ndarray, quant: QuantParams, source, context) -> PlaneCoding:
        if quant.bits > MAX_BITS:
            raise ValueError(f"ans-table codes planes of at most {MAX_BITS} bits, not {quant.bits}")
        tables = table_frequencies(source.probabilities(quant), quant)
        if plane.shape[2] != len(tables):
            raise ValueError(f"the plane has {plane.shape[2]} channels, the source gave {len(tables)} tables")
        chunks = tuple((CHUNK_TYPE, encode_channel(plane[:, :, c], tables[c])) for c in range(plane.shape[2]))
        return PlaneCoding({"codec": self.name, "distribution": source.name, "params": {}}, chunks)

    def decode(
        self, container: Container, entry: dict, shape: tuple[int, int, int], quant: QuantParams, context
    ) -> np.ndarray:
        height, width, channels = shape
        if quant.bits > MAX_BITS:
            raise HeaderError(f"ans-table coding holds planes of at most {MAX_BITS} bits, this one has {quant.bits}")
        indices = entry["chunks"]
        if len(indices) != channels:
            raise HeaderError(f"ans-table plane needs {channels} chunks, header lists {len(indices)}")
        chunks = [container.chunk(i, CHUNK_TYPE) for i in indices]
        return np.stack([decode_channel(c, height, width, quant.bits) for c in chunks], axis=2).astype(np.uint16)
