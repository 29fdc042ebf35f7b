"""The cameras a `.splatv` file carries in its header (splaTV's camera dicts).

Each is ``{"width", "height", "fx", "fy", "position": [x, y, z], "rotation": 3x3}`` with
``rotation`` and ``position`` the camera-to-world rotation and centre in the OpenCV
convention (3DGS's ``cameras.json``); the principal point is the image centre. For a
forward-facing capture these are the views the scene was made to be seen from, where
orbit cameras around it look at its unfinished back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.splatv import read_splatv_cameras
from .camera import Camera
from .views import View


def camera_from_splatv(entry: object, name: str) -> Camera:
    """One splaTV camera dict as a :class:`Camera`; InputError when it is malformed."""
    try:
        rotation = np.asarray(entry["rotation"], dtype=np.float64).reshape(3, 3)
        position = np.asarray(entry["position"], dtype=np.float64).reshape(3)
        width, height = int(entry["width"]), int(entry["height"])
        fx, fy = float(entry["fx"]), float(entry["fy"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{name}: not a camera (needs width, height, fx, fy, position, 3x3 rotation)") from None
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = rotation, position
    if not np.isfinite(c2w).all() or abs(np.linalg.det(rotation)) < 1e-6:
        raise InputError(f"{name}: camera pose is not a finite rotation and position")
    try:
        return Camera(width, height, fx, fy, width / 2.0, height / 2.0, np.linalg.inv(c2w), name)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None


def load_splatv_views(path: Path) -> list[View]:
    """The header cameras of a `.splatv` file, in file order."""
    cameras = read_splatv_cameras(path)
    if not cameras:
        raise InputError(f"{path}: the .splatv header carries no cameras")
    return [View(camera_from_splatv(entry, f"{path.name}#{i}")) for i, entry in enumerate(cameras)]
