"""Dynamic (4D) splats: a static splat set plus a motion model over normalised time.

The one idea that carries the dynamic side: **a dynamic scene evaluated at time t is a
static splat set** (:class:`gscc.splats.SplatSet`, or :class:`gscc.splats.FeatureSplats`
for MLP-coloured scenes). Everything below the model — renderers, the static codec's planes,
metrics — keeps working on static splats; the dynamic parts only add time on top.

Numpy only: decoding and viewing dynamic scenes must not need torch.
"""

from .motion import Motion, MotionAt
from .registry import MOTIONS, motion_from_arrays
from .motion_basis import MotionBasis
from .scene import DynamicScene, Segment
from .splats import DynamicSplats
from .stg import STGMotion

__all__ = [
    "MOTIONS", "Motion", "MotionAt", "motion_from_arrays", "MotionBasis", "STGMotion",
    "DynamicSplats", "DynamicScene", "Segment",
]
