"""Adaptive masks, chosen by name: ``none``, ``learnable`` (a learnt per-splat mask of the
higher-order SH, annealed and binarised straight-through), ``gradient`` (masking the SH of
splats whose SH gradients are small) and ``motion`` (a learnt per-splat mask of a dynamic
splat's motion: the codec's static splats). A run may combine several (``mask=learnable,motion``). See :mod:`.base` for the interface the trainer calls;
a mask's state lives in per-splat entries of the parameters, which the strategies keep
aligned with their splats."""

from __future__ import annotations

from typing import Any

from .base import Mask, NoMask
from .gradient import GradientShMask
from .learnable import LearnableShMask
from .motion import LearnableMotionMask

MASKS: dict[str, type[Mask]] = {"none": NoMask, "learnable": LearnableShMask, "gradient": GradientShMask,
                                "motion": LearnableMotionMask}


def make_mask(name: str, **settings: Any) -> Mask:
    """The mask registered as ``name`` with its fields overridden by ``settings``."""
    if name not in MASKS:
        raise ValueError(f"unknown mask {name!r}; choose from {', '.join(MASKS)}")
    return MASKS[name](**settings)


__all__ = ["GradientShMask", "LearnableMotionMask", "LearnableShMask", "MASKS", "Mask", "NoMask", "make_mask"]
