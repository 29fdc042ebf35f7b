"""Cameras from a COLMAP sparse model (``cameras``, ``images``, ``points3D`` as .bin or .txt).

The model is read with pycolmap. COLMAP's conventions match gscc's: ``cam_from_world`` is
the OpenCV world-to-camera transform and the centre of the top-left pixel is at (0.5, 0.5).

Camera models: PINHOLE and SIMPLE_PINHOLE are used as they are. SIMPLE_RADIAL, RADIAL and
OPENCV are used as pinhole cameras with their focal lengths and principal point; their
distortion coefficients are ignored, so the images must be undistorted first (for example
with ``colmap image_undistorter``, which writes a PINHOLE model); that is the user's job.
Any other model (fisheye and the like) is rejected.

Only registered images (those with a pose) become views, sorted by image name. The image
files are looked for in an ``images`` folder beside the ``sparse`` folder, the usual
layout (``scene/sparse/0`` and ``scene/images``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .camera import Camera
from .views import View

PINHOLE_MODELS = ("SIMPLE_PINHOLE", "PINHOLE")
PINHOLE_WITH_IGNORED_DISTORTION = ("SIMPLE_RADIAL", "RADIAL", "OPENCV")
SUPPORTED_MODELS = PINHOLE_MODELS + PINHOLE_WITH_IGNORED_DISTORTION
MODEL_FILES = ("cameras", "images")


def is_model_dir(folder: Path) -> bool:
    """True when ``folder`` holds a COLMAP model (cameras and images, binary or text)."""
    return all((folder / f"{name}.bin").is_file() or (folder / f"{name}.txt").is_file() for name in MODEL_FILES)


def find_model_dir(folder: Path) -> Path | None:
    """The model folder for ``folder``: itself, ``sparse/0`` or ``sparse`` below it; else None."""
    for candidate in (folder, folder / "sparse" / "0", folder / "sparse"):
        if candidate.is_dir() and is_model_dir(candidate):
            return candidate
    return None


def _images_dir(model_dir: Path) -> Path:
    """Where the images of a model usually are: ``<scene>/images`` for ``<scene>/sparse[/0]``."""
    resolved = model_dir.resolve()
    for parent in (resolved, *resolved.parents[:2]):
        if parent.name == "sparse":
            return parent.parent / "images"
    if (resolved / "images").is_dir():
        return resolved / "images"
    return resolved.parent / "images"


def load_colmap(folder: str | os.PathLike) -> list[View]:
    """The registered views of the COLMAP model in ``folder`` (or its ``sparse/0``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    model_dir = find_model_dir(folder)
    if model_dir is None:
        raise InputError(f"{folder}: no COLMAP model (cameras and images .bin or .txt, here or in sparse/0)")
    try:
        import pycolmap
    except ImportError:  # pragma: no cover - pycolmap is a declared dependency
        raise InputError("reading a COLMAP model needs pycolmap (pip install pycolmap)") from None
    try:
        reconstruction = pycolmap.Reconstruction(str(model_dir))
    except (ValueError, RuntimeError, OSError, IndexError, MemoryError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{model_dir}: not a readable COLMAP model ({message})") from None

    cameras: dict[int, tuple[int, int, float, float, float, float]] = {}
    for camera_id, camera in reconstruction.cameras.items():
        model = camera.model.name
        if model not in SUPPORTED_MODELS:
            continue  # reported below if a registered image uses it
        cameras[camera_id] = (
            int(camera.width),
            int(camera.height),
            float(camera.focal_length_x),
            float(camera.focal_length_y),
            float(camera.principal_point_x),
            float(camera.principal_point_y),
        )

    images_dir = _images_dir(model_dir)
    views = []
    for image in sorted(reconstruction.images.values(), key=lambda im: im.name):
        if not image.has_pose:
            continue
        if image.camera_id not in cameras:
            model = reconstruction.cameras[image.camera_id].model.name
            raise InputError(
                f"{model_dir}: image {image.name!r} uses the {model} camera model; supported: "
                f"{', '.join(SUPPORTED_MODELS)} (undistort the images to PINHOLE first)"
            )
        width, height, fx, fy, cx, cy = cameras[image.camera_id]
        w2c = np.eye(4)
        w2c[:3, :4] = image.cam_from_world().matrix()
        where = f"{model_dir}: image {image.name!r}"
        try:
            camera = Camera(width, height, fx, fy, cx, cy, w2c, image.name)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        views.append(View(camera, images_dir / image.name))
    if not views:
        raise InputError(f"{model_dir}: the COLMAP model has no registered images")
    return views
