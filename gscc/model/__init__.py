"""Trainable splat representations, chosen by name.

- ``vanilla`` (:class:`VanillaModel`): 3DGS, per-splat SH of degree 0..3.
- ``features`` (:class:`FeatureModel`): per-splat features decoded per pixel by a small MLP
  that also sees the view direction; exported with baked SH colours.
- ``stg`` (:class:`STGModel`): Spacetime Gaussians, dynamic (polynomial motion, temporal
  opacity), coloured by SH or features (``colour``); see ``dynamic.py``.
- ``motion-basis`` (:class:`MotionBasisModel`): dynamic, shared motion trajectories.

Each is a :class:`Representation` (see ``base.py`` for the interface the trainer uses):
``REPRESENTATIONS[name].create(points, colors, config)`` makes one from initial points,
:func:`from_params` rebuilds one from saved parameters (a checkpoint).
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from .base import ModelConfig, Representation
from .features import FeatureModel
from .motion_basis import MotionBasisModel
from .stg import STGModel
from .vanilla import VanillaModel

REPRESENTATIONS: dict[str, type[Representation]] = {
    "vanilla": VanillaModel,
    "features": FeatureModel,
    "stg": STGModel,
    "motion-basis": MotionBasisModel,
}


def representation_class(name: str) -> type[Representation]:
    try:
        return REPRESENTATIONS[name]
    except KeyError:
        raise InputError(f"unknown representation {name!r}; choose from {', '.join(REPRESENTATIONS)}") from None


def create(
    name: str, points: np.ndarray, colors: np.ndarray, config: ModelConfig, times: np.ndarray | None = None,
    still: np.ndarray | None = None,
) -> Representation:
    """A new ``name`` representation with one splat per initial point (a dynamic one also
    takes each point's normalised time and which points belong to the still background)."""
    cls = representation_class(name)
    if is_dynamic(name):
        return cls.create(points, colors, config, times=times, still=still)
    return cls.create(points, colors, config)


def is_dynamic(name: str) -> bool:
    """Whether representation ``name`` models splats over time."""
    return bool(getattr(representation_class(name), "dynamic", False))


def from_params(
    name: str, tensors: dict[str, torch.Tensor], shared: dict[str, np.ndarray], config: ModelConfig
) -> Representation:
    """A ``name`` representation holding saved per-splat tensors and shared weights."""
    from .base import to_parameter_dict

    model = representation_class(name)(to_parameter_dict(tensors), config)
    model.load_shared_state(shared)
    return model


__all__ = ["REPRESENTATIONS", "FeatureModel", "MotionBasisModel", "STGModel", "is_dynamic", "ModelConfig", "Representation", "VanillaModel", "create", "from_params"]
