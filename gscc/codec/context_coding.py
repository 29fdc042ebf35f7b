"""The ``ans-context`` learned coding (format 1.2): per-splat Gaussian tables chosen by a
context network evaluated on the decoded positions (HAC-style).

A trained hash-grid Gaussian model (gscc.train.entropy.gaussian) predicts, per cell and
channel, a mean ``mu`` and a scale level from the cell's decoded means; the codec evaluates
its fixed-point copy (gscc.codec.context_net), bit-exact on both sides. A channel's symbol
q is coded as the residual r = q - mu with the integer table of the cell's level, over
residuals -K .. K plus an escape symbol (index 2K + 1) for |r| > K, after which q itself
follows uniformly. The tables are made by the encoder from the discretised Gaussian of
each level and stored, so a decoder evaluates neither a Gaussian nor exp.

Chunks (all of type ``raw``), spec/codecs.md "Learned context coding":

    0        the context network (gscc.codec.context_net layout)
    1        the level tables, symmetric about r = 0 (:func:`put_tables`)
    2 .. C+1 one per channel: varint M, M little-endian u32 words of one rANS stream

A channel's stream holds, in decoding order: for each level used by its cells, ascending,
the symbols of the cells with that level in row-major order; then the escaped cells' q in
row-major order, uniformly (B <= 8: one symbol of 2^B; else the low byte over 256, then
all the high parts over 2^(B-8)).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import constriction
import numpy as np

from ..container import Container
from ..errors import FormatError, HeaderError, LimitError, PayloadError
from .ans import TABLE_BITS, Reader, categorical, check_stream_end, put_varint, stream_coder
from .context_net import LEVELS, LEVELS_PER_OCTAVE, MAX_CONTEXT_WORK, SIGMA_MIN, ContextNetwork, declared_work_per_cell
from .quantize import QuantParams

if TYPE_CHECKING:  # lossless imports this module (its ans-interp coder codes with these tables)
    from .lossless import PlaneCoding

NAME = "ans-context"
CHUNK_TYPE = "raw"
MAX_BITS = 16
MAX_HALF_WIDTH = 127  # a table has at most 2 * 127 + 2 = 256 symbols
TAIL_SIGMAS = 8.0  # a level's table covers |r| <= 8 sigma (within MAX_HALF_WIDTH)
POSITIONS = "means"
_TOTAL = 1 << TABLE_BITS


class ContextSource(Protocol):
    name: str
    coding: str

    def network(self, quant: QuantParams) -> ContextNetwork:
        """The fixed-point network predicting the symbols of ``quant``."""


@dataclass(frozen=True)
class GaussianContextSource:
    """A trained ``HashGridGaussian`` (its ``export_arrays()``) and the quantizer it was
    trained in (per channel ``train_lo``, ``train_step``), as the encoder's source."""

    arrays: dict
    train_lo: tuple
    train_step: tuple
    name: str = "gaussian"
    coding: str = NAME

    def network(self, quant: QuantParams) -> ContextNetwork:
        return ContextNetwork.from_float(
            self.arrays, bits=quant.bits, train_lo=self.train_lo, train_step=self.train_step,
            enc_lo=quant.lo, enc_step=quant.step,
        )


# ---------------------------------------------------------------------------- level tables
def half_width(level: int) -> int:
    """K of a level's table: 8 sigma, at least 1, at most 127."""
    sigma = SIGMA_MIN * 2.0 ** (level / LEVELS_PER_OCTAVE)
    return min(MAX_HALF_WIDTH, max(1, math.ceil(TAIL_SIGMAS * sigma)))


def _sigma(level: int) -> float:
    return SIGMA_MIN * 2.0 ** (level / LEVELS_PER_OCTAVE)


def level_table(level: int) -> np.ndarray:
    """The encoder's integer table of a level, symbols r + K for residuals r = -K .. K and
    the escape 2K + 1: each residual gets the mass of the discretised Gaussian (sigma of
    the level) on its bin, the escape the rest; symmetric, f(-r) = f(r), every frequency
    >= 1, summing to 2**16 (see :func:`symmetric_frequencies`)."""
    sigma, k = _sigma(level), half_width(level)
    upper_tail = lambda t: 0.5 * math.erfc(t / (sigma * math.sqrt(2.0)))  # P(X - mu > t)
    centre = 1.0 - 2.0 * upper_tail(0.5)
    side = [upper_tail(r - 0.5) - upper_tail(r + 0.5) for r in range(1, k + 1)]
    f0, half, escape = symmetric_frequencies(centre, np.array(side), 2.0 * upper_tail(k + 0.5))
    return full_table(f0, half, escape)


def symmetric_frequencies(centre: float, side: np.ndarray, escape: float) -> tuple[int, np.ndarray, int]:
    """Integers f0, f(1..K), f_esc with f0 + 2 sum f(r) + f_esc = 2**16 from masses with
    centre + 2 sum(side) + escape = 1, as gscc's ``ans`` tables are made but symmetric:
    each of the 2K + 2 symbols gets 1, plus the floor of its mass times the 2**16 - 2K - 2
    spare units; the units left go one each to the largest fractional parts (a side entry
    takes two, for +r and -r; ties: the lower entry, centre first), an odd last unit to the
    centre."""
    spare = _TOTAL - 2 * len(side) - 2
    share = np.concatenate([[centre], side, [escape]]) * spare
    weight = np.concatenate([[1], np.full(len(side), 2), [1]])
    freq = 1 + np.floor(share).astype(np.int64)
    left = _TOTAL - int((weight * freq).sum())
    for i in np.lexsort((np.arange(len(share)), -(share - np.floor(share)))):
        if weight[i] <= left:
            freq[i] += 1
            left -= int(weight[i])
    freq[0] += left
    return int(freq[0]), freq[1:-1], int(freq[-1])


def full_table(f0: int, half: np.ndarray, escape: int) -> np.ndarray:
    """[f(K), ..., f(1), f0, f(1), ..., f(K), f_esc]."""
    return np.concatenate([half[::-1], [f0], half, [escape]]).astype(np.int64)


def uniform_table(bits: int) -> np.ndarray:
    return np.full(1 << bits, _TOTAL >> bits, dtype=np.int64)


def escape_parts(bits: int) -> list[int]:
    """The bit widths q is sent in after an escape: [B], or [8, B - 8] (low byte first)."""
    return [bits] if bits <= 8 else [8, bits - 8]


def _zigzag(d: int) -> int:
    return 2 * d if d >= 0 else -2 * d - 1


def _unzigzag(z: int) -> int:
    return z >> 1 if z % 2 == 0 else -((z + 1) >> 1)


def put_tables(tables: dict[int, np.ndarray]) -> bytes:
    """The tables chunk: varint count; per table (levels ascending) u8 level, varint K,
    varint f_esc, varint n (0..K), then f(1) and n - 1 zigzag differences
    f(r) - f(r-1), r = 2 .. n; f(r) = 1 for r > n; f0 = 2**16 - f_esc - 2 sum f(r)."""
    out = bytearray()
    put_varint(out, len(tables))
    for level in sorted(tables):
        freq = tables[level]
        k = (len(freq) - 2) // 2
        half = [int(f) for f in freq[k + 1 : 2 * k + 1]]
        n = max((r for r, f in enumerate(half, 1) if f > 1), default=0)
        out.append(level)
        put_varint(out, k)
        put_varint(out, int(freq[-1]))
        put_varint(out, n)
        previous = 0
        for r, f in enumerate(half[:n]):
            put_varint(out, f if r == 0 else _zigzag(f - previous))
            previous = f
    return bytes(out)


def read_tables(data: bytes) -> dict[int, np.ndarray]:
    reader = Reader(data, "ans-context tables chunk")
    count = reader.varint()
    if count > LEVELS:
        raise PayloadError(f"ans-context tables chunk lists {count} tables, more than {LEVELS} levels")
    tables: dict[int, np.ndarray] = {}
    previous_level = -1
    for _ in range(count):
        level = reader.byte()
        if not previous_level < level < LEVELS:
            raise PayloadError("ans-context table levels are not strictly increasing levels below 64")
        k, escape, n = reader.varint(), reader.varint(), reader.varint()
        if not 1 <= k <= MAX_HALF_WIDTH or not 0 <= n <= k or not 1 <= escape < _TOTAL:
            raise PayloadError(f"ans-context table of level {level} has a malformed size or escape frequency")
        half = np.ones(k, dtype=np.int64)
        value = 0
        for r in range(n):
            value = reader.varint() if r == 0 else value + _unzigzag(reader.varint())
            if not 1 <= value < _TOTAL:
                raise PayloadError(f"ans-context table of level {level} has a frequency out of range")
            half[r] = value
        f0 = _TOTAL - escape - 2 * int(half.sum())
        if f0 < 1:
            raise PayloadError(f"ans-context table of level {level} sums to more than {_TOTAL}")
        tables[level] = full_table(f0, half, escape)
        previous_level = level
    if reader.pos != len(data):
        raise PayloadError("ans-context tables chunk has trailing bytes")
    return tables


# ---------------------------------------------------------------------------- channels
def half_widths(level: np.ndarray, tables: dict[int, np.ndarray]) -> np.ndarray:
    """K of each cell's table (0 for a level without a table)."""
    k = np.array([(len(tables[l]) - 2) // 2 if l in tables else 0 for l in range(LEVELS)], dtype=np.int64)
    return k[level]


@functools.lru_cache(maxsize=512)
def _model(key: bytes):
    return categorical(np.frombuffer(key, dtype=np.int64))


def model(freq: np.ndarray):
    """constriction's model of an integer table, made once per distinct table (the level
    tables recur in every channel and phase)."""
    return _model(np.ascontiguousarray(freq, dtype=np.int64).tobytes())


def _by_level(level: np.ndarray) -> tuple[list[int], list[np.ndarray]]:
    """The levels used, ascending, and for each the indices of its cells in order."""
    counts = np.bincount(level, minlength=LEVELS)
    used = np.flatnonzero(counts).tolist()
    groups = np.split(np.argsort(level, kind="stable"), np.cumsum(counts)[:-1])
    return used, [groups[l] for l in used]


def level_streams(
    q: np.ndarray, mu: np.ndarray, level: np.ndarray, tables: dict[int, np.ndarray], bits: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(symbols, table) streams of cells coded by their level's table around ``mu``, in
    decoding order: per level used, ascending, its cells' symbols (in the given order),
    then the escaped cells' q uniformly (:func:`escape_parts`)."""
    q, mu, level = (np.asarray(a, dtype=np.int64).reshape(-1) for a in (q, mu, level))
    k = half_widths(level, tables)
    r = q - mu
    escaped = np.abs(r) > k
    symbols = np.where(escaped, 2 * k + 1, r + k)
    used, cells = _by_level(level)
    streams = [(symbols[c], tables[l]) for l, c in zip(used, cells)]
    rest, shift = q[escaped], 0
    for width in escape_parts(bits):
        streams.append(((rest >> shift) & ((1 << width) - 1), uniform_table(width)))
        shift += width
    return streams


def encode_streams(streams: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """varint M and the M little-endian u32 words of one rANS stream holding ``streams``
    (symbols, table) in decoding order."""
    coder = constriction.stream.stack.AnsCoder()
    for stream, freq in reversed(streams):
        if stream.size:
            coder.encode_reverse(stream.astype(np.int32), model(freq))
    words = coder.get_compressed().astype("<u4")
    out = bytearray()
    put_varint(out, len(words))
    return bytes(out) + words.tobytes()


def encode_channel(q: np.ndarray, mu: np.ndarray, level: np.ndarray, tables: dict[int, np.ndarray], bits: int) -> bytes:
    """One channel's stream (cells flattened row-major)."""
    return encode_streams(level_streams(q, mu, level, tables, bits))


def decode_levels(coder, mu: np.ndarray, level: np.ndarray, tables: dict[int, np.ndarray], bits: int, what: str) -> np.ndarray:
    """Inverse of :func:`level_streams`: the cells' q, read from ``coder`` (constriction
    errors are left to the caller)."""
    used, groups = _by_level(level)
    missing = [l for l in used if l not in tables]
    if missing:
        raise PayloadError(f"{what} has no table for level {missing[0]}, which its cells use")
    symbols = np.empty(len(level), dtype=np.int64)
    for l, cells in zip(used, groups):
        symbols[cells] = coder.decode(model(tables[l]), len(cells))
    k = half_widths(level, tables)
    escaped = symbols == 2 * k + 1
    q = mu + symbols - k
    count = int(escaped.sum())
    rest, shift = np.zeros(count, dtype=np.int64), 0
    for width in escape_parts(bits):
        if count:
            rest |= coder.decode(model(uniform_table(width)), count).astype(np.int64) << shift
        shift += width
    q[escaped] = rest
    return q


def decode_channel(data: bytes, mu: np.ndarray, level: np.ndarray, tables: dict[int, np.ndarray], bits: int) -> np.ndarray:
    reader = Reader(data, "ans-context chunk")
    words = reader.words()
    reader.end()
    try:
        coder = stream_coder(words)
        q = decode_levels(coder, mu, level, tables, bits, "ans-context")
        check_stream_end(coder, "ans-context chunk")
    except FormatError:
        raise
    except Exception as exc:
        raise PayloadError(f"corrupt ans-context stream: {exc}") from None
    if q.size and (q.min() < 0 or q.max() >= 1 << bits):
        raise PayloadError("ans-context stream decodes to symbols out of range")
    return q


def check_work(network_chunk: bytes, cells: int) -> None:
    """LimitError when evaluating the network on ``cells`` cells would exceed the format's
    work limit (spec/validation.md, L1), from the chunk's fixed fields alone."""
    per_cell = declared_work_per_cell(network_chunk)
    if per_cell is not None and cells * per_cell > MAX_CONTEXT_WORK:
        raise LimitError(
            f"ans-context network needs {cells * per_cell:,} multiply-adds for {cells:,} cells, "
            f"more than the limit of {MAX_CONTEXT_WORK:,}"
        )


def check_declared_work(container: Container, coding: object, cells: int) -> None:
    """:func:`check_work` for a coding entry before any attribute is decoded (malformed
    entries are left to the decoding, which reports them)."""
    if not isinstance(coding, dict) or coding.get("codec") != NAME or not isinstance(coding.get("chunks"), list):
        return
    index = coding["chunks"][0] if coding["chunks"] else None
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(container.chunks):
        check_work(container.chunks[index][1], cells)


def _predictions(net: ContextNetwork, context: dict, channels: int, bits: int, error=PayloadError):
    positions = context.get(POSITIONS)
    if positions is None:
        raise (HeaderError if error is PayloadError else error)(f"ans-context coding needs the scalar-coded {POSITIONS} plane decoded before it")
    if net.channels != channels or net.bits != bits:
        raise error(
            f"ans-context network predicts {net.channels} channels of {net.bits} bits, the plane has {channels} of {bits}"
        )
    return net.predict(positions.plane.reshape(-1, 3), positions.quant.bits)


class AnsContextCoding:
    name = NAME
    max_bits = MAX_BITS

    def encode(self, plane: np.ndarray, quant: QuantParams, source: ContextSource, context) -> PlaneCoding | None:
        height, width, channels = plane.shape
        net = source.network(quant)
        if height * width * net.work_per_cell > MAX_CONTEXT_WORK:
            return None  # over the format's work limit: the encoder codes the plane otherwise
        mu, level = _predictions(net, context, channels, quant.bits, error=ValueError)
        tables = {l: level_table(l) for l in np.unique(level).tolist()}
        chunks = [(CHUNK_TYPE, net.to_bytes()), (CHUNK_TYPE, put_tables(tables))]
        for c in range(channels):
            chunks.append((CHUNK_TYPE, encode_channel(plane[:, :, c], mu[:, c], level[:, c], tables, quant.bits)))
        from .lossless import PlaneCoding

        return PlaneCoding({"codec": self.name, "distribution": source.name, "params": {}}, tuple(chunks))

    def decode(
        self, container: Container, entry: dict, shape: tuple[int, int, int], quant: QuantParams, context
    ) -> np.ndarray:
        height, width, channels = shape
        indices = entry["chunks"]
        if len(indices) != channels + 2:
            raise HeaderError(f"ans-context plane needs {channels + 2} chunks, header lists {len(indices)}")
        chunks = [container.chunk(i, CHUNK_TYPE) for i in indices]
        check_work(chunks[0], height * width)
        net = ContextNetwork.from_bytes(chunks[0])
        mu, level = _predictions(net, context, channels, quant.bits)
        tables = read_tables(chunks[1])
        planes = [decode_channel(chunks[2 + c], mu[:, c], level[:, c], tables, quant.bits) for c in range(channels)]
        return np.stack(planes, axis=1).reshape(height, width, channels).astype(np.uint16)
