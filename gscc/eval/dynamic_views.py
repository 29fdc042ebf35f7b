"""Renders and scores of dynamic splats at chosen times (``gscc render/eval --time/--frames``,
``gscc render --video``).

A dynamic source is a ``.splatv`` file, a dynamic ``.ply`` (STG or motion-basis layout), a
dynamic ``.gsc`` file (format 1.3 and later: every segment decoded), or a finished dynamic
training run (its folder or ``scene.json``: every segment of the scene).
Times are normalised over the scene, [0, 1]: ``--time 0,0.5,1`` lists them, ``--frames N``
takes N evenly spaced ones (0 and 1 included). At each time the scene is an ordinary static
splat set (:meth:`gscc.dynamic.DynamicScene.at`), rendered and scored as static splats are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..cameras import Camera
from ..dynamic import DynamicScene
from ..errors import InputError
from .render_views import Background, Renderer, to_uint8
from .video import write_mp4

DEFAULT_VIDEO_FRAMES = 60
SCENE_FILE = "scene.json"


def is_dynamic_source(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds dynamic splats (a dynamic file or a dynamic run)."""
    from ..io import is_dynamic_file

    path = Path(path)
    if path.is_dir():
        return (path / SCENE_FILE).is_file()
    if path.name == SCENE_FILE:
        return True
    if path.suffix.lower() == ".gsc" and path.is_file():
        from ..codec.dynamic_decoder import is_dynamic_gsc

        return is_dynamic_gsc(path.read_bytes())  # the whole file (unpack checks the chunk table), the header parsed
    return path.is_file() and is_dynamic_file(path)


def load_dynamic_scene(path: str | os.PathLike) -> DynamicScene:
    """The dynamic scene in ``path`` (see the module docstring)."""
    path = Path(path)
    if path.is_dir() or path.name == SCENE_FILE:
        from ..train.segments import load_run_scene

        return load_run_scene(path)
    if path.suffix.lower() == ".gsc":
        from ..codec.dynamic_decoder import decode_dynamic

        return decode_dynamic(path.read_bytes())
    from ..io import load_dynamic

    return DynamicScene.single(load_dynamic(path))


def parse_times(time: Optional[str], frames: Optional[int], default: Optional[int] = None) -> list[float]:
    """The times chosen by ``--time T[,T...]`` or ``--frames N`` (one of them; ``default``
    evenly spaced times when neither is given, else time 0.5)."""
    if time is not None and frames is not None:
        raise InputError("give --time or --frames, not both")
    if time is not None:
        try:
            times = [float(part) for part in time.split(",") if part.strip()]
        except ValueError:
            raise InputError(f"--time takes numbers in [0, 1] separated by commas, got {time!r}") from None
        if not times or not all(np.isfinite(t) and 0.0 <= t <= 1.0 for t in times):
            raise InputError(f"--time takes numbers in [0, 1] separated by commas, got {time!r}")
        return times
    count = frames if frames is not None else default
    if count is None:
        return [0.5]
    if count < 1:
        raise InputError(f"--frames must be at least 1, got {count}")
    return [0.5] if count == 1 else [float(t) for t in np.linspace(0.0, 1.0, count)]


def at_times(path: Optional[str | os.PathLike], times: Sequence[Optional[float]], load_static) -> list:
    """The splats of ``path`` at each time: a dynamic source evaluated at each, a static file
    (read with ``load_static``) the same at every time; None for no path."""
    if path is None:
        return [None] * len(times)
    if is_dynamic_source(path):
        scene = load_dynamic_scene(path)
        return [scene.at(0.5 if t is None else t) for t in times]
    static = load_static(path)
    return [static] * len(times)


def time_folders(times: Sequence[float]) -> list[str]:
    """Sub-folder names of several times' renders: ``t0000``, ``t0001``, ..."""
    return [f"t{index:04d}" for index in range(len(times))]


def render_video(
    scene: DynamicScene,
    camera: Camera,
    times: Sequence[float],
    path: str | os.PathLike,
    *,
    fps: float,
    backend: str = "auto",
    background: Background = (0.0, 0.0, 0.0),
    progress=None,
) -> int:
    """An MP4 of ``camera``'s view of the scene at each of ``times``; returns the frame count."""
    if not times:
        raise InputError("no times to render")
    frames = []
    for index, t in enumerate(times):
        image, _, _ = Renderer(scene.at(t), backend=backend, background=background).render(camera)
        frames.append(to_uint8(image))
        if progress is not None:
            progress(index + 1, len(times))
    write_mp4(path, frames, fps)
    return len(frames)
