"""The attributes a static scene is coded as, and how each is prepared by default.

Every attribute is an (N, C) float array taken from a SplatSet (SH colours: ``sh0`` and
``shN``) or a FeatureSplats (MLP colours: ``features``); the decoder rebuilds the scene
from the same arrays. ``shN`` is flattened coefficient-major (k * 3 + channel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..splats import FeatureSplats, SplatSet


@dataclass(frozen=True)
class Attribute:
    name: str
    transform: str  # see gscc.codec.quantize.TRANSFORMS


ATTRIBUTES = (
    Attribute("means", "signlog"),
    Attribute("scales", "identity"),
    Attribute("quats", "smallest3"),
    Attribute("opacities", "sigmoid"),
    Attribute("sh0", "identity"),
    Attribute("shN", "identity"),
    Attribute("features", "identity"),
)
ATTRIBUTE_NAMES = tuple(a.name for a in ATTRIBUTES)


def attribute_arrays(splats: SplatSet | FeatureSplats) -> dict[str, np.ndarray]:
    """The (N, C) arrays of the attributes a scene is coded with, in ATTRIBUTES order."""
    n = splats.count
    arrays = {
        "means": splats.means,
        "scales": splats.scales,
        "quats": splats.quats,
        "opacities": splats.opacities.reshape(n, 1),
    }
    if isinstance(splats, FeatureSplats):
        arrays["features"] = splats.features
    else:
        arrays["sh0"] = splats.sh0
        arrays["shN"] = splats.shN.reshape(n, -1)
    return arrays


def splats_from_arrays(arrays: dict[str, np.ndarray]) -> SplatSet:
    n = arrays["means"].shape[0]
    return SplatSet(
        means=arrays["means"],
        scales=arrays["scales"],
        quats=arrays["quats"],
        opacities=arrays["opacities"].reshape(n),
        sh0=arrays["sh0"],
        shN=arrays["shN"].reshape(n, -1, 3),
    )
