"""The static post-training encoder: prune, sort into a grid, quantize, code, contain."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .. import __version__
from ..container import FEATURES_VERSION, LEARNED_VERSION, REFINE_VERSION, VERSION, Container, pack, pack_weights
from ..splats import FeatureSplats, SplatSet
from .attributes import ATTRIBUTES, attribute_arrays
from .config import EncodeConfig
from .grid import grid_shape
from .learned import Context, DecodedPlane, LearnedSource, code_learned
from .lossless import (AUTO_CANDIDATES, CODERS, MOTION_AUTO_CANDIDATES, REPORTED_CANDIDATES, PlaneCoding, code_plane,
                       required_version)
from .precision import adaptive_bits, color_bits, jxl_cost
from .prune import keep_mask
from .quantize import QuantParams, fit_lattice_quantizer, fit_quantizer, forward_transform, quantize
from .refinement import Classes, ShiftTable, class_bits, split
from .threads import default_workers
from .vq import VqConfig, encode_vq

# Relative weight of each attribute in the sorting features (after per-column normalisation);
# a scene has either sh0 (SH colours) or features (MLP colours).
# a dynamic scene's motion planes (gscc.codec.dynamic_encoder) sort with its static ones.
Progress = Callable[[str], None]  # told what the encoder starts doing next

SORT_WEIGHTS = {"means": 1.0, "sh0": 0.5, "features": 0.3, "scales": 0.5, "opacities": 0.3, "quats": 0.2,
                "t_center": 0.5, "t_scale": 0.3, "motion": 0.15, "omega": 0.1, "coeffs": 0.2}


def grid_order(prepared: dict[str, np.ndarray], n: int, config: EncodeConfig) -> tuple[tuple[int, int], np.ndarray]:
    """The grid shape and ``order``: for each row-major cell, the splat it holds (>= n: padding)."""
    shape = grid_shape(n)
    if config.sort == "none" or n == 1:
        return shape, np.arange(shape[0] * shape[1])
    from .sort import PlasConfig, plas_sort  # torch: only when sorting
    columns, weights = [], []
    for name, weight in SORT_WEIGHTS.items():
        if name not in prepared:
            continue
        columns.append(prepared[name])
        weights += [weight] * prepared[name].shape[1]
    features = np.concatenate(columns, axis=1).astype(np.float32)
    order = plas_sort(features, shape, PlasConfig(seed=config.seed), weights=np.asarray(weights, np.float32))
    return shape, np.asarray(order, dtype=np.int64)


def fill_padding(order: np.ndarray, n: int) -> np.ndarray:
    """Source splat per cell: padding cells repeat the nearest earlier real cell (or the first)."""
    real = order < n
    position = np.where(real, np.arange(len(order)), -1)
    last_real = np.maximum.accumulate(position)
    first = int(np.argmax(real))
    last_real = np.where(last_real < 0, first, last_real)
    return order[last_real]


def encoder_input(name: str, transform: str, values: np.ndarray) -> np.ndarray:
    """The values an attribute's forward transform gets. Quaternions coded component-wise
    (any transform but smallest3, which normalises itself) are normalised first, as
    gsplat does; a zero quaternion becomes the identity rotation."""
    if name != "quats" or transform == "smallest3":
        return values
    x = np.asarray(values, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norm > 0, x / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))


def prepared_attributes(arrays: dict[str, np.ndarray], config: EncodeConfig
                        ) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """Each attribute of ``arrays`` (gscc.codec.attributes.attribute_arrays) in ATTRIBUTES
    order: its transform (the config's override, else its default) and its (N, C) values
    after it -- what the encoder quantizes."""
    coded = [a for a in ATTRIBUTES if a.name in arrays]
    transforms = {a.name: config.transform_for(a.name, a.transform) for a in coded}
    prepared = {
        a.name: forward_transform(transforms[a.name], encoder_input(a.name, transforms[a.name], arrays[a.name]))
        for a in coded
    }
    return transforms, prepared


@dataclass(frozen=True)
class Encoded:
    """An encoded file and, for evaluation, which input splat each decoded splat came from."""

    data: bytes
    source_index: np.ndarray  # (decoded count,) indices into the input SplatSet
    grid: tuple[tuple[int, int], np.ndarray]  # the grid shape and order (see encode_tracked)


def encode(
    splats: SplatSet | FeatureSplats,
    config: EncodeConfig = EncodeConfig(),
    distributions: dict[str, LearnedSource] | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Encode splats (SH- or MLP-coloured) into the bytes of a `.gsc` file (deterministic
    for a config and distributions).

    ``distributions`` maps attribute names to learned distributions (gscc.codec.learned,
    e.g. a TableSource from a trained entropy model): such an attribute, when scalar
    quantized at a depth its learned coding takes, is coded both with the learned
    distribution and empirically (``config.coder``), and the smaller is kept. A file that
    keeps a learned coding is format 1.2; one that keeps none is what it would be without
    distributions, byte for byte."""
    return encode_tracked(splats, config, distributions, progress).data


def choose_coding(
    values: np.ndarray, shape: tuple[int, int], depth: int, config: EncodeConfig,
    source: LearnedSource | None, context: Context, sizes: dict | None = None,
    auto: tuple[str, ...] = AUTO_CANDIDATES,
) -> tuple[QuantParams, np.ndarray, PlaneCoding]:
    """The quantizer, integer plane and coding of ``values`` (one per grid cell, in cell
    order): coded empirically on the lattice quantizer's levels, or, where ``source``
    gives a smaller coding, with that learned distribution on the min/max grid it was
    trained for (ties: empirical).

    ``sizes``, when given, receives the bytes of every candidate (for benchmarks): each
    empirical coder ``config.coder`` stands for (auto: also ans-interp), and ``learned`` (None: not codable).
    ``auto``: the coders "auto" chooses from."""
    quant = fit_lattice_quantizer(values, depth)
    plane = quantize(values, quant).reshape(shape[0], shape[1], -1)
    chosen = (quant, plane, code_plane(plane, quant.bits, config.coder, auto))
    if sizes is not None:
        for name in REPORTED_CANDIDATES if config.coder == "auto" else (config.coder,):
            sizes[name] = code_plane(plane, quant.bits, name).size
    if source is not None:
        grid = fit_quantizer(values, depth)
        grid_plane = quantize(values, grid).reshape(shape[0], shape[1], -1)
        learned = code_learned(grid_plane, grid, source, context)
        if sizes is not None:
            sizes["learned"] = None if learned is None else learned.size
        if learned is not None and learned.size < chosen[2].size:
            chosen = (grid, grid_plane, learned)
    return chosen


@dataclass(frozen=True)
class RefinedCoding:
    """A plane coded in precision classes (gscc.codec.refinement): its coarse plane's
    coding and the refinement payload."""

    coding: PlaneCoding
    table: ShiftTable
    payload: bytes


def choose_refined_coding(
    values: np.ndarray, shape: tuple[int, int], depth: int, config: EncodeConfig, cell_class: np.ndarray,
    table: ShiftTable, auto: tuple[str, ...] = AUTO_CANDIDATES,
) -> tuple[QuantParams, np.ndarray, RefinedCoding]:
    """The quantizer, integer plane and coding of ``values`` (one per grid cell) with each
    cell's value a multiple of its class's ``2**shift`` (the lattice quantizer's levels)."""
    quant = fit_lattice_quantizer(values, depth)
    plane = quantize(values, quant, table.per_cell(cell_class)).reshape(shape[0], shape[1], -1)
    coarse, payload = split(plane, cell_class, table)
    return quant, plane, RefinedCoding(code_plane(coarse, quant.bits, config.coder, auto), table, payload)


@dataclass(frozen=True)
class ExtraPlane:
    """An attribute coded beside a scene's static ones (a dynamic scene's motion): its
    (N, C) values, transform and bit depth; ``coded`` (N,) bool, when given, marks the
    splats whose values count: the others' cells carry fill values a decoder ignores."""

    name: str
    values: np.ndarray
    transform: str
    bits: int
    coded: np.ndarray | None = None
    vq: VqConfig | None = None  # vector-quantize the plane (its transform: identity) instead


@dataclass(frozen=True)
class CodedScene:
    """A scene's planes added to a container: its header entries (``scene``,
    ``color_mlp`` for MLP colours, ``grid``, ``attributes``, in that order), the grid
    ``order`` (for each row-major cell, the splat it holds; >= count: padding), the
    padding-filled ``source`` and the format version the codings need."""

    header: dict
    order: np.ndarray
    source: np.ndarray
    version: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        return self.header["grid"]["height"], self.header["grid"]["width"]


def fill_uncoded(order: np.ndarray, n: int, coded: np.ndarray) -> np.ndarray:
    """Source splat per cell for a plane of only the ``coded`` splats: the others' cells
    (and padding) repeat the nearest earlier coded cell, like padding."""
    return fill_padding(np.where((order < n) & coded[np.minimum(order, n - 1)], order, n), n)


def code_scene(
    container: Container,
    splats: SplatSet | FeatureSplats,
    config: EncodeConfig,
    distributions: dict[str, LearnedSource],
    extra: tuple[ExtraPlane, ...] = (),
    progress: Progress | None = None,
    grid: tuple[tuple[int, int], np.ndarray] | None = None,
    sizes: dict | None = None,
    workers: int | None = None,
    classes: Classes | None = None,
) -> CodedScene:
    """Sort ``splats`` (and the ``extra`` planes) into one grid and add every plane to
    ``container``: the static scene's attributes in ATTRIBUTES order, then ``extra``.

    ``grid``: the grid shape and order of an earlier encode of the same splats with the
    same pruning, sort, transforms and seed (``Encoded.grid``), reused instead of sorting
    again (the bytes are the same either way). ``sizes``, when given, receives per
    scalar-coded attribute the bytes of its candidate codings (see :func:`choose_coding`).
    ``workers``: threads coding planes (default gscc.codec.threads.default_workers(); the bytes are the
    same for any number). ``classes``: each splat's precision class and the shift tables
    of the attributes coded in classes (gscc.codec.refinement; format 1.6)."""
    progress = progress or (lambda stage: None)
    n = splats.count
    arrays = attribute_arrays(splats)
    coded = [a for a in ATTRIBUTES if a.name in arrays]
    unknown = sorted(set(distributions) - set(arrays) - {e.name for e in extra})
    if unknown:
        raise ValueError(f"distributions given for {', '.join(unknown)}, which this scene does not code")
    transforms, prepared = prepared_attributes(arrays, config)
    for plane in extra:
        transforms[plane.name] = plane.transform
        prepared[plane.name] = forward_transform(plane.transform, plane.values.reshape(n, -1))
    if grid is None and config.sort != "none":
        progress(f"sorting {n:,} splats ({config.sort})")
    shape, order = grid if grid is not None else grid_order(prepared, n, config)
    source = fill_padding(order, n)
    padding = np.flatnonzero(order >= n).astype("<u4")

    padding_chunk = container.add_chunk("raw", padding.tobytes()) if len(padding) else None
    cell_class = None if classes is None else classes.per_splat[source].astype(np.int64)
    if cell_class is not None:
        class_plane = cell_class.astype(np.uint16).reshape(shape[0], shape[1], 1)
        class_coding = code_plane(class_plane, class_bits(classes.count), config.coder).add_to(container)
    entries: dict[str, dict] = {}
    context: Context = {}  # what a learned coding may read: the attributes coded before it
    learned = False
    masks = {plane.name: plane.coded for plane in extra if plane.coded is not None}
    adaptive = config.precision == "adaptive"
    bits = adaptive_bits(prepared, {a.name: config.bits_for(a.name) for a in coded}) if adaptive else {}
    bits.update({plane.name: plane.bits for plane in extra})
    vq_planes = {plane.name: plane.vq for plane in extra if plane.vq is not None}
    names = [
        name for name in [a.name for a in coded] + [plane.name for plane in extra]
        if prepared[name].shape[1] and not (name in masks and not masks[name].any())
    ]
    depths = {name: bits[name] if name in bits else config.bits_for(name) for name in names}
    if "shN" in depths and config.sh_codec == "vq":
        vq_planes["shN"] = VqConfig(codebook_size=config.sh_codebook, codebook_bits=depths["shN"], seed=config.seed)
    candidates = {name: None if sizes is None else sizes.setdefault(name, {}) for name in names if name not in vq_planes}
    extra_names = {plane.name for plane in extra}

    tables = {} if classes is None else classes.tables
    uncodable = sorted(set(tables) - (set(candidates) - set(distributions) - set(masks)))
    if uncodable:
        raise ValueError(f"precision classes for {', '.join(uncodable)}, which this encode does not code as a scalar plane")

    def scalar(name: str) -> tuple[QuantParams, np.ndarray, PlaneCoding | RefinedCoding]:
        # cells: every splat (uncoded ones of a masked plane: none) once, padding repeats
        cells = fill_uncoded(order, n, masks[name]) if name in masks else source
        values, depth = prepared[name][cells], depths[name]
        if name in tables:
            return choose_refined_coding(values, shape, depth, config, cell_class, tables[name])
        if adaptive and name == "sh0":
            depth = color_bits(values, shape, depth, jxl_cost)
        auto = MOTION_AUTO_CANDIDATES if name in extra_names else AUTO_CANDIDATES
        return choose_coding(values, shape, depth, config, distributions.get(name), context, candidates[name], auto)

    # A plane without a learned distribution reads nothing coded before it: those are coded
    # on a thread pool (libjxl, constriction and numpy release the GIL) while the others
    # and the VQ planes are coded here, in order; chunks are added in order, so the bytes
    # do not depend on the number of workers.
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        independent = {name: pool.submit(scalar, name) for name in candidates if name not in distributions}
        for name in names:
            progress(f"coding {name}")
            if name in vq_planes:
                entries[name] = encode_vq(container, prepared[name][source], shape, vq_planes[name], config.coder)
                continue
            quant, plane, coding = independent[name].result() if name in independent else scalar(name)
            refined = coding if isinstance(coding, RefinedCoding) else None
            coding = coding.coding if refined else coding
            learned |= coding.entry["codec"] not in CODERS
            entries[name] = {
                "codec": "scalar",
                "transform": transforms[name],
                "quant": quant.to_header(),
                "coding": coding.add_to(container),
            }
            if refined:
                entries[name]["refine"] = {"shifts": refined.table.to_header(),
                                           "chunk": container.add_chunk("raw", refined.payload)}
            context[name] = DecodedPlane(plane, quant, transforms[name])
    scene = {"kind": "static", "count": n, "sh_degree": splats.sh_degree}
    header: dict = {"scene": scene}
    version = VERSION
    if isinstance(splats, FeatureSplats):
        scene["color"] = "mlp"
        header["color_mlp"] = color_mlp_entry(container, splats)
        version = FEATURES_VERSION
    if learned:
        version = max(version, LEARNED_VERSION)
    header["grid"] = {"height": shape[0], "width": shape[1], "padding": padding_chunk}
    if classes is not None:
        header["classes"] = {"count": classes.count, "coding": class_coding}
        version = max(version, REFINE_VERSION)
    header["attributes"] = entries
    return CodedScene(header, order, source, version)


def encode_tracked(
    splats: SplatSet | FeatureSplats,
    config: EncodeConfig = EncodeConfig(),
    distributions: dict[str, LearnedSource] | None = None,
    progress: Progress | None = None,
    grid: tuple[tuple[int, int], np.ndarray] | None = None,
    sizes: dict | None = None,
    workers: int | None = None,
    drop: np.ndarray | None = None,
    classes: Classes | None = None,
) -> Encoded:
    """Like :func:`encode`, also telling where each decoded splat came from (``grid``,
    ``sizes``, ``workers``: see :func:`code_scene`). ``drop``: (N,) bool, input splats pruned
    besides those ``config.prune`` drops (pruning by contribution: gscc.codec.target).
    ``classes``: precision classes of the input splats (see :func:`code_scene`)."""
    input_count = splats.count
    keep = keep_mask(splats, config.prune)
    if drop is not None and not (keep & ~drop).any():
        raise ValueError("pruning would drop every splat")
    kept = np.flatnonzero(keep if drop is None else keep & ~drop)
    splats = splats.subset(kept) if len(kept) < input_count else splats
    n = splats.count
    container = Container(header={})
    if classes is not None and len(kept) < input_count:
        classes = classes.subset(kept)
    coded = code_scene(container, splats, config, dict(distributions or {}), progress=progress, grid=grid, sizes=sizes,
                       workers=workers, classes=classes)
    container.version = max(coded.version, required_version(container))
    container.header = {
        **coded.header,
        "encoder": {"name": "gscc", "version": __version__, "input_count": input_count, "settings": config.to_dict()},
    }
    return Encoded(pack(container), kept[coded.order[coded.order < n]], (coded.shape, coded.order))


def color_mlp_entry(container: Container, splats: FeatureSplats) -> dict:
    """The header entry of an MLP-coloured scene's decoder; its weights go in a chunk."""
    mlp = splats.decoder
    return {
        "weights": container.add_chunk("weights", pack_weights(mlp.to_arrays())),
        "layers": len(mlp.layers),
        "feature_dim": mlp.feature_dim,
        "view_sh_degree": mlp.view_sh_degree,
        "bake_directions": splats.bake_directions,
    }
