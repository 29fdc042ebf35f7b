"""The cameras a `.splatv` file carries in its header (splaTV's camera dicts).

Each is ``{"width", "height", "fx", "fy", "position": [x, y, z], "rotation": 3x3}`` with
``rotation`` and ``position`` the camera-to-world rotation and centre in the OpenCV
convention (3DGS's ``cameras.json``); the principal point is the image centre. For a
forward-facing capture these are the views the scene was made to be seen from, where
orbit cameras around it look at its unfinished back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.splatv import read_splatv_cameras
from .camera import Camera
from .views import View


@dataclass(frozen=True)
class SplatvPose:
    """A checked splaTV camera: camera-to-world ``rotation`` (3x3) and ``position`` (3,)."""

    rotation: np.ndarray
    position: np.ndarray
    width: int
    height: int
    fx: float
    fy: float


def splatv_pose(entry: object, name: str) -> SplatvPose:
    """One splaTV camera dict, checked; InputError when it is malformed."""
    try:
        pose = SplatvPose(
            rotation=np.asarray(entry["rotation"], dtype=np.float64).reshape(3, 3),
            position=np.asarray(entry["position"], dtype=np.float64).reshape(3),
            width=int(entry["width"]), height=int(entry["height"]),
            fx=float(entry["fx"]), fy=float(entry["fy"]),
        )
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{name}: not a camera (needs width, height, fx, fy, position, 3x3 rotation)") from None
    finite = np.isfinite(pose.rotation).all() and np.isfinite(pose.position).all() and np.isfinite([pose.fx, pose.fy]).all()
    if not finite or abs(np.linalg.det(pose.rotation)) < 1e-6:
        raise InputError(f"{name}: camera pose is not a finite rotation and position")
    if min(pose.fx, pose.fy, pose.width, pose.height) <= 0:
        raise InputError(f"{name}: camera size and focal lengths must be positive")
    return pose


def camera_from_splatv(entry: object, name: str) -> Camera:
    """One splaTV camera dict as a :class:`Camera`; InputError when it is malformed."""
    pose = splatv_pose(entry, name)
    c2w = np.eye(4)
    c2w[:3, :3], c2w[:3, 3] = pose.rotation, pose.position
    return Camera(pose.width, pose.height, pose.fx, pose.fy, pose.width / 2.0, pose.height / 2.0, np.linalg.inv(c2w), name)


def splatv_cameras(path: Path) -> list[Camera]:
    """The header cameras of a `.splatv` file, in file order (none when it carries none)."""
    return [camera_from_splatv(entry, f"{path.name}#{i}") for i, entry in enumerate(read_splatv_cameras(path))]


def load_splatv_views(path: Path) -> list[View]:
    """The header cameras of a `.splatv` file, in file order."""
    cameras = splatv_cameras(path)
    if not cameras:
        raise InputError(f"{path}: the .splatv header carries no cameras")
    return [View(camera) for camera in cameras]
