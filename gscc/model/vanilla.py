"""The 3DGS representation: per-splat spherical harmonics of degree 0..3.

Parameters (see :mod:`gscc.train`): ``means``, ``scales``, ``quats``, ``opacities``,
``sh0`` (N, 1, 3) and ``shN`` (N, K, 3) with K = (sh_degree + 1)² - 1. The SH degree used in
a render grows by one every ``sh_degree_interval`` steps from 0 (progressive SH, as 3DGS).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..cameras import Camera
from ..render import Gaussians, RenderOutput, render
from ..splats import SH_C0, SplatSet, num_sh_rest
from .base import DEFAULT_NEAR, ModelConfig, Params, Representation, array, check_colors, geometry_params, to_parameter_dict


class VanillaModel(Representation):
    name = "vanilla"
    param_names = ("means", "scales", "quats", "opacities", "sh0", "shN")

    @classmethod
    def create(cls, points: np.ndarray, colors: np.ndarray, config: ModelConfig) -> "VanillaModel":
        """Splats at ``points`` with colours ``colors`` (M, 3) in [0, 1] as their DC term."""
        tensors = geometry_params(points, config)
        n = tensors["means"].shape[0]
        colors = check_colors(colors, n)
        tensors["sh0"] = torch.from_numpy((colors - 0.5) / SH_C0)[:, None, :]
        tensors["shN"] = torch.zeros(n, num_sh_rest(config.sh_degree), 3)
        return cls(to_parameter_dict(tensors), config)

    def gaussians(self, step: int, params: Optional[Params] = None) -> Gaussians:
        p = self.values(params)
        means, quats, scales, opacities = self.geometry(p)
        colors = torch.cat([p["sh0"], p["shN"]], dim=1)
        return Gaussians(means, quats, scales, opacities, colors)

    def render(
        self, camera: Camera, step: int, *, background, backend: str = "auto", params: Optional[Params] = None,
        time: Optional[float] = None, near: float = DEFAULT_NEAR,
    ) -> RenderOutput:
        return render(
            self.gaussians(step, params), camera, backend=backend, sh_degree=self.sh_degree_at(step),
            background=background, near=near,
        )

    def export(self, params: Optional[Params] = None) -> SplatSet:
        p = self.values(params)
        return SplatSet(sh0=array(p["sh0"])[:, 0, :], shN=array(p["shN"]), **self.geometry_arrays(p))
