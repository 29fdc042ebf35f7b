"""The densification strategy interface.

A strategy is a dataclass of settings; everything that changes during training lives in the
``state`` dict returned by :meth:`Strategy.initialize_state` (so one strategy object can
drive several runs). The trainer calls, every step::

    strategy.step_pre_backward(params, optimizers, state, step, info)
    loss.backward()
    ...every optimizer steps (and zeroes its gradients)...
    strategy.step_post_backward(params, optimizers, state, step, info, lr=means_lr)

where ``info`` carries the render's ``means2d`` (with its gradient after backward),
``radii``, ``width``, ``height`` and ``n_cameras`` (see :mod:`gscc.train`).
``step_post_backward`` comes after the optimizers, as in gsplat's trainer: an operation that
replaces a Parameter drops its ``.grad``, so an optimizer stepping afterwards would skip that
update (the view-space gradient a strategy reads lives on ``info["means2d"]``, which the
optimizers do not touch). Strategies change the splat count only through :mod:`.ops`, which
keeps every parameter, its optimizer state and the strategy's per-splat state aligned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional

import torch

REQUIRED_KEYS = ("means", "scales", "quats", "opacities")


class StrategyError(ValueError):
    """Parameters and optimizers do not follow the conventions a strategy relies on."""


@dataclass
class Strategy:
    """Base class: sanity checks and no-op callbacks."""

    def check_sanity(self, params: torch.nn.ParameterDict, optimizers: Dict[str, torch.optim.Optimizer]) -> None:
        """Raise :class:`StrategyError` unless the parameters follow the shared conventions.

        Checks: ``means``, ``scales``, ``quats`` and ``opacities`` are present; every entry has
        the same splat count N as its first dimension; every trainable entry has an optimizer
        of its own name; every optimizer has one param group holding exactly ``params[name]``
        (the same object: a stale reference left by some operation is caught here). Entries
        that do not require grad may have no optimizer.
        """
        missing = [k for k in REQUIRED_KEYS if k not in params]
        if missing:
            raise StrategyError(f"params lack required entries: {', '.join(missing)}")
        n = int(params["means"].shape[0])
        for name, p in params.items():
            if p.ndim == 0 or p.shape[0] != n:
                raise StrategyError(f"params[{name!r}] has shape {tuple(p.shape)}; every entry needs {n} rows")
        for name, p in params.items():
            if p.requires_grad and name not in optimizers:
                raise StrategyError(f"params[{name!r}] is trainable but has no optimizer")
        for name, opt in optimizers.items():
            if name not in params:
                raise StrategyError(f"optimizer {name!r} has no parameter of that name")
            if len(opt.param_groups) != 1 or len(opt.param_groups[0]["params"]) != 1:
                raise StrategyError(f"optimizer {name!r} must hold exactly one parameter in one group")
            if opt.param_groups[0]["params"][0] is not params[name]:
                raise StrategyError(f"optimizer {name!r} does not hold params[{name!r}] (stale reference?)")

    def initialize_state(self, scene_scale: float = 1.0) -> Dict[str, Any]:
        """The running state for one training run; ``scene_scale`` is the scene's extent."""
        return {"scene_scale": float(scene_scale)}

    def step_pre_backward(
        self,
        params: torch.nn.ParameterDict,
        optimizers: Dict[str, torch.optim.Optimizer],
        state: Dict[str, Any],
        step: int,
        info: Dict[str, Any],
    ) -> None:
        """Called after the render, before ``loss.backward()``."""

    def step_post_backward(
        self,
        params: torch.nn.ParameterDict,
        optimizers: Dict[str, torch.optim.Optimizer],
        state: Dict[str, Any],
        step: int,
        info: Dict[str, Any],
        lr: Optional[float] = None,
    ) -> None:
        """Called after ``loss.backward()`` and the optimizers' step; ``lr`` is the current
        learning rate of ``means``."""
