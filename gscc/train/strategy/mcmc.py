"""3D Gaussian Splatting as Markov Chain Monte Carlo (Kheradmand et al. 2024).

Between ``refine_start`` and ``refine_stop``, every ``refine_every`` steps:

- dead splats (opacity <= ``min_opacity``) are relocated onto live ones sampled with
  probability proportional to opacity, the sampled splat's opacity and scale being shared
  among its copies by the paper's rule (:func:`.ops.relocation_opacity_scale`);
- ``grow_rate`` (5%) more splats are added the same way, up to ``cap_max``.

Every step the positions get exploration noise ``noise_lr · lr · σ(100(1 - o - 0.995)) · Σ ε``
(:func:`.ops.inject_noise`), which moves nearly transparent splats and leaves opaque ones.
The paper's opacity and scale L1 regularisers belong to the loss; their recommended
coefficients are ``opacity_reg`` and ``scale_reg`` here for the trainer to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import torch

from . import ops
from .base import Strategy


@dataclass
class MCMCStrategy(Strategy):
    cap_max: int = 1_000_000
    noise_lr: float = 5e5
    refine_start: int = 500
    refine_stop: int = 25_000
    refine_every: int = 100
    min_opacity: float = 0.005
    grow_rate: float = 0.05
    opacity_reg: float = 0.01
    scale_reg: float = 0.01
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.refine_every < 1:
            raise ValueError("refine_every must be >= 1")
        if self.cap_max < 1:
            raise ValueError(f"cap_max must be >= 1, got {self.cap_max}")
        if not 0.0 <= self.grow_rate:
            raise ValueError(f"grow_rate must be >= 0, got {self.grow_rate}")
        if not 0.0 < self.min_opacity < 1.0:
            raise ValueError(f"min_opacity must be in (0, 1), got {self.min_opacity}")

    def step_post_backward(self, params, optimizers, state, step, info, lr=None) -> None:
        """Relocate and grow at refinement steps, then add noise to the positions.

        ``lr`` (the current learning rate of ``means``) is required: it scales the noise.
        """
        if lr is None:
            raise ValueError("MCMCStrategy.step_post_backward needs lr, the current learning rate of means")
        if self.refine_start < step < self.refine_stop and step % self.refine_every == 0:
            n_moved = self.relocate_dead(params, optimizers, state)
            n_added = self.grow(params, optimizers, state)
            if self.verbose:
                print(f"step {step}: {n_moved} relocated, {n_added} added, {ops.num_splats(params)} splats")
        ops.inject_noise(params, lr, noise_lr=self.noise_lr)

    @torch.no_grad()
    def relocate_dead(self, params, optimizers, state: Dict[str, Any]) -> int:
        n = ops.num_splats(params)
        dead = torch.sigmoid(params["opacities"].detach().reshape(n)) <= self.min_opacity
        return ops.relocate(params, optimizers, state, dead, min_opacity=self.min_opacity)

    @torch.no_grad()
    def grow(self, params, optimizers, state: Dict[str, Any]) -> int:
        n = ops.num_splats(params)
        target = min(self.cap_max, int((1.0 + self.grow_rate) * n))
        return ops.add_new(params, optimizers, state, max(0, target - n), min_opacity=self.min_opacity)
