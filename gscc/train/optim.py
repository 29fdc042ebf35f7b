"""Optimizers (one Adam per parameter name) and the learning-rate schedules.

Schedules are pure functions of the step, so a resumed run sets exactly the learning rates
the uninterrupted run had without any scheduler state.
"""

from __future__ import annotations

import torch

ADAM_EPS = 1e-15  # as 3DGS and gsplat


def adam(params: list[torch.nn.Parameter], lr: float, name: str) -> torch.optim.Adam:
    return torch.optim.Adam([{"params": params, "lr": lr, "name": name}], eps=ADAM_EPS)


def splat_optimizers(params: torch.nn.ParameterDict, lrs: dict[str, float]) -> dict[str, torch.optim.Optimizer]:
    """One Adam per entry of ``params``, holding exactly that parameter (see gscc.train)."""
    return {name: adam([p], lrs[name], name) for name, p in params.items()}


def shared_optimizers(
    groups: dict[str, list[torch.nn.Parameter]], lrs: dict[str, float]
) -> dict[str, torch.optim.Optimizer]:
    """One Adam per named group of shared (not per-splat) parameters."""
    return {name: adam(list(ps), lrs[name], name) for name, ps in groups.items()}


def exponential_lr(initial: float, final_fraction: float, step: int, total: int) -> float:
    """``initial`` decaying exponentially to ``initial * final_fraction`` at step ``total``
    (3DGS's position schedule: gamma = final_fraction ** (1 / total) per step)."""
    t = min(max(step, 0), total) / max(total, 1)
    return float(initial * final_fraction**t)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
