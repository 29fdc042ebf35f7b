"""The in-memory splat set shared by every part of gscc.

Attributes are stored in the parameterisation of the standard 3DGS `.ply`:

- ``means``      (N, 3) float32, world-space centres
- ``scales``     (N, 3) float32, natural log of the per-axis standard deviation
- ``quats``      (N, 4) float32, rotation quaternion (w, x, y, z), not necessarily normalised
- ``opacities``  (N,)   float32, logit of the opacity
- ``sh0``        (N, 3) float32, degree-0 spherical-harmonic coefficient per colour channel
- ``shN``        (N, K, 3) float32, higher-order SH coefficients, K = (degree + 1)**2 - 1,
                 coefficient-major (``shN[i, k, c]``: splat i, coefficient k, channel c)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError

if TYPE_CHECKING:
    from .color_mlp import ColorMLP

SH_C0 = 0.28209479177387814
MAX_SH_DEGREE = 3
MAX_BAKE_DIRECTIONS = 4096


def num_sh_rest(degree: int) -> int:
    """Number of higher-order SH coefficients per colour channel for an SH degree."""
    return (degree + 1) ** 2 - 1


def sh_degree_for(rest: int) -> int:
    """Inverse of :func:`num_sh_rest`; raises InputError for a count that fits no degree."""
    for degree in range(MAX_SH_DEGREE + 1):
        if num_sh_rest(degree) == rest:
            return degree
    raise InputError(f"{rest} higher-order SH coefficients per channel match no SH degree 0..3")


def require_shapes(splats: object, expected: dict[str, tuple]) -> None:
    """ValueError naming the first array attribute of ``splats`` whose shape differs."""
    for name, shape in expected.items():
        if getattr(splats, name).shape != shape:
            raise ValueError(f"{name} has shape {getattr(splats, name).shape}, expected {shape}")


@dataclass
class SplatSet:
    """A set of static Gaussian splats (see the module docstring for the layout)."""

    means: np.ndarray
    scales: np.ndarray
    quats: np.ndarray
    opacities: np.ndarray
    sh0: np.ndarray
    shN: np.ndarray

    def __post_init__(self) -> None:
        self.means = np.ascontiguousarray(self.means, dtype=np.float32)
        self.scales = np.ascontiguousarray(self.scales, dtype=np.float32)
        self.quats = np.ascontiguousarray(self.quats, dtype=np.float32)
        self.opacities = np.ascontiguousarray(self.opacities, dtype=np.float32).reshape(-1)
        self.sh0 = np.ascontiguousarray(self.sh0, dtype=np.float32)
        self.shN = np.ascontiguousarray(self.shN, dtype=np.float32)
        n = self.means.shape[0]
        if self.shN.ndim == 2 and self.shN.shape[1] == 0:
            self.shN = self.shN.reshape(n, 0, 3)
        expected = {
            "means": (n, 3),
            "scales": (n, 3),
            "quats": (n, 4),
            "opacities": (n,),
            "sh0": (n, 3),
        }
        require_shapes(self, expected)
        if self.shN.ndim != 3 or self.shN.shape[0] != n or self.shN.shape[2] != 3:
            raise ValueError(f"shN has shape {self.shN.shape}, expected ({n}, K, 3)")
        sh_degree_for(self.shN.shape[1])

    @property
    def count(self) -> int:
        return int(self.means.shape[0])

    @property
    def sh_degree(self) -> int:
        return sh_degree_for(self.shN.shape[1])

    def subset(self, index: np.ndarray) -> "SplatSet":
        """The splats selected by a boolean mask or an integer index array, in that order."""
        return SplatSet(
            means=self.means[index],
            scales=self.scales[index],
            quats=self.quats[index],
            opacities=self.opacities[index],
            sh0=self.sh0[index],
            shN=self.shN[index],
        )

    def is_finite(self) -> bool:
        return bool(self.finite_rows().all())

    def finite_rows(self) -> np.ndarray:
        """(N,) bool: the splats whose every value is finite."""
        rows = np.ones(self.count, dtype=bool)
        for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
            values = getattr(self, name)
            rows &= np.isfinite(values.reshape(self.count, -1)).all(axis=1)
        return rows

    @staticmethod
    def empty(sh_degree: int = 0) -> "SplatSet":
        k = num_sh_rest(sh_degree)
        z = np.zeros
        return SplatSet(z((0, 3)), z((0, 3)), z((0, 4)), z((0,)), z((0, 3)), z((0, k, 3)))


GEOMETRY = ("means", "scales", "quats", "opacities")


@dataclass
class FeatureSplats:
    """Splats coloured by a shared MLP instead of per-splat SH (a feature-based model).

    ``means``, ``scales``, ``quats`` and ``opacities`` as in :class:`SplatSet`; ``features``
    (N, F) float32 feed ``decoder`` (:class:`gscc.color_mlp.ColorMLP`) with the viewing
    direction. :meth:`baked` turns them into a standard SplatSet of SH degree
    ``sh_degree``, fitted at ``bake_directions`` directions (what a `.ply` can carry).
    """

    means: np.ndarray
    scales: np.ndarray
    quats: np.ndarray
    opacities: np.ndarray
    features: np.ndarray
    decoder: "ColorMLP"
    sh_degree: int = 3
    bake_directions: int = 64

    def __post_init__(self) -> None:
        for name in GEOMETRY + ("features",):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.float32))
        self.opacities = self.opacities.reshape(-1)
        n = self.means.shape[0]
        expected = {"means": (n, 3), "scales": (n, 3), "quats": (n, 4), "opacities": (n,),
                    "features": (n, self.decoder.feature_dim)}
        require_shapes(self, expected)
        if not 0 <= self.sh_degree <= MAX_SH_DEGREE:
            raise ValueError(f"bake SH degree must lie in 0..{MAX_SH_DEGREE}, got {self.sh_degree}")
        if not (self.sh_degree + 1) ** 2 <= self.bake_directions <= MAX_BAKE_DIRECTIONS:
            raise ValueError(
                f"bake directions must lie in {(self.sh_degree + 1) ** 2}..{MAX_BAKE_DIRECTIONS}, got {self.bake_directions}"
            )

    @property
    def count(self) -> int:
        return int(self.means.shape[0])

    def subset(self, index: np.ndarray) -> "FeatureSplats":
        arrays = {name: getattr(self, name)[index] for name in GEOMETRY + ("features",)}
        return FeatureSplats(**arrays, decoder=self.decoder, sh_degree=self.sh_degree,
                             bake_directions=self.bake_directions)

    def is_finite(self) -> bool:
        return all(bool(np.isfinite(getattr(self, name)).all()) for name in GEOMETRY + ("features",))

    def baked(self) -> SplatSet:
        """The same splats with SH colours fitted to the decoder's (gscc.color_mlp)."""
        sh = self.decoder.bake(self.features, self.sh_degree, self.bake_directions)
        return SplatSet(sh0=sh[:, 0, :], shN=sh[:, 1:, :], **{name: getattr(self, name) for name in GEOMETRY})
