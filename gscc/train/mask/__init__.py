"""Adaptive masks, chosen by name: ``none``, ``learnable`` (a learnt per-splat mask of the
higher-order SH, annealed and binarised straight-through) and ``gradient`` (masking the SH of
splats whose SH gradients are small). See :mod:`.base` for the interface the trainer calls;
a mask's state lives in per-splat entries of the parameters, which the strategies keep
aligned with their splats."""

from __future__ import annotations

from typing import Any

from .base import Mask, NoMask
from .gradient import GradientShMask
from .learnable import LearnableShMask

MASKS: dict[str, type[Mask]] = {"none": NoMask, "learnable": LearnableShMask, "gradient": GradientShMask}


def make_mask(name: str, **settings: Any) -> Mask:
    """The mask registered as ``name`` with its fields overridden by ``settings``."""
    if name not in MASKS:
        raise ValueError(f"unknown mask {name!r}; choose from {', '.join(MASKS)}")
    return MASKS[name](**settings)


__all__ = ["GradientShMask", "LearnableShMask", "MASKS", "Mask", "NoMask", "make_mask"]
