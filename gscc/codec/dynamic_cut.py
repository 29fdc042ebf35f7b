"""Cutting a dynamic `.gsc` file at segment boundaries (spec/dynamic.md, "Cutting").

The kept segments' chunks are copied byte for byte and renumbered, their spans rescaled
to [0, 1], ``scene.count`` and ``scene.frame_count`` updated, and the header re-packed
(with its CRC and the chunk table's). The kept part of the source is decoded first, so a
damaged source is refused rather than copied. numpy only, as the decoder.
"""

from __future__ import annotations

import math
from typing import Optional

from ..container import Container, pack, unpack
from ..errors import InputError
from ..index_range import parse_index_range
from .dynamic_decoder import (
    DynamicHeader, decode_segment_range, is_dynamic_header, map_segment_chunks, read_dynamic_header, segment_chunks,
)


def _split(text: str) -> tuple[str, Optional[str]]:
    """``"A:B"`` -> (A, B), ``"A"`` -> (A, None); either side of the colon may be empty."""
    value = text.strip()
    if ":" not in value:
        return value, None
    start, end = value.split(":", 1)
    return start.strip(), end.strip()


def parse_segments(text: str) -> tuple[int, Optional[int]]:
    """``"I:J"``: segments I up to, not including, J (I defaults to 0, J to the last one's
    end); ``"I"``: segment I alone. Returns (first, stop); stop None: to the end."""
    try:
        return parse_index_range(text)
    except ValueError:
        raise ValueError(f"--segments must be I:J or I (whole numbers), got {text!r}") from None


def parse_time_span(text: str) -> tuple[float, float]:
    """``"A:B"`` (A defaults to 0, B to 1) or one time ``"A"`` (A:A), in [0, 1]."""
    start, end = _split(text)
    try:
        a = float(start) if start else 0.0
        b = a if end is None else (float(end) if end else 1.0)
    except ValueError:
        raise ValueError(f"--time must be A:B or A (numbers in [0, 1]), got {text!r}") from None
    if not (0.0 <= a <= b <= 1.0):
        raise ValueError(f"--time {text}: need 0 <= A <= B <= 1")
    return a, b


def segments_covering(head: DynamicHeader, start: float, end: float) -> tuple[int, int]:
    """(first, stop) of the segments that cover the times [start, end): those whose span
    [a_i, b_i) meets it; for start == end, the one segment showing that time."""
    if start == end:
        index = head.segment_index(start)
        return index, index + 1
    kept = [i for i, (a, b) in enumerate(head.spans) if a < end and start < b]
    return kept[0], kept[-1] + 1


def rescaled_frame_count(frame_count: Optional[int], start: float, end: float) -> Optional[int]:
    """The kept span's frame count: max(1, round((end − start) × frame_count)), rounding
    half to even in float64 (nil stays nil)."""
    return None if frame_count is None else max(1, round((end - start) * frame_count))


def _dynamic_source(data: bytes) -> Container:
    """The source's header (no chunk read), refusing a static file."""
    container = unpack(data, select=lambda header: set())
    if not is_dynamic_header(container.header):
        raise InputError("holds a static scene: only a dynamic .gsc file (format 1.3) has segments to cut")
    return container


def _checked_selection(first: int, stop: Optional[int], count: int) -> tuple[int, int]:
    stop = count if stop is None else stop
    if not 0 <= first < stop <= count:
        raise ValueError(
            f"segments {first}:{stop} select nothing the file has: it holds segments 0..{count - 1} "
            f"(give I:J with 0 <= I < J <= {count})"
        )
    return first, stop


def cut(data: bytes, first: int, stop: Optional[int] = None) -> bytes:
    """The dynamic `.gsc` file of segments ``first`` up to ``stop`` (exclusive; None: the
    last) of ``data``. InputError for a static file, ValueError for an empty or
    out-of-range selection, FormatError when the kept part of the source is invalid."""
    container = _dynamic_source(data)
    head = read_dynamic_header(container.header, container.version)
    first, stop = _checked_selection(first, stop, len(head.segments))
    wanted = set().union(*(segment_chunks(head.segments[i]) for i in range(first, stop)))
    source = unpack(data, select=lambda header: wanted)
    head = read_dynamic_header(source.header, source.version)
    decode_segment_range(source, head, first, stop)  # the kept part is valid: copied, it makes a valid file
    low, high = (min(wanted), max(wanted)) if wanted else (0, -1)
    a_first, b_last = head.segments[first]["start"], head.segments[stop - 1]["end"]
    length = b_last - a_first
    segments = []
    for entry in head.segments[first:stop]:
        renumbered = map_segment_chunks(entry, lambda index: index - low)
        renumbered["start"] = (entry["start"] - a_first) / length
        renumbered["end"] = (entry["end"] - a_first) / length
        segments.append(renumbered)
    scene = dict(source.header["scene"])
    scene["count"] = sum(entry["count"] for entry in segments)
    if "frame_count" in scene:
        scene["frame_count"] = rescaled_frame_count(head.frame_count, a_first, b_last)
    new = {"scene": scene, "segments": segments}
    header = {key: new.get(key, value) for key, value in source.header.items()}  # the source's key order
    if not all(math.isfinite(s["start"]) and s["start"] < s["end"] for s in segments):
        raise ValueError("the kept segments' spans are too short to rescale to [0, 1] in float64")
    read_dynamic_header(header, source.version)  # the new segment table adds up (rules D5-D8)
    return pack(Container(header, source.chunks[low:high + 1], source.version))


def cut_time(data: bytes, start: float, end: float) -> bytes:
    """The dynamic `.gsc` file of the segments of ``data`` that cover times [start, end)."""
    container = _dynamic_source(data)
    head = read_dynamic_header(container.header, container.version)
    return cut(data, *segments_covering(head, start, end))
