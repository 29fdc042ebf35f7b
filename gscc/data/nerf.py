"""NeRF-style training datasets: ``transforms_train.json`` (+ ``transforms_test.json``) or
``transforms.json``, parsed by :mod:`gscc.cameras.nerf`.

Splits: with both ``transforms_train.json`` and ``transforms_test.json`` the dataset's own
split is used (``transforms_val.json`` is ignored, as in 3DGS). Otherwise the views of
``transforms_train.json`` (or ``transforms.json``), in file order, are split by the caller
(every ``test_every``-th held out).

Initial points: a point cloud where the dataset names one — ``ply_file_path`` in the JSON
(nerfstudio's ``sparse_pc.ply``) or a ``points3d.ply`` in the folder (the 3DGS convention)
— read as vertex ``x, y, z`` with ``red, green, blue`` (8-bit) where present; else none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..cameras.nerf import load_transforms, read_json
from ..cameras.views import View
from ..errors import InputError

TRAIN_FILES = ("transforms_train.json", "transforms.json")
TEST_FILE = "transforms_test.json"
POINTS_FILE = "points3d.ply"


def is_nerf_dir(folder: Path) -> bool:
    return any((folder / name).is_file() for name in TRAIN_FILES)


def nerf_views(folder: Path) -> tuple[list[View], Optional[list[View]], Path]:
    """(train views, the dataset's own test views or None, the transforms file of the train views)."""
    train_file = next((folder / name for name in TRAIN_FILES if (folder / name).is_file()), None)
    if train_file is None:
        raise InputError(f"{folder}: no {' or '.join(TRAIN_FILES)}")
    train = load_transforms(train_file)
    test_file = folder / TEST_FILE
    test = load_transforms(test_file) if train_file.name == TRAIN_FILES[0] and test_file.is_file() else None
    for view in train + (test or []):
        if view.image_path is None:
            raise InputError(f"{folder}: view {view.camera.name!r} has no 'file_path' (training needs its image)")
    return train, test, train_file


def _point_cloud_path(folder: Path, train_file: Path) -> Optional[Path]:
    data = read_json(train_file)
    named = data.get("ply_file_path") if isinstance(data, dict) else None
    if named is not None:
        if not isinstance(named, str) or not named.strip():
            raise InputError(f"{train_file}: 'ply_file_path' is not a path")
        path = folder / named
        if not path.is_file():
            raise InputError(f"{train_file}: 'ply_file_path' names {path}, which does not exist")
        return path
    path = folder / POINTS_FILE
    return path if path.is_file() else None


def read_point_cloud(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(positions (M, 3) float32, colours (M, 3) float32 in [0, 1]; grey where the file has none)."""
    from plyfile import PlyData, PlyParseError

    try:
        ply = PlyData.read(str(path))
        vertex = ply["vertex"]
        names = set(vertex.data.dtype.names or ())
        if not {"x", "y", "z"} <= names:
            raise InputError(f"{path}: the point cloud's vertices have no x, y, z")
        points = np.stack([np.asarray(vertex[k], dtype=np.float32) for k in "xyz"], axis=1)
        if {"red", "green", "blue"} <= names:
            colors = np.stack([np.asarray(vertex[k], dtype=np.float32) for k in ("red", "green", "blue")], axis=1)
            if vertex["red"].dtype.kind in "ui":
                colors /= 255.0
        else:
            colors = np.full_like(points, 0.5)
    except InputError:
        raise
    except (PlyParseError, KeyError, ValueError, OSError, EOFError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: not a readable point cloud ({message})") from None
    keep = np.all(np.isfinite(points), axis=1)
    return np.ascontiguousarray(points[keep]), np.clip(colors[keep], 0.0, 1.0)


def nerf_points(folder: Path, train_file: Path) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    path = _point_cloud_path(folder, train_file)
    if path is None:
        return None, None
    points, colors = read_point_cloud(path)
    if len(points) == 0:
        return None, None
    return points, colors
