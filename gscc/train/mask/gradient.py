"""Masking the higher-order SH of splats whose SH gradients are small (``gradient``).

The loss gradient w.r.t. a splat's SH says how much its view-dependent colour matters to
the images. After every backward (up to ``stop_step``) each splat accumulates the mean
absolute gradient over its SH coefficients, in two buffers (per-splat entries of params,
not trained): ``sh_grad_accum`` (the sum) and ``sh_grad_count`` (the steps it got a
non-zero gradient, i.e. was drawn while the SH degree was above 0). Its statistic is
accum / count.

At every mask step (``start_step``, then every ``interval`` steps, up to ``stop_step``), among
the splats still kept that have a statistic (count > 0):

- with ``threshold`` set, those whose statistic is below it are masked;
- otherwise the floor(``quantile`` · M) of those M splats with the smallest statistic are
  masked (ties with the first one kept are kept);

then both accumulators restart from zero. Masking is final: a masked splat's SH get no
gradient (the render sees them multiplied by zero), so its statistic would carry nothing.
The 0/1 buffer ``sh_keep`` holds the result; from ``start_step`` the render sees
``shN · sh_keep`` and export zeroes the masked splats' SH. Splats added by densification
inherit their source's buffers (:mod:`gscc.train.strategy.ops` copies them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import Tensor

from .base import Mask, Params, fraction, rowwise


@dataclass
class GradientShMask(Mask):
    name: ClassVar[str] = "gradient"

    start_step: int = 5000  # the first mask step (no masking before)
    interval: int = 5000  # steps between mask steps
    stop_step: Optional[int] = 15_000  # no accumulation or mask step after this (None: never stop)
    quantile: float = 0.2  # the fraction of the kept splats masked at a mask step...
    threshold: Optional[float] = None  # ...or, when set, an absolute cut on the statistic instead

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {self.start_step}")
        if self.interval < 1:
            raise ValueError(f"interval must be >= 1, got {self.interval}")
        if self.stop_step is not None and self.stop_step < self.start_step:
            raise ValueError(f"stop_step must be None or >= start_step ({self.start_step}), got {self.stop_step}")
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"quantile must lie strictly between 0 and 1, got {self.quantile}")
        if self.threshold is not None and not self.threshold >= 0.0:
            raise ValueError(f"threshold must be None or >= 0, got {self.threshold}")

    @property
    def keep_name(self) -> str:
        return f"{self.prefix}_keep"

    @property
    def accum_name(self) -> str:
        return f"{self.prefix}_grad_accum"

    @property
    def count_name(self) -> str:
        return f"{self.prefix}_grad_count"

    def running(self, step: int) -> bool:
        """Whether ``step`` still accumulates (up to and including stop_step)."""
        return self.stop_step is None or step <= self.stop_step

    def is_mask_step(self, step: int) -> bool:
        return self.running(step) and step >= self.start_step and (step - self.start_step) % self.interval == 0

    def keep(self, params: Params) -> Tensor:
        """(N,) bool: the splats whose SH are kept."""
        return self.entry(params, self.keep_name).detach() > 0

    def statistic(self, params: Params) -> Tensor:
        """(N,) the mean accumulated gradient magnitude (0 where nothing was accumulated)."""
        accum = self.entry(params, self.accum_name).detach()
        return accum / self.entry(params, self.count_name).detach().clamp_min(1.0)

    @torch.no_grad()
    def accumulate(self, params: Params) -> None:
        """Add this backward's per-splat mean |grad| of the attribute (none when it has no
        gradient) to the accumulators."""
        grad = self.target(params).grad
        if grad is None:
            return
        g = grad.detach().abs().reshape(grad.shape[0], -1).mean(dim=1).to(torch.float32)
        self.entry(params, self.accum_name).add_(g)
        self.entry(params, self.count_name).add_((g > 0).to(torch.float32))

    @torch.no_grad()
    def update_keep(self, params: Params) -> int:
        """The mask step: mask the low-gradient splats (see the module docstring), restart
        the accumulators; returns how many splats were newly masked."""
        keep = self.entry(params, self.keep_name)
        stat = self.statistic(params)
        candidates = (keep > 0) & (self.entry(params, self.count_name) > 0)
        newly = torch.zeros_like(candidates)
        m = int(candidates.sum())
        if m > 0:
            if self.threshold is not None:
                newly = candidates & (stat < self.threshold)
            else:
                k = int(self.quantile * m)
                if k > 0:
                    cut = torch.kthvalue(stat[candidates], k + 1).values
                    newly = candidates & (stat < cut)
        keep[newly] = 0.0
        self.entry(params, self.accum_name).zero_()
        self.entry(params, self.count_name).zero_()
        return int(newly.sum())

    # ---- the interface -----------------------------------------------------------------

    def init_params(self, params: Params) -> dict[str, tuple[Tensor, float]]:
        zeros = self.zeros(params)
        return {
            self.keep_name: (torch.ones_like(zeros), 0.0),
            self.accum_name: (zeros.clone(), 0.0),
            self.count_name: (zeros.clone(), 0.0),
        }

    def apply(self, params: Params, step: int) -> dict[str, Tensor]:
        if step < self.start_step:
            return {}
        x = self.target(params)
        return {self.attribute: x * rowwise(self.entry(params, self.keep_name).detach().to(x.dtype), x)}

    def after_backward(self, params: Params, step: int) -> None:
        if not self.running(step):
            return
        self.accumulate(params)
        if self.is_mask_step(step):
            self.update_keep(params)

    def finalize(self, params: Params) -> dict[str, Tensor]:
        x = self.target(params).detach()
        return {self.attribute: x * rowwise(self.keep(params).to(x.dtype), x)}

    def kept_fraction(self, params: Params) -> float:
        return fraction(self.keep(params))
