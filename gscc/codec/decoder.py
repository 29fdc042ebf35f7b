"""The static decoder: `.gsc` bytes to splats. numpy, pillow, constriction, msgpack only.

:func:`decode_scene` gives what the file holds: a SplatSet (SH colours) or, for an
MLP-coloured scene (format 1.1), a FeatureSplats with its colour decoder.
:func:`decode` always gives a SplatSet, baking an MLP-coloured scene's colours into SH.
"""

from __future__ import annotations

import numpy as np

from ..color_mlp import ColorMLP
from ..container import FEATURES_VERSION, Container, unpack, unpack_weights
from ..errors import FormatError
from ..splats import GEOMETRY, MAX_BAKE_DIRECTIONS, MAX_SH_DEGREE, FeatureSplats, SplatSet, num_sh_rest
from .attributes import splats_from_arrays
from .learned import Context, DecodedPlane, decode_learned, is_learned
from .lossless import decode_plane
from .quantize import TRANSFORMS, QuantParams, dequantize, inverse_transform
from .vq import decode_vq

MAX_SPLATS = 1 << 26
COLORS = ("sh", "mlp")
GEOMETRY_CHANNELS = {"means": 3, "scales": 3, "quats": 4, "opacities": 1}


def _int_field(mapping: object, key: str, low: int, high: int) -> int:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise FormatError(f"header field {key!r} is missing or out of range {low}..{high}")
    return value


def _scene(header: dict) -> tuple[int, int, str]:
    """Splat count, SH degree and colour kind (``sh``, or ``mlp`` from format 1.1)."""
    scene = header.get("scene")
    if isinstance(scene, dict) and scene.get("kind") == "dynamic":
        raise FormatError("a dynamic scene (format 1.3): decode it with gscc.codec.dynamic_decoder")
    if not isinstance(scene, dict) or scene.get("kind") != "static":
        raise FormatError("header describes no static scene")
    color = scene.get("color", "sh")
    if color not in COLORS:
        raise FormatError(f"unknown scene colour {color!r}")
    return _int_field(scene, "count", 1, MAX_SPLATS), _int_field(scene, "sh_degree", 0, MAX_SH_DEGREE), color


def color_mlp(container: Container, sh_degree: int) -> tuple[ColorMLP, int]:
    """The colour decoder of an MLP-coloured scene and its bake direction count."""
    if container.version < FEATURES_VERSION:
        raise FormatError("an MLP-coloured scene needs format %d.%d or later" % FEATURES_VERSION)
    entry = container.header.get("color_mlp")
    if not isinstance(entry, dict):
        raise FormatError("MLP-coloured scene without a color_mlp entry")
    view_degree = _int_field(entry, "view_sh_degree", 0, MAX_SH_DEGREE)
    directions = _int_field(entry, "bake_directions", (sh_degree + 1) ** 2, MAX_BAKE_DIRECTIONS)
    arrays = unpack_weights(container.chunk(entry.get("weights"), "weights"))
    try:
        mlp = ColorMLP.from_arrays(arrays, view_degree)
    except ValueError as exc:
        raise FormatError(f"color_mlp weights: {exc}") from None
    if _int_field(entry, "layers", 1, 1 << 16) != len(mlp.layers):
        raise FormatError(f"color_mlp says {entry['layers']} layers, its weights hold {len(mlp.layers)}")
    if _int_field(entry, "feature_dim", 1, 1 << 16) != mlp.feature_dim:
        raise FormatError(f"color_mlp says {entry['feature_dim']} features, its weights take {mlp.feature_dim}")
    return mlp, directions


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


def decode_attribute(
    container: Container,
    entry: object,
    grid: tuple[int, int],
    channels: int,
    context: Context | None = None,
    name: str = "",
) -> np.ndarray:
    """(H*W, channels) float64 values of one attribute, inverse-transformed. ``context``
    holds the scalar attributes decoded before it (a learned coding may read them); a
    scalar attribute is added to it under ``name``."""
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
    coding, shape = entry.get("coding"), (grid[0], grid[1], channels)
    if is_learned(coding):
        plane = decode_learned(container, coding, shape, quant, {} if context is None else context)
    else:
        plane = decode_plane(container, coding, shape, quant.bits)
    if context is not None:
        context[name] = DecodedPlane(plane, quant, transform)
    return inverse_transform(transform, dequantize(plane.reshape(-1, channels), quant))


def decode_container(container: Container, context: Context | None = None) -> SplatSet | FeatureSplats:
    """The splats of a static scene's header and chunks. ``context`` (optional) receives
    the decoded scalar planes, for planes decoded after them (a dynamic segment's)."""
    count, sh_degree, color = _scene(container.header)
    grid, cells = valid_cells(container, count)
    entries = container.header.get("attributes")
    if not isinstance(entries, dict):
        raise FormatError("header has no attribute map")
    channels = dict(GEOMETRY_CHANNELS)
    if color == "mlp":
        mlp, directions = color_mlp(container, sh_degree)
        channels["features"] = mlp.feature_dim
    else:
        channels["sh0"] = 3
        if sh_degree > 0:
            channels["shN"] = 3 * num_sh_rest(sh_degree)
    misplaced = sorted({"sh0", "shN", "features"} & set(entries) - set(channels))
    if misplaced:
        raise FormatError(
            f"header has attribute {misplaced[0]!r}, which a scene of {color} colours and SH degree {sh_degree} does not have"
        )
    arrays = {}
    context = {} if context is None else context
    with np.errstate(all="ignore"):
        for name, width in channels.items():  # means first: later codings may read it
            if name not in entries:
                raise FormatError(f"header lacks attribute {name!r}")
            values = decode_attribute(container, entries[name], grid, width, context, name)
            arrays[name] = values[cells].astype(np.float32)
    if color == "mlp":
        geometry = {name: arrays[name] for name in GEOMETRY}
        return FeatureSplats(**geometry, features=arrays["features"], decoder=mlp, sh_degree=sh_degree,
                             bake_directions=directions)
    arrays.setdefault("shN", np.zeros((count, 0), np.float32))
    return splats_from_arrays(arrays)


def decode_scene(data: bytes) -> SplatSet | FeatureSplats:
    """What a `.gsc` file holds. Raises FormatError for anything malformed."""
    return decode_container(unpack(data))


def decode(data: bytes) -> SplatSet:
    """Decode the bytes of a `.gsc` file to SH splats (an MLP-coloured scene baked).
    Raises FormatError for anything malformed."""
    scene = decode_scene(data)
    return scene.baked() if isinstance(scene, FeatureSplats) else scene
