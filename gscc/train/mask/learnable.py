"""A learnable per-splat mask of the higher-order SH (``learnable``).

Each splat has a logit ``sh_mask`` (trained, learning rate ``lr``); its mask value is

    m = sigmoid(logit / τ(step))

with a temperature annealed geometrically from ``temperature_start`` at ``start_step`` to
``temperature_end`` at ``end_step`` (τ = τ0 · (τ1/τ0)^t, t the clamped fraction of the way),
so that m drifts towards 0 or 1 as training goes on. The logits start at
``temperature_start · logit(init_keep)``: m = ``init_keep`` at ``start_step``.

- before ``start_step``: no masking (:meth:`apply` gives nothing, no loss);
- from ``start_step``: the render sees ``shN · m`` (row by row);
- from ``hard_step`` (if set): straight-through binarisation, the render sees
  ``shN · 1[m > 0.5]`` while the gradient flows as through ``m`` (m > 0.5 ⇔ logit > 0).

Loss: ``sparsity_weight · mean(m)``, plus ``ratio_weight · (mean(m) - target_ratio)²`` when
``target_ratio`` is set, with the same m the render sees. Export keeps a splat's SH where
m > 0.5 (logit > 0) and zeroes it elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import Tensor

from .base import Mask, Params, fraction, rowwise


@dataclass
class LearnableShMask(Mask):
    name: ClassVar[str] = "learnable"

    init_keep: float = 0.9  # m at start_step, for every splat
    lr: float = 0.01  # Adam learning rate of the logits
    temperature_start: float = 1.0
    temperature_end: float = 0.05
    start_step: int = 3000  # no masking before (the default SH schedule reaches degree 3 here)
    end_step: int = 15_000  # the temperature reaches temperature_end here
    hard_step: Optional[int] = 15_000  # straight-through binary mask from here (None: never)
    sparsity_weight: float = 5e-4
    target_ratio: Optional[float] = None  # the fraction of splats to keep, in (0, 1]
    ratio_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.init_keep < 1.0:
            raise ValueError(f"init_keep must lie strictly between 0 and 1, got {self.init_keep}")
        if not self.lr > 0.0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 < self.temperature_end <= self.temperature_start:
            raise ValueError(
                "temperatures must satisfy 0 < temperature_end <= temperature_start, "
                f"got {self.temperature_start} -> {self.temperature_end}"
            )
        if not 0 <= self.start_step <= self.end_step:
            raise ValueError(f"steps must satisfy 0 <= start_step <= end_step, got {self.start_step}, {self.end_step}")
        if self.hard_step is not None and self.hard_step < self.start_step:
            raise ValueError(f"hard_step must be None or >= start_step ({self.start_step}), got {self.hard_step}")
        if self.sparsity_weight < 0.0 or self.ratio_weight < 0.0:
            raise ValueError("sparsity_weight and ratio_weight must be >= 0")
        if self.target_ratio is not None and not 0.0 < self.target_ratio <= 1.0:
            raise ValueError(f"target_ratio must be None or lie in (0, 1], got {self.target_ratio}")

    @property
    def logit_name(self) -> str:
        return f"{self.prefix}_mask"

    def temperature(self, step: int) -> float:
        """τ at ``step``: temperature_start up to start_step, geometric to temperature_end at
        end_step, constant after."""
        if self.end_step == self.start_step:
            t = 1.0 if step >= self.start_step else 0.0
        else:
            t = min(max((step - self.start_step) / (self.end_step - self.start_step), 0.0), 1.0)
        return self.temperature_start * (self.temperature_end / self.temperature_start) ** t

    def active(self, step: int) -> bool:
        return step >= self.start_step

    def hard(self, step: int) -> bool:
        return self.hard_step is not None and step >= self.hard_step

    def probabilities(self, params: Params, step: int) -> Tensor:
        """The soft mask sigmoid(logit / τ(step)), (N,)."""
        return torch.sigmoid(self.entry(params, self.logit_name) / self.temperature(step))

    def mask(self, params: Params, step: int) -> Tensor:
        """The (N,) mask the render of ``step`` sees: soft, or from hard_step binary in the
        forward pass with the soft mask's gradient (straight-through)."""
        m = self.probabilities(params, step)
        if not self.hard(step):
            return m
        binary = self.keep(params).to(m.dtype)
        return m + (binary - m).detach()  # exact: 1 - m is exact for m >= 1/2 (Sterbenz)

    def keep(self, params: Params) -> Tensor:
        """(N,) bool: m > 0.5 at any temperature, i.e. logit > 0."""
        return self.entry(params, self.logit_name).detach() > 0

    # ---- the interface -----------------------------------------------------------------

    def init_params(self, params: Params) -> dict[str, tuple[Tensor, float]]:
        logit = self.zeros(params) + self.temperature_start * math.log(self.init_keep / (1.0 - self.init_keep))
        return {self.logit_name: (logit, self.lr)}

    def apply(self, params: Params, step: int) -> dict[str, Tensor]:
        if not self.active(step):
            return {}
        x = self.target(params)
        return {self.attribute: x * rowwise(self.mask(params, step), x)}

    def loss(self, params: Params, step: int) -> Optional[Tensor]:
        if not self.active(step):
            return None
        m = self.mask(params, step)
        if m.numel() == 0:
            return None
        mean = m.mean()
        terms = []
        if self.sparsity_weight > 0.0:
            terms.append(self.sparsity_weight * mean)
        if self.target_ratio is not None and self.ratio_weight > 0.0:
            terms.append(self.ratio_weight * (mean - self.target_ratio) ** 2)
        return sum(terms) if terms else None

    def finalize(self, params: Params) -> dict[str, Tensor]:
        x = self.target(params).detach()
        return {self.attribute: x * rowwise(self.keep(params).to(x.dtype), x)}

    def kept_fraction(self, params: Params) -> float:
        return fraction(self.keep(params))
