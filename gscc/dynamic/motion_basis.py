"""Shared motion bases (DynMF / Shape of Motion style): B trajectories shared by every
splat, each splat moving by its own mix of them; opacity and rotation do not change.

``basis`` (B, K, 3) samples each trajectory's displacement at K uniform knots over [0, 1]
(knot j at time j / (K - 1)); between knots it is linear, outside [0, 1] it holds the end
value. A splat's position at t is its rest position + Σ_b coeffs[:, b] · basis_b(t).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .motion import Motion, MotionAt


def knot_weights(t: float, knots: int) -> tuple[int, int, float]:
    """The two knots around ``t`` and the weight of the second (linear interpolation)."""
    if knots == 1:
        return 0, 0, 0.0
    x = min(max(float(t), 0.0), 1.0) * (knots - 1)
    lo = min(int(np.floor(x)), knots - 2)
    return lo, lo + 1, x - lo


@dataclass
class MotionBasis(Motion):
    coeffs: np.ndarray  # (N, B)
    basis: np.ndarray  # (B, K, 3)

    kind: ClassVar[str] = "motion-basis"
    per_splat: ClassVar[tuple[str, ...]] = ("coeffs",)

    def validate(self) -> None:
        if self.coeffs.ndim != 2:
            raise ValueError(f"coeffs has shape {self.coeffs.shape}, expected (N, B)")
        b = self.coeffs.shape[1]
        if self.basis.ndim != 3 or self.basis.shape[0] != b or self.basis.shape[2] != 3 or self.basis.shape[1] < 1:
            raise ValueError(f"basis has shape {self.basis.shape}, expected ({b}, K, 3) with K >= 1")

    def describe(self) -> dict:
        return {"basis_count": int(self.basis.shape[0]), "basis_knots": int(self.basis.shape[1])}

    def trajectories(self, t: float) -> np.ndarray:
        """(B, 3) every basis trajectory's displacement at ``t``."""
        lo, hi, w = knot_weights(t, self.basis.shape[1])
        return (1.0 - w) * self.basis[:, lo] + w * self.basis[:, hi]

    def evaluate(self, t: float) -> MotionAt:
        return MotionAt(offset=(self.coeffs @ self.trajectories(t)).astype(np.float32))
