"""The ANS chunk layout in spec/codecs.md is enough to decode gscc's streams.

A plain-Python decoder written from the spec alone must reproduce what the library
decodes, for every predictor and for 8- and 16-bit planes.
"""

from __future__ import annotations

import numpy as np
import pytest

from gscc.codec.ans import decode_channel, encode_channel
from spec_reader import SpecReader, table


def spec_decode_channel(data: bytes, height: int, width: int, bits: int) -> np.ndarray:
    r = SpecReader(data)
    predictor, count = r.byte(), r.byte()
    tables = []
    for _ in range(count):
        alphabet = r.varint()
        tables.append(table([r.varint() for _ in range(alphabet)]))
    r.start_stream()

    def decode(t) -> int:
        return r.symbol(*t)

    n = height * width
    if count == 1:
        symbols = [decode(tables[0]) for _ in range(n)]
    else:
        high = [decode(tables[0]) for _ in range(n)]
        low = [0] * n
        for k in [k for k in range(n) if high[k] == 0]:
            low[k] = decode(tables[1])
        for k in [k for k in range(n) if high[k] > 0]:
            low[k] = decode(tables[2])
        symbols = [h * 256 + lo for h, lo in zip(high, low)]
    s = np.array(symbols, dtype=np.int64).reshape(height, width)
    if predictor == 0:
        return s
    d = np.where(s % 2 == 0, s // 2, -(s + 1) // 2)
    if predictor == 1:
        q = np.cumsum(d, axis=1)
    elif predictor == 2:
        q = np.cumsum(d, axis=0)
    else:
        q = np.cumsum(np.cumsum(d, axis=0), axis=1)
    return q % (1 << bits)


def _smooth_plane(rng: np.random.Generator, shape: tuple[int, int], bits: int, axis: int) -> np.ndarray:
    steps = rng.integers(-3, 4, shape)
    return np.cumsum(steps, axis=axis) % (1 << bits)


@pytest.mark.parametrize("bits", [4, 8, 12, 16])
@pytest.mark.parametrize("kind", ["noise", "rows", "columns", "constant"])
def test_spec_decoder_matches_library(bits: int, kind: str) -> None:
    rng = np.random.default_rng(bits)
    shape = (23, 31)
    if kind == "noise":
        q = rng.integers(0, 1 << bits, shape)
    elif kind == "rows":
        q = _smooth_plane(rng, shape, bits, axis=1)
    elif kind == "columns":
        q = _smooth_plane(rng, shape, bits, axis=0)
    else:
        q = np.full(shape, (1 << bits) - 1)
    chunk = encode_channel(q, bits)
    expected = decode_channel(chunk, *shape, bits)
    np.testing.assert_array_equal(expected, q)
    np.testing.assert_array_equal(spec_decode_channel(chunk, *shape, bits), q)


def test_encoder_picks_a_predictor_that_follows_the_data() -> None:
    rng = np.random.default_rng(0)
    rows = _smooth_plane(rng, (40, 40), 8, axis=1)
    assert encode_channel(rows, 8)[0] == 1  # left
    columns = _smooth_plane(rng, (40, 40), 8, axis=0)
    assert encode_channel(columns, 8)[0] == 2  # up
