"""The dynamic decoder: format 1.3 `.gsc` bytes to a gscc.dynamic.DynamicScene (numpy only).

A segment is decoded as a static scene (gscc.codec.decoder) plus its motion planes, the
static-splat mask and the motion model's shared arrays (spec/dynamic.md). One segment can
be decoded without reading the others' chunks (:func:`decode_segment`, :func:`decode_at`):
a player seeking to time t reads the header and that segment's chunks only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..container import DYNAMIC_VERSION, Container, unpack, unpack_weights
from ..dynamic import DynamicScene, DynamicSplats, Segment, motion_from_arrays
from ..dynamic.splats import StaticSplats
from ..errors import FormatError, GsccError, VersionError
from ..splats import MAX_SH_DEGREE
from .decoder import COLORS, MAX_SPLATS, decode_attribute, decode_container, valid_cells
from .header_fields import int_field
from .dynamic_layout import MotionLayout, read_motion_entry
from .learned import Context
from .lossless import decode_plane
from .motion_window import MotionWindow

MAX_SEGMENTS = 4096
MAX_FPS = 1000.0
MAX_FRAMES = (1 << 31) - 1
# keys of a segment entry (or anything inside it) that refer to chunks
CHUNK_KEYS = ("padding", "weights", "shared")


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
    value = scene.get(key)
    if value is None:
        return None
    kinds = (int,) if integer else (int, float)
    if not isinstance(value, kinds) or isinstance(value, bool) or not math.isfinite(value) or not low <= value <= high:
        raise FormatError(f"scene field {key!r} must be nil or a number in {low:g}..{high:g}")
    return value


def _is_index(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def map_chunk_references(entry: object, fn) -> object:
    """A copy of a segment entry with every chunk index ``i`` it refers to (``chunks``
    lists, ``padding``, ``weights`` and ``shared``, at any depth of its maps) replaced by
    ``fn(i)``."""
    if not isinstance(entry, dict):
        return entry
    mapped = {}
    for key, value in entry.items():
        if key == "chunks" and isinstance(value, list):
            mapped[key] = [fn(v) if _is_index(v) else v for v in value]
        elif key in CHUNK_KEYS and _is_index(value):
            mapped[key] = fn(value)
        else:
            mapped[key] = map_chunk_references(value, fn)
    return mapped


def segment_chunks(entry: object) -> set[int]:
    """Every chunk index a segment entry refers to (see :func:`map_chunk_references`)."""
    found: set[int] = set()

    def note(index: int) -> int:
        found.add(index)
        return index

    map_chunk_references(entry, note)
    return found


def read_dynamic_header(header: dict, version: tuple[int, int] = DYNAMIC_VERSION) -> DynamicHeader:
    """Check a dynamic file's scene and segment table (spec/dynamic.md, "Validity")."""
    if version < DYNAMIC_VERSION:
        raise VersionError("a dynamic scene needs format %d.%d or later" % DYNAMIC_VERSION)
    scene = header.get("scene")
    if not is_dynamic_header(header):
        raise FormatError("header describes no dynamic scene")
    count = int_field(scene, "count", 1, MAX_SPLATS)
    sh_degree = int_field(scene, "sh_degree", 0, MAX_SH_DEGREE)
    color = scene.get("color", "sh")
    if color not in COLORS:
        raise FormatError(f"unknown scene colour {color!r}")
    fps = _optional_number(scene, "fps", 1e-3, MAX_FPS, integer=False)
    frames = _optional_number(scene, "frame_count", 1, MAX_FRAMES, integer=True)
    layout, params = read_motion_entry(scene.get("motion"))
    segments = header.get("segments")
    if not isinstance(segments, list) or not 1 <= len(segments) <= MAX_SEGMENTS:
        raise FormatError(f"segment table is missing or does not hold 1..{MAX_SEGMENTS} segments")
    previous_end, total, last_chunk = 0.0, 0, -1
    for i, entry in enumerate(segments):
        if not isinstance(entry, dict):
            raise FormatError(f"segment {i} is not a map")
        start, end = entry.get("start"), entry.get("end")
        if not all(isinstance(v, float) and math.isfinite(v) for v in (start, end)):
            raise FormatError(f"segment {i}: start and end must be finite floats")
        if start != previous_end or not start < end <= 1.0:
            raise FormatError(
                f"segment table does not add up: segment {i} spans [{start}, {end}], expected it to start at "
                f"{previous_end} and end after its start, by 1"
            )
        previous_end = end
        total += int_field(entry, "count", 1, MAX_SPLATS)
        chunks = segment_chunks(entry)
        if chunks and min(chunks) <= last_chunk:
            raise FormatError(f"segment {i} refers to chunks before the end of segment {i - 1}'s")
        last_chunk = max(chunks, default=last_chunk)
    if previous_end != 1.0:
        raise FormatError(f"segment table does not add up: the segments end at {previous_end}, not 1")
    if total != count:
        raise FormatError(f"segment table does not add up: its segments hold {total} splats, the scene {count}")
    return DynamicHeader(count, sh_degree, color, fps, frames, scene["motion"]["kind"], layout, params, segments)


def _motion_mask(view: Container, entry: dict, grid: tuple[int, int], cells: np.ndarray, moving: int) -> np.ndarray:
    n = len(cells)
    mask = entry.get("motion_mask")
    if moving in (0, n):
        if mask is not None:
            raise FormatError("a segment whose splats all move (or none) has a motion mask")
        return np.full(n, moving == n)
    if not isinstance(mask, dict):
        raise FormatError("segment has no motion mask but only some of its splats move")
    plane = decode_plane(view, mask, (grid[0], grid[1], 1), 1).reshape(-1)[cells].astype(bool)
    if int(plane.sum()) != moving:
        raise FormatError(f"motion mask marks {int(plane.sum())} moving splats, the segment says {moving}")
    return plane


def _shared_arrays(view: Container, entry: dict, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    if not shapes:
        if entry.get("shared") is not None:
            raise FormatError("segment has shared motion arrays its motion model does not use")
        return {}
    arrays = unpack_weights(view.chunk(entry.get("shared"), "weights"))
    if set(arrays) != set(shapes):
        raise FormatError(f"shared motion arrays are {sorted(arrays)}, expected {sorted(shapes)}")
    for name, shape in shapes.items():
        a = arrays[name]
        if a.dtype != np.dtype("<f4") or a.shape != shape or not np.isfinite(a).all():
            raise FormatError(f"shared motion array {name!r} must be finite f4 of shape {shape}")
    return arrays


def _remove_window(entry: dict, head: DynamicHeader, arrays: dict[str, np.ndarray], index: int) -> None:
    """Divide the windowed motion planes by their splats' windows (spec/dynamic.md,
    "Motion window"), when the segment has one."""
    if entry.get("motion_window") is None:
        return
    if head.layout.window_powers is None:
        raise FormatError(f"segment {index} has a motion window, which motion model {head.kind!r} does not use")
    window = MotionWindow.from_header(entry["motion_window"])
    half = window.half_window(arrays[head.layout.window_source])
    with np.errstate(all="ignore"):
        for name, powers in head.layout.window_powers(head.params).items():
            if arrays[name].shape[1]:
                arrays[name] = window.remove(arrays[name], powers, half)
                if not np.isfinite(arrays[name]).all():
                    raise FormatError(f"segment {index}: attribute {name!r} decodes to non-finite values")


def decode_segment_entry(container: Container, head: DynamicHeader, index: int) -> Segment:
    """Segment ``index`` of a container whose header ``head`` describes (its chunks read)."""
    entry = head.segments[index]
    n = entry["count"]
    attributes = entry.get("attributes")
    if not isinstance(attributes, dict):
        raise FormatError(f"segment {index} has no attribute map")
    planes = head.layout.planes(head.params)
    static_header = {
        "scene": {"kind": "static", "count": n, "sh_degree": head.sh_degree, "color": head.color},
        "grid": entry.get("grid"),
        "attributes": {k: v for k, v in attributes.items() if k not in planes},
        **({"color_mlp": entry.get("color_mlp")} if head.color == "mlp" else {}),
    }
    view = Container(static_header, container.chunks, container.version)
    context: Context = {}
    static = decode_container(view, context)
    unknown = sorted(set(attributes) - set(planes) - set(context) - {"shN"})
    if unknown:
        raise FormatError(f"segment {index} has attribute {unknown[0]!r}, which its scene does not have")
    grid, cells = valid_cells(view, n)
    moving = int_field(entry, "moving", 0, n)
    mask = _motion_mask(view, entry, grid, cells, moving)
    arrays = {}
    with np.errstate(all="ignore"):
        for name, channels in planes.items():
            absent = channels == 0 or (name in head.layout.moving and moving == 0)
            if absent:
                if name in attributes:
                    raise FormatError(f"segment {index} codes {name!r}, which it must leave out")
                arrays[name] = np.zeros((n, channels), np.float32)
                continue
            if name not in attributes:
                raise FormatError(f"segment {index} lacks attribute {name!r}")
            values = decode_attribute(view, attributes[name], grid, channels, context, name)[cells].astype(np.float32)
            if name in head.layout.moving:
                values[~mask] = 0.0
            if not np.isfinite(values).all():
                raise FormatError(f"segment {index}: attribute {name!r} decodes to non-finite values")
            arrays[name] = values
    _remove_window(entry, head, arrays, index)
    arrays.update(_shared_arrays(view, entry, head.layout.shared(head.params)))
    try:
        motion = motion_from_arrays(head.kind, arrays)
        return Segment(entry["start"], entry["end"], DynamicSplats(static, motion))
    except ValueError as exc:
        raise FormatError(f"segment {index}: {exc}") from None


def dynamic_header(data: bytes) -> DynamicHeader:
    """The checked scene description of a dynamic file, reading no chunk."""
    container = unpack(data, select=lambda header: set())
    return read_dynamic_header(container.header, container.version)


def decode_dynamic(data: bytes) -> DynamicScene:
    """Every segment of a dynamic `.gsc` file. Raises FormatError for anything malformed."""
    container = unpack(data)
    head = read_dynamic_header(container.header, container.version)
    segments = [decode_segment_entry(container, head, i) for i in range(len(head.segments))]
    return DynamicScene(segments, fps=head.fps, frame_count=head.frame_count)


def _selecting(index_of) -> tuple[dict, callable]:
    """A chunk selector for unpack that checks the header and picks one segment's chunks."""
    found: dict = {}

    def select(header: dict) -> set[int]:
        head = read_dynamic_header(header)
        index = index_of(head)
        if not isinstance(index, int) or not 0 <= index < len(head.segments):
            raise FormatError(f"no segment {index!r}: the file has {len(head.segments)}")
        found.update(head=head, index=index)
        return segment_chunks(head.segments[index])

    return found, select


def decode_segment(data: bytes, index: int) -> Segment:
    """Segment ``index`` alone: only its chunks are read (and checksummed)."""
    found, select = _selecting(lambda head: index)
    container = unpack(data, select=select)
    head = read_dynamic_header(container.header, container.version)
    return decode_segment_entry(container, head, found["index"])


def decode_segment_at(data: bytes, t: float) -> tuple[Segment, float]:
    """The segment showing global time ``t`` (only its chunks read) and the local time in it."""
    found, select = _selecting(lambda head: head.segment_index(t))
    container = unpack(data, select=select)
    head = read_dynamic_header(container.header, container.version)
    segment = decode_segment_entry(container, head, found["index"])
    return segment, segment.local(min(max(float(t), 0.0), 1.0))


def decode_at(data: bytes, t: float) -> StaticSplats:
    """The static splats at global time ``t`` in [0, 1] (one segment decoded)."""
    segment, local = decode_segment_at(data, t)
    return segment.splats.at(local)
