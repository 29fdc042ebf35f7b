"""Dynamic (multi-view video) datasets: posed images over time, decoded lazily.

>>> from gscc.data.dynamic import load_dynamic_dataset
>>> data = load_dynamic_dataset("../shared/data/dynamic/panoptic-basketball",
...                             frames=(0, 50), resolution=320)        # doctest: +SKIP
>>> f = data.train[0]; f.name, f.time, f.image().shape, f.mask().shape   # doctest: +SKIP
('cam01/000000', 0.0, torch.Size([180, 320, 3]), torch.Size([180, 320]))

API
    ``load_dynamic_dataset(path, *, frames=None, downscale=1.0, resolution=None,
    background=None, max_views=None, init="auto", init_every=10, init_points=100_000,
    init_width=None, seed=0, cache_dir=None, cache_bytes=512 MiB, near=None) -> DynamicDataset``;
    ``is_dynamic_dataset(path) -> bool``; ``detect_dynamic_kind(path) -> str | None``;
    ``parse_frames("0:50") -> (0, 50)``.

    :class:`DynamicDataset`: ``kind`` ("panoptic" | "n3dv" | "dnerf"), ``train`` and
    ``test`` lists of :class:`TimedFrame`, ``frames`` (the source range [start, end)),
    ``fps``, ``points`` (M, 3) float32, ``colors`` (M, 3) float32 in [0, 1], ``point_times``
    (M,) float32 in [0, 1], ``point_static`` (M,) bool (True: a point of the static
    background, seen at every time; its ``point_times`` entry is 0.5), ``scale`` (scene
    scale, as the static SceneDataset's ``scene_scale``), ``bounds`` (low, high), ``background``
    (RGB in [0, 1]), ``near`` (the near plane for evaluation, world units), ``init`` (how the
    points were made: "triangulate", "random" or "none"), ``init_info`` (figures of the
    initialisation). ``scene_scale`` and ``point_colors`` are aliases of ``scale`` and
    ``colors``, the static dataset's names.

    :class:`TimedFrame`: ``camera`` (at the training resolution, OpenCV convention),
    ``time`` (normalised, see below), ``frame`` (index in the source sequence), ``name``
    ("cam00/000075"), ``camera_id`` ("cam00"), ``image()`` -> (H, W, 3) float32 in [0, 1]
    composited over the background, ``image_uint8()`` -> (H, W, 3) uint8, ``mask()`` -> (H, W)
    bool foreground or None.

Kinds (detected in this order; see each module): ``panoptic`` (Dynamic3DGaussians'
``train_meta.json``, :mod:`gscc.data.panoptic`), ``n3dv`` (``poses_bounds.npy`` and
``camNN.mp4``, :mod:`gscc.data.n3dv`), ``dnerf`` (``transforms_train.json`` with a per-frame
``time``, :mod:`gscc.data.dnerf`). A D-NeRF folder is also a static NeRF folder to
:func:`gscc.data.load_dataset`: callers check :func:`is_dynamic_dataset` first.

Frames and time
    ``frames=(start, end)`` keeps source frames start <= f < end (``end=None``: to the last);
    default: all. With F = end - start frames, frame f has time (f - start) / (F - 1) (0 when
    F = 1). D-NeRF views keep the file's own time, mapped the same way: (t - t_start) /
    (t_end - t_start) with t_start, t_end the times of frames start and end - 1, clipped to
    [0, 1] (the identity over the whole sequence).

Views
    Multi-view kinds: every camera of the split at every frame of the range, frame-major
    (all cameras of the first frame, then of the next, ...).
    ``max_views`` keeps at most that many cameras of each split (evenly spaced through them;
    for the monocular D-NeRF: that many views). Every image file of the range is checked to
    exist up front (one-line InputError naming it).

Resolution
    ``downscale``/``resolution`` as :func:`gscc.data.load_dataset` (no upsampling).

Memory
    Nothing is decoded at load time. Images are decoded on first use at the training size and
    kept as uint8 in a least-recently-used cache of ``cache_bytes`` (see
    :mod:`gscc.data.frame_store`; video frames are decoded once per camera into a uint8 file
    store under ``cache_dir``, see :mod:`gscc.data.video`).

Initialisation (``init``; see :mod:`gscc.data.dynamic_init`)
    "triangulate": SIFT features matched across the cameras of every ``init_every``-th frame
    of the range (images ``init_width`` pixels wide; default the source width, at most 1024)
    and triangulated with the known poses (pycolmap), each point carrying its
    frame's time; with foreground masks (Panoptic ``seg/``), the points on the moving
    foreground are kept per sampled frame and the static background's once. Falls back to
    "random" (with a warning) when it yields fewer than 500 points. The
    result is cached under ``cache_dir`` (default ``$GSCC_CACHE_DIR`` or ``~/.cache/gscc``).
    "random": ``init_points`` points uniform in the box the cameras look at
    (:func:`gscc.data.dataset.camera_bounds`), random colours, uniform random times.
    "none": no points. "auto": "triangulate" for multi-view kinds, "random" for the
    monocular D-NeRF (one camera per time: nothing to triangulate).

Scene scale and bounds
    Scale: :func:`gscc.data.dataset.scene_scale` of the training cameras (one per physical
    camera). Bounds: the 1st..99th percentile box of triangulated points; otherwise the box
    the cameras look at (:func:`gscc.data.dataset.camera_bounds`), where random points are
    drawn.

Background and near plane
    ``background=None`` takes the kind's default (Panoptic and N3DV: black, real captures;
    D-NeRF: white). ``near=None`` takes the kind's default near plane for evaluation
    (Panoptic 0.2: its test cameras sit inside the scene; N3DV and D-NeRF 0.01, the
    renderer's default); the trainer's evaluation applies ``DynamicDataset.near``.
"""

from __future__ import annotations

import math
import os
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from ..cameras.camera import Camera
from ..errors import InputError
from ..index_range import parse_index_range
from .dataset import _check_options, _training_camera, _whole, camera_bounds, evenly_spaced, point_bounds, scene_scale
from .cache import cache_root
from .dnerf import is_dnerf_dir, load_dnerf
from .frame_store import DEFAULT_BUDGET, FrameStore
from .images import Background, to_uint8
from .n3dv import is_n3dv_dir, load_n3dv
from .panoptic import is_panoptic_dir, load_panoptic
from .sequence import SourceView

KINDS = ("panoptic", "n3dv", "dnerf")
INITS = ("auto", "triangulate", "random", "none")
EXPECTED = (
    "expected a dynamic dataset: Dynamic3DGaussians/Panoptic (train_meta.json), "
    "N3DV (poses_bounds.npy and camNN.mp4) or D-NeRF (transforms_train.json with 'time')"
)


@dataclass(eq=False)
class TimedFrame:
    """One training or test image: a camera at a time. Pixels are decoded on first use."""

    camera: Camera  # at the training resolution, OpenCV convention
    time: float  # normalised over the frame range, in [0, 1]
    frame: int  # frame index in the source sequence
    name: str  # "cam00/000075"
    camera_id: str  # the physical camera ("cam00")
    _store: FrameStore = field(repr=False)
    _key: int = field(repr=False)
    _has_mask: bool = field(default=False, repr=False)

    def image_uint8(self) -> np.ndarray:
        """(H, W, 3) uint8, composited over the background (read-only, shared with the cache)."""
        return self._store.get(("image", self._key))

    def image(self) -> torch.Tensor:
        """(H, W, 3) float32 in [0, 1], composited over the background (a new tensor)."""
        return torch.from_numpy(self.image_uint8().astype(np.float32) * np.float32(1.0 / 255.0))

    def mask(self) -> Optional[torch.Tensor]:
        """(H, W) bool, True on the moving foreground; None where the dataset has no mask."""
        if not self._has_mask:
            return None
        return torch.from_numpy(self._store.get(("mask", self._key)).copy())


@dataclass
class DynamicDataset:
    kind: str  # "panoptic" | "n3dv" | "dnerf"
    train: list[TimedFrame]
    test: list[TimedFrame]
    frames: tuple[int, int]  # the source range [start, end)
    fps: float
    points: Optional[np.ndarray]  # (M, 3) float32
    colors: Optional[np.ndarray]  # (M, 3) float32 in [0, 1]
    point_times: Optional[np.ndarray]  # (M,) float32 normalised time of each point's frame
    point_static: Optional[np.ndarray]  # (M,) bool: static background (time 0.5, seen throughout)
    scale: float  # scene scale (as SceneDataset.scene_scale)
    bounds: tuple[np.ndarray, np.ndarray]
    background: Background
    near: float  # near plane for evaluation, world units
    init: str  # "triangulate" | "random" | "none"
    init_info: dict = field(default_factory=dict)
    store: Optional[FrameStore] = field(default=None, repr=False)

    @property
    def scene_scale(self) -> float:
        return self.scale

    @property
    def point_colors(self) -> Optional[np.ndarray]:
        return self.colors

    @property
    def frame_count(self) -> int:
        return self.frames[1] - self.frames[0]

    def time_of(self, frame: int) -> float:
        """The normalised time of source frame ``frame``."""
        return frame_time(frame, self.frames)


def detect_dynamic_kind(path: str | os.PathLike) -> Optional[str]:
    """The dynamic dataset kind of a folder, or None when it is none of them."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    if is_panoptic_dir(folder):
        return "panoptic"
    if is_n3dv_dir(folder):
        return "n3dv"
    if is_dnerf_dir(folder):
        return "dnerf"
    return None


def is_dynamic_dataset(path: str | os.PathLike) -> bool:
    return detect_dynamic_kind(path) is not None


def parse_frames(text: str) -> tuple[int, Optional[int]]:
    """"START:END" (either may be empty: from the first / to the last) or one frame "N"."""
    try:
        return parse_index_range(text)
    except ValueError:
        raise InputError(f"frames must be START:END (whole numbers), got {text!r}") from None


def frame_time(frame: int, frames: tuple[int, int]) -> float:
    start, end = frames
    return 0.0 if end - start <= 1 else (frame - start) / (end - start - 1)


def _range(frames, frame_count: int) -> tuple[int, int]:
    if frames is None:
        return 0, frame_count
    try:
        start, end = frames
    except (TypeError, ValueError):
        raise InputError(f"frames must be (start, end), got {frames!r}") from None
    end = frame_count if end is None else end
    if not (_whole(start) and _whole(end)):
        raise InputError(f"frames must be whole numbers, got {frames!r}")
    if not 0 <= start < end <= frame_count:
        raise InputError(f"frames {start}:{end} is not a range within the sequence's {frame_count} frames (0:{frame_count})")
    return int(start), int(end)


def _keep_cameras(views: list[SourceView], max_views: Optional[int], monocular: bool) -> list[SourceView]:
    if max_views is None:
        return views
    if monocular:
        return evenly_spaced(views, max_views)
    ids = sorted({v.camera_id for v in views})
    kept = set(evenly_spaced(ids, max_views))
    return [v for v in views if v.camera_id in kept]


def _view_time(view: SourceView, frames: tuple[int, int], times: dict[int, float]) -> float:
    if view.time is None:
        return frame_time(view.frame, frames)
    start, end = frames
    t0, t1 = times.get(start, 0.0), times.get(end - 1, 1.0)
    if not t1 > t0:
        return 0.0
    return float(min(1.0, max(0.0, (view.time - t0) / (t1 - t0))))


def _check_files(views: Sequence[SourceView]) -> None:
    seen: set[Path] = set()
    for view in views:
        if view.path is not None and view.path not in seen:
            seen.add(view.path)
            if not view.path.is_file():
                raise InputError(f"{view.path}: no such file (view {view.name!r})")


def _image_reader(view: SourceView, camera: Camera, background: Background):
    return lambda: to_uint8(view.read(camera.width, camera.height, background))


def _mask_reader(view: SourceView, camera: Camera):
    return lambda: view.read_mask(camera.width, camera.height)


def _timed_frames(
    views: list[SourceView],
    frames: tuple[int, int],
    downscale: float,
    resolution: Optional[int],
    background: Background,
    store: FrameStore,
    times: dict[int, float],
    keys: Iterator[int],
) -> list[TimedFrame]:
    result = []
    cameras: dict[tuple[str, bytes], Camera] = {}
    for view in views:
        key = (view.camera_id, view.camera.world_to_camera.tobytes() + view.camera.K.tobytes())
        camera = cameras.get(key)
        if camera is None:  # cameras that do not move are scaled once
            camera = cameras[key] = _training_camera(view.camera, downscale, resolution)
        camera = replace(camera, name=view.name)
        index = next(keys)
        store.add(("image", index), _image_reader(view, camera, background))
        if view.read_mask is not None:
            store.add(("mask", index), _mask_reader(view, camera))
        time = _view_time(view, frames, times)
        result.append(TimedFrame(camera, time, view.frame, view.name, view.camera_id, store, index, view.read_mask is not None))
    return result


def load_dynamic_dataset(
    path: str | os.PathLike,
    *,
    frames: Optional[tuple[int, Optional[int]]] = None,
    downscale: float = 1.0,
    resolution: Optional[int] = None,
    background: Optional[Background] = None,
    max_views: Optional[int] = None,
    init: str = "auto",
    init_every: int = 10,
    init_points: int = 100_000,
    init_width: Optional[int] = None,
    seed: int = 0,
    cache_dir: Optional[str | os.PathLike] = None,
    cache_bytes: int = DEFAULT_BUDGET,
    near: Optional[float] = None,
) -> DynamicDataset:
    """The dynamic dataset in folder ``path`` (see the module docs)."""
    from .dynamic_init import initialise

    folder = Path(path)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder ({EXPECTED})")
    kind = detect_dynamic_kind(folder)
    if kind is None:
        raise InputError(f"{folder}: not a dynamic dataset ({EXPECTED})")
    if init not in INITS:
        raise InputError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    if not _whole(init_every) or init_every < 1:
        raise InputError(f"init_every must be a whole number >= 1, got {init_every!r}")
    if init_width is not None and (not _whole(init_width) or init_width < 16):
        raise InputError(f"init_width must be a whole number of pixels >= 16, got {init_width!r}")
    if not _whole(cache_bytes) or cache_bytes < 0:
        raise InputError(f"cache_bytes must be a whole number >= 0, got {cache_bytes!r}")
    if near is not None and not (isinstance(near, (int, float)) and math.isfinite(near) and near > 0):
        raise InputError(f"near must be a positive number, got {near!r}")
    loaders = {"panoptic": load_panoptic, "n3dv": load_n3dv, "dnerf": load_dnerf}
    sequence = loaders[kind](folder)
    background = sequence.background if background is None else background
    background = _check_options(downscale, resolution, background, 0, max_views)
    downscale = float(downscale)
    start, end = _range(frames, sequence.frame_count)

    def in_range(views: list[SourceView]) -> list[SourceView]:
        kept = [v for v in views if start <= v.frame < end]
        return _keep_cameras(kept, max_views, sequence.monocular)

    train_views, test_views = in_range(sequence.train), in_range(sequence.test)
    if not train_views:
        raise InputError(f"{folder}: no training views in frames {start}:{end}")
    _check_files(train_views + test_views)
    times = {v.frame: v.time for v in sequence.train if v.time is not None}
    if sequence.select is not None:
        sequence.select(start, end, cache_root(cache_dir))
    store = FrameStore(cache_bytes)
    keys = itertools.count()
    train = _timed_frames(train_views, (start, end), downscale, resolution, background, store, times, keys)
    test = _timed_frames(test_views, (start, end), downscale, resolution, background, store, times, keys)

    unique = {f.camera_id: f.camera for f in train}
    scale = scene_scale(list(unique.values()))
    if init == "auto":
        init = "random" if sequence.monocular else "triangulate"
    box = camera_bounds(list(unique.values()), scale)
    result = initialise(
        init,
        train_views,
        (start, end),
        sequence,
        folder=folder,
        scale=scale,
        random_bounds=box,
        every=init_every,
        count=init_points,
        seed=seed,
        cache_dir=cache_dir,
        width=init_width,
    )
    bounds = point_bounds(result.points, scale) if result.method == "triangulate" else box
    return DynamicDataset(
        kind=kind,
        train=train,
        test=test,
        frames=(start, end),
        fps=sequence.fps,
        points=result.points,
        colors=result.colors,
        point_times=result.times,
        point_static=result.static,
        scale=scale,
        bounds=bounds,
        background=background,
        near=sequence.near if near is None else float(near),
        init=result.method,
        init_info=result.info,
        store=store,
    )
