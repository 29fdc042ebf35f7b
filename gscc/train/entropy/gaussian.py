"""A HAC-style per-splat Gaussian entropy model with a hash-grid context.

A hash grid over the splat's normalised position (gscc.train.entropy.hashgrid) feeds a
small MLP (Linear(L*F, H), ReLU, Linear(H, H), ReLU, Linear(H, 2C)) that predicts, per
splat and channel, the mean ``mu`` (symbol units) and the scale level ``s`` of a Gaussian;
the probability of a symbol is the Gaussian's mass over its unit-wide bin:

    sigma = SIGMA_MIN * 2 ** (clamp(s, 0, LEVELS - 1) / LEVELS_PER_OCTAVE)
    P(u)  = Phi((u + 1/2 - mu) / sigma) - Phi((u - 1/2 - mu) / sigma)

The constants are the codec's (gscc.codec.context_net), which evaluates a fixed-point copy
of the trained network (:meth:`HashGridGaussian.export_arrays`) to code the symbols.

Internally the last layer's raw outputs o are mapped ``mu = init_center + mu_scale * o``
and ``s = init_level + level_scale * o`` (so mu starts at the middle of the range and sigma
large, and Adam's steps are a useful size in symbol units); the export folds that map into
the last layer, so the exported network is the plain three-layer MLP.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ...codec.context_net import LEVELS, LEVELS_PER_OCTAVE, SIGMA_MIN
from .base import EntropyModel, bits_from_probability
from .hashgrid import HashGrid

_INV_LN2 = 1.0 / math.log(2.0)


def gaussian_bin_log_probability(u: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Natural log of the mass of N(mu, sigma^2) on [u - 1/2, u + 1/2]. By symmetry that is
    the mass on [d - 1/2, d + 1/2] with d = |u - mu|, the difference of the upper tails
    Q(a) - Q(b) (a = (d - 1/2) / sigma, b = (d + 1/2) / sigma), taken in the log domain:
    log Q(a) + log(1 - Q(b) / Q(a)), which stays accurate (and its gradient informative)
    arbitrarily far into the tail."""
    d = (u - mu).abs()
    log_qa = torch.special.log_ndtr(-(d - 0.5) / sigma)
    log_qb = torch.special.log_ndtr(-(d + 0.5) / sigma)
    return log_qa + torch.log(-torch.expm1(log_qb - log_qa))


def gaussian_bin_probability(u: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Mass of N(mu, sigma^2) on [u - 1/2, u + 1/2]."""
    return torch.exp(gaussian_bin_log_probability(u, mu, sigma))


def sigma_of_level(s: torch.Tensor) -> torch.Tensor:
    return SIGMA_MIN * torch.exp2(s.clamp(0.0, LEVELS - 1) / LEVELS_PER_OCTAVE)


class HashGridGaussian(EntropyModel):
    name = "gaussian"
    needs_context = True

    def __init__(
        self,
        channels: int,
        *,
        levels: int = 8,
        features: int = 2,
        log2_table: int = 14,
        min_resolution: int = 16,
        max_resolution: int = 512,
        hidden: int = 32,
        init_center: float = 127.5,
        init_sigma: float = 32.0,
        mu_scale: float = 16.0,
        level_scale: float = 4.0,
    ) -> None:
        super().__init__(channels)
        if init_sigma <= 0 or mu_scale <= 0 or level_scale <= 0:
            raise ValueError("init_sigma, mu_scale and level_scale must be positive")
        self.grid = HashGrid(levels, features, log2_table, min_resolution, max_resolution)
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(self.grid.output_dim, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 2 * channels),
        )
        torch.nn.init.zeros_(self.mlp[-1].bias)
        init_level = LEVELS_PER_OCTAVE * math.log2(init_sigma / SIGMA_MIN)
        c = channels
        self.register_buffer("out_scale", torch.tensor([mu_scale] * c + [level_scale] * c, dtype=torch.float32))
        self.register_buffer("out_offset", torch.tensor([init_center] * c + [init_level] * c, dtype=torch.float32))

    def predict(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu`` (N, C) in symbol units and the continuous scale level ``s`` (N, C)."""
        out = self.mlp(self.grid(context)) * self.out_scale + self.out_offset
        return out[:, : self.channels], out[:, self.channels :]

    def bits(self, u: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        if context is None:
            raise ValueError("the gaussian entropy model needs the splat positions as context")
        mu, s = self.predict(context)
        log_p = gaussian_bin_log_probability(u, mu, sigma_of_level(s))
        exact = log_p * -_INV_LN2
        floored = bits_from_probability(torch.exp(log_p))
        # the value is the floored cost; the gradient is the exact cost's, so a bin beyond
        # the floor (far from mu) still pulls mu and sigma towards it instead of being
        # stuck at zero gradient
        return exact + (floored - exact).detach()

    def export_arrays(self) -> dict:
        """The trained network as float32 arrays plus its hyperparameters, the last layer
        with the output map folded in (so mu, s = layers.2(...) exactly): ``levels``,
        ``features``, ``log2_table``, ``resolutions``, ``hidden``, ``channels``,
        ``grid.{l}`` (rows_l, F), ``layers.{k}.weight`` (out, in) and ``layers.{k}.bias``."""
        with torch.no_grad():
            linear = [m for m in self.mlp if isinstance(m, torch.nn.Linear)]
            arrays = {
                "levels": self.grid.levels,
                "features": self.grid.features,
                "log2_table": self.grid.log2_table,
                "resolutions": list(self.grid.resolutions),
                "hidden": linear[0].out_features,
                "channels": self.channels,
            }
            for level, table in enumerate(self.grid.tables):
                arrays[f"grid.{level}"] = table.detach().cpu().numpy().astype(np.float32)
            for k, layer in enumerate(linear):
                weight, bias = layer.weight.double(), layer.bias.double()
                if k == len(linear) - 1:
                    scale, offset = self.out_scale.double(), self.out_offset.double()
                    weight, bias = weight * scale[:, None], bias * scale + offset
                arrays[f"layers.{k}.weight"] = weight.cpu().numpy().astype(np.float32)
                arrays[f"layers.{k}.bias"] = bias.cpu().numpy().astype(np.float32)
        return arrays
