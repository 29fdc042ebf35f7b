"""The ans-interp lossless coder (format 1.5): round trips, a decoder written from the spec
alone, the frozen level tables, version rules, malformed chunks and what its context model
buys over one static table."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gscc.codec.ans import encode_channel as ans_channel
from gscc.codec.config import preset
from gscc.codec.context_coding import level_table, put_tables
from gscc.codec.interp import BUCKETS, TABLES, TABLES_FILE, UNUSED, InterpCoder, bucket, top_exponent
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode
from gscc.container import INTERP_VERSION, pack, unpack
from gscc.errors import FormatError, HeaderError, PayloadError, VersionError
from gscc.io import load_splats
from spec_reader import SpecReader, table

SPEC = Path(__file__).resolve().parents[1] / "spec" / "codecs.md"
CODER = InterpCoder()


def round_trip(plane: np.ndarray, bits: int) -> list[bytes]:
    params, chunks = CODER.encode(plane, bits)
    assert params == {} and len(chunks) == plane.shape[2]
    np.testing.assert_array_equal(CODER.decode(params, chunks, plane.shape, bits), plane)
    return chunks


@st.composite
def planes(draw):
    bits = draw(st.integers(1, 16))
    h, w, c = draw(st.integers(1, 19)), draw(st.integers(1, 19)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["noise", "smooth", "constant", "extremes"]))
    top = (1 << bits) - 1
    if kind == "noise":
        plane = rng.integers(0, top + 1, (h, w, c))
    elif kind == "smooth":
        plane = np.clip(np.cumsum(rng.integers(-2, 3, (h, w, c)), axis=1) + top // 2, 0, top)
    elif kind == "constant":
        plane = np.full((h, w, c), rng.integers(0, top + 1))
    else:
        plane = rng.choice([0, top], (h, w, c))
    return plane.astype(np.uint16), bits


@settings(max_examples=60, deadline=None)
@given(planes())
def test_every_plane_round_trips(case):
    round_trip(*case)


# ---------------------------------------------------------------------------- the spec alone
def spec_tables() -> list[tuple[int, tuple[list[int], list[int]]]]:
    """The 64 fixed tables from the base64 block of spec/codecs.md's ans-interp section:
    per level (Kt, rANS table)."""
    section = SPEC.read_text().split("### `ans-interp` (format 1.5)")[1]
    block = re.search(r"```\n([A-Za-z0-9+/=\n]+)\n```", section.split("**The fixed level tables.**")[1]).group(1)
    r = SpecReader(base64.b64decode(block.replace("\n", "")))
    out = []
    for _ in range(r.varint()):
        r.byte()  # the level: levels 0..63 in order
        k, escape, n = r.varint(), r.varint(), r.varint()
        half, value = [1] * k, 0
        for i in range(n):
            z = r.varint()
            value = z if i == 0 else value + (z // 2 if z % 2 == 0 else -(z + 1) // 2)
            half[i] = value
        f0 = 65536 - escape - 2 * sum(half)
        out.append((k, table(half[::-1] + [f0] + half + [escape])))
    return out


def spec_decode_channel(data: bytes, h: int, w: int, b: int, tables) -> np.ndarray:
    """A plain-Python decoder of one ans-interp chunk, written from spec/codecs.md."""
    r = SpecReader(data)
    t = r.byte()
    level = [r.byte() for _ in range(32)]
    r.start_stream()
    q = [[None] * w for _ in range(h)]
    parts = [b] if b <= 8 else [8, b - 8]
    uniform = {p: table([1 << (16 - p)] * (1 << p)) for p in parts}

    def uniformly(count: int) -> list[int]:
        values, shift = [0] * count, 0
        for p in parts:
            for i in range(count):
                values[i] |= r.symbol(*uniform[p]) << shift
            shift += p
        return values

    top = [(i, j) for i in range(0, h, 1 << t) for j in range(0, w, 1 << t)]
    for (i, j), v in zip(top, uniformly(len(top))):
        q[i][j] = v
    for e in range(t - 1, -1, -1):
        s = 1 << e
        for r0, c0, offsets in ((s, s, [(-s, -s), (-s, s), (s, -s), (s, s)]),
                                (0, s, [(0, -s), (0, s), (-s, 0), (s, 0)]),
                                (s, 0, [(-s, 0), (s, 0), (0, -s), (0, s)])):
            cells = [(i, j) for i in range(r0, h, 2 * s) for j in range(c0, w, 2 * s)]
            mus, levels = [], []
            for i, j in cells:
                v = [q[i + di][j + dj] for di, dj in offsets if 0 <= i + di < h and 0 <= j + dj < w]
                n, a = len(v), max(v) - min(v)
                mus.append((2 * sum(v) + n) // (2 * n))
                k = a if a < 2 else 2 * (a.bit_length() - 1) + ((a >> (a.bit_length() - 2)) & 1)
                assert level[k] != 255
                levels.append(level[k])
            symbols = [0] * len(cells)
            for lv in sorted(set(levels)):
                for x in [x for x in range(len(cells)) if levels[x] == lv]:
                    symbols[x] = r.symbol(*tables[lv][1])
            escaped = [x for x in range(len(cells)) if symbols[x] == 2 * tables[levels[x]][0] + 1]
            rest = dict(zip(escaped, uniformly(len(escaped))))
            for x, (i, j) in enumerate(cells):
                q[i][j] = rest[x] if x in rest else mus[x] + symbols[x] - tables[levels[x]][0]
    assert r.state == 0 and not r.words
    return np.array(q, dtype=np.int64)


@pytest.mark.parametrize("shape, bits", [((13, 21), 8), ((9, 6), 12), ((1, 1), 8), ((2, 17), 3), ((16, 16), 16)])
def test_a_decoder_written_from_the_spec_decodes_the_chunks(shape, bits):
    rng = np.random.default_rng(bits)
    top = (1 << bits) - 1
    smooth = np.cumsum(np.cumsum(rng.integers(-3, 4, shape), axis=0), axis=1) + top // 2
    smooth[rng.random(shape) < 0.1] = rng.integers(0, top + 1)  # outliers: escapes
    plane = np.clip(smooth, 0, top)[:, :, None].astype(np.uint16)
    (chunk,) = round_trip(plane, bits)
    np.testing.assert_array_equal(spec_decode_channel(chunk, *shape, bits, spec_tables()), plane[:, :, 0])


def test_the_fixed_tables_are_the_spec_bytes_and_the_encoders_gaussians():
    data = TABLES_FILE.read_bytes()
    assert data == put_tables({level: level_table(level) for level in range(64)})
    listed = spec_tables()
    for level in range(64):
        freqs, _ = listed[level][1]
        np.testing.assert_array_equal(np.array(freqs) // 256, TABLES[level])


def test_buckets_follow_the_spec_examples():
    a = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 49151, 49152, 65535])
    np.testing.assert_array_equal(bucket(a), [0, 1, 2, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 30, 31, 31])
    assert bucket(np.arange(1 << 16)).max() == BUCKETS - 1
    assert top_exponent(1, 1) == 0 and top_exponent(8, 8) == 0 and top_exponent(9, 8) == 1


# ---------------------------------------------------------------------------- what it buys
def test_context_buckets_beat_one_static_table_on_regions_of_different_spread():
    """A smooth plane whose noise is small on the left and large on the right: narrow tables
    where neighbours agree, wide ones where they differ, fewer bytes than `ans`."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:64, 0:64]
    spread = np.where(x < 32, 1, 12)
    plane = np.clip(128 + 40 * np.sin(x / 9.0) * np.cos(y / 11.0) + rng.normal(0, spread), 0, 255)
    plane = plane.astype(np.uint16)[:, :, None]
    (chunk,) = round_trip(plane, 8)
    assert len(chunk) < 0.95 * len(ans_channel(plane[:, :, 0], 8))
    levels = np.frombuffer(chunk[1:1 + BUCKETS], np.uint8)
    used = levels[levels != UNUSED]
    assert used.min() + 8 <= used.max()  # at least two octaves between the narrowest and widest


# ---------------------------------------------------------------------------- files
SAMPLE = load_splats(__import__("gscc.cli", fromlist=["SAMPLE"]).SAMPLE).subset(np.arange(300))


def interp_file():
    return unpack(encode(SAMPLE, preset("default").with_overrides(coder="ans-interp")))


def test_a_file_with_an_ans_interp_plane_is_1_5_and_decodes():
    container = interp_file()
    assert container.version == INTERP_VERSION
    assert all(e["coding"]["codec"] == "ans-interp" for e in container.header["attributes"].values() if "coding" in e)
    decoded = decode(pack(container))  # lossless: the same splats as with ans
    expected = decode(encode(SAMPLE, preset("default").with_overrides(coder="ans")))
    for name in ("means", "scales", "quats", "opacities", "sh0"):
        np.testing.assert_array_equal(getattr(decoded, name), getattr(expected, name))


def _rewrite_first(container, change):
    index = next(i for i, (kind, _) in enumerate(container.chunks) if kind == "ans-interp")
    kind, data = container.chunks[index]
    container.chunks[index] = (kind, change(bytearray(data)))
    return pack(container)


def _level_bytes(chunk: bytearray) -> bytes:
    chunk[1:1 + BUCKETS] = bytes([UNUSED] * BUCKETS)  # every bucket unused
    return bytes(chunk)


@pytest.mark.parametrize("change, error", [
    (lambda c: bytes([17]) + bytes(c[1:]), PayloadError),  # T > 16
    (lambda c: bytes(c[:1]) + bytes([100]) + bytes(c[2:]), PayloadError),  # a level byte in 64..254
    (_level_bytes, PayloadError),  # the cells' bucket has no level
    (lambda c: bytes(c) + b"\0", PayloadError),  # bytes after the words
    (lambda c: bytes(c[:20]), PayloadError),  # truncated before the words
])
def test_malformed_chunks_are_rejected(change, error):
    with pytest.raises(error):
        decode(_rewrite_first(interp_file(), change))


def test_an_ans_interp_plane_in_an_older_file_and_wrong_chunk_counts_are_rejected():
    container = interp_file()
    container.version = (1, 4)
    with pytest.raises(VersionError):
        decode(pack(container))
    plane = np.zeros((3, 3, 2), np.uint16)
    params, chunks = CODER.encode(plane, 8)
    with pytest.raises(HeaderError):
        CODER.decode(params, chunks[:1], plane.shape, 8)
    with pytest.raises(FormatError):
        CODER.decode(params, [chunks[0], chunks[0][:-1]], plane.shape, 8)


class UniformTables:
    """A table source (gscc.codec.learned.TableSource): every symbol equally likely."""

    name = "uniform"
    coding = "ans-table"

    def probabilities(self, quant) -> np.ndarray:
        return np.full((len(quant.lo), 1 << quant.bits), 1.0 / (1 << quant.bits))


def test_the_encoder_reports_every_candidate_and_keeps_the_smallest_of_autos():
    from gscc.codec.encoder import encode_tracked
    from gscc.codec.lossless import AUTO_CANDIDATES, REPORTED_CANDIDATES

    sizes: dict = {}
    data = encode_tracked(SAMPLE, preset("default"), {"opacities": UniformTables()}, sizes=sizes).data
    container = unpack(data)
    assert set(sizes["opacities"]) == {*REPORTED_CANDIDATES, "learned"}
    assert set(sizes["means"]) == set(REPORTED_CANDIDATES)  # no distribution: no learned candidate
    for name, candidates in sizes.items():
        entry = container.header["attributes"][name]["coding"]
        kept = sum(len(container.chunks[i][1]) for i in entry["chunks"])
        assert kept == min(size for coder, size in candidates.items() if coder in {*AUTO_CANDIDATES, "learned"}
                           and size is not None)
    assert data == encode(SAMPLE, preset("default"), {"opacities": UniformTables()})  # reporting changes nothing
