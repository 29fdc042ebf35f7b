"""COLMAP training datasets: ``scene/images`` and ``scene/sparse/0`` (or ``scene/sparse``).

Cameras and image paths come from :func:`gscc.cameras.colmap.load_colmap` (registered
images sorted by name; PINHOLE, SIMPLE_PINHOLE, and SIMPLE_RADIAL and friends as pinhole
cameras). The sparse points (``points3D``) with their colours are the initial points; they
are read here with pycolmap, which the camera loader does not expose.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..cameras.colmap import find_model_dir, load_colmap
from ..cameras.views import View
from ..errors import InputError


def colmap_views(folder: Path) -> list[View]:
    """The registered views, after checking that their images folder exists."""
    views = load_colmap(folder)
    first = views[0]
    # image_path is <images folder>/<image name>, and names may hold subfolders
    images_dir = first.image_path.parents[len(Path(first.camera.name).parts) - 1]
    if not images_dir.is_dir():
        raise InputError(f"{folder}: COLMAP model found but its images folder {images_dir} does not exist")
    return views


def colmap_points(folder: Path) -> tuple[Optional[np.ndarray], Optional[np.ndarray]]:
    """(points (M, 3) float32, colours (M, 3) float32 in [0, 1]) of the sparse model, by point id.

    (None, None) when the model has no points.
    """
    import pycolmap

    model_dir = find_model_dir(folder)
    if model_dir is None:
        raise InputError(f"{folder}: no COLMAP model (cameras and images .bin or .txt, here or in sparse/0)")
    try:
        reconstruction = pycolmap.Reconstruction(str(model_dir))
    except (ValueError, RuntimeError, OSError, IndexError, MemoryError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{model_dir}: not a readable COLMAP model ({message})") from None
    count = reconstruction.num_points3D()
    if count == 0:
        return None, None
    points = np.empty((count, 3), dtype=np.float64)
    colors = np.empty((count, 3), dtype=np.uint8)
    for index, (_, point) in enumerate(sorted(reconstruction.points3D.items(), key=lambda item: item[0])):
        points[index] = point.xyz
        colors[index] = point.color
    keep = np.all(np.isfinite(points), axis=1)
    if not keep.any():
        return None, None
    return points[keep].astype(np.float32), colors[keep].astype(np.float32) / np.float32(255.0)
