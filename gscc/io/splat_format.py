"""The 32-byte-per-splat `.splat` layout used by many web viewers.

Per splat, little-endian: float32 x, y, z; float32 scale x, y, z (linear); uint8 r, g, b, a
(colour and opacity, 0..255); uint8 quaternion w, x, y, z stored as ``q * 128 + 128``.
No higher-order SH.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..splats import SH_C0, SplatSet

ROW_BYTES = 32
_ALPHA_EPS = 1e-6
_ROW = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])


def colour_from_rgba(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sh0`` and ``opacities`` (logit) of (N, 4) RGBA bytes, as web splat formats store
    colour and opacity. Alpha 0 and 255 have no finite logit: they are kept just inside (0, 1)."""
    rgba = np.asarray(rgba, dtype=np.float64) / 255.0
    alpha = np.clip(rgba[:, 3], _ALPHA_EPS, 1.0 - _ALPHA_EPS)
    return (rgba[:, :3] - 0.5) / SH_C0, np.log(alpha / (1.0 - alpha))


def read_splat(path: str | os.PathLike) -> SplatSet:
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: .splat file holds no splats")
    if size % ROW_BYTES:
        raise InputError(f"{path}: .splat size {size} is not a multiple of {ROW_BYTES} bytes (truncated?)")
    rows = np.fromfile(path, dtype=_ROW)
    scale = rows["scale"].astype(np.float64)
    sh0, opacities = colour_from_rgba(rows["rgba"])
    quats = (rows["rot"].astype(np.float64) - 128.0) / 128.0
    norm = np.linalg.norm(quats, axis=1, keepdims=True)
    quats = np.where(norm > 0, quats / np.maximum(norm, 1e-12), np.array([1.0, 0, 0, 0]))
    return SplatSet(
        means=rows["pos"],
        scales=np.where(np.isfinite(scale), np.log(np.maximum(scale, 1e-12)), scale),  # NaN/inf kept: load_splats drops
        quats=quats,
        opacities=opacities,
        sh0=sh0,
        shN=np.zeros((len(rows), 0, 3), np.float32),
    )
