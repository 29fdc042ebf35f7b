"""Spacetime Gaussians' density control: densify, then prune (Li et al., CVPR 2024).

3DGS's adaptive density control (:class:`.default.DefaultStrategy`: clone or split the
splats whose mean view-space gradient exceeds ``grow_grad2d``) with time in the criteria:

- a splat's *peak opacity* is its opacity at the time of the segment where its temporal
  kernel is highest: sigmoid(o) · exp(-(d / exp(t_scale))²), d the distance of ``t_center``
  from [0, 1] (0 inside it). Only splats whose peak opacity reaches ``prune_opa`` grow, and
  those below it are pruned (a splat faded out over the whole segment is dead);
- *visibility*: a splat drawn (radius > 0) in none of the steps since the run began is
  pruned from ``prune_unseen_after`` on (it lies outside every training view at every
  time it was sampled);
- splats larger than ``prune_scale3d`` × the scene scale are pruned.

Every ``refine_every`` steps between ``refine_start`` and ``refine_stop`` the splats grow
and are pruned; from ``refine_stop`` to ``prune_stop`` they are only pruned (densify, then
prune). Opacities are not reset (``reset_every`` only when set below ``prune_stop``).
Clones and split children copy every per-splat entry of the parent — the motion,
``omega``, ``t_center`` and ``t_scale`` too — through :mod:`.ops`, which keeps the optimizer
state aligned. Needs ``t_center`` and ``t_scale`` among the parameters (``stg``); without
them (``motion-basis``, static models) the temporal factor is 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import torch

from . import ops
from .default import DefaultStrategy, visible_radii

NO_RESET = 1 << 30


def peak_opacity(params) -> torch.Tensor:
    """(N,) the highest opacity each splat reaches over normalised time [0, 1]."""
    n = ops.num_splats(params)
    opacity = torch.sigmoid(params["opacities"].detach().reshape(n))
    if "t_center" not in params or "t_scale" not in params:
        return opacity
    centre = params["t_center"].detach().reshape(n)
    distance = centre - centre.clamp(0.0, 1.0)
    return opacity * torch.exp(-torch.square(distance * torch.exp(-params["t_scale"].detach().reshape(n))))


@dataclass
class STGStrategy(DefaultStrategy):
    refine_start: int = 500
    refine_stop: int = 9_000
    prune_stop: int = 12_000
    prune_unseen_after: int = 1_000
    reset_every: int = NO_RESET

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.prune_stop < self.refine_stop:
            raise ValueError(f"prune_stop ({self.prune_stop}) must not come before refine_stop ({self.refine_stop})")

    def initialize_state(self, scene_scale: float = 1.0) -> Dict[str, Any]:
        """The default state plus ``seen``: steps each splat was drawn in, never zeroed."""
        state = super().initialize_state(scene_scale)
        state["seen"] = None
        return state

    def last_step(self) -> int:
        return self.prune_stop

    def grows_at(self, step: int) -> bool:
        return step < self.refine_stop

    @torch.no_grad()
    def _accumulate(self, params, state: Dict[str, Any], info: Dict[str, Any]) -> None:
        super()._accumulate(params, state, info)
        n = ops.num_splats(params)
        if state["seen"] is None:
            state["seen"] = torch.zeros(n, device=params["means"].device)
        state["seen"] += (visible_radii(info, n) > 0).to(state["seen"].device).float()

    @torch.no_grad()
    def _grow(self, params, optimizers, state: Dict[str, Any], step: int):
        if state.get("grad2d") is None:
            return 0, 0
        dead = peak_opacity(params) < self.prune_opa
        state["grad2d"][dead] = 0.0  # dead splats do not grow (the sums are zeroed after refining anyway)
        return super()._grow(params, optimizers, state, step)

    @torch.no_grad()
    def _prune(self, params, optimizers, state: Dict[str, Any], step: int) -> int:
        prune = peak_opacity(params) < self.prune_opa
        largest = torch.exp(params["scales"].detach()).max(dim=-1).values
        prune |= largest > self.prune_scale3d * state["scene_scale"]
        if step >= self.prune_unseen_after and state.get("seen") is not None:
            prune |= state["seen"] == 0
        if bool(prune.all()):  # never remove every splat
            return 0
        return ops.remove(params, optimizers, state, prune)
