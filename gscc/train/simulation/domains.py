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

The motion planes of the dynamic encoder (gscc.codec.dynamic_encoder; their transforms are
chosen per attribute in gscc.codec.dynamic_config, the first choice by default):

- ``motion`` (N, 3D) STG polynomial coefficients: signlog (or identity);
- ``omega`` (N, 4): identity (or signlog);
- ``t_center`` (N,), ``t_scale`` (N,): identity, as (N, 1);
- ``coeffs`` (N, B) motion-basis coefficients: identity (or signlog).

:func:`domain` gives an attribute's map under another transform than its default. What the
dynamic encoder does to a plane *before* its transform (omega in the canonical rotation
frame, the motion window) is per splat and lives in :mod:`.motion_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from ...codec.dynamic_config import DYNAMIC_TRANSFORM_CHOICES

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


def _flat(p: torch.Tensor) -> torch.Tensor:
    return p.reshape(p.shape[0], -1)


# the encoder's transforms of a plane (gscc.codec.quantize.TRANSFORMS) that a motion plane may take
TRANSFORMS: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], Callable[[torch.Tensor], torch.Tensor]]] = {
    "identity": (lambda x: x, lambda y: y),
    "signlog": (signlog, _signexp),
}


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


def plane_domain(transform: str) -> Domain:
    """A per-splat plane flattened to (N, C) under one of :data:`TRANSFORMS`."""
    if transform not in TRANSFORMS:
        raise ValueError(f"no simulation of transform {transform!r}; choose from {', '.join(TRANSFORMS)}")
    forward, inverse = TRANSFORMS[transform]
    return Domain(lambda p: forward(_flat(p)), lambda y, p: inverse(y).reshape(p.shape))


# the dynamic encoder's default transform of each motion plane
MOTION_TRANSFORMS = {name: choices[0] for name, choices in DYNAMIC_TRANSFORM_CHOICES.items()}
DOMAINS.update({name: plane_domain(transform) for name, transform in MOTION_TRANSFORMS.items()})


def domain(name: str, transform: str | None = None) -> Domain:
    """The map of parameter ``name``: its default one, or a motion plane under ``transform``."""
    if transform is None or (name in MOTION_TRANSFORMS and transform == MOTION_TRANSFORMS[name]):
        return DOMAINS[name]
    if name not in MOTION_TRANSFORMS:
        raise ValueError(f"attribute {name!r} is simulated in its default domain only")
    return plane_domain(transform)


def to_coded(name: str, param: torch.Tensor, transform: str | None = None) -> torch.Tensor:
    """The (N, C) values the encoder would quantize for parameter ``name`` (a motion plane:
    under ``transform``, default its default)."""
    return domain(name, transform).to_coded(param)


def from_coded(name: str, coded: torch.Tensor, param: torch.Tensor, transform: str | None = None) -> torch.Tensor:
    """A parameter tensor shaped like ``param`` holding the coded values ``coded``."""
    return domain(name, transform).from_coded(coded, param)
