"""Seeded random splat sets with plausible 3DGS value ranges, for tests and vectors."""

from __future__ import annotations

import numpy as np

from .splats import SplatSet, num_sh_rest


def random_splats(
    count: int, sh_degree: int = 3, seed: int = 0, sh_std: float = 0.1, sh_present: float = 1.0
) -> SplatSet:
    """``count`` random splats; a fraction ``1 - sh_present`` of them has all-zero higher-order SH."""
    rng = np.random.default_rng(seed)
    k = num_sh_rest(sh_degree)
    return SplatSet(
        means=rng.normal(0.0, 2.0, (count, 3)),
        scales=rng.normal(-4.0, 1.0, (count, 3)),
        quats=rng.normal(0.0, 1.0, (count, 4)),
        opacities=rng.normal(1.0, 2.0, count),
        sh0=rng.normal(0.0, 1.0, (count, 3)),
        shN=rng.normal(0.0, sh_std, (count, k, 3)) * (rng.random((count, 1, 1)) < sh_present),
    )
