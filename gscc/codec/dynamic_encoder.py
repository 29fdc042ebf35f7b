"""The dynamic post-training encoder: each segment of a DynamicScene is coded as a static
scene with extra planes (its motion) in the same sorted grid (spec/dynamic.md).

Per segment: prune splats whose peak opacity over the segment stays below the threshold
(temporal visibility, plus the static pruning by scale and outliers), mark static splats
(negligible motion: they code no motion, a one-bit plane says which), sort every plane
(motion included) into one PLAS grid, quantize and code each plane as the static encoder
does; the motion model's shared arrays (a motion basis) go in a ``weights`` chunk.
Segments' chunks follow one another, so a file can be cut at segment boundaries.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import __version__
from ..cameras import Camera
from ..container import DYNAMIC_VERSION, Container, pack, pack_weights, unpack
from ..dynamic import DynamicScene, DynamicSplats, STGMotion
from ..dynamic.splats import normalised, sigmoid
from ..splats import FeatureSplats
from .attributes import ATTRIBUTES
from .contribution import contributions, probe_cameras, prune_within_views
from .dynamic_config import DynamicEncodeConfig
from .dynamic_layout import LAYOUTS, motion_entry
from .encoder import ExtraPlane, code_scene
from .learned import LearnedSource
from .lossless import code_plane, required_version
from .prune import keep_mask
from .motion_choice import choose_motion, coded_values
from .quantize import forward_transform, inverse_transform

# times a segment is sampled at (for visibility and motion) when its frame count is unknown
DEFAULT_SAMPLES = 64


@dataclass(frozen=True)
class DynamicEncoded:
    """An encoded file and, per segment, which input splat each decoded splat came from."""

    data: bytes
    source_index: list[np.ndarray]


def sample_times(segment_frames: Optional[int]) -> np.ndarray:
    """The local times a segment is judged at: its frames (both ends included)."""
    return np.linspace(0.0, 1.0, max(int(segment_frames or DEFAULT_SAMPLES), 2))


def peak_opacity(splats: DynamicSplats, times: np.ndarray) -> np.ndarray:
    """(N,) each splat's largest opacity over ``times`` (temporal visibility)."""
    return sigmoid(splats.static.opacities) * splats.motion.visibility(times)


def visible_mask(
    splats: DynamicSplats,
    config: DynamicEncodeConfig,
    times: np.ndarray,
    cameras: Sequence[Camera] = (),
    memo: Optional[dict] = None,
) -> np.ndarray:
    """Splats kept: peak opacity at least the threshold, the static pruning's scale and
    outlier rules, and (when enabled) pruning by contribution to the probe views
    (``cameras`` plus orbit cameras): peak contribution below its threshold, within the
    budget per view when ``prune_view_psnr`` is set. Never empty: the most visible splat stays.
    ``memo``: a dict the contributions are kept in for encodes of the same splats that
    differ in the contribution threshold only (rendered once)."""
    prune = config.static.prune
    keep = keep_mask(splats.static, dataclasses.replace(prune, opacity_threshold=0.0))
    peak = peak_opacity(splats, times)
    keep &= peak >= prune.opacity_threshold
    if config.prune_contribution > 0 and keep.any():
        index = np.flatnonzero(keep)
        key = (id(splats), config.contribution_views, config.contribution_times, index.tobytes())
        cached = None if memo is None else memo.get(key)
        if cached is None:
            candidates = splats.subset(index)
            probe = probe_cameras(candidates, cameras, config.contribution_views)
            times = np.linspace(0.0, 1.0, config.contribution_times)
            cached = {"candidates": candidates, "probe": probe, "times": times,
                      "contributions": contributions(candidates, probe, times)}
            if memo is not None:
                memo[key] = cached
        probed = cached["contributions"]
        if config.prune_view_psnr > 0:
            dropped = prune_within_views(cached["candidates"], cached["probe"], cached["times"], probed,
                                         config.prune_contribution, config.prune_view_psnr, cached)
        else:
            dropped = probed.dropped(config.prune_contribution)
        keep[index[dropped]] = False
    if not keep.any():
        keep[int(np.argmax(peak))] = True
    return keep


def rotation_sign(unit: np.ndarray, transform: str) -> np.ndarray:
    """(N, 1) +-1: the sign that makes unit quaternions ``unit`` the ones ``transform``
    decodes (smallest-three keeps the largest component positive)."""
    decoded = inverse_transform(transform, forward_transform(transform, unit))
    return np.where(np.sum(decoded * unit, axis=1, keepdims=True) < 0, -1.0, 1.0)


def canonical_rotation(splats: DynamicSplats, transform: str) -> DynamicSplats:
    """STG rotates by normalise(q + omega dt): unchanged when q and omega are divided by
    |q| and both negated together. Make q a unit quaternion (a zero one the identity) and
    give omega the sign the quaternion decodes with, so the decoded pair turns the same."""
    motion = splats.motion
    if not isinstance(motion, STGMotion):
        return splats
    q = np.asarray(splats.static.quats, np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    unit = normalised(q)
    sign = rotation_sign(unit, transform)
    omega = np.where(norm > 1e-12, motion.omega / np.maximum(norm, 1e-12), motion.omega) * sign
    static = dataclasses.replace(splats.static, quats=(unit * sign).astype(np.float32))
    return DynamicSplats(static, dataclasses.replace(motion, omega=omega.astype(np.float32)))


def moving_mask(splats: DynamicSplats, tolerance: float, times: np.ndarray) -> np.ndarray:
    """(N,) True for splats that move: over ``times`` their position changes by more than
    ``tolerance`` times the scene's extent, or their unit quaternion by more than
    ``tolerance``. Everything moves when the tolerance is 0."""
    n = splats.count
    if tolerance <= 0:
        return np.ones(n, bool)
    means = np.asarray(splats.static.means, np.float64)
    extent = float(np.linalg.norm(np.percentile(means, 99, axis=0) - np.percentile(means, 1, axis=0)))
    offset = np.zeros(n)
    turn = np.zeros(n)
    for t in times:
        change = splats.motion.evaluate(float(t))
        if change.offset is not None:
            offset = np.maximum(offset, np.linalg.norm(change.offset.astype(np.float64), axis=1))
        if change.rotation is not None:
            turn = np.maximum(turn, np.linalg.norm(change.rotation.astype(np.float64), axis=1))
    return (offset > tolerance * max(extent, 1e-12)) | (turn > tolerance)


def decoded_values(values: np.ndarray, config: DynamicEncodeConfig, name: str) -> np.ndarray:
    """The float32 values a motion plane of ``values`` decodes to (scalar coding, its
    quantizer fitted as the encoder fits it)."""
    return coded_values(values, config.transform_for(name), config.bits_for(name))


def encode_segment(
    container: Container,
    splats: DynamicSplats,
    config: DynamicEncodeConfig,
    distributions: dict[str, LearnedSource],
    times: np.ndarray,
    cameras: Sequence[Camera] = (),
    memo: Optional[dict] = None,
    sizes: Optional[dict] = None,
) -> tuple[dict, np.ndarray]:
    """Add one segment's chunks to ``container``; return its header entry (without its
    span) and, per decoded splat, its index in ``splats``. ``cameras``: the scene's own
    views, probed by contribution pruning; ``sizes``: as for the static encoder's
    :func:`gscc.codec.encoder.code_scene`."""
    kept = np.flatnonzero(visible_mask(splats, config, times, cameras, memo))
    splats = splats.subset(kept) if len(kept) < splats.count else splats
    quats = next(a for a in ATTRIBUTES if a.name == "quats")
    splats = canonical_rotation(splats, config.static.transform_for("quats", quats.transform))
    moving = moving_mask(splats, config.static_motion, times)

    trials: dict[DynamicEncodeConfig, tuple[Container, dict, np.ndarray, Optional[dict]]] = {}

    def coded_size(candidate: DynamicEncodeConfig) -> int:
        scratch = Container(header={}, version=DYNAMIC_VERSION)
        candidate_sizes = None if sizes is None else {}
        trials[candidate] = (scratch, *code_segment(scratch, splats, candidate, distributions, moving, candidate_sizes),
                             candidate_sizes)
        return sum(len(data) for _, data in scratch.chunks)

    config, _ = choose_motion(splats, moving, config, cameras, coded_size)
    if config in trials:  # coded already to measure it: its chunks move over
        from .dynamic_decoder import map_segment_chunks

        scratch, entry, order, candidate_sizes = trials[config]
        if sizes is not None:
            sizes.update(candidate_sizes)
        offset = len(container.chunks)
        container.chunks.extend(scratch.chunks)
        entry = map_segment_chunks(entry, lambda index: index + offset)
    else:
        entry, order = code_segment(container, splats, config, distributions, moving, sizes)
    return entry, kept[order]


def code_segment(
    container: Container,
    splats: DynamicSplats,
    config: DynamicEncodeConfig,
    distributions: dict[str, LearnedSource],
    moving: np.ndarray,
    sizes: Optional[dict] = None,
) -> tuple[dict, np.ndarray]:
    """Add the chunks of the splats a segment keeps (``moving`` marking those that code
    motion) to ``container``; return its header entry (without its span) and, per decoded
    splat, its index in ``splats``; ``sizes`` as for :func:`encode_segment`."""
    n = splats.count
    layout = LAYOUTS[splats.kind]
    arrays = splats.motion.arrays()
    window = config.window if layout.window_powers is not None else None
    planes = {name: arrays[name].reshape(n, -1) for name in splats.motion.per_splat}
    if window is not None:
        half = window.half_window(decoded_values(planes[layout.window_source], config, layout.window_source))
        for name, powers in layout.window_powers(splats.motion.describe()).items():
            planes[name] = window.apply(planes[name], powers, half)
    extra = tuple(
        ExtraPlane(name, planes[name], "identity" if config.vq_for(name) else config.transform_for(name),
                   config.bits_for(name), moving if name in layout.moving and not moving.all() else None,
                   config.vq_for(name))
        for name in splats.motion.per_splat
    )
    coded = code_scene(container, splats.static, config.static, distributions, extra, sizes=sizes)
    entry = {"count": n, **{k: v for k, v in coded.header.items() if k != "scene"}, "moving": int(moving.sum())}
    if window is not None:
        entry["motion_window"] = window.to_header()
    mask = None
    if 0 < moving.sum() < n:
        plane = moving[coded.source].astype(np.uint16).reshape(entry["grid"]["height"], entry["grid"]["width"], 1)
        mask = code_plane(plane, 1, config.static.coder).add_to(container)
    entry["motion_mask"] = mask
    shared = {name: a for name, a in arrays.items() if name not in splats.motion.per_splat}
    entry["shared"] = container.add_chunk("weights", pack_weights(shared)) if shared else None
    return entry, coded.order[coded.order < n]


Distributions = dict[str, LearnedSource] | list[dict[str, LearnedSource]]


def per_segment(distributions: Distributions | None, count: int) -> list[dict[str, LearnedSource]]:
    """One map of learned distributions per segment: a map given applies to every
    segment, a list holds one map per segment (each trained on its own)."""
    if isinstance(distributions, (list, tuple)):
        if len(distributions) != count:
            raise ValueError(f"{len(distributions)} distribution maps given for {count} segments")
        return [dict(d or {}) for d in distributions]
    return [dict(distributions or {}) for _ in range(count)]


def encode_dynamic_tracked(
    scene: DynamicScene | DynamicSplats,
    config: DynamicEncodeConfig = DynamicEncodeConfig(),
    distributions: Distributions | None = None,
    memo: Optional[dict] = None,
    sizes: Optional[list] = None,
) -> DynamicEncoded:
    """Like :func:`encode_dynamic`, also telling where each decoded splat came from.
    ``memo``: see :func:`visible_mask` (the same scene object for every encode).
    ``sizes``, when given (for benchmarks), receives one dict per segment: per scalar-coded
    plane, the bytes of each candidate coding (see :func:`gscc.codec.encoder.choose_coding`)."""
    if isinstance(scene, DynamicSplats):
        scene = DynamicScene.single(scene)
    learned = per_segment(distributions, len(scene.segments))
    first = scene.segments[0].splats
    kinds = {(s.splats.kind, type(s.splats.static), s.splats.static.sh_degree) for s in scene.segments}
    if len(kinds) > 1:
        raise ValueError("every segment of a dynamic scene must have the same motion model, colours and SH degree")
    container = Container(header={}, version=DYNAMIC_VERSION)
    segments, sources = [], []
    for segment, sources_of_segment in zip(scene.segments, learned):
        frames = round((segment.end - segment.start) * scene.frame_count) if scene.frame_count else None
        candidates = None if sizes is None else {}
        entry, source = encode_segment(container, segment.splats, config, sources_of_segment,
                                       sample_times(frames), scene.extra.get("cameras", ()), memo, candidates)
        if sizes is not None:
            sizes.append(candidates)
        segments.append({"start": float(segment.start), "end": float(segment.end), **entry})
        sources.append(source)
    scene_entry = {
        "kind": "dynamic",
        "count": sum(s["count"] for s in segments),
        "sh_degree": first.static.sh_degree,
        "color": "mlp" if isinstance(first.static, FeatureSplats) else "sh",
        "fps": None if scene.fps is None else float(scene.fps),
        "frame_count": scene.frame_count,
        "motion": motion_entry(first.motion),
    }
    container.header = {
        "scene": scene_entry,
        "segments": segments,
        "encoder": {"name": "gscc", "version": __version__, "input_count": scene.count, "settings": config.to_dict()},
    }
    container.version = max(container.version, required_version(container))
    return DynamicEncoded(pack(container), sources)


def encode_dynamic(
    scene: DynamicScene | DynamicSplats,
    config: DynamicEncodeConfig = DynamicEncodeConfig(),
    distributions: Distributions | None = None,
) -> bytes:
    """Encode a dynamic scene (or one dynamic splat set: a single segment) into the bytes
    of a format 1.3 `.gsc` file. ``distributions`` as for the static encoder, keyed by
    attribute name (static or motion planes): one map for every segment, or a list of
    one map per segment. ``scene.extra["cameras"]`` (a list of :class:`gscc.cameras.Camera`,
    e.g. a `.splatv` header's), when present, joins the probe views of contribution pruning."""
    return encode_dynamic_tracked(scene, config, distributions).data


def join_dynamic(files: Sequence[bytes], spans: Sequence[tuple[float, float]], fps: Optional[float],
                 frame_count: Optional[int]) -> bytes:
    """One dynamic `.gsc` file of the single-segment files ``files`` (segments encoded on
    their own, e.g. each GOF segment of a training run), segment i spanning ``spans[i]``
    of the joined scene's time: their chunks one after another, each segment entry's chunk
    references moved along, the same bytes per segment as an encode of the whole scene.
    Every file must hold one segment of the same motion model, colours and SH degree."""
    from .dynamic_decoder import map_segment_chunks, read_dynamic_header

    if not files or len(files) != len(spans):
        raise ValueError(f"{len(files)} files given for {len(spans)} segment spans")
    container = Container(header={}, version=DYNAMIC_VERSION)
    segments, scenes, inputs = [], [], 0
    for data, (start, end) in zip(files, spans):
        part = unpack(data)
        head = read_dynamic_header(part.header, part.version)
        if len(head.segments) != 1:
            raise ValueError(f"a file to join holds {len(head.segments)} segments, not one")
        offset = len(container.chunks)
        container.chunks.extend(part.chunks)
        container.version = max(container.version, part.version)
        entry = map_segment_chunks(head.segments[0], lambda index: index + offset)
        segments.append({"start": float(start), "end": float(end),
                         **{k: v for k, v in entry.items() if k not in ("start", "end")}})
        scenes.append({k: v for k, v in part.header["scene"].items() if k not in ("count", "fps", "frame_count")})
        inputs += int(part.header.get("encoder", {}).get("input_count", 0))
    if any(scene != scenes[0] for scene in scenes):
        raise ValueError("every segment of a dynamic scene must have the same motion model, colours and SH degree")
    first = unpack(files[0], select=lambda header: set()).header
    container.header = {
        "scene": {**first["scene"], "count": sum(s["count"] for s in segments),
                  "fps": None if fps is None else float(fps), "frame_count": frame_count},
        "segments": segments,
        "encoder": {**first.get("encoder", {}), "input_count": inputs},
    }
    read_dynamic_header(container.header, container.version)  # the spans add up
    return pack(container)
