"""Motion models by name: a new model is one file plus one line here."""

from __future__ import annotations

import numpy as np

from .motion import Motion
from .motion_basis import MotionBasis
from .stg import STGMotion

MOTIONS: dict[str, type[Motion]] = {
    STGMotion.kind: STGMotion,
    MotionBasis.kind: MotionBasis,
}


def motion_from_arrays(kind: str, arrays: dict[str, np.ndarray]) -> Motion:
    """Build a registered motion model by name from its arrays (ValueError when unknown)."""
    if kind not in MOTIONS:
        raise ValueError(f"unknown motion model {kind!r} (known: {', '.join(MOTIONS)})")
    return MOTIONS[kind](**arrays)
