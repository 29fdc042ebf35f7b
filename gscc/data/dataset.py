"""Scene datasets for training: posed images at the training resolution, held in memory.

``load_dataset(path)`` reads a COLMAP scene or a NeRF-style scene (see :func:`detect_kind`)
and returns a :class:`SceneDataset`: train and test :class:`Frame` lists (camera scaled to
the training resolution, image as an (H, W, 3) float32 tensor in [0, 1]), the initial
points where the dataset has them, the scene scale and a box for random initial points.

Splits
    COLMAP: registered images sorted by name; every ``test_every``-th (index % test_every
    == 0) is held out as a test view. NeRF: the dataset's own split when it has
    ``transforms_train.json`` and ``transforms_test.json``; else the views of
    ``transforms_train.json`` or ``transforms.json`` in file order, every
    ``test_every``-th held out. ``test_every=0`` holds nothing out. ``max_views`` then
    keeps at most that many views of each split, evenly spaced through it (for smoke
    tests); only the kept views' images are read.

Resolution
    ``downscale`` divides each camera's size (4: 800x800 becomes 200x200); ``resolution``
    is the target width in pixels of every image (the height keeps the aspect). Cameras are
    scaled with :meth:`Camera.scaled`, images resized to exactly the scaled camera's size
    (see :mod:`gscc.data.images`). Upsampling is refused.

Scene scale
    1.1 x the largest distance of a training camera centre from their mean (3DGS's
    ``cameras_extent``); 1.1 when that distance is 0 (a single training camera).

Bounds (for random initial points)
    Where there are points: their 1st..99th percentile box per axis. Otherwise, when the
    cameras look at a common point (object-centric captures, NeRF-synthetic): a cube about
    that point with half-size 0.372 x the median camera distance to it — [-1.5, 1.5]^3 for
    NeRF-synthetic, whose cameras are 4.03 from the origin. Otherwise (forward-facing
    captures): a box three times the size of the cameras' bounding box (3DGS's random
    initialisation), at least the scene scale across.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..cameras.camera import Camera
from ..cameras.colmap import find_model_dir
from ..cameras.views import View
from ..errors import InputError
from .colmap import colmap_points, colmap_views
from .images import Background, load_images
from .nerf import TRAIN_FILES, is_nerf_dir, nerf_points, nerf_views

KINDS = ("colmap", "nerf")
EXTENT_FACTOR = 1.1
POINT_PERCENTILES = (1.0, 99.0)
OBJECT_FRACTION = 0.372  # half-size of the object box / camera distance (1.5 / 4.03 for NeRF-synthetic)
LOOK_AT_MIN_EIGENVALUE = 0.02  # per camera: below it the viewing axes are too parallel to meet
MAX_DOWNSCALE = 1024.0

EXPECTED = (
    "expected a COLMAP scene (images/ and sparse/0/ or sparse/ with cameras and images .bin or .txt) "
    f"or a NeRF scene ({' or '.join(TRAIN_FILES)})"
)


@dataclass
class Frame:
    """One posed training or test image."""

    camera: Camera  # at the training resolution
    image: torch.Tensor  # (H, W, 3) float32 in [0, 1], composited over the dataset background
    name: str


@dataclass
class SceneDataset:
    kind: str  # "colmap" | "nerf"
    train: list[Frame]
    test: list[Frame]
    points: Optional[np.ndarray]  # (M, 3) float32 initial points, or None
    point_colors: Optional[np.ndarray]  # (M, 3) float32 in [0, 1], or None
    scene_scale: float
    background: Background
    bounds: tuple[np.ndarray, np.ndarray]  # (low (3,), high (3,)) float64


def detect_kind(path: str | os.PathLike) -> str:
    """"colmap" or "nerf" for a dataset folder; InputError for anything else.

    A folder with a COLMAP model (itself, ``sparse/0`` or ``sparse``) is "colmap", checked
    first as 3DGS does; one with ``transforms_train.json`` or ``transforms.json`` is "nerf".
    """
    folder = Path(path)
    if not folder.exists():
        raise InputError(f"{folder}: no such folder ({EXPECTED})")
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder ({EXPECTED})")
    if find_model_dir(folder) is not None:
        return "colmap"
    if is_nerf_dir(folder):
        return "nerf"
    raise InputError(f"{folder}: not a training dataset ({EXPECTED})")


def _whole(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_options(downscale, resolution, background, test_every, max_views) -> Background:
    if isinstance(downscale, bool) or not isinstance(downscale, numbers.Real) or not math.isfinite(downscale):
        raise InputError(f"downscale must be a number, got {downscale!r}")
    if not 1.0 <= downscale <= MAX_DOWNSCALE:
        raise InputError(f"downscale must be in [1, {MAX_DOWNSCALE:g}] (no upsampling), got {downscale}")
    if resolution is not None:
        if not _whole(resolution) or resolution < 1:
            raise InputError(f"resolution must be a positive whole number of pixels, got {resolution!r}")
        if downscale != 1.0:
            raise InputError("give either downscale or resolution, not both")
    try:
        values = tuple(float(v) for v in background)
    except (TypeError, ValueError):
        raise InputError(f"background must be three numbers in [0, 1], got {background!r}") from None
    if len(values) != 3 or not all(0.0 <= v <= 1.0 for v in values):
        raise InputError(f"background must be three numbers in [0, 1], got {background!r}")
    if not _whole(test_every) or test_every < 0:
        raise InputError(f"test_every must be a whole number >= 0 (0: no test views), got {test_every!r}")
    if max_views is not None and (not _whole(max_views) or max_views < 1):
        raise InputError(f"max_views must be a positive whole number, got {max_views!r}")
    return values  # type: ignore[return-value]


def hold_out(views: Sequence[View], test_every: int) -> tuple[list[View], list[View]]:
    """(train, test): every ``test_every``-th view (index % test_every == 0) is a test view."""
    if test_every == 0:
        return list(views), []
    train = [v for i, v in enumerate(views) if i % test_every != 0]
    test = [v for i, v in enumerate(views) if i % test_every == 0]
    return train, test


def evenly_spaced(items: Sequence, count: Optional[int]) -> list:
    """At most ``count`` items, evenly spaced from the first to the last (all when None)."""
    if count is None or len(items) <= count:
        return list(items)
    if count == 1:
        return [items[0]]
    indices = np.round(np.linspace(0, len(items) - 1, count)).astype(int)
    return [items[i] for i in indices]


def _training_camera(camera: Camera, downscale: float, resolution: Optional[int]) -> Camera:
    if resolution is not None:
        if resolution > camera.width:
            raise InputError(
                f"resolution {resolution} is wider than view {camera.name!r} ({camera.width} pixels); no upsampling"
            )
        if resolution == camera.width:
            return camera
        return camera.scaled(resolution / camera.width)
    return camera if downscale == 1.0 else camera.scaled(1.0 / downscale)


def scene_scale(cameras: Sequence[Camera]) -> float:
    """1.1 x the largest distance of a camera centre from their mean (1.1 if that is 0)."""
    centers = np.array([c.center for c in cameras], dtype=np.float64)
    radius = float(np.linalg.norm(centers - centers.mean(axis=0), axis=1).max())
    if not radius > 1e-9:
        radius = 1.0
    return EXTENT_FACTOR * radius


def point_bounds(points: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.percentile(np.asarray(points, dtype=np.float64), POINT_PERCENTILES, axis=0)
    # a flat point set still gets a box with some thickness
    pad = np.maximum(1e-3 * scale - (high - low), 0.0) / 2.0
    return low - pad, high + pad


def camera_bounds(cameras: Sequence[Camera], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """A box for random points from the cameras alone (see the module docs)."""
    centers = np.array([c.center for c in cameras], dtype=np.float64)
    forwards = np.array([c.camera_to_world[:3, 2] for c in cameras], dtype=np.float64)
    forwards /= np.linalg.norm(forwards, axis=1, keepdims=True)
    projectors = np.eye(3)[None] - forwards[:, :, None] * forwards[:, None, :]  # onto planes normal to the axes
    matrix = projectors.sum(axis=0)
    if len(cameras) >= 2 and np.linalg.eigvalsh(matrix)[0] / len(cameras) > LOOK_AT_MIN_EIGENVALUE:
        target = np.linalg.solve(matrix, np.einsum("nij,nj->i", projectors, centers))
        offsets = target - centers
        if np.median(np.einsum("ni,ni->n", offsets, forwards)) > 0:  # in front of the cameras
            half = OBJECT_FRACTION * float(np.median(np.linalg.norm(offsets, axis=1)))
            return target - half, target + half
    low, high = centers.min(axis=0), centers.max(axis=0)
    middle = (low + high) / 2.0
    half = np.maximum(1.5 * (high - low), scale / 2.0)
    return middle - half, middle + half


def random_points(bounds: tuple[np.ndarray, np.ndarray], count: int, seed: int) -> np.ndarray:
    """(count, 3) float32 points uniformly distributed in the box ``bounds`` = (low, high)."""
    if not _whole(count) or count < 0:
        raise InputError(f"count must be a whole number >= 0, got {count!r}")
    low, high = (np.asarray(b, dtype=np.float64).reshape(-1) for b in bounds)
    if low.shape != (3,) or high.shape != (3,):
        raise InputError("bounds must be two 3-vectors (low, high)")
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(low <= high)):
        raise InputError(f"bounds must be finite with low <= high, got {low.tolist()} .. {high.tolist()}")
    rng = np.random.default_rng(seed)
    return (low + rng.random((int(count), 3)) * (high - low)).astype(np.float32)


def _frames(views: Sequence[View], downscale: float, resolution: Optional[int], background: Background) -> list[Frame]:
    cameras = [_training_camera(v.camera, downscale, resolution) for v in views]
    jobs = [(v.image_path, c.width, c.height, c.name) for v, c in zip(views, cameras)]
    images = load_images(jobs, background)
    return [Frame(camera, image, camera.name) for camera, image in zip(cameras, images)]


def load_dataset(
    path: str | os.PathLike,
    *,
    downscale: float = 1.0,
    resolution: Optional[int] = None,
    background: Background = (1.0, 1.0, 1.0),
    test_every: int = 8,
    max_views: Optional[int] = None,
) -> SceneDataset:
    """The training dataset in folder ``path`` (see the module docs)."""
    background = _check_options(downscale, resolution, background, test_every, max_views)
    downscale = float(downscale)
    folder = Path(path)
    kind = detect_kind(folder)
    if kind == "colmap":
        train_views, test_views = hold_out(colmap_views(folder), test_every)
        points, colors = colmap_points(folder)
    else:
        views, own_test, train_file = nerf_views(folder)
        if own_test is not None:
            train_views, test_views = views, own_test
        else:
            train_views, test_views = hold_out(views, test_every)
        points, colors = nerf_points(folder, train_file)
    if not train_views:
        raise InputError(f"{folder}: no training views (test_every={test_every} holds out every view)")
    train_views = evenly_spaced(train_views, max_views)
    test_views = evenly_spaced(test_views, max_views)

    train = _frames(train_views, downscale, resolution, background)
    test = _frames(test_views, downscale, resolution, background)
    scale = scene_scale([f.camera for f in train])
    if points is not None:
        bounds = point_bounds(points, scale)
    else:
        bounds = camera_bounds([f.camera for f in train], scale)
    return SceneDataset(kind, train, test, points, colors, scale, background, bounds)
