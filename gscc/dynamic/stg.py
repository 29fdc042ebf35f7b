"""Spacetime Gaussians' motion (Li et al., CVPR 2024): polynomial motion, linear angular
velocity and a temporal radial-basis opacity, all around a per-splat time centre.

With ``dt = t - t_center``:

- position = rest + Σ_{k=1..D} motion[:, 3(k-1):3k] · dt^k  (D = 3 in STG: 9 coefficients)
- rotation = normalise(rest quaternion + omega · dt)
- opacity  = rest opacity · exp(-(dt / exp(t_scale))²)

``t_scale`` is the natural log of the temporal scale, as STG's `.ply` stores ``trbf_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .motion import Motion, MotionAt

MAX_DEGREE = 3


@dataclass
class STGMotion(Motion):
    motion: np.ndarray  # (N, 3D) polynomial coefficients, degree-major
    omega: np.ndarray  # (N, 4) angular velocity (added to the quaternion per unit time)
    t_center: np.ndarray  # (N,)
    t_scale: np.ndarray  # (N,) natural log of the temporal scale

    kind: ClassVar[str] = "stg"
    per_splat: ClassVar[tuple[str, ...]] = ("motion", "omega", "t_center", "t_scale")

    def validate(self) -> None:
        n = self.motion.shape[0]
        if self.motion.ndim != 2 or self.motion.shape[1] % 3 or not 0 <= self.motion.shape[1] // 3 <= MAX_DEGREE:
            raise ValueError(f"motion has shape {self.motion.shape}, expected (N, 3D) with D in 0..{MAX_DEGREE}")
        self.t_center = self.t_center.reshape(-1)
        self.t_scale = self.t_scale.reshape(-1)
        for name, shape in (("omega", (n, 4)), ("t_center", (n,)), ("t_scale", (n,))):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")

    @property
    def degree(self) -> int:
        return self.motion.shape[1] // 3

    def describe(self) -> dict:
        return {"motion_degree": self.degree}

    def temporal_opacity(self, t: float) -> np.ndarray:
        dt = t - self.t_center.astype(np.float64)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            x = dt / np.exp(self.t_scale.astype(np.float64))
            return np.exp(-np.square(x)).astype(np.float32)

    def evaluate(self, t: float) -> MotionAt:
        dt = (t - self.t_center.astype(np.float64))[:, None]
        offset = np.zeros((self.count, 3))
        power = np.ones_like(dt)
        for k in range(self.degree):
            power = power * dt
            offset += self.motion[:, 3 * k:3 * k + 3] * power
        return MotionAt(
            offset=offset.astype(np.float32),
            rotation=(self.omega * dt).astype(np.float32),
            opacity=self.temporal_opacity(t),
        )

    @staticmethod
    def still(count: int, degree: int = MAX_DEGREE) -> "STGMotion":
        """No motion, always visible (t_scale large): a static scene as an STG model."""
        return STGMotion(np.zeros((count, 3 * degree)), np.zeros((count, 4)),
                         np.full(count, 0.5), np.full(count, np.log(1e4)))
