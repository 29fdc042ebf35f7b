"""The attributes a static scene is coded as, and how each is prepared by default.

Every attribute is an (N, C) float array taken from a SplatSet; the decoder rebuilds the
SplatSet from the same arrays. ``shN`` is flattened coefficient-major (k * 3 + channel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..splats import SplatSet, num_sh_rest


@dataclass(frozen=True)
class Attribute:
    name: str
    transform: str  # see gscc.codec.quantize.TRANSFORMS

    def channels(self, sh_degree: int) -> int:
        return {"means": 3, "scales": 3, "quats": 4, "opacities": 1, "sh0": 3}.get(
            self.name, 3 * num_sh_rest(sh_degree)
        )


ATTRIBUTES = (
    Attribute("means", "signlog"),
    Attribute("scales", "identity"),
    Attribute("quats", "smallest3"),
    Attribute("opacities", "sigmoid"),
    Attribute("sh0", "identity"),
    Attribute("shN", "identity"),
)
ATTRIBUTE_NAMES = tuple(a.name for a in ATTRIBUTES)


def attribute_arrays(splats: SplatSet) -> dict[str, np.ndarray]:
    n = splats.count
    return {
        "means": splats.means,
        "scales": splats.scales,
        "quats": splats.quats,
        "opacities": splats.opacities.reshape(n, 1),
        "sh0": splats.sh0,
        "shN": splats.shN.reshape(n, -1),
    }


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
