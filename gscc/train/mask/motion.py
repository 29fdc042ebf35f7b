"""A learnable per-splat motion mask (``motion``): the training counterpart of the dynamic
codec's static-splat mask (gscc.codec.dynamic_encoder: splats whose motion is negligible
code no motion, a one-bit plane says which).

It is the learnable SH mask (:mod:`.learnable`: logit ``motion_mask`` per splat, annealed
temperature, straight-through binarisation from ``hard_step``, sparsity loss) applied to
every plane that moves a splat — the codec layout's ``moving`` planes
(gscc.codec.dynamic_layout: STG ``motion`` and ``omega``, motion-basis ``coeffs``) — instead
of the SH: the render sees those planes times the splat's mask value. Export zeroes the
motion of the masked splats, so the encoder finds them still and codes no motion for them.
The sparsity loss pays for every splat that keeps its motion; the rate term of the motion
planes (gscc.train.compression) counts only kept splats, as the codec does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from torch import Tensor

from ...codec.dynamic_layout import LAYOUTS
from .base import Params, rowwise
from .learnable import LearnableShMask

# every plane some motion model moves its splats with, in coding order
MOVING_PLANES = tuple(dict.fromkeys(name for layout in LAYOUTS.values() for name in layout.moving))


@dataclass
class LearnableMotionMask(LearnableShMask):
    name: ClassVar[str] = "motion"

    attribute: str = "motion"  # names the entries (``motion_mask``); the planes masked: attributes()

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.attribute != "motion":
            raise ValueError(f"the motion mask acts on a splat's motion planes (attribute 'motion'), not {self.attribute!r}")

    def attributes(self, names) -> tuple[str, ...]:
        return tuple(plane for plane in MOVING_PLANES if plane in names)

    def target(self, params: Params) -> Tensor:
        planes = self.attributes(params)
        if not planes:
            raise ValueError(f"motion mask: params have no motion to mask (entries: {', '.join(params)})")
        return params[planes[0]]

    def apply(self, params: Params, step: int) -> dict[str, Tensor]:
        if not self.active(step):
            return {}
        m = self.mask(params, step)
        return {plane: params[plane] * rowwise(m, params[plane]) for plane in self.attributes(params)}

    def finalize(self, params: Params) -> dict[str, Tensor]:
        keep = self.keep(params)
        return {plane: params[plane].detach() * rowwise(keep.to(params[plane].dtype), params[plane])
                for plane in self.attributes(params)}

    def coded_rows(self, params: Params, name: str, step: Optional[int]) -> Optional[Tensor]:
        if name not in self.attributes(params) or (step is not None and not self.active(step)):
            return None
        return self.keep(params)

    def rate_weights(self, params: Params, name: str, step: int) -> Optional[Tensor]:
        if name not in self.attributes(params) or not self.active(step):
            return None
        return self.mask(params, step)
