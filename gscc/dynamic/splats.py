"""A dynamic splat set: static attributes at rest plus a motion model."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Union

import numpy as np

from ..splats import FeatureSplats, SplatSet
from .motion import Motion

StaticSplats = Union[SplatSet, FeatureSplats]

# Opacities never reach exactly 0 or 1 in logit space; a splat faded out by time keeps this.
MIN_OPACITY = 1e-7


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), MIN_OPACITY, 1.0 - MIN_OPACITY)
    return np.log(p / (1.0 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def normalised(quats: np.ndarray) -> np.ndarray:
    """Unit quaternions; a zero quaternion becomes the identity."""
    q = np.asarray(quats, dtype=np.float64)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    identity = np.zeros_like(q)
    identity[:, 0] = 1.0
    return np.where(norm > 1e-12, q / np.maximum(norm, 1e-12), identity)


def with_geometry(static: StaticSplats, **arrays: np.ndarray) -> StaticSplats:
    """A copy of ``static`` with some of its geometry arrays replaced."""
    return dataclasses.replace(static, **arrays)


@dataclass
class DynamicSplats:
    """Splats that move: ``static`` holds every splat at rest (its means, quaternions and
    opacities are the values at dt = 0), ``motion`` how they change over normalised time.

    :meth:`at` gives the ordinary static splat set at a time t, renderable and encodable
    by everything that handles static splats.
    """

    static: StaticSplats
    motion: Motion

    def __post_init__(self) -> None:
        if self.motion.count != self.static.count:
            raise ValueError(f"motion covers {self.motion.count} splats, the static part {self.static.count}")

    @property
    def count(self) -> int:
        return self.static.count

    @property
    def kind(self) -> str:
        return self.motion.kind

    def at(self, t: float) -> StaticSplats:
        """The static splats at normalised time ``t``."""
        change = self.motion.evaluate(float(t))
        arrays = {}
        if change.offset is not None:
            arrays["means"] = self.static.means + change.offset
        if change.rotation is not None:
            arrays["quats"] = normalised(self.static.quats + change.rotation).astype(np.float32)
        if change.opacity is not None:
            arrays["opacities"] = logit(sigmoid(self.static.opacities) * change.opacity).astype(np.float32)
        return with_geometry(self.static, **arrays)

    def subset(self, index: np.ndarray) -> "DynamicSplats":
        return DynamicSplats(self.static.subset(index), self.motion.subset(index))

    def finite_rows(self) -> np.ndarray:
        """(N,) bool: splats whose every static and motion value is finite."""
        ok = self.motion.finite_rows()
        names = [f.name for f in dataclasses.fields(self.static) if isinstance(getattr(self.static, f.name), np.ndarray)]
        for name in names:
            a = getattr(self.static, name)
            ok &= np.isfinite(a.reshape(len(a), -1)).all(axis=1)
        return ok

    def is_finite(self) -> bool:
        return bool(self.finite_rows().all()) and self.motion.shared_finite()
