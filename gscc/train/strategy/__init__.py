"""Densification strategies, chosen by name: ``default`` (3DGS adaptive density control) and
``mcmc`` (3DGS as Markov Chain Monte Carlo) and ``stg`` (Spacetime Gaussians' densify-then-prune,
with time in the criteria). See :mod:`.base` for the calling protocol and
:mod:`.ops` for the splat surgery they share."""

from __future__ import annotations

from typing import Any

from .base import Strategy, StrategyError
from .default import DefaultStrategy
from .mcmc import MCMCStrategy
from .stg import STGStrategy

STRATEGIES: dict[str, type[Strategy]] = {"default": DefaultStrategy, "mcmc": MCMCStrategy, "stg": STGStrategy}


def make_strategy(name: str, **settings: Any) -> Strategy:
    """The strategy registered as ``name`` with its fields overridden by ``settings``."""
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    return STRATEGIES[name](**settings)


__all__ = ["DefaultStrategy", "MCMCStrategy", "STGStrategy", "STRATEGIES", "Strategy", "StrategyError", "make_strategy"]
