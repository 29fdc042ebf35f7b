"""The real spherical-harmonic basis up to degree 3 (the 3DGS convention), array-agnostic.

The same terms serve torch tensors (the renderer, :mod:`gscc.render.sh`) and numpy arrays
(the torch-free decoder of MLP-coloured scenes, :mod:`gscc.color_mlp`): only ``*``, ``-``
and ``+`` are applied to the coordinates, so the caller stacks the terms with its own
library. spec/static.md lists the same formulas.
"""

from __future__ import annotations

import math

import numpy as np

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def sh_terms(degree: int, x, y, z) -> list:
    """The (degree + 1)² basis functions at unit directions with coordinates x, y, z, in
    coefficient order (the constant term as ``x * 0 + C0``, shaped like x)."""
    if not 0 <= degree <= 3:
        raise ValueError(f"SH degree must lie in 0..3, got {degree}")
    out = [x * 0.0 + C0]
    if degree >= 1:
        out += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [
            C2[0] * x * y,
            C2[1] * y * z,
            C2[2] * (2.0 * zz - xx - yy),
            C2[3] * x * z,
            C2[4] * (xx - yy),
        ]
    if degree >= 3:
        out += [
            C3[0] * y * (3.0 * xx - yy),
            C3[1] * x * y * z,
            C3[2] * y * (4.0 * zz - xx - yy),
            C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            C3[4] * x * (4.0 * zz - xx - yy),
            C3[5] * z * (xx - yy),
            C3[6] * x * (xx - 3.0 * yy),
        ]
    return out


def sh_basis_np(degree: int, dirs: np.ndarray) -> np.ndarray:
    """(N, (degree + 1)²) float64 basis values for unit directions ``dirs`` (N, 3)."""
    d = np.asarray(dirs, dtype=np.float64)
    return np.stack(sh_terms(degree, d[:, 0], d[:, 1], d[:, 2]), axis=-1)


def sphere_directions(count: int) -> np.ndarray:
    """(count, 3) float64 unit vectors spread evenly over the sphere (a Fibonacci lattice):
    for k = 0..count-1, z = 1 - 2(k + ½)/count, r = √(1 - z²), φ = π(3 - √5)(k + ½),
    d = (r cos φ, r sin φ, z)."""
    k = np.arange(count, dtype=np.float64) + 0.5
    z = 1.0 - 2.0 * k / count
    r = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    phi = math.pi * (3.0 - math.sqrt(5.0)) * k
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=-1)
