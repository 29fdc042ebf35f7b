"""Cameras: the pinhole model and loaders (NeRF transforms.json, COLMAP, orbits).

A camera spec, as the ``--cameras`` option of ``gscc render`` and ``gscc eval`` takes it:

- ``path/transforms_train.json``: one NeRF-style transforms file (see ``nerf.py``);
- ``path/dataset``: a folder with ``transforms_test.json`` (used when present), else
  ``transforms.json``, else every ``transforms_*.json``;
- ``path/scene``: a COLMAP model folder, or a folder with ``sparse/0`` (see ``colmap.py``);
- ``path/model.splatv``: the cameras in a `.splatv` file's header (see ``splatv.py``);
- ``orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS]``: N cameras around the splats (see
  ``orbit.py``), ``width`` x ``height`` pixels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import InputError
from ..splats import SplatSet
from .camera import Camera
from .colmap import find_model_dir, load_colmap
from .nerf import load_dataset, load_transforms, transforms_files
from .orbit import orbit_around, parse_orbit_spec
from .splatv import load_splatv_views
from .views import View

DEFAULT_ORBIT_WIDTH = 640
DEFAULT_ORBIT_HEIGHT = 480
MAX_PIXELS = 1 << 28

SPEC_HELP = "a transforms*.json, a dataset folder, a COLMAP model folder, a .splatv (its header cameras), or orbit:N"


def is_orbit(spec: str) -> bool:
    return spec.strip().startswith("orbit:") or spec.strip() == "orbit"


def load_views(
    spec: str | os.PathLike,
    *,
    splats: Optional[SplatSet] = None,
    width: Optional[int] = None,
    height: Optional[int] = None,
    scale: float = 1.0,
    every: int = 1,
) -> list[View]:
    """The views a camera spec names (see the module docstring), scaled by ``scale``.

    ``width`` and ``height`` size orbit cameras (default 640x480) and are refused for
    dataset cameras, whose size comes from the dataset (use ``scale``). ``every`` keeps
    every N-th view starting with the first (8 gives the usual 3DGS hold-out test split).
    """
    if not (scale > 0 and scale <= 16):
        raise InputError(f"scale must be in (0, 16], got {scale}")
    if every < 1:
        raise InputError(f"every must be at least 1, got {every}")
    for label, value in (("width", width), ("height", height)):
        if value is not None and not 1 <= value <= 1 << 15:
            raise InputError(f"{label} must be 1..32768 pixels, got {value}")
    text = os.fspath(spec)
    if is_orbit(text):
        orbit = parse_orbit_spec(text.strip() if text.strip() != "orbit" else "orbit:")
        if splats is None:
            raise InputError("orbit cameras need a splat set to orbit around")
        cameras = orbit_around(
            splats, orbit, width=width or DEFAULT_ORBIT_WIDTH, height=height or DEFAULT_ORBIT_HEIGHT
        )
        views = [View(camera) for camera in cameras]
    else:
        if width is not None or height is not None:
            raise InputError("width and height apply only to orbit cameras; use scale to resize dataset cameras")
        views = _load_path(Path(text))
    views = views[::every]
    if scale != 1.0:
        views = [view.scaled(scale) for view in views]
    for view in views:
        if view.camera.width * view.camera.height > MAX_PIXELS:
            raise InputError(f"camera {view.camera.name!r}: {view.camera.width}x{view.camera.height} is too many pixels")
    return views


def _load_path(path: Path) -> list[View]:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder (cameras: {SPEC_HELP})")
    if path.is_file():
        if path.suffix.lower() == ".splatv":
            return load_splatv_views(path)
        if path.suffix.lower() != ".json":
            raise InputError(f"{path}: not a camera file (cameras: {SPEC_HELP})")
        return load_transforms(path)
    if path.is_dir():
        if transforms_files(path):
            return load_dataset(path)
        if find_model_dir(path) is not None:
            return load_colmap(path)
        raise InputError(f"{path}: holds no transforms*.json and no COLMAP model (cameras: {SPEC_HELP})")
    raise InputError(f"{path}: not a file or folder")


def load_cameras(
    spec: str | os.PathLike,
    *,
    splats: Optional[SplatSet] = None,
    width: Optional[int] = None,
    height: Optional[int] = None,
    scale: float = 1.0,
    every: int = 1,
) -> list[Camera]:
    """The cameras a camera spec names; see :func:`load_views`."""
    views = load_views(spec, splats=splats, width=width, height=height, scale=scale, every=every)
    return [view.camera for view in views]


__all__ = [
    "Camera",
    "View",
    "is_orbit",
    "load_cameras",
    "load_colmap",
    "load_dataset",
    "load_transforms",
    "load_views",
    "parse_orbit_spec",
]
