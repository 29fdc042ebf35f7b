"""The ``ans-interp`` lossless coder (format 1.5): hierarchical interpolation with a context
model over neighbouring grid cells, fitted by the encoder.

A channel (H, W) of integers q in [0, 2**bits) is coded coarse to fine. The cells of a top
grid (every 2**T-th row and column) come first, uniformly. Then, for s = 2**(T-1), ..., 2,
1, three phases each code the cells of a sub-lattice from four already-decoded neighbours
at distance s (the neighbours outside the plane are left out):

- ``centre``:     rows = s mod 2s, cols = s mod 2s; neighbours (±s, ±s)
- ``horizontal``: rows = 0 mod 2s, cols = s mod 2s; neighbours (0, ±s), (±s, 0)
- ``vertical``:   rows = s mod 2s, cols = 0 mod 2s; neighbours (±s, 0), (0, ±s)

A cell's prediction is the rounded mean of its n >= 1 neighbours,
``mu = floor((2 * sum + n) / (2 n))``, and its context is the *activity*
``a = max - min`` of those neighbours, cut into 32 buckets (:func:`bucket`): 0, 1, then
two per octave. Per channel the encoder chooses for each bucket the Gaussian scale level
(gscc.codec.context_coding: 64 levels, sigma = 0.11 * 2**(level / 4) symbols) whose table
codes the bucket's residuals ``q - mu`` in the fewest bits; the cells of a phase are then
coded exactly as an ``ans-context`` channel's (per level ascending, the level's cells in
row-major order over the phase's sub-lattice, residuals beyond the table's half width K
escaped and sent uniformly after the phase's symbols). Smooth regions of a sorted plane get
narrow tables, edges wide ones: the per-plane statistics a single static table (``ans``)
cannot follow.

The 64 level tables are fixed: ``level_tables.bin`` beside this module holds them in the
``ans-context`` tables chunk layout (all 64 levels), the bytes spec/codecs.md lists, made
once by :func:`gscc.codec.context_coding.level_table`; the decoder reads them and never
evaluates a Gaussian, and a file carries none (``ans-context`` stores the ones it uses:
about 1 KB per plane).

Chunks (all of type ``ans-interp``), one per channel, spec/codecs.md "`ans-interp`":

    u8 T (0..16), 32 x u8 level per bucket (0..63; 255: no cell of this channel falls in
    the bucket), varint M, M little-endian u32 words of one rANS stream
"""

from __future__ import annotations

import numpy as np

from pathlib import Path

from ..container import INTERP_VERSION
from ..errors import FormatError, HeaderError, PayloadError
from .ans import Reader, check_stream_end, stream_coder
from .context_coding import (
    LEVELS, decode_levels, encode_streams, escape_parts, level_streams, model, read_tables, uniform_table,
)

NAME = "ans-interp"
BUCKETS = 32
UNUSED = 255
MAX_TOP = 16  # T: the top grid takes every 2**T-th row and column
TOP_CELLS = 64  # the encoder's T: the smallest with at most this many top-grid cells
MAX_RESIDUAL = 128  # residuals this far or farther escape under every level's table (K <= 127)
TABLES_FILE = Path(__file__).with_name("level_tables.bin")
TABLES: dict[int, np.ndarray] = read_tables(TABLES_FILE.read_bytes())  # level -> integer table


def bucket(activity: np.ndarray) -> np.ndarray:
    """The context bucket of activities a >= 0 (int64): a for a < 2, else 2 (L - 1) + the
    bit below the leading one, L the bit length of a (2, 3 -> 2, 3; 4, 5 -> 4; 6, 7 -> 5;
    8..11 -> 6; ...; 49152..65535 -> 31)."""
    a = np.asarray(activity, dtype=np.int64)
    length = np.frexp(a.astype(np.float64))[1].astype(np.int64)  # exact: a < 2**53
    second = (a >> np.maximum(length - 2, 0)) & 1
    return np.where(a < 2, a, 2 * (length - 1) + second)


def top_exponent(height: int, width: int) -> int:
    """The encoder's T: the smallest with at most TOP_CELLS cells in the top grid."""
    t = 0
    while t < MAX_TOP and -(-height >> t) * -(-width >> t) > TOP_CELLS:
        t += 1
    return t


def phases(height: int, width: int, top: int):
    """(rows, cols, offsets) of every phase with cells, in coding order."""
    for level in range(top - 1, -1, -1):
        s = 1 << level
        for r0, c0, offsets in (
            (s, s, ((-s, -s), (-s, s), (s, -s), (s, s))),
            (0, s, ((0, -s), (0, s), (-s, 0), (s, 0))),
            (s, 0, ((-s, 0), (s, 0), (0, -s), (0, s))),
        ):
            rows, cols = np.arange(r0, height, 2 * s), np.arange(c0, width, 2 * s)
            if len(rows) and len(cols):
                yield rows, cols, offsets


def predict(q: np.ndarray, rows: np.ndarray, cols: np.ndarray, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Per cell of the phase (row-major): mu and the activity bucket, from ``q``'s values
    at the in-plane neighbours."""
    height, width = q.shape
    r, c = np.meshgrid(rows, cols, indexing="ij")
    r, c = r.reshape(-1), c.reshape(-1)
    total = np.zeros(len(r), dtype=np.int64)
    count = np.zeros(len(r), dtype=np.int64)
    high = np.full(len(r), -1, dtype=np.int64)
    low = np.full(len(r), 1 << 62, dtype=np.int64)
    for dr, dc in offsets:
        rr, cc = r + dr, c + dc
        inside = (rr >= 0) & (rr < height) & (cc >= 0) & (cc < width)
        value = q[np.clip(rr, 0, height - 1), np.clip(cc, 0, width - 1)].astype(np.int64)
        total += np.where(inside, value, 0)
        count += inside
        high = np.where(inside, np.maximum(high, value), high)
        low = np.where(inside, np.minimum(low, value), low)
    mu = (2 * total + count) // (2 * count)
    return mu, bucket(high - low)


# ---------------------------------------------------------------------------- the encoder
def _level_costs() -> np.ndarray:
    """(LEVELS, MAX_RESIDUAL + 1) bits of a residual of magnitude d (the last column: any
    escaped one, without its uniform bits) under each level's table."""
    costs = np.empty((LEVELS, MAX_RESIDUAL + 1))
    for level in range(LEVELS):
        freq = TABLES[level].astype(np.float64)
        k = (len(freq) - 2) // 2
        bits = -np.log2(freq / freq.sum())
        costs[level, : k + 1] = bits[k : 2 * k + 1]
        costs[level, k + 1 :] = bits[-1]
    return costs


_COSTS = _level_costs()


def fit_levels(residual: np.ndarray, buckets: np.ndarray, bits: int) -> np.ndarray:
    """The level per bucket (UNUSED where no cell falls) that codes the bucket's residuals
    in the fewest bits (ties: the lower level)."""
    d = np.minimum(np.abs(residual), MAX_RESIDUAL)
    escaped = np.arange(MAX_RESIDUAL + 1)[None, :] > np.array([[(len(TABLES[l]) - 2) // 2] for l in range(LEVELS)])
    cost = _COSTS + escaped * bits  # an escaped residual also pays its uniform bits
    histograms = np.bincount(buckets * (MAX_RESIDUAL + 1) + d, minlength=BUCKETS * (MAX_RESIDUAL + 1))
    histograms = histograms.reshape(BUCKETS, MAX_RESIDUAL + 1)
    used = histograms.sum(axis=1) > 0
    return np.where(used, np.argmin(histograms @ cost.T, axis=1), UNUSED)


def _contexts(q: np.ndarray, top: int):
    """Per phase: the cells' (rows, cols) and their mu and bucket."""
    return [(rows, cols, *predict(q, rows, cols, offsets)) for rows, cols, offsets in phases(*q.shape, top)]


def encode_plane(plane: np.ndarray, bits: int, adaptive: bool = True) -> list[bytes]:
    """The chunks of an (H, W, C) plane, one per channel. ``adaptive=False`` (an ablation,
    still a valid file) gives every bucket of a channel the one level best for all its
    cells: interpolation without the context-chosen tables."""
    height, width, channels = plane.shape
    top = top_exponent(height, width)
    fitted = []
    for ch in range(channels):
        q = plane[:, :, ch].astype(np.int64)
        contexts = _contexts(q, top)
        if contexts:
            residual = np.concatenate([q[np.ix_(rows, cols)].reshape(-1) - mu for rows, cols, mu, _ in contexts])
            buckets = np.concatenate([b for *_, b in contexts])
            levels = fit_levels(residual, buckets if adaptive else np.zeros_like(buckets), bits)
            if not adaptive:
                levels = np.where(np.isin(np.arange(BUCKETS), buckets), levels[0], UNUSED)
        else:
            levels = np.full(BUCKETS, UNUSED, dtype=np.int64)
        fitted.append((q, contexts, levels))
    chunks = []
    step = 1 << top
    for q, contexts, levels in fitted:
        streams = []
        corner = q[::step, ::step].reshape(-1)
        shift = 0
        for width_bits in escape_parts(bits):
            streams.append(((corner >> shift) & ((1 << width_bits) - 1), uniform_table(width_bits)))
            shift += width_bits
        for rows, cols, mu, buckets in contexts:
            streams += level_streams(q[np.ix_(rows, cols)], mu, levels[buckets], TABLES, bits)
        chunks.append(bytes([top]) + bytes(levels.astype(np.uint8).tolist()) + encode_streams(streams))
    return chunks


# ---------------------------------------------------------------------------- the decoder
def decode_channel(data: bytes, height: int, width: int, bits: int) -> np.ndarray:
    reader = Reader(data, "ans-interp chunk")
    top = reader.byte()
    if top > MAX_TOP:
        raise PayloadError(f"ans-interp chunk has a top grid exponent of {top}, more than {MAX_TOP}")
    levels = np.frombuffer(reader.bytes(BUCKETS), dtype=np.uint8).astype(np.int64)
    if ((levels >= LEVELS) & (levels != UNUSED)).any():
        raise PayloadError(f"ans-interp chunk names a level beyond {LEVELS - 1}")
    words = reader.words()
    reader.end()
    q = np.zeros((height, width), dtype=np.int64)
    step = 1 << top
    try:
        coder = stream_coder(words)
        count = len(range(0, height, step)) * len(range(0, width, step))
        corner, shift = np.zeros(count, dtype=np.int64), 0
        for width_bits in escape_parts(bits):
            if count:
                corner |= coder.decode(model(uniform_table(width_bits)), count).astype(np.int64) << shift
            shift += width_bits
        q[::step, ::step] = corner.reshape(len(range(0, height, step)), -1)
        for rows, cols, offsets in phases(height, width, top):
            mu, buckets = predict(q, rows, cols, offsets)
            level = levels[buckets]
            if (level == UNUSED).any():
                raise PayloadError("ans-interp chunk has no level for a context bucket its cells fall in")
            values = decode_levels(coder, mu, level, TABLES, bits, "ans-interp")
            if values.size and (values.min() < 0 or values.max() >= 1 << bits):
                raise PayloadError("ans-interp stream decodes to symbols out of range")
            q[np.ix_(rows, cols)] = values.reshape(len(rows), len(cols))
        check_stream_end(coder, "ans-interp chunk")
    except FormatError:
        raise
    except Exception as exc:
        raise PayloadError(f"corrupt ans-interp stream: {exc}") from None
    return q


class InterpCoder:
    name = NAME
    chunk_type = NAME
    since = INTERP_VERSION
    param_keys = ()

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        return {}, encode_plane(plane, bits)

    def decode(self, params: dict, chunks: list[bytes], shape: tuple[int, int, int], bits: int) -> np.ndarray:
        height, width, channels = shape
        if len(chunks) != channels:
            raise HeaderError(f"ans-interp plane needs {channels} chunks, header lists {len(chunks)}")
        planes = [decode_channel(c, height, width, bits) for c in chunks]
        return np.stack(planes, axis=2).astype(np.uint16)
