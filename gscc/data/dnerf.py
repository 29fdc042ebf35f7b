"""D-NeRF synthetic scenes (Pumarola et al., 2021): monocular, one camera pose per time.

``transforms_train.json`` and ``transforms_test.json`` (``transforms_val.json`` is ignored)
are NeRF-style transforms files (parsed by :mod:`gscc.cameras.nerf`: Blender/OpenGL poses,
``camera_angle_x``) whose frames also carry a ``time`` in [0, 1]. A folder is a D-NeRF scene
when the first frame of its ``transforms_train.json`` has a ``time``.

Frames: the training views in time order are the source frames; with N of them, a view at
time t is frame ``round(t * (N - 1))`` (D-NeRF's times are i / (N - 1)). Each view keeps its
file's time (see :func:`gscc.data.dynamic.load_dynamic_dataset` for the renormalisation to a
frame range). Defaults: white background (the images are RGBA renders); near plane 0.01 (the
renderer's default); fps 30 (D-NeRF gives none; it only sets playback speed).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from ..cameras.nerf import load_transforms, read_json
from ..errors import InputError
from .images import read_pixels
from .sequence import SourceSequence, SourceView

TRAIN_FILE = "transforms_train.json"
TEST_FILE = "transforms_test.json"
FPS = 30.0
NEAR = 0.01
BACKGROUND = (1.0, 1.0, 1.0)


def is_dnerf_dir(folder: Path) -> bool:
    path = folder / TRAIN_FILE
    if not path.is_file():
        return False
    try:
        data = read_json(path)
    except InputError:
        return False
    frames = data.get("frames") if isinstance(data, dict) else None
    return isinstance(frames, list) and bool(frames) and isinstance(frames[0], dict) and "time" in frames[0]


def _times(path: Path) -> list[float]:
    data = read_json(path)
    frames = data["frames"]  # load_transforms has checked the layout
    times = []
    for index, frame in enumerate(frames):
        value = frame.get("time")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InputError(f"{path}: frame {index}: no 'time' (a number in [0, 1])")
        if not 0.0 <= value <= 1.0:
            raise InputError(f"{path}: frame {index}: 'time' {value} is outside [0, 1]")
        times.append(float(value))
    return times


def _pixel_reader(path: Path, name: str):
    return lambda width, height, background: read_pixels(path, width, height, background, name)


def _views(path: Path) -> list[tuple[float, SourceView]]:
    """(time, view) for each frame of a transforms file, frame index still unset (-1)."""
    views = load_transforms(path)  # checks the layout first
    result = []
    for view, time in zip(views, _times(path)):
        if view.image_path is None:
            raise InputError(f"{path}: view {view.camera.name!r} has no 'file_path' (training needs its image)")
        name = view.camera.name
        source = SourceView(view.camera, -1, name, name, _pixel_reader(view.image_path, name), view.image_path, time=time)
        result.append((time, source))
    return sorted(result, key=lambda item: item[0])


def load_dnerf(folder: Path) -> SourceSequence:
    train = _views(folder / TRAIN_FILE)
    test = _views(folder / TEST_FILE) if (folder / TEST_FILE).is_file() else []
    frame_count = len(train)

    def indexed(items: list[tuple[float, SourceView]]) -> list[SourceView]:
        return [replace(view, frame=int(round(time * (frame_count - 1)))) for time, view in items]

    return SourceSequence(
        "dnerf", indexed(train), indexed(test), frame_count, FPS, BACKGROUND, NEAR, monocular=True
    )
