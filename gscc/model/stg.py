"""Spacetime Gaussians (Li et al., CVPR 2024): polynomial motion, linear angular velocity
and a temporal radial-basis opacity per splat (``--representation stg``).

Per-splat entries beside the colour model's (see :mod:`.dynamic`): ``motion`` (N, 3D)
polynomial coefficients, degree-major (D = ``motion_degree``, 3 in STG: 9 coefficients),
``omega`` (N, 4), ``t_center`` (N,) and ``t_scale`` (N,) the natural log of the temporal
scale. With dt = t - t_center, exactly as :class:`gscc.dynamic.STGMotion` evaluates it:

- means = rest + Σ_k motion[:, 3(k-1):3k] · dt^k
- quats = rest + omega · dt (the renderer normalises)
- opacity = sigmoid(rest logit) · exp(-(dt / exp(t_scale))²)

A new splat starts still (zero motion and omega), centred at its initial point's time with
``t_scale = init_t_scale``; a point of the still background (the dataset's ``point_static``)
is centred at 0.5 with ``t_scale = STILL_T_SCALE`` (visible throughout).
"""

from __future__ import annotations

from typing import Optional

import torch

from ..dynamic import STGMotion
from .base import ModelConfig, Params, array
from .dynamic import DynamicModel, faded_logits

# log temporal scale of a still background splat: exp(-(0.5 / e^1.6)²) = 0.99 at either end
STILL_T_SCALE = 1.6


def temporal_log_opacity(t_center: torch.Tensor, t_scale: torch.Tensor, time: float) -> torch.Tensor:
    """(N,) log of STG's temporal opacity factor exp(-((t - t_center) / exp(t_scale))²)."""
    return -torch.square((time - t_center) * torch.exp(-t_scale))


class STGModel(DynamicModel):
    name = "stg"
    motion_names = ("motion", "omega", "t_center", "t_scale")

    @classmethod
    def motion_tensors(
        cls, count: int, times: torch.Tensor, still: torch.Tensor, config: ModelConfig
    ) -> dict[str, torch.Tensor]:
        t_scale = torch.full((count,), float(config.init_t_scale))
        t_scale[still] = STILL_T_SCALE
        return {
            "motion": torch.zeros(count, 3 * config.motion_degree),
            "omega": torch.zeros(count, 4),
            "t_center": torch.where(still, torch.full_like(times, 0.5), times.float()),
            "t_scale": t_scale,
        }

    def at_time(self, params: Params, time: float) -> dict[str, torch.Tensor]:
        p = params
        dt = time - p["t_center"]
        means = p["means"]
        power = torch.ones_like(dt)
        for k in range(p["motion"].shape[1] // 3):
            power = power * dt
            means = means + p["motion"][:, 3 * k:3 * k + 3] * power[:, None]
        static = dict(p.items())
        static["means"] = means
        static["quats"] = p["quats"] + p["omega"] * dt[:, None]
        static["opacities"] = faded_logits(p["opacities"], temporal_log_opacity(p["t_center"], p["t_scale"], time))
        return static

    def motion(self, params: Optional[Params] = None) -> STGMotion:
        p = self.values(params)
        return STGMotion(array(p["motion"]), array(p["omega"]), array(p["t_center"]), array(p["t_scale"]))
