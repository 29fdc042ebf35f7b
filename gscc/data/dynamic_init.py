"""Initial points of a dynamic dataset: triangulated per sampled frame, or random.

"triangulate" (multi-view kinds): the training cameras of every ``every``-th frame of the
range (start, start + every, ...) are triangulated with their known poses
(:func:`gscc.data.triangulate.triangulate_frame`, at most :data:`INIT_MAX_WIDTH` pixels
wide); each point carries the normalised time of its frame. Where the views have foreground
masks (Panoptic ``seg/``), a point is foreground when most of its observations fall inside
the masks: foreground points (the moving people) are kept for every sampled frame with that
frame's time; background points (the static dome, floor, rigs) are pooled over the sampled
frames, thinned to one per voxel of :data:`VOXEL_FRACTION` x the scene scale, and marked
static (``point_static``, time 0.5): the trainer should make them visible at every time.
Without masks every point is kept with its frame's time.

Fallback: fewer than ``min_points`` triangulated points (a textureless or tiny scene) gives
"random" instead, with a warning; ``init_info["fallback"]`` says why.

"random": ``count`` points uniform in ``bounds`` (the box the training cameras look at,
:func:`gscc.data.dataset.camera_bounds`), random colours, times uniform in [0, 1] — 3DGS's
random initialisation spread over time.

Measured on Panoptic basketball, frames 0:50 (frames 0, 10, 20, 30, 40 triangulated at 640
pixels wide): 5,314 points, 4,284 static (after thinning; 4,894 before) and 1,030 on the
people; 845 s on a 2-core machine shared with other jobs (niced, load ~13), about 260 s on
a quiet one; reloading from the cache: 3 s (the metadata parse).

The triangulation result is cached under ``<cache>/init/<key>.npz`` (see
:mod:`gscc.data.cache`), keyed by the dataset folder, the metadata and image files'
identities, the sampled frames, the width and this module's settings: a second run over the
same frames loads it in milliseconds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import InputError, warn
from .cache import cache_key, cache_root, file_identity
from .dataset import random_points
from .sequence import SourceSequence, SourceView

INIT_MAX_WIDTH = 1024
VOXEL_FRACTION = 0.002
MIN_POINTS = 500
VERSION = 1


@dataclass
class InitResult:
    method: str  # "triangulate" | "random" | "none"
    points: Optional[np.ndarray] = None  # (M, 3) float32
    colors: Optional[np.ndarray] = None  # (M, 3) float32 in [0, 1]
    times: Optional[np.ndarray] = None  # (M,) float32 in [0, 1]
    static: Optional[np.ndarray] = None  # (M,) bool
    info: dict = field(default_factory=dict)


def random_init(bounds, count: int, seed: int, info: Optional[dict] = None) -> InitResult:
    points = random_points(bounds, count, seed)
    colors = np.random.default_rng(seed + 1).random((len(points), 3)).astype(np.float32)
    times = np.random.default_rng(seed + 2).random(len(points)).astype(np.float32)
    return InitResult("random", points, colors, times, np.zeros(len(points), dtype=bool), dict(info or {}, points=len(points)))


def thin(points: np.ndarray, voxel: float) -> np.ndarray:
    """Indices of the first point in each occupied voxel of size ``voxel``, in input order."""
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = np.floor(points / voxel).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    return np.sort(first)


def sampled_frames(frames: tuple[int, int], every: int) -> list[int]:
    return list(range(frames[0], frames[1], every))


def _progress():
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("triangulating frames"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(), console=console, disable=not console.is_terminal, transient=True,
    )


def triangulate_init(
    views: Sequence[SourceView],
    frames: tuple[int, int],
    sequence: SourceSequence,
    *,
    scale: float,
    every: int,
    width: Optional[int],
) -> InitResult:
    """Triangulated points over the sampled frames (uncached work: see :func:`initialise`)."""
    from .dynamic import frame_time
    from .triangulate import triangulate_frame

    start_time = time.perf_counter()
    sampled = sampled_frames(frames, every)
    parts_fg, parts_bg, per_frame = [], [], []
    features = 0
    with _progress() as progress:
        task = progress.add_task("triangulate", total=len(sampled))
        for frame in sampled:
            frame_views = [v for v in views if v.frame == frame]
            if len(frame_views) >= 2:
                result = triangulate_frame(frame_views, width=width, background=sequence.background)
                features += result.features
                t = frame_time(frame, frames)
                fg = np.ones(len(result.points), bool) if result.foreground is None else result.foreground
                parts_fg.append((result.points[fg], result.colors[fg], np.full(int(fg.sum()), t, np.float32)))
                if result.foreground is not None:
                    parts_bg.append((result.points[~fg], result.colors[~fg]))
                per_frame.append({"frame": frame, "points": len(result.points), "foreground": int(fg.sum())})
            progress.advance(task)
    fg_points = np.concatenate([p for p, _, _ in parts_fg] or [np.zeros((0, 3))])
    fg_colors = np.concatenate([c for _, c, _ in parts_fg] or [np.zeros((0, 3), np.float32)])
    fg_times = np.concatenate([t for _, _, t in parts_fg] or [np.zeros(0, np.float32)])
    bg_points = np.concatenate([p for p, _ in parts_bg] or [np.zeros((0, 3))])
    bg_colors = np.concatenate([c for _, c in parts_bg] or [np.zeros((0, 3), np.float32)])
    keep = thin(bg_points, VOXEL_FRACTION * scale)
    bg_points, bg_colors = bg_points[keep], bg_colors[keep]
    points = np.concatenate([bg_points, fg_points]).astype(np.float32)
    colors = np.concatenate([bg_colors, fg_colors]).astype(np.float32)
    times = np.concatenate([np.full(len(bg_points), 0.5, np.float32), fg_times]).astype(np.float32)
    static = np.concatenate([np.ones(len(bg_points), bool), np.zeros(len(fg_points), bool)])
    info = {
        "sampled_frames": sampled,
        "points": int(len(points)),
        "static_points": int(len(bg_points)),
        "dynamic_points": int(len(fg_points)),
        "features": int(features),
        "seconds": round(time.perf_counter() - start_time, 2),
        "width": width,
        "per_frame": per_frame,
    }
    return InitResult("triangulate", points, colors, times, static, info)


def _cache_path(views: Sequence[SourceView], frames, sequence: SourceSequence, folder: Path, every: int, width, cache_dir) -> Path:
    from .triangulate import MAX_FEATURES, PEAK_THRESHOLD

    import pycolmap

    sampled = set(sampled_frames(frames, every))
    inputs = sorted({str(v.path) for v in views if v.frame in sampled and v.path is not None})
    metadata = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in (".json", ".npy"))
    key = cache_key(
        "init-triangulate", VERSION, sequence.kind, str(folder.resolve()), sorted(sampled), width,
        [file_identity(folder / name) for name in metadata], [file_identity(Path(p)) for p in inputs],
        [v.camera.world_to_camera.tolist() for v in views if v.frame in sampled],
        PEAK_THRESHOLD, MAX_FEATURES, VOXEL_FRACTION, pycolmap.__version__,
    )
    return cache_root(cache_dir) / "init" / f"{key}.npz"


def _load_cached(path: Path) -> Optional[InitResult]:
    import json

    try:
        with np.load(path, allow_pickle=False) as data:
            info = json.loads(str(data["info"]))
            return InitResult(
                "triangulate", data["points"].astype(np.float32), data["colors"].astype(np.float32),
                data["times"].astype(np.float32), data["static"].astype(bool), dict(info, cached=str(path)),
            )
    except (OSError, ValueError, KeyError, EOFError):
        return None  # an unreadable cache entry is recomputed


def _save_cached(path: Path, result: InitResult) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.part.npz")
    try:
        np.savez(
            partial, points=result.points, colors=result.colors, times=result.times, static=result.static,
            info=np.array(json.dumps(result.info)),
        )
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def initialise(
    method: str,
    views: Sequence[SourceView],
    frames: tuple[int, int],
    sequence: SourceSequence,
    *,
    folder: Path,
    scale: float,
    random_bounds,
    every: int,
    count: int,
    seed: int,
    cache_dir=None,
    width: Optional[int] = None,
    min_points: int = MIN_POINTS,
) -> InitResult:
    """The initial points by ``method`` ("triangulate", "random", "none"; see the module docs)."""
    if method == "none":
        return InitResult("none")
    if method == "random":
        return random_init(random_bounds, count, seed)
    if sequence.monocular:
        raise InputError(
            f"{folder}: a {sequence.kind} scene has one camera per time, nothing to triangulate (use init 'random')"
        )
    if width is None:
        width = min(INIT_MAX_WIDTH, max(v.camera.width for v in views))
    path = _cache_path(views, frames, sequence, folder, every, width, cache_dir)
    result = _load_cached(path) if path.is_file() else None
    if result is None:
        result = triangulate_init(
            views, frames, sequence, scale=scale, every=every, width=width
        )
        try:
            _save_cached(path, result)
        except OSError as exc:
            warn(f"could not cache the triangulated points in {path.parent} ({exc})")
    if len(result.points) < min_points:
        reason = f"triangulation gave {len(result.points)} points (< {min_points})"
        warn(f"{reason}; using {count} random points instead")
        return random_init(random_bounds, count, seed, {"fallback": reason, "triangulation": result.info})
    return result
