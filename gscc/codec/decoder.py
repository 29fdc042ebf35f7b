"""The static decoder: `.gsc` bytes to splats. numpy, pillow, constriction, msgpack only.

:func:`decode_scene` gives what the file holds: a SplatSet (SH colours) or, for an
MLP-coloured scene (format 1.1), a FeatureSplats with its colour decoder.
:func:`decode` always gives a SplatSet, baking an MLP-coloured scene's colours into SH.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..color_mlp import MAX_LAYERS, MAX_WIDTH, ColorMLP
from ..container import DYNAMIC_VERSION, FEATURES_VERSION, REFINE_VERSION, Container, unpack, unpack_weights
from ..errors import FormatError, HeaderError, LimitError, NonFiniteError, PayloadError, VersionError
from ..splats import GEOMETRY, MAX_BAKE_DIRECTIONS, MAX_SH_DEGREE, FeatureSplats, SplatSet, num_sh_rest
from .attributes import splats_from_arrays
from .context_coding import check_declared_work
from .header_fields import check_keys, int_field
from .learned import Context, DecodedPlane, decode_learned, is_learned
from .lossless import decode_plane
from .quantize import TRANSFORMS, QuantParams, dequantize, inverse_transform
from .refinement import MAX_CLASSES, ShiftTable, class_bits, join
from .threads import default_workers
from .vq import decode_vq

MAX_SPLATS = 1 << 26
COLORS = ("sh", "mlp")
GEOMETRY_CHANNELS = {"means": 3, "scales": 3, "quats": 4, "opacities": 1}


def _scene(header: dict, version: tuple[int, int]) -> tuple[int, int, str]:
    """Splat count, SH degree and colour kind (``sh``, or ``mlp`` from format 1.1)."""
    scene = header.get("scene")
    if isinstance(scene, dict) and scene.get("kind") == "dynamic":
        if version < DYNAMIC_VERSION:
            raise VersionError("a dynamic scene needs format %d.%d or later; the file declares %d.%d"
                               % (*DYNAMIC_VERSION, *version))
        raise FormatError("a dynamic scene (format 1.3): decode it with gscc.codec.dynamic_decoder")
    if not isinstance(scene, dict) or scene.get("kind") != "static":
        raise HeaderError("header describes no static scene")
    check_keys(scene, "scene", ("kind", "count", "sh_degree"), ("color",))
    color = scene.get("color", "sh")
    if not isinstance(color, str) or color not in COLORS:
        raise HeaderError(f"unknown scene colour {color!r}")
    count = int_field(scene, "count", 1, MAX_SPLATS, above=LimitError, what="scene")
    return count, int_field(scene, "sh_degree", 0, MAX_SH_DEGREE, what="scene"), color


def color_mlp(container: Container, sh_degree: int) -> tuple[ColorMLP, int]:
    """The colour decoder of an MLP-coloured scene and its bake direction count."""
    if container.version < FEATURES_VERSION:
        raise VersionError("an MLP-coloured scene needs format %d.%d or later" % FEATURES_VERSION)
    if "color_mlp" not in container.header:
        raise HeaderError("MLP-coloured scene without a color_mlp entry")
    entry = check_keys(
        container.header["color_mlp"], "color_mlp",
        ("weights", "layers", "feature_dim", "view_sh_degree", "bake_directions"),
    )
    view_degree = int_field(entry, "view_sh_degree", 0, MAX_SH_DEGREE)
    directions = int_field(entry, "bake_directions", (sh_degree + 1) ** 2, MAX_BAKE_DIRECTIONS)
    layers = int_field(entry, "layers", 1, MAX_LAYERS)
    feature_dim = int_field(entry, "feature_dim", 1, MAX_WIDTH - (view_degree + 1) ** 2)
    arrays = unpack_weights(container.chunk(entry["weights"], "weights"))
    try:
        mlp = ColorMLP.from_arrays(arrays, view_degree)
    except ValueError as exc:
        raise PayloadError(f"color_mlp weights: {exc}") from None
    if layers != len(mlp.layers):
        raise PayloadError(f"color_mlp says {layers} layers, its weights hold {len(mlp.layers)}")
    if feature_dim != mlp.feature_dim:
        raise PayloadError(f"color_mlp says {feature_dim} features, its weights take {mlp.feature_dim}")
    return mlp, directions


def valid_cells(container: Container, count: int) -> tuple[tuple[int, int], np.ndarray]:
    """Grid shape and the row-major indices of the cells that hold splats."""
    grid = check_keys(container.header.get("grid"), "grid", ("height", "width", "padding"))
    height = int_field(grid, "height", 1, 2 * MAX_SPLATS + 16, what="grid")
    width = int_field(grid, "width", 1, 2 * MAX_SPLATS + 16, what="grid")
    cells = height * width
    if cells < count or cells > 2 * count + 16:
        raise HeaderError(f"grid {height}x{width} does not fit {count} splats")
    index = grid.get("padding")
    if (index is None) != (cells == count):
        raise HeaderError(f"grid padding must be nil exactly when the grid has no padding cells ({cells - count} here)")
    if index is None:
        padding = np.zeros(0, np.int64)
    else:
        data = container.chunk(index, "raw")
        if len(data) % 4:
            raise PayloadError("padding chunk length is not a multiple of 4")
        padding = np.frombuffer(data, dtype="<u4").astype(np.int64)
    if len(padding) != cells - count:
        raise (HeaderError if index is None else PayloadError)(
            f"grid has {cells - count} padding cells, padding chunk lists {len(padding)}"
        )
    if len(padding) and (np.any(np.diff(padding) <= 0) or padding[-1] >= cells):
        raise PayloadError("padding cells are not strictly increasing cell indices")
    keep = np.ones(cells, bool)
    keep[padding] = False
    return (height, width), np.flatnonzero(keep)


def precision_classes(container: Container, grid: tuple[int, int]) -> np.ndarray | None:
    """(H*W,) the precision class of every cell (format 1.6, spec/codecs.md), or None
    when the header has no ``classes`` entry."""
    entry = container.header.get("classes")
    if entry is None:
        return None
    if container.version < REFINE_VERSION:
        raise VersionError("precision classes need format %d.%d or later; the file declares %d.%d"
                           % (*REFINE_VERSION, *container.version))
    check_keys(entry, "classes", ("count", "coding"))
    count = int_field(entry, "count", 2, MAX_CLASSES, what="classes")
    plane = decode_plane(container, entry["coding"], (grid[0], grid[1], 1), class_bits(count)).reshape(-1)
    if plane.size and int(plane.max()) >= count:
        raise PayloadError(f"the class plane holds class {int(plane.max())}; the file has {count} classes")
    return plane.astype(np.int64)


def refined_plane(
    container: Container, entry: object, coarse: np.ndarray, quant: QuantParams, cell_class: np.ndarray | None, name: str,
) -> np.ndarray:
    """An attribute's plane rebuilt from its coarse plane and its ``refine`` entry."""
    if cell_class is None:
        raise HeaderError(f"attribute {name} is refined, but the file has no precision classes")
    check_keys(entry, f"attribute {name} refine", ("shifts", "chunk"))
    classes = int(container.header["classes"]["count"])
    table = ShiftTable.from_header(entry["shifts"], classes, coarse.shape[2], quant.bits)
    return join(coarse, container.chunk(entry["chunk"], "raw"), cell_class, table, quant.bits)


def decode_attribute(
    container: Container,
    entry: object,
    grid: tuple[int, int],
    channels: int,
    context: Context | None = None,
    name: str = "",
    cell_class: np.ndarray | None = None,
) -> np.ndarray:
    """(H*W, channels) float64 values of one attribute, inverse-transformed. ``context``
    holds the scalar attributes decoded before it (a learned coding may read them); a
    scalar attribute is added to it under ``name``. ``cell_class``: the file's precision
    classes (:func:`precision_classes`), for a refined attribute."""
    if not isinstance(entry, dict):
        raise HeaderError(f"attribute {name} entry is not a map")
    codec = entry.get("codec")
    if not isinstance(codec, str):
        raise HeaderError(f"attribute {name} codec is not a string")
    if codec == "vq":
        check_keys(entry, f"attribute {name}", ("codec", "codebook", "labels"))
        return decode_vq(container, entry, grid, channels)
    if codec != "scalar":
        raise HeaderError(f"unknown attribute codec {codec!r}")
    check_keys(entry, f"attribute {name}", ("codec", "transform", "quant", "coding"), ("refine",))
    transform = entry["transform"]
    if not isinstance(transform, str) or transform not in TRANSFORMS:
        raise HeaderError(f"unknown transform {transform!r}")
    if transform == "smallest3" and channels != 4:
        raise HeaderError(f"attribute {name} has {channels} channels; smallest3 needs 4")
    quant = QuantParams.from_header(entry["quant"], channels)
    coding, shape = entry["coding"], (grid[0], grid[1], channels)
    if is_learned(coding):
        if "refine" in entry:
            raise HeaderError(f"attribute {name} has a learned coding; only empirical codings are refined")
        plane = decode_learned(container, coding, shape, quant, {} if context is None else context)
    else:
        plane = decode_plane(container, coding, shape, quant.bits)
        if "refine" in entry:
            plane = refined_plane(container, entry["refine"], plane, quant, cell_class, name)
    if context is not None:
        context[name] = DecodedPlane(plane, quant, transform)
    return inverse_transform(transform, dequantize(plane.reshape(-1, channels), quant))


def finite_float32(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` rounded to float32, every one finite (spec/validation.md: dequantization
    that overflows, in float64 or in the rounding to float32, makes the file invalid)."""
    with np.errstate(all="ignore"):
        rounded = values.astype(np.float32)
    if not np.isfinite(rounded).all():
        raise NonFiniteError(f"{what} dequantizes to values that are not finite")
    return rounded


def decode_container(
    container: Container, context: Context | None = None, layout: tuple[tuple[int, int], np.ndarray] | None = None,
) -> SplatSet | FeatureSplats:
    """The splats of a static scene's header and chunks. ``context`` (optional) receives
    the decoded scalar planes, for planes decoded after them (a dynamic segment's); without
    it the container is a whole static file, whose every chunk must have been referenced.
    ``layout``: the grid and its splat cells, when the caller has read them (valid_cells)."""
    whole_file = context is None
    count, sh_degree, color = _scene(container.header, container.version)
    grid, cells = valid_cells(container, count) if layout is None else layout
    entries = container.header.get("attributes")
    if not isinstance(entries, dict):
        raise HeaderError("header has no attribute map")
    channels = dict(GEOMETRY_CHANNELS)
    if color != "mlp" and "color_mlp" in container.header:
        raise HeaderError("header has a color_mlp entry, but the scene has SH colours")
    if color == "mlp":
        mlp, directions = color_mlp(container, sh_degree)
        channels["features"] = mlp.feature_dim
    else:
        channels["sh0"] = 3
        if sh_degree > 0:
            channels["shN"] = 3 * num_sh_rest(sh_degree)
    misplaced = sorted(set(entries) - set(channels), key=str)
    if misplaced:
        raise HeaderError(
            f"header has attribute {misplaced[0]!r}, which a scene of {color} colours and SH degree {sh_degree} does not have"
        )
    for name in channels:  # limits first, before any plane is decoded (spec/validation.md)
        entry = entries.get(name)
        if isinstance(entry, dict):
            check_declared_work(container, entry.get("coding"), grid[0] * grid[1])
    context = {} if context is None else context
    for name in channels:
        if name not in entries:
            raise HeaderError(f"header lacks attribute {name!r}")
    cell_class = precision_classes(container, grid)

    def attribute(name: str) -> np.ndarray:
        with np.errstate(all="ignore"):
            values = decode_attribute(container, entries[name], grid, channels[name], context, name, cell_class)
            return finite_float32(values, name)[cells]

    # Without learned codings no plane reads another (means first otherwise: later codings
    # may read it): the planes are decoded on threads (libjxl, constriction and numpy
    # release the GIL), their results (and errors) taken in attribute order.
    if any(isinstance(entries[name], dict) and is_learned(entries[name].get("coding")) for name in channels):
        arrays = {name: attribute(name) for name in channels}
    else:
        with ThreadPoolExecutor(max_workers=default_workers()) as pool:
            pending = {name: pool.submit(attribute, name) for name in channels}
            arrays = {name: pending[name].result() for name in channels}
    if whole_file:
        container.check_all_referenced()
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
