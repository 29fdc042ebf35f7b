"""The pinhole camera shared by the renderer, the data loaders and the evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Camera:
    """A pinhole camera in the OpenCV convention (x right, y down, z forward).

    ``world_to_camera`` is the 4x4 rigid transform from world to camera coordinates;
    intrinsics are in pixels, with the centre of pixel (row i, column j) at (j + 0.5, i + 0.5).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    world_to_camera: np.ndarray = field(repr=False)
    name: str = ""

    def __post_init__(self) -> None:
        w2c = np.asarray(self.world_to_camera, dtype=np.float64)
        if w2c.shape != (4, 4):
            raise ValueError(f"world_to_camera must be 4x4, got {w2c.shape}")
        if not np.all(np.isfinite(w2c)):
            raise ValueError("world_to_camera has non-finite entries")
        if self.width < 1 or self.height < 1:
            raise ValueError(f"image size must be positive, got {self.width}x{self.height}")
        if not (self.fx > 0 and self.fy > 0):
            raise ValueError(f"focal lengths must be positive, got fx={self.fx}, fy={self.fy}")
        object.__setattr__(self, "world_to_camera", w2c)

    @property
    def K(self) -> np.ndarray:
        """3x3 intrinsic matrix."""
        return np.array(
            [[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=np.float64
        )

    @property
    def camera_to_world(self) -> np.ndarray:
        return np.linalg.inv(self.world_to_camera)

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return self.camera_to_world[:3, 3].copy()

    def scaled(self, factor: float) -> "Camera":
        """The same camera at an image size scaled by ``factor`` (e.g. 0.5 halves it)."""
        width = max(1, int(round(self.width * factor)))
        height = max(1, int(round(self.height * factor)))
        sx, sy = width / self.width, height / self.height
        return replace(
            self,
            width=width,
            height=height,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=self.cx * sx,
            cy=self.cy * sy,
        )

    @staticmethod
    def from_fov(width: int, height: int, fov_x: float, world_to_camera: np.ndarray, name: str = "") -> "Camera":
        """A centred pinhole camera with horizontal field of view ``fov_x`` (radians)."""
        fx = 0.5 * width / np.tan(0.5 * fov_x)
        return Camera(width, height, float(fx), float(fx), width / 2.0, height / 2.0, world_to_camera, name)
