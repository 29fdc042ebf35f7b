"""NeRF-style ``transforms*.json`` cameras (NeRF-synthetic, instant-ngp, nerfstudio).

The file holds a JSON object with a ``frames`` list. Each frame has a ``file_path``
(relative to the JSON file, with or without an image extension) and a 4x4 camera-to-world
``transform_matrix`` in the Blender/OpenGL convention (camera looks down -Z, +Y up, +X
right). Intrinsics come from ``fl_x``/``fl_y``/``cx``/``cy``/``w``/``h`` when present (per
frame or for the whole file), else from ``camera_angle_x`` (horizontal field of view in
radians; ``camera_angle_y`` for the vertical one if given, else square pixels), with the
principal point at the image centre. Where the JSON gives no image size it is read from the
image file's header. Distortion coefficients (``k1``, ``k2``, ``p1``, ``p2``) are ignored:
the images are assumed to be undistorted (pinhole).

Cameras are converted to gscc's OpenCV convention (x right, y down, z forward) by flipping
the camera's y and z axes: ``c2w_cv = c2w_gl @ diag(1, -1, -1, 1)``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from .camera import Camera
from .views import View

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
ORTHONORMAL_TOLERANCE = 1e-3

# Blender/OpenGL camera axes (x right, y up, z backward) to OpenCV (x right, y down, z forward)
GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


def read_json(path: Path) -> object:
    """Parse a JSON file, reporting a missing or malformed file as an InputError."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
        return json.loads(text)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a JSON file (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise InputError(f"{path}: not a usable JSON file (nested too deeply)") from None


def blender_to_opencv(camera_to_world: np.ndarray) -> np.ndarray:
    """World-to-camera (OpenCV axes) from a Blender/OpenGL camera-to-world matrix."""
    c2w = np.asarray(camera_to_world, dtype=np.float64) @ GL_TO_CV
    rotation, position = c2w[:3, :3], c2w[:3, 3]
    w2c = np.eye(4)
    w2c[:3, :3] = rotation.T
    w2c[:3, 3] = -rotation.T @ position
    return w2c


def opencv_to_blender(world_to_camera: np.ndarray) -> np.ndarray:
    """Inverse of :func:`blender_to_opencv`: a Blender/OpenGL camera-to-world matrix."""
    return np.linalg.inv(np.asarray(world_to_camera, dtype=np.float64)) @ GL_TO_CV


def _number(value: object, where: str, key: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{where}: '{key}' is not a finite number")
    if positive and value <= 0:
        raise InputError(f"{where}: '{key}' must be positive, got {value}")
    return float(value)


def _lookup(frame: dict, data: dict, key: str) -> object:
    """A per-frame value, falling back to the file-wide one (None when neither has it)."""
    if key in frame:
        return frame[key]
    return data.get(key)


def _rigid_matrix(value: object, where: str) -> np.ndarray:
    """The frame's camera-to-world matrix, checked to be a rigid transform."""
    if value is None:
        raise InputError(f"{where}: no 'transform_matrix'")
    try:
        matrix = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: 'transform_matrix' is not a 4x4 matrix of numbers") from None
    if matrix.shape == (3, 4):
        matrix = np.vstack([matrix, [0.0, 0.0, 0.0, 1.0]])
    if matrix.shape != (4, 4):
        raise InputError(f"{where}: 'transform_matrix' has shape {matrix.shape}, expected 4x4")
    if not np.all(np.isfinite(matrix)):
        raise InputError(f"{where}: 'transform_matrix' has non-finite entries")
    if not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0], atol=ORTHONORMAL_TOLERANCE):
        raise InputError(f"{where}: 'transform_matrix' has a last row other than [0, 0, 0, 1]")
    rotation = matrix[:3, :3]
    if (
        np.abs(rotation.T @ rotation - np.eye(3)).max() > ORTHONORMAL_TOLERANCE
        or np.linalg.det(rotation) <= 0
    ):
        raise InputError(f"{where}: 'transform_matrix' is not a rigid transform (rotation and translation)")
    # remove the float32 rounding of the stored rotation: the nearest rotation matrix
    u, _, vt = np.linalg.svd(rotation)
    matrix[:3, :3] = u @ vt
    matrix[3] = [0.0, 0.0, 0.0, 1.0]
    return matrix


def _image_path(folder: Path, file_path: object, where: str) -> Optional[Path]:
    """Where the frame's image is: ``file_path`` as given, or with the first extension that exists."""
    if file_path is None:
        return None
    if not isinstance(file_path, str) or not file_path.strip():
        raise InputError(f"{where}: 'file_path' is not a path")
    path = folder / file_path
    if path.suffix.lower() in IMAGE_SUFFIXES or path.is_file():
        return path
    for suffix in IMAGE_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return path.with_name(path.name + ".png")  # the NeRF-synthetic convention


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from an image file's header, or an InputError."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise InputError(f"{path}: no such image (needed for the image size, which the JSON does not give)")
    try:
        with Image.open(path) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None


def _frame_camera(data: dict, frame: dict, image: Optional[Path], name: str, where: str) -> Camera:
    width, height = _lookup(frame, data, "w"), _lookup(frame, data, "h")
    if width is None or height is None:
        if image is None:
            raise InputError(f"{where}: no image size ('w', 'h') and no 'file_path' to read it from")
        size = image_size(image)
        width = size[0] if width is None else width
        height = size[1] if height is None else height
    width_f = _number(width, where, "w", positive=True)
    height_f = _number(height, where, "h", positive=True)
    if width_f != int(width_f) or height_f != int(height_f):
        raise InputError(f"{where}: image size {width}x{height} is not whole pixels")
    w, h = int(width_f), int(height_f)

    def focal(fl_key: str, angle_key: str, pixels: int) -> Optional[float]:
        fl = _lookup(frame, data, fl_key)
        if fl is not None:
            return _number(fl, where, fl_key, positive=True)
        angle = _lookup(frame, data, angle_key)
        if angle is None:
            return None
        angle = _number(angle, where, angle_key, positive=True)
        if angle >= math.pi:
            raise InputError(f"{where}: '{angle_key}' is {angle} radians; a pinhole field of view is below pi")
        return 0.5 * pixels / math.tan(0.5 * angle)

    fx = focal("fl_x", "camera_angle_x", w)
    fy = focal("fl_y", "camera_angle_y", h)
    if fx is None and fy is None:
        raise InputError(f"{where}: no focal length ('fl_x' or 'camera_angle_x')")
    fx = fy if fx is None else fx
    fy = fx if fy is None else fy
    cx = _lookup(frame, data, "cx")
    cy = _lookup(frame, data, "cy")
    cx = w / 2.0 if cx is None else _number(cx, where, "cx")
    cy = h / 2.0 if cy is None else _number(cy, where, "cy")
    c2w = _rigid_matrix(frame.get("transform_matrix"), where)
    return Camera(w, h, fx, fy, cx, cy, blender_to_opencv(c2w), name)


def load_transforms(path: str | os.PathLike) -> list[View]:
    """The views of one ``transforms*.json`` file, in file order."""
    path = Path(path)
    data = read_json(path)
    if not isinstance(data, dict) or "frames" not in data:
        raise InputError(f"{path}: not a transforms file (a JSON object with a 'frames' list)")
    frames = data["frames"]
    if not isinstance(frames, list):
        raise InputError(f"{path}: 'frames' is not a list")
    if not frames:
        raise InputError(f"{path}: 'frames' is empty")
    views = []
    for index, frame in enumerate(frames):
        where = f"{path}: frame {index}"
        if not isinstance(frame, dict):
            raise InputError(f"{where}: not a JSON object")
        file_path = frame.get("file_path")
        image = _image_path(path.parent, file_path, where)
        if image is None:
            name = f"frame {index}"
        else:
            name = Path(os.path.normpath(file_path)).as_posix()
            if image.suffix and not name.lower().endswith(image.suffix.lower()):
                name += image.suffix
        views.append(View(_frame_camera(data, frame, image, name, where), image))
    return views


def transforms_files(folder: Path) -> list[Path]:
    """The transforms files of a dataset folder: the test split where there is one, else all.

    ``transforms_test.json`` if present; else ``transforms.json``; else every
    ``transforms_*.json`` (train, val, ...) in name order. Empty when there is none.
    """
    test = folder / "transforms_test.json"
    if test.is_file():
        return [test]
    single = folder / "transforms.json"
    if single.is_file():
        return [single]
    return sorted(p for p in folder.glob("transforms_*.json") if p.is_file())


def load_dataset(folder: str | os.PathLike) -> list[View]:
    """The views of a NeRF-style dataset folder (see :func:`transforms_files`)."""
    folder = Path(folder)
    files = transforms_files(folder)
    if not files:
        raise InputError(f"{folder}: no transforms*.json in this folder")
    views: list[View] = []
    for file in files:
        views.extend(load_transforms(file))
    return views
