"""The static decoder: `.gsc` bytes to a SplatSet. numpy, pillow, constriction, msgpack only."""

from __future__ import annotations

import numpy as np

from ..container import Container, unpack
from ..errors import FormatError
from ..splats import MAX_SH_DEGREE, SplatSet
from .attributes import ATTRIBUTES, splats_from_arrays
from .lossless import decode_plane
from .quantize import TRANSFORMS, QuantParams, dequantize, inverse_transform
from .vq import decode_vq

MAX_SPLATS = 1 << 26


def _int_field(mapping: object, key: str, low: int, high: int) -> int:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise FormatError(f"header field {key!r} is missing or out of range {low}..{high}")
    return value


def _scene(header: dict) -> tuple[int, int]:
    scene = header.get("scene")
    if not isinstance(scene, dict) or scene.get("kind") != "static":
        raise FormatError("header describes no static scene")
    return _int_field(scene, "count", 1, MAX_SPLATS), _int_field(scene, "sh_degree", 0, MAX_SH_DEGREE)


def valid_cells(container: Container, count: int) -> tuple[tuple[int, int], np.ndarray]:
    """Grid shape and the row-major indices of the cells that hold splats."""
    grid = container.header.get("grid")
    height = _int_field(grid, "height", 1, MAX_SPLATS)
    width = _int_field(grid, "width", 1, MAX_SPLATS)
    cells = height * width
    if cells < count or cells > 2 * count + 16:
        raise FormatError(f"grid {height}x{width} does not fit {count} splats")
    index = grid.get("padding")
    if index is None:
        padding = np.zeros(0, np.int64)
    else:
        data = container.chunk(index, "raw")
        if len(data) % 4:
            raise FormatError("padding chunk length is not a multiple of 4")
        padding = np.frombuffer(data, dtype="<u4").astype(np.int64)
    if len(padding) != cells - count:
        raise FormatError(f"grid has {cells - count} padding cells, padding chunk lists {len(padding)}")
    if len(padding) and (np.any(np.diff(padding) <= 0) or padding[-1] >= cells):
        raise FormatError("padding cells are not strictly increasing cell indices")
    keep = np.ones(cells, bool)
    keep[padding] = False
    return (height, width), np.flatnonzero(keep)


def decode_attribute(container: Container, entry: object, grid: tuple[int, int], channels: int) -> np.ndarray:
    """(H*W, channels) float64 values of one attribute, inverse-transformed."""
    if not isinstance(entry, dict):
        raise FormatError("attribute entry is not a map")
    codec = entry.get("codec")
    if not isinstance(codec, str):
        raise FormatError("attribute codec is not a string")
    if codec == "vq":
        return decode_vq(container, entry, grid, channels)
    if codec != "scalar":
        raise FormatError(f"unknown attribute codec {codec!r}")
    transform = entry.get("transform")
    if not isinstance(transform, str) or transform not in TRANSFORMS:
        raise FormatError(f"unknown transform {transform!r}")
    quant = QuantParams.from_header(entry.get("quant"), channels)
    plane = decode_plane(container, entry.get("coding"), (grid[0], grid[1], channels), quant.bits)
    return inverse_transform(transform, dequantize(plane.reshape(-1, channels), quant))


def decode_container(container: Container) -> SplatSet:
    count, sh_degree = _scene(container.header)
    grid, cells = valid_cells(container, count)
    entries = container.header.get("attributes")
    if not isinstance(entries, dict):
        raise FormatError("header has no attribute map")
    if sh_degree == 0 and "shN" in entries:
        raise FormatError("header has an shN attribute for SH degree 0")
    arrays = {}
    with np.errstate(all="ignore"):
        for attribute in ATTRIBUTES:
            channels = attribute.channels(sh_degree)
            if channels == 0:
                arrays[attribute.name] = np.zeros((count, 0), np.float32)
                continue
            if attribute.name not in entries:
                raise FormatError(f"header lacks attribute {attribute.name!r}")
            values = decode_attribute(container, entries[attribute.name], grid, channels)
            arrays[attribute.name] = values[cells].astype(np.float32)
    return splats_from_arrays(arrays)


def decode(data: bytes) -> SplatSet:
    """Decode the bytes of a `.gsc` file. Raises FormatError for anything malformed."""
    return decode_container(unpack(data))
