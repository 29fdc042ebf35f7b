"""Panoptic Studio sequences as preprocessed for Dynamic 3D Gaussians (Luiten et al., 2024).

Layout::

    train_meta.json, test_meta.json   (test_meta.json optional: no test views without it)
    ims/<cam>/<frame>.jpg             the frames
    seg/<cam>/<frame>.png             foreground masks (people, ball), optional, training cameras

A meta file is a JSON object with ``w``, ``h`` (image size in pixels) and four lists with one
entry per frame t, each a list with one entry per camera i: ``fn[t][i]`` (image path under
``ims/``), ``cam_id[t][i]`` (whole number), ``k[t][i]`` (3x3 intrinsics in pixels) and
``w2c[t][i]`` (4x4 world-to-camera, OpenCV axes: +X right, +Y down, +Z forward). Frame t is
frame index t of the sequence; both files must have the same number of frames. Intrinsics
and extrinsics are read per frame (the cameras do not move in the published sequences, but
the format allows it).

Defaults: black background (a real capture: the dark dome fills the frame); fps 30; near
plane 0.5 world units. The test cameras sit on the dome among the training cameras (2.8-3.9
units from its centre, at least 1.24 units from the nearest other camera), so the training
views see their housings and rigs, and splats placed there veil a test view from the inside:
anything within 0.5 units of a camera's centre is that camera's own hardware, never part of
what it sees. Measured on an STG run over basketball 0:50 (4 test cameras): 7.4 dB without
a near plane, 22.86 dB at 0.2 (camera 10 still veiled: 18.7 dB), 24.62 dB at 0.5, 24.66 dB
at 1.0.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
import numpy as np

from ..cameras.camera import Camera
from ..cameras.nerf import read_json
from ..errors import InputError
from .images import read_pixels
from .sequence import SourceSequence, SourceView

TRAIN_META = "train_meta.json"
TEST_META = "test_meta.json"
IMAGES_DIR = "ims"
MASKS_DIR = "seg"
FPS = 30.0
NEAR = 0.5
BACKGROUND = (0.0, 0.0, 0.0)
LISTS = ("fn", "cam_id", "k", "w2c")
RIGID_TOLERANCE = 1e-3


def is_panoptic_dir(folder: Path) -> bool:
    return (folder / TRAIN_META).is_file()


def _size(data: dict, key: str, where: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"{where}: '{key}' is not a number of pixels")
    if value != int(value) or not 1 <= value <= 1 << 15:
        raise InputError(f"{where}: '{key}' must be a whole number of pixels in 1..32768, got {value}")
    return int(value)


def _matrix(value: object, shape: tuple[int, int], where: str) -> np.ndarray:
    try:
        matrix = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: not a {shape[0]}x{shape[1]} matrix of numbers") from None
    if matrix.shape != shape:
        raise InputError(f"{where}: has shape {matrix.shape}, expected {shape[0]}x{shape[1]}")
    if not np.all(np.isfinite(matrix)):
        raise InputError(f"{where}: has non-finite entries")
    return matrix


def _camera(k: object, w2c: object, width: int, height: int, name: str, where: str) -> Camera:
    K = _matrix(k, (3, 3), f"{where}: 'k'")
    if not (K[0, 0] > 0 and K[1, 1] > 0) or abs(K[0, 1]) > 1e-9 or np.any(K[2] != [0.0, 0.0, 1.0]):
        raise InputError(f"{where}: 'k' is not a pinhole intrinsic matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]")
    M = _matrix(w2c, (4, 4), f"{where}: 'w2c'")
    R = M[:3, :3]
    if (
        not np.allclose(M[3], [0.0, 0.0, 0.0, 1.0])
        or np.abs(R.T @ R - np.eye(3)).max() > RIGID_TOLERANCE
        or np.linalg.det(R) <= 0
    ):
        raise InputError(f"{where}: 'w2c' is not a rigid transform (rotation and translation)")
    u, _, vt = np.linalg.svd(R)
    M[:3, :3] = u @ vt
    return Camera(width, height, float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2]), M, name)


def _read_mask(path: Path, width: int, height: int) -> np.ndarray:
    """The mask at ``path`` at (height, width) as bool: area-averaged, then more than half covered."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            if grey.size != (width, height):
                grey = grey.convert("F").resize((width, height), Image.BOX)
            values = np.asarray(grey, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: not a readable mask ({message})") from None
    return values > 127.5


def _mask_reader(path: Path):
    return lambda width, height: _read_mask(path, width, height)


def _pixel_reader(path: Path, name: str):
    return lambda width, height, background: read_pixels(path, width, height, background, name)


def read_meta(path: Path, folder: Path) -> tuple[list[SourceView], int]:
    """The views of one meta file (every frame and camera) and its frame count."""
    data = read_json(path)
    where = str(path)
    if not isinstance(data, dict):
        raise InputError(f"{where}: not a Dynamic3DGaussians meta file (a JSON object)")
    missing = [key for key in ("w", "h", *LISTS) if key not in data]
    if missing:
        raise InputError(f"{where}: missing {', '.join(repr(k) for k in missing)}")
    width, height = _size(data, "w", where), _size(data, "h", where)
    lists = {key: data[key] for key in LISTS}
    for key, value in lists.items():
        if not isinstance(value, list) or not value:
            raise InputError(f"{where}: '{key}' is not a non-empty list (one entry per frame)")
    frame_count = len(lists["fn"])
    for key, value in lists.items():
        if len(value) != frame_count:
            raise InputError(f"{where}: '{key}' has {len(value)} frames but 'fn' has {frame_count}")
    views: list[SourceView] = []
    for t in range(frame_count):
        per_frame = [lists[key][t] for key in LISTS]
        if not all(isinstance(v, list) for v in per_frame):
            raise InputError(f"{where}: frame {t}: every entry of 'fn', 'cam_id', 'k', 'w2c' must be a list of cameras")
        count = len(per_frame[0])
        if count == 0 or any(len(v) != count for v in per_frame):
            lengths = ", ".join(f"{key} {len(v)}" for key, v in zip(LISTS, per_frame))
            raise InputError(f"{where}: frame {t}: the camera lists differ in length ({lengths})")
        for fn, cam_id, k, w2c in zip(*per_frame):
            if isinstance(cam_id, bool) or not isinstance(cam_id, int) or cam_id < 0:
                raise InputError(f"{where}: frame {t}: camera id {cam_id!r} is not a whole number >= 0")
            at = f"{where}: frame {t}, camera {cam_id}"
            if not isinstance(fn, str) or not fn.strip() or Path(fn).is_absolute() or ".." in Path(fn).parts:
                raise InputError(f"{at}: 'fn' {fn!r} is not a relative image path")
            camera_id = f"cam{cam_id:02d}"
            name = f"{camera_id}/{t:06d}"
            image = folder / IMAGES_DIR / fn
            mask = (folder / MASKS_DIR / fn).with_suffix(".png")
            views.append(
                SourceView(
                    camera=_camera(k, w2c, width, height, name, at),
                    frame=t,
                    name=name,
                    camera_id=camera_id,
                    read=_pixel_reader(image, name),
                    path=image,
                    read_mask=_mask_reader(mask) if mask.is_file() else None,
                )
            )
    return views, frame_count


def load_panoptic(folder: Path) -> SourceSequence:
    train, frame_count = read_meta(folder / TRAIN_META, folder)
    test: list[SourceView] = []
    if (folder / TEST_META).is_file():
        test, test_count = read_meta(folder / TEST_META, folder)
        if test_count != frame_count:
            raise InputError(
                f"{folder}: {TEST_META} has {test_count} frames but {TRAIN_META} has {frame_count}"
            )
    return SourceSequence("panoptic", train, test, frame_count, FPS, BACKGROUND, NEAR, monocular=False)

