"""What the dynamic encoder does to a motion plane per splat before its transform, so that
simulation quantizes the values the encoder quantizes (gscc.codec.dynamic_encoder):

- ``omega`` is coded in the canonical rotation frame
  (:func:`gscc.codec.dynamic_encoder.canonical_rotation`): divided by |q| and multiplied by
  the sign that makes the unit quaternion the one the ``quats`` transform decodes;
- with a motion window (``DynamicEncodeConfig.motion_window``, STG only), the windowed
  planes are coded times the splat's half-window to a per-channel power; the half-window
  comes from the ``t_scale`` the decoder decodes (quantized as the encoder quantizes it).

A plane ``x`` (N, C) is coded as ``x * factor`` (``factor`` (N, C), no gradient). The render
sees the coded values divided by the factor *of the quaternions it renders with*: with
simulated quaternions (unit length, gscc.train.simulation.domains) omega is rescaled by
their norm, so the rendered pair turns as the decoded pair does.
"""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import torch

from ...codec.dynamic_config import DynamicEncodeConfig
from ...codec.dynamic_encoder import decoded_values, rotation_sign
from ...codec.dynamic_layout import LAYOUTS
from ...dynamic.splats import normalised

# the encoder leaves omega as it is where |q| is below this (a zero quaternion)
MIN_NORM = 1e-12


class MotionFrame:
    """The per-splat factors of one dynamic codec config (see the module docstring)."""

    def __init__(self, codec: DynamicEncodeConfig, quats_transform: str) -> None:
        self.codec = codec
        self.quats_transform = quats_transform
        stg = LAYOUTS["stg"]
        self.window = codec.window
        self.window_source = stg.window_source
        self.window_powers = stg.window_powers
        self._signs: tuple[tuple, torch.Tensor] | None = None  # (key of the quaternions, their signs)

    def applies(self, name: str, params: Mapping[str, torch.Tensor]) -> bool:
        """Whether plane ``name`` of a model with ``params`` is coded times a factor."""
        stg = "t_scale" in params and "omega" in params
        return stg and (name == "omega" or (self.window is not None and name in self._powers(params)))

    def factor(
        self, name: str, reference: Mapping[str, torch.Tensor], render: Optional[Mapping[str, torch.Tensor]] = None
    ) -> Optional[torch.Tensor]:
        """(N, C) the factor plane ``name`` is coded times, or None (none). ``reference``: the
        trained parameters (the sign, the window); ``render``: the values rendered with, whose
        quaternion norms scale omega back (default: the reference's)."""
        if not self.applies(name, reference):
            return None
        x = reference[name]
        factor = torch.ones((x.shape[0], 1), dtype=torch.float64, device=x.device)
        if name == "omega":
            norm = (render or reference)["quats"].detach().double().norm(dim=1, keepdim=True)
            factor = self.signs(reference["quats"]) * torch.where(norm > MIN_NORM, 1.0 / norm.clamp_min(MIN_NORM), 1.0)
        if self.window is not None and name in self._powers(reference):
            log_scale = reference[self.window_source].detach().cpu().numpy().reshape(-1, 1)
            half = self.window.half_window(decoded_values(log_scale, self.codec, self.window_source))
            powers = np.asarray(self._powers(reference)[name], np.float64)
            factor = factor * torch.from_numpy(half[:, None] ** powers[None, :]).to(x.device)
        return factor.expand(x.shape[0], int(np.prod(x.shape[1:], dtype=np.int64))).to(x.dtype)

    def signs(self, quats: torch.Tensor) -> torch.Tensor:
        """(N, 1) float64 the encoder's canonical sign of each quaternion (computed by the
        codec's own transform; kept until the quaternions change)."""
        key = (id(quats), quats.data_ptr(), quats._version, tuple(quats.shape))
        if self._signs is None or self._signs[0] != key:
            unit = normalised(quats.detach().cpu().double().numpy())
            self._signs = (key, torch.from_numpy(rotation_sign(unit, self.quats_transform)).to(quats.device))
        return self._signs[1]

    def _powers(self, params: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
        return self.window_powers({"motion_degree": int(params["motion"].shape[1]) // 3})
