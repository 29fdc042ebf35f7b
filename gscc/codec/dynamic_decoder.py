"""The dynamic decoder: format 1.3 `.gsc` bytes to a gscc.dynamic.DynamicScene (numpy only).

A segment is decoded as a static scene (gscc.codec.decoder) plus its motion planes, the
static-splat mask and the motion model's shared arrays (spec/dynamic.md). One segment can
be decoded without reading the others' chunks (:func:`decode_segment`, :func:`decode_at`):
a player seeking to time t reads the header and that segment's chunks only.

Every rejection names its rule's error class (spec/validation.md, "Dynamic scenes", rules
D1-D13): a FormatError subclass of gscc.errors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..container import DYNAMIC_VERSION, Container, unpack, unpack_weights
from ..dynamic import DynamicScene, DynamicSplats, Segment, motion_from_arrays
from ..dynamic.splats import StaticSplats
from ..errors import GsccError, HeaderError, LimitError, PayloadError, VersionError
from ..splats import MAX_SH_DEGREE
from .decoder import COLORS, MAX_SPLATS, decode_attribute, decode_container, finite_float32, valid_cells
from .header_fields import check_keys, int_field
from .dynamic_layout import MotionLayout, read_motion_entry
from .learned import Context
from .lossless import decode_plane
from .motion_window import MotionWindow

MAX_SEGMENTS = 4096
MAX_FPS = 1000.0
MAX_FRAMES = (1 << 31) - 1
# keys of a segment entry (or anything inside it) that refer to chunks
CHUNK_KEYS = ("padding", "weights", "shared")
# the keys of the dynamic scene map and of a segment entry (spec/dynamic.md, rule D2)
SCENE_KEYS, SCENE_OPTIONAL = ("kind", "count", "sh_degree", "motion"), ("color", "fps", "frame_count")
SEGMENT_KEYS = ("start", "end", "count", "grid", "attributes", "moving")
SEGMENT_OPTIONAL = ("color_mlp", "motion_mask", "shared", "motion_window")


@dataclass(frozen=True)
class DynamicHeader:
    """The checked scene description of a dynamic file."""

    count: int
    sh_degree: int
    color: str
    fps: Optional[float]
    frame_count: Optional[int]
    kind: str
    layout: MotionLayout
    params: dict
    segments: list  # the segment entries, spans and counts checked

    @property
    def spans(self) -> list[tuple[float, float]]:
        return [(s["start"], s["end"]) for s in self.segments]

    @property
    def duration(self) -> Optional[float]:
        """Seconds the scene lasts, when its frame rate and frame count are known."""
        return self.frame_count / self.fps if self.fps and self.frame_count else None

    def segment_index(self, t: float) -> int:
        """The segment showing global time ``t`` (clamped to [0, 1]); as DynamicScene.segment_at."""
        t = min(max(float(t), 0.0), 1.0)
        for i, (_, end) in enumerate(self.spans):
            if t < end:
                return i
        return len(self.segments) - 1


def is_dynamic_header(header: dict) -> bool:
    scene = header.get("scene")
    return isinstance(scene, dict) and scene.get("kind") == "dynamic"


def is_dynamic_gsc(data: bytes) -> bool:
    """Whether a `.gsc` file's header says it holds a dynamic scene (no chunk is read).
    False for a file whose header cannot be read: the static decoder then says what is wrong."""
    try:
        return is_dynamic_header(unpack(data, select=lambda header: set()).header)
    except (AttributeError, GsccError):
        return False


def _optional_number(scene: dict, key: str, low: float, high: float, integer: bool) -> Optional[float]:
    """``scene[key]``: nil (or absent), or an integer (``integer``) / a float in low..high."""
    value = scene.get(key)
    if value is None:
        return None
    kind = int if integer else float
    if not isinstance(value, kind) or isinstance(value, bool) or not math.isfinite(value) or not low <= value <= high:
        expected = f"an integer in {low}..{high}" if integer else f"a float in {low:g}..{high:g}"
        raise HeaderError(f"scene field {key!r} must be nil or {expected}")
    return value


def _is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def map_segment_chunks(entry: object, change: Callable[[int], int]) -> object:
    """A copy of a segment entry with every chunk index it refers to (every integer of a
    ``chunks`` list, the integer value of a ``padding``, ``weights`` or ``shared`` key, at
    any depth) replaced by ``change(index)``."""
    if isinstance(entry, dict):
        result = {}
        for key, value in entry.items():
            if key == "chunks" and isinstance(value, list):
                result[key] = [change(v) if _is_index(v) else v for v in value]
            elif key in CHUNK_KEYS and _is_index(value):
                result[key] = change(value)
            else:
                result[key] = map_segment_chunks(value, change)
        return result
    if isinstance(entry, list):
        return [map_segment_chunks(v, change) for v in entry]
    return entry


def segment_chunks(entry: object) -> set[int]:
    """Every chunk index a segment entry refers to (rule D8)."""
    found: set[int] = set()

    def note(index: int) -> int:
        found.add(index)
        return index

    map_segment_chunks(entry, note)
    return found


def read_dynamic_header(header: dict, version: tuple[int, int] = DYNAMIC_VERSION) -> DynamicHeader:
    """Check a dynamic file's scene and segment table (spec/validation.md, rules D1-D8)."""
    if not is_dynamic_header(header):
        raise HeaderError("header describes no dynamic scene")
    if version < DYNAMIC_VERSION:
        raise VersionError("a dynamic scene needs format %d.%d or later; the file declares %d.%d"
                           % (*DYNAMIC_VERSION, *version))
    scene = check_keys(header["scene"], "scene", SCENE_KEYS, SCENE_OPTIONAL)
    count = int_field(scene, "count", 1, MAX_SPLATS, above=LimitError, what="scene")
    sh_degree = int_field(scene, "sh_degree", 0, MAX_SH_DEGREE, what="scene")
    color = scene.get("color", "sh")
    if not isinstance(color, str) or color not in COLORS:
        raise HeaderError(f"unknown scene colour {color!r}")
    fps = _optional_number(scene, "fps", 1e-3, MAX_FPS, integer=False)
    frames = _optional_number(scene, "frame_count", 1, MAX_FRAMES, integer=True)
    layout, params = read_motion_entry(scene["motion"])
    segments = header.get("segments")
    if not isinstance(segments, list) or not segments:
        raise HeaderError(f"segment table is missing, not an array or empty (it holds 1..{MAX_SEGMENTS} segments)")
    if len(segments) > MAX_SEGMENTS:
        raise LimitError(f"the segment table has {len(segments)} segments, more than {MAX_SEGMENTS}")
    previous_end, total, last_chunk = 0.0, 0, -1
    for i, entry in enumerate(segments):
        check_keys(entry, f"segment {i}", SEGMENT_KEYS, SEGMENT_OPTIONAL)
        start, end = entry["start"], entry["end"]
        if not all(isinstance(v, float) and math.isfinite(v) for v in (start, end)):
            raise HeaderError(f"segment table does not add up: segment {i}'s start and end must be finite floats")
        if start != previous_end or not start < end <= 1.0:
            raise HeaderError(
                f"segment table does not add up: segment {i} spans [{start}, {end}], expected it to start at "
                f"{previous_end} and end after its start, by 1"
            )
        previous_end = end
        total += int_field(entry, "count", 1, MAX_SPLATS, above=LimitError, what=f"segment {i}")
        chunks = segment_chunks(entry)
        if chunks and min(chunks) <= last_chunk:
            raise HeaderError(f"segment {i} refers to chunks before the end of segment {i - 1}'s")
        last_chunk = max(chunks, default=last_chunk)
    if previous_end != 1.0:
        raise HeaderError(f"segment table does not add up: the segments end at {previous_end}, not 1")
    if total != count:
        raise HeaderError(f"segment table does not add up: its segments hold {total} splats, the scene {count}")
    return DynamicHeader(count, sh_degree, color, fps, frames, scene["motion"]["kind"], layout, params, segments)


def _motion_mask(view: Container, entry: dict, grid: tuple[int, int], cells: np.ndarray, moving: int, index: int) -> np.ndarray:
    n = len(cells)
    mask = entry.get("motion_mask")
    if moving in (0, n):
        if mask is not None:
            raise HeaderError(f"segment {index}: {'all' if moving else 'none'} of its splats move, yet it has a motion mask")
        return np.full(n, moving == n)
    if not isinstance(mask, dict):
        raise HeaderError(f"segment {index} has no motion mask but only {moving} of its {n} splats move")
    plane = decode_plane(view, mask, (grid[0], grid[1], 1), 1).reshape(-1)[cells].astype(bool)
    if int(plane.sum()) != moving:
        raise PayloadError(f"segment {index}: motion mask marks {int(plane.sum())} moving splats, the segment says {moving}")
    return plane


def _shared_arrays(view: Container, entry: dict, shapes: dict[str, tuple[int, ...]], index: int) -> dict[str, np.ndarray]:
    if not shapes:
        if entry.get("shared") is not None:
            raise HeaderError(f"segment {index} has shared motion arrays, which its motion model does not use")
        return {}
    if entry.get("shared") is None:
        raise HeaderError(f"segment {index} has no shared motion arrays (shared is nil); its motion model needs {sorted(shapes)}")
    arrays = unpack_weights(view.chunk(entry.get("shared"), "weights"))
    if set(arrays) != set(shapes):
        raise PayloadError(f"shared motion arrays are {sorted(arrays)}, expected {sorted(shapes)}")
    for name, shape in shapes.items():
        a = arrays[name]
        if a.dtype != np.dtype("<f4") or a.shape != shape or not np.isfinite(a).all():
            raise PayloadError(f"shared motion array {name!r} must be finite f4 of shape {shape}")
    return arrays


def _remove_window(entry: dict, head: DynamicHeader, arrays: dict[str, np.ndarray], index: int) -> None:
    """Divide the windowed motion planes by their splats' windows (spec/dynamic.md,
    "Motion window"), when the segment has one."""
    if entry.get("motion_window") is None:
        return
    if head.layout.window_powers is None:
        raise HeaderError(f"segment {index} has a motion window, which motion model {head.kind!r} does not use")
    window = MotionWindow.from_header(entry["motion_window"])
    half = window.half_window(arrays[head.layout.window_source])
    with np.errstate(all="ignore"):
        for name, powers in head.layout.window_powers(head.params).items():
            if arrays[name].shape[1]:
                arrays[name] = finite_float32(window.remove(arrays[name], powers, half),
                                              f"segment {index}: attribute {name!r} without its motion window")


def decode_segment_entry(container: Container, head: DynamicHeader, index: int) -> Segment:
    """Segment ``index`` of a container whose header ``head`` describes (its chunks read)."""
    entry = head.segments[index]
    n = entry["count"]
    attributes = entry.get("attributes")
    if not isinstance(attributes, dict):
        raise HeaderError(f"segment {index} has no attribute map")
    planes = head.layout.planes(head.params)
    static_header = {
        "scene": {"kind": "static", "count": n, "sh_degree": head.sh_degree, "color": head.color},
        "grid": entry.get("grid"),
        "attributes": {k: v for k, v in attributes.items() if k not in planes},
        **({"color_mlp": entry["color_mlp"]} if "color_mlp" in entry else {}),  # H7: present exactly for MLP colours
    }
    # the segment's chunk reads are counted with the file's (every chunk read exactly once)
    view = Container(static_header, container.chunks, container.version, container.referenced)
    context: Context = {}
    grid, cells = valid_cells(view, n)
    static = decode_container(view, context, (grid, cells))
    moving = int_field(entry, "moving", 0, n, what=f"segment {index}")
    mask = _motion_mask(view, entry, grid, cells, moving, index)
    arrays = {}
    with np.errstate(all="ignore"):
        for name, channels in planes.items():
            absent = channels == 0 or (name in head.layout.moving and moving == 0)
            if absent:
                if name in attributes:
                    raise HeaderError(f"segment {index} codes {name!r}, which it must leave out")
                arrays[name] = np.zeros((n, channels), np.float32)
                continue
            if name not in attributes:
                raise HeaderError(f"segment {index} lacks attribute {name!r}")
            plane = decode_attribute(view, attributes[name], grid, channels, context, name)
            values = finite_float32(plane, f"segment {index}: attribute {name!r}")[cells]  # every cell, as rule F1
            if name in head.layout.moving:
                values[~mask] = 0.0
            arrays[name] = values
    _remove_window(entry, head, arrays, index)
    arrays.update(_shared_arrays(view, entry, head.layout.shared(head.params), index))
    try:
        motion = motion_from_arrays(head.kind, arrays)
        return Segment(entry["start"], entry["end"], DynamicSplats(static, motion))
    except ValueError as exc:
        raise PayloadError(f"segment {index}: {exc}") from None


def dynamic_header(data: bytes) -> DynamicHeader:
    """The checked scene description of a dynamic file, reading no chunk."""
    container = unpack(data, select=lambda header: set())
    return read_dynamic_header(container.header, container.version)


def decode_segment_range(container: Container, head: DynamicHeader, first: int, stop: int) -> list[Segment]:
    """Segments ``first`` up to ``stop`` (exclusive) of a container holding their chunks,
    then rule H11: every chunk of the file (all segments) or of their run of the chunk
    table, from their first chunk to their last, was read exactly once."""
    segments = [decode_segment_entry(container, head, i) for i in range(first, stop)]
    if first == 0 and stop == len(head.segments):
        container.check_all_referenced()
    else:
        chunks = set().union(*(segment_chunks(head.segments[i]) for i in range(first, stop)))
        container.check_all_referenced(range(min(chunks, default=0), max(chunks, default=-1) + 1))
    return segments


def decode_segments(container: Container, head: DynamicHeader) -> list[Segment]:
    """Every segment of a whole file's container (rule H11 over the whole file)."""
    return decode_segment_range(container, head, 0, len(head.segments))


def decode_dynamic(data: bytes) -> DynamicScene:
    """Every segment of a dynamic `.gsc` file. Raises FormatError for anything malformed."""
    container = unpack(data)
    head = read_dynamic_header(container.header, container.version)
    return DynamicScene(decode_segments(container, head), fps=head.fps, frame_count=head.frame_count)


def _selecting(index_of) -> tuple[dict, callable]:
    """A chunk selector for unpack that checks the header and picks one segment's chunks."""
    found: dict = {}

    def select(header: dict) -> set[int]:
        head = read_dynamic_header(header)
        index = index_of(head)
        if not isinstance(index, int) or not 0 <= index < len(head.segments):
            raise ValueError(f"no segment {index!r}: the file has {len(head.segments)}")
        found.update(head=head, index=index)
        return segment_chunks(head.segments[index])

    return found, select


def _decode_selected(container: Container, index: int) -> Segment:
    """Segment ``index`` of a container holding only its chunks."""
    head = read_dynamic_header(container.header, container.version)
    return decode_segment_range(container, head, index, index + 1)[0]


def decode_segment(data: bytes, index: int) -> Segment:
    """Segment ``index`` alone: only its chunks are read (and checksummed)."""
    found, select = _selecting(lambda head: index)
    return _decode_selected(unpack(data, select=select), found["index"])


def decode_segment_at(data: bytes, t: float) -> tuple[Segment, float]:
    """The segment showing global time ``t`` (only its chunks read) and the local time in it."""
    found, select = _selecting(lambda head: head.segment_index(t))
    segment = _decode_selected(unpack(data, select=select), found["index"])
    return segment, segment.local(min(max(float(t), 0.0), 1.0))


def decode_at(data: bytes, t: float) -> StaticSplats:
    """The static splats at global time ``t`` in [0, 1] (one segment decoded)."""
    segment, local = decode_segment_at(data, t)
    return segment.splats.at(local)
