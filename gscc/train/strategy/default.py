"""Adaptive density control of 3D Gaussian Splatting (Kerbl et al. 2023).

Between ``refine_start`` and ``refine_stop``, every ``refine_every`` steps:

- splats whose mean view-space gradient (over the steps they were visible since the last
  refinement) exceeds ``grow_grad2d`` grow: small ones (largest scale <= ``grow_scale3d`` x
  scene scale) are cloned, large ones split into two 1.6x smaller children;
- splats with opacity below ``prune_opa`` are pruned, and after the first opacity reset
  also those larger than ``prune_scale3d`` x scene scale.

Every ``reset_every`` steps (before ``refine_stop``) opacities are clamped to
2 x ``prune_opa``. Gradients are normalised as in gsplat: the pixel-space gradient of
``means2d`` times (width/2, height/2) x n_cameras, i.e. the NDC gradient of the original code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import torch

from . import ops
from .base import Strategy, StrategyError


def view_space_grad(info: Dict[str, Any]) -> torch.Tensor:
    """(N, 2) gradient of the loss w.r.t. the projected centres, from a render info dict."""
    means2d = info.get("means2d")
    if means2d is None:
        raise StrategyError("render info has no means2d")
    if means2d.grad is None:
        raise StrategyError("means2d has no gradient: call step_pre_backward before loss.backward()")
    return means2d.grad.reshape(-1, 2)


def visible_radii(info: Dict[str, Any], n: int) -> torch.Tensor:
    """(N,) radii in pixels (0 = not drawn), accepting (N,), (1, N) or per-axis (..., N, 2)."""
    radii = info.get("radii")
    if radii is None:
        raise StrategyError("render info has no radii")
    if radii.numel() == 2 * n and radii.shape[-1] == 2:
        radii = radii.max(dim=-1).values
    radii = radii.reshape(-1)
    if radii.shape[0] != n:
        raise StrategyError(f"render info has {radii.shape[0]} radii for {n} splats")
    return radii


@dataclass
class DefaultStrategy(Strategy):
    """3DGS adaptive density control; defaults follow gsplat's ``DefaultStrategy``.

    ``cap_max`` (optional) bounds the splat count: when growth would exceed it, only the
    highest-gradient candidates grow. ``refine_scale2d_stop`` > 0 also splits (and, after the
    first reset, prunes) splats whose screen radius relative to the image exceeds
    ``grow_scale2d`` (``prune_scale2d``) until that step. ``revised_opacity`` gives split
    children the opacity 1 - sqrt(1 - o) (Rota Bulò et al. 2024).
    """

    prune_opa: float = 0.005
    grow_grad2d: float = 0.0002
    grow_scale3d: float = 0.01
    grow_scale2d: float = 0.05
    prune_scale3d: float = 0.1
    prune_scale2d: float = 0.15
    refine_scale2d_stop: int = 0
    refine_start: int = 500
    refine_stop: int = 15_000
    refine_every: int = 100
    reset_every: int = 3000
    pause_refine_after_reset: int = 0
    revised_opacity: bool = False
    cap_max: Optional[int] = None
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.refine_every < 1 or self.reset_every < 1:
            raise ValueError("refine_every and reset_every must be >= 1")
        if not 0.0 < self.prune_opa < 0.5:
            raise ValueError(f"prune_opa must be in (0, 0.5), got {self.prune_opa}")
        if self.cap_max is not None and self.cap_max < 1:
            raise ValueError(f"cap_max must be >= 1, got {self.cap_max}")

    def initialize_state(self, scene_scale: float = 1.0) -> Dict[str, Any]:
        """``grad2d`` (sum of normalised gradient norms), ``count`` (steps visible) and, when
        screen-size refinement is on, ``radii`` (max radius / image size) per splat; created
        at the first update on the parameters' device."""
        state = super().initialize_state(scene_scale)
        state.update(grad2d=None, count=None)
        if self.refine_scale2d_stop > 0:
            state["radii"] = None
        return state

    def step_pre_backward(self, params, optimizers, state, step, info) -> None:
        means2d = info.get("means2d")
        if means2d is None:
            raise StrategyError("render info has no means2d")
        if means2d.requires_grad:
            means2d.retain_grad()

    def last_step(self) -> int:
        """The step from which the strategy does nothing more."""
        return self.refine_stop

    def grows_at(self, step: int) -> bool:
        """Whether a refinement at ``step`` grows splats (else it only prunes)."""
        return True

    def step_post_backward(self, params, optimizers, state, step, info, lr=None) -> None:
        if step >= self.last_step():
            return
        self._accumulate(params, state, info)

        if (
            step > self.refine_start
            and step % self.refine_every == 0
            and step % self.reset_every >= self.pause_refine_after_reset
        ):
            n_dupli, n_split = self._grow(params, optimizers, state, step) if self.grows_at(step) else (0, 0)
            n_prune = self._prune(params, optimizers, state, step)
            if self.verbose:
                print(
                    f"step {step}: {n_dupli} cloned, {n_split} split, {n_prune} pruned, "
                    f"{ops.num_splats(params)} splats"
                )
            for key in ("grad2d", "count", "radii"):
                if state.get(key) is not None:
                    state[key].zero_()

        if step > 0 and step % self.reset_every == 0:
            ops.reset_opacities(params, optimizers, state, value=2.0 * self.prune_opa)

    @torch.no_grad()
    def _accumulate(self, params, state: Dict[str, Any], info: Dict[str, Any]) -> None:
        n = ops.num_splats(params)
        for key in ("width", "height"):
            if key not in info:
                raise StrategyError(f"render info has no {key}")
        n_cameras = info.get("n_cameras", 1)
        grads = view_space_grad(info)
        if grads.shape[0] != n:
            raise StrategyError(f"means2d has {grads.shape[0]} rows for {n} splats")
        radii = visible_radii(info, n)
        scale = torch.tensor(
            [info["width"] / 2.0 * n_cameras, info["height"] / 2.0 * n_cameras], dtype=grads.dtype, device=grads.device
        )
        norms = (grads * scale).norm(dim=-1)
        device = params["means"].device
        for key in ("grad2d", "count") + (("radii",) if "radii" in state else ()):
            if state[key] is None:
                state[key] = torch.zeros(n, device=device)
            elif state[key].shape[0] != n:
                raise StrategyError(f"strategy state {key!r} has {state[key].shape[0]} rows for {n} splats")
        visible = (radii > 0).to(device)
        state["grad2d"][visible] += norms.to(device)[visible]
        state["count"][visible] += 1.0
        if "radii" in state:
            rel = radii.to(device, torch.float32) / float(max(info["width"], info["height"]))
            state["radii"] = torch.maximum(state["radii"], torch.where(visible, rel, torch.zeros_like(rel)))

    @torch.no_grad()
    def _grow(self, params, optimizers, state: Dict[str, Any], step: int) -> Tuple[int, int]:
        if state.get("grad2d") is None:
            return 0, 0
        grads = state["grad2d"] / state["count"].clamp_min(1.0)
        high = grads > self.grow_grad2d
        small = torch.exp(params["scales"].detach()).max(dim=-1).values <= self.grow_scale3d * state["scene_scale"]
        dupli = high & small
        split = high & ~small
        if step < self.refine_scale2d_stop:
            split |= state["radii"] > self.grow_scale2d
        if self.cap_max is not None:
            dupli, split = self._within_cap(grads, dupli, split, ops.num_splats(params))
        n_dupli = ops.duplicate(params, optimizers, state, dupli)
        # clones are appended at the end and are not split
        split = torch.cat([split, torch.zeros(n_dupli, dtype=torch.bool, device=split.device)])
        n_split = ops.split(params, optimizers, state, split, revised_opacity=self.revised_opacity)
        return n_dupli, n_split

    def _within_cap(self, grads, dupli, split, n: int):
        """Keep the highest-gradient candidates so that the count stays <= cap_max (a clone and a
        split each add one splat)."""
        budget = max(0, self.cap_max - n)
        candidates = dupli | split
        if int(candidates.sum()) <= budget:
            return dupli, split
        keep = torch.zeros_like(candidates)
        if budget > 0:
            score = torch.where(candidates, grads, torch.full_like(grads, -1.0))
            keep[torch.topk(score, budget).indices] = True
        return dupli & keep, split & keep

    @torch.no_grad()
    def _prune(self, params, optimizers, state: Dict[str, Any], step: int) -> int:
        n = ops.num_splats(params)
        prune = torch.sigmoid(params["opacities"].detach().reshape(n)) < self.prune_opa
        if step > self.reset_every:
            largest = torch.exp(params["scales"].detach()).max(dim=-1).values
            too_big = largest > self.prune_scale3d * state["scene_scale"]
            if step < self.refine_scale2d_stop:
                too_big |= state["radii"] > self.prune_scale2d
            prune |= too_big
        return ops.remove(params, optimizers, state, prune)
