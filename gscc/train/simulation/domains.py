"""Each attribute in the domain the encoder quantizes it in, as differentiable torch maps.

The encoder (gscc.codec) quantizes an attribute's (N, C) array after its forward transform
(gscc.codec.quantize.TRANSFORMS), channel by channel, with a uniform quantizer spanning the
channel's range. Compression simulation must add its noise, or round, in that same domain
and on that same grid, so here every per-splat parameter of the trainer (gscc.train's
conventions) has a ``to_coded`` map onto the encoder's (N, C) array and a ``from_coded``
map back onto the parameter's shape.

- ``means`` (N, 3): signlog, as the encoder's default transform.
- ``scales`` (N, 3): the log scales themselves.
- ``quats`` (N, 4): the normalised quaternion, component-wise (the encoder's smallest-three
  layout is not differentiable; normalised components are the same values bar the dropped
  one, so their grid is a close stand-in).
- ``opacities`` (N,) logits: sigmoid (the encoder codes activated opacities).
- ``sh0`` (N, 1, 3), ``shN`` (N, K, 3), ``features`` (N, D): as they are, flattened
  coefficient-major like gscc.codec.attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

# the encoder clips sigmoid outputs to this before its logit (gscc.codec.quantize)
_LOGIT_EPS = 2.0**-24


def signlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(torch.abs(x))


def _signexp(y: torch.Tensor) -> torch.Tensor:
    return torch.sign(y) * torch.expm1(torch.abs(y))


def _normalise(q: torch.Tensor) -> torch.Tensor:
    return q / q.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _logit(y: torch.Tensor) -> torch.Tensor:
    y = y.clamp(_LOGIT_EPS, 1.0 - _LOGIT_EPS)
    return torch.log(y) - torch.log1p(-y)


@dataclass(frozen=True)
class Domain:
    """How one parameter maps onto the encoder's (N, C) array and back."""

    to_coded: Callable[[torch.Tensor], torch.Tensor]
    from_coded: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (coded, original param)


DOMAINS: dict[str, Domain] = {
    "means": Domain(signlog, lambda y, p: _signexp(y)),
    "scales": Domain(lambda p: p, lambda y, p: y),
    "quats": Domain(_normalise, lambda y, p: y),
    "opacities": Domain(lambda p: torch.sigmoid(p).reshape(-1, 1), lambda y, p: _logit(y).reshape(p.shape)),
    "sh0": Domain(lambda p: p.reshape(p.shape[0], -1), lambda y, p: y.reshape(p.shape)),
    "shN": Domain(lambda p: p.reshape(p.shape[0], -1), lambda y, p: y.reshape(p.shape)),
    "features": Domain(lambda p: p.reshape(p.shape[0], -1), lambda y, p: y.reshape(p.shape)),
}


def to_coded(name: str, param: torch.Tensor) -> torch.Tensor:
    """The (N, C) values the encoder would quantize for parameter ``name``."""
    return DOMAINS[name].to_coded(param)


def from_coded(name: str, coded: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """A parameter tensor shaped like ``param`` holding the coded values ``coded``."""
    return DOMAINS[name].from_coded(coded, param)
