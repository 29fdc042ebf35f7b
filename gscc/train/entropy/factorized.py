"""The factorized density model of Ballé et al. 2018 ("Variational image compression with
a scale hyperprior", appendix 6.1): one learned, non-parametric cumulative density per
channel, independent of every other channel and of the splat's position.

Each channel's CDF is a small monotone network applied to a scalar input v:

    x_0 = v
    x_{k+1} = g_k(softplus(H_k) x_k + b_k)        H_k: (d_{k+1}, d_k), b_k: (d_{k+1},)
    g_k(x) = x + tanh(a_k) * tanh(x)              for every layer but the last
    F(v) = sigmoid(x_K)                           x_K: one value

``filters`` gives the hidden widths (d_1 .. d_{K-1}); d_0 = d_K = 1. softplus makes every
matrix positive and tanh(a_k) > -1 keeps every g_k increasing, so F is monotone.

The network sees ``v = (u - init_center) / init_scale``, a fixed affine map of the symbol
units ``u`` (gscc.train.entropy.base). Before training the network is the identity on v up
to a bias that is set to zero at ``init_center``, so the untrained F is a logistic of
centre ``init_center`` and scale ``init_scale`` symbols: with the defaults (127.5, 32) it
puts 96% of its mass on [0, 255].
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as nnf

from .base import EntropyModel, bits_from_probability


def _inverse_softplus(x: float) -> float:
    return math.log(math.expm1(x))


class FactorizedModel(EntropyModel):
    """C independent learned CDFs ("factorized prior"), in symbol units."""

    name = "factorized"
    needs_context = False

    def __init__(
        self,
        channels: int,
        filters: Sequence[int] = (3, 3, 3),
        init_center: float = 127.5,
        init_scale: float = 32.0,
        seed: int = 0,
    ) -> None:
        super().__init__(channels)
        if init_scale <= 0 or not math.isfinite(init_scale) or not math.isfinite(init_center):
            raise ValueError("init_scale must be positive and init_center finite")
        if any(int(f) < 1 for f in filters):
            raise ValueError(f"filter widths must be positive, got {tuple(filters)}")
        self.filters = tuple(int(f) for f in filters)
        self.init_center = float(init_center)
        self.init_scale = float(init_scale)
        widths = (1,) + self.filters + (1,)
        generator = torch.Generator().manual_seed(seed)
        self.matrices = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        self.factors = torch.nn.ParameterList()
        for k, (d_in, d_out) in enumerate(zip(widths[:-1], widths[1:])):
            # softplus(H) = 1 / d_in: each layer averages its inputs, so the whole untrained
            # network has slope 1
            self.matrices.append(torch.nn.Parameter(torch.full((channels, d_out, d_in), _inverse_softplus(1.0 / d_in))))
            # small random biases break the symmetry between the units of a layer
            bias = (torch.rand((channels, d_out, 1), generator=generator) - 0.5) * 0.5
            self.biases.append(torch.nn.Parameter(bias))
            if k < len(widths) - 2:
                self.factors.append(torch.nn.Parameter(torch.zeros((channels, d_out, 1))))
        with torch.no_grad():  # untrained, the network is linear: shift it to F(0) = 1/2
            self.biases[-1] -= self._network(torch.zeros((channels, 1, 1)))

    # ------------------------------------------------------------------ the CDF network
    def _network(self, x: torch.Tensor, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """Logits of F for ``x`` (C, 1, N) in network units; parameters cast to ``dtype``."""
        last = len(self.matrices) - 1
        for k, (matrix, bias) in enumerate(zip(self.matrices, self.biases)):
            matrix, bias = (matrix, bias) if dtype is None else (matrix.to(dtype), bias.to(dtype))
            x = torch.matmul(nnf.softplus(matrix), x) + bias
            if k < last:
                factor = self.factors[k] if dtype is None else self.factors[k].to(dtype)
                x = x + torch.tanh(factor) * torch.tanh(x)
        return x

    def _logits(self, u: torch.Tensor, dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        """(N, C) symbol units -> (N, C) logits of F."""
        if u.dim() != 2 or u.shape[1] != self.channels:
            raise ValueError(f"expected values of shape (N, {self.channels}), got {tuple(u.shape)}")
        u = u.to(dtype or self.matrices[0].dtype)
        v = (u - self.init_center) / self.init_scale
        return self._network(v.t().unsqueeze(1), dtype).squeeze(1).t()

    def cdf_logits(self, u: torch.Tensor) -> torch.Tensor:
        """(N, C) logits of F(u): F(u) = sigmoid(cdf_logits(u))."""
        return self._logits(u)

    def probability(self, u: torch.Tensor) -> torch.Tensor:
        """(N, C) mass of the unit bin centred on ``u``: F(u + 1/2) - F(u - 1/2)."""
        both = self._logits(torch.cat([u - 0.5, u + 0.5], dim=0))  # one pass of the network
        lower, upper = both.split(u.shape[0], dim=0)
        return _bin_mass(lower, upper)

    def bits(self, u: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        return bits_from_probability(self.probability(u))

    # ------------------------------------------------------------------ tables for the codec
    @torch.no_grad()
    def bin_probabilities(self, edges: np.ndarray | torch.Tensor) -> np.ndarray:
        """(C, A) float64 masses of the bins between ``edges`` (C, A+1), in symbol units and
        increasing per row; the first bin reaches down to -inf and the last up to +inf,
        so every row sums to 1. Computed in float64."""
        edges = torch.as_tensor(np.asarray(edges, dtype=np.float64) if not torch.is_tensor(edges) else edges)
        edges = edges.detach().to(torch.float64)
        if edges.dim() != 2 or edges.shape[0] != self.channels or edges.shape[1] < 2:
            raise ValueError(f"expected bin edges of shape ({self.channels}, A+1) with A >= 1, got {tuple(edges.shape)}")
        inner = edges[:, 1:-1]
        if not torch.isfinite(inner).all() or (inner.shape[1] > 1 and (inner.diff(dim=1) < 0).any()):
            raise ValueError("bin edges must be finite and increasing per channel")
        logits = self._logits(inner.t(), torch.float64).t()  # (C, A-1)
        infinite = torch.full((self.channels, 1), math.inf, dtype=torch.float64)
        lower = torch.cat([-infinite, logits], dim=1)
        upper = torch.cat([logits, infinite], dim=1)
        mass = _bin_mass(lower, upper)
        return (mass / mass.sum(dim=1, keepdim=True)).numpy()


def _bin_mass(lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """sigmoid(upper) - sigmoid(lower), computed on the side of the median where both
    sigmoids are small (Ballé's sign trick: no cancellation in the upper tail)."""
    sign = torch.where(lower + upper > 0, -1.0, 1.0).to(lower.dtype).detach()
    return torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
