"""`gscc cut`: a dynamic `.gsc` file cut at segment boundaries (spec/dynamic.md, "Cutting").

The kept segments decode to exactly the arrays the conformance manifest lists for the
source's segments, the cut file passes every validity rule, its chunks are the source's
bytes, and bad selections or inputs are one-line errors that write nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gscc.codec.attributes import attribute_arrays
from gscc.codec.dynamic_cut import cut, cut_time, parse_segments, parse_time_span, rescaled_frame_count, segments_covering
from gscc.codec.dynamic_decoder import decode_dynamic, dynamic_header, segment_chunks
from gscc.container import unpack
from gscc.errors import FormatError, InputError
from gscc.info import summarize
from test_robustness import assert_one_line_error, gscc_cli  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = ROOT / "conformance"
VECTORS = {e["name"]: e for e in json.loads((CONFORMANCE / "manifest.json").read_text())["vectors"]}
SOURCE = CONFORMANCE / VECTORS["dynamic-segments"]["file"]
DATA = SOURCE.read_bytes()
EXPECTED = VECTORS["dynamic-segments"]["decoded"]  # three segments: [0, 0.25), [0.25, 0.6), [0.6, 1]
RANGES = [(i, j) for i in range(3) for j in range(i + 1, 4)]


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array.astype("<f4")).tobytes()).hexdigest()


def segment_hashes(segment) -> tuple[dict, dict]:
    return ({name: sha256(a) for name, a in attribute_arrays(segment.splats.static).items()},
            {name: sha256(a) for name, a in segment.splats.motion.arrays().items()})


@pytest.mark.parametrize("first, stop", RANGES, ids=[f"{i}:{j}" for i, j in RANGES])
def test_kept_segments_decode_to_the_sources_arrays(first: int, stop: int) -> None:
    data = cut(DATA, first, stop)
    scene = decode_dynamic(data)  # every validity rule, every chunk referenced once included
    summarize(data)
    kept = EXPECTED["segments"][first:stop]
    assert [segment_hashes(s) for s in scene.segments] == [(want["arrays"], want["motion"]) for want in kept]
    a, b = kept[0]["start"], kept[-1]["end"]
    assert [(s.start, s.end) for s in scene.segments] == [((w["start"] - a) / (b - a), (w["end"] - a) / (b - a)) for w in kept]
    assert scene.segments[0].start == 0.0 and scene.segments[-1].end == 1.0
    assert scene.count == sum(w["count"] for w in kept)
    assert scene.fps == EXPECTED["fps"]
    assert scene.frame_count == max(1, round((b - a) * EXPECTED["frame_count"]))
    assert [e["moving"] for e in unpack(data).header["segments"]] == [w["moving"] for w in kept]


@pytest.mark.parametrize("first, stop", RANGES, ids=[f"{i}:{j}" for i, j in RANGES])
def test_kept_chunks_are_the_sources_bytes_renumbered(first: int, stop: int) -> None:
    source, result = unpack(DATA), unpack(cut(DATA, first, stop))
    kept = sorted(set().union(*(segment_chunks(e) for e in source.header["segments"][first:stop])))
    assert kept == list(range(kept[0], kept[-1] + 1))
    assert result.chunks == [source.chunks[i] for i in kept]
    for old, new in zip(source.header["segments"][first:stop], result.header["segments"]):
        assert sorted(segment_chunks(new)) == [i - kept[0] for i in sorted(segment_chunks(old))]


@pytest.mark.parametrize("name", [n for n in VECTORS if n.startswith("dynamic-")])
def test_cutting_every_segment_gives_the_file_back(name: str) -> None:
    data = (CONFORMANCE / VECTORS[name]["file"]).read_bytes()
    assert cut(data, 0) == data
    assert cut_time(data, 0.0, 1.0) == data


@pytest.mark.parametrize("span, kept", [
    ((0.0, 0.25), (0, 1)), ((0.0, 0.2500001), (0, 2)), ((0.25, 0.6), (1, 2)), ((0.1, 0.7), (0, 3)),
    ((0.6, 0.6), (2, 3)), ((1.0, 1.0), (2, 3)), ((0.3, 0.3), (1, 2)),
])
def test_a_time_span_keeps_the_segments_that_cover_it(span, kept) -> None:
    assert segments_covering(dynamic_header(DATA), *span) == kept


@settings(max_examples=60, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_the_kept_segments_cover_the_time_span_and_no_more(x: float, y: float) -> None:
    start, end = min(x, y), max(x, y)
    head = dynamic_header(DATA)
    first, stop = segments_covering(head, start, end)
    spans = head.spans[first:stop]
    assert spans[0][0] <= start and (end <= spans[-1][1] or spans[-1][1] == 1.0)
    if start < end:  # every kept segment meets [start, end)
        assert all(a < end and start < b for a, b in spans)


def test_frame_count_of_a_kept_span_rounds_half_to_even() -> None:
    assert rescaled_frame_count(100, 0.25, 0.6) == 35
    assert rescaled_frame_count(10, 0.0, 0.25) == 2  # 2.5 -> 2
    assert rescaled_frame_count(3, 0.0, 0.1) == 1  # never 0
    assert rescaled_frame_count(None, 0.0, 0.5) is None


@pytest.mark.parametrize("text, parsed", [("1:3", (1, 3)), ("2", (2, 3)), (":2", (0, 2)), ("1:", (1, None))])
def test_segment_selections_parse(text, parsed) -> None:
    assert parse_segments(text) == parsed


@pytest.mark.parametrize("text, parsed", [("0.2:0.5", (0.2, 0.5)), ("0.3", (0.3, 0.3)), (":0.5", (0.0, 0.5)), ("0.5:", (0.5, 1.0))])
def test_time_selections_parse(text, parsed) -> None:
    assert parse_time_span(text) == parsed


@pytest.mark.parametrize("first, stop", [(2, 2), (3, 4), (-1, 2), (1, 9)])
def test_empty_or_out_of_range_selections_are_refused(first, stop) -> None:
    with pytest.raises(ValueError, match="holds segments 0..2") as caught:
        cut(DATA, first, stop)
    assert "\n" not in str(caught.value)


def test_a_static_file_is_refused() -> None:
    with pytest.raises(InputError, match="static scene"):
        cut((CONFORMANCE / VECTORS["plant-png"]["file"]).read_bytes(), 0)


def test_a_damaged_kept_segment_is_refused_and_others_do_not_matter() -> None:
    source = unpack(DATA)
    last = max(segment_chunks(source.header["segments"][0]))
    body = source.chunks[last][1]
    offset = DATA.rindex(body)
    broken = DATA[:offset] + bytes([body[0] ^ 0xFF]) + DATA[offset + 1:]  # segment 0's last chunk: CRC now wrong
    with pytest.raises(FormatError, match="checksum"):
        cut(broken, 0, 2)
    assert cut(broken, 1) == cut(DATA, 1)


def test_gscc_cut_writes_the_kept_segments(gscc_cli, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "cut.gsc"
    result = gscc_cli("cut", SOURCE, "-o", out, "--segments", "1:3")
    assert result.code == 0, result.stderr
    assert out.read_bytes() == cut(DATA, 1, 3)
    assert gscc_cli("cut", SOURCE, "-o", out, "--time", "0.3", "--force").code == 0
    assert out.read_bytes() == cut(DATA, 1, 2)


@pytest.mark.parametrize("args, code", [
    (["--segments", "3:5"], 2), (["--segments", "2:1"], 2), (["--segments", "a:b"], 2), (["--time", "0.5:2"], 2),
    ([], 1), (["--segments", "0", "--time", "0.5"], 1),
])
def test_gscc_cut_refuses_bad_selections_in_one_line(gscc_cli, tmp_path: Path, args, code) -> None:  # noqa: F811
    result = gscc_cli("cut", SOURCE, "-o", tmp_path / "cut.gsc", *args)
    assert_one_line_error(result)
    assert result.code == code
    assert list(tmp_path.iterdir()) == []


def test_gscc_cut_refuses_a_static_or_invalid_file_and_keeps_an_existing_output(gscc_cli, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "cut.gsc"
    out.write_bytes(b"keep")
    for source, message in ((CONFORMANCE / VECTORS["plant-png"]["file"], "static scene"),
                            (CONFORMANCE / "invalid" / "dynamic-counts-sum.gsc", "does not add up")):
        result = gscc_cli("cut", source, "-o", out, "--segments", "0", "--force")
        assert message in assert_one_line_error(result)
        assert result.code == 1
    assert "exists" in assert_one_line_error(gscc_cli("cut", SOURCE, "-o", out, "--segments", "0"))
    assert out.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.gsc"]
