"""Seeded random splat sets with plausible 3DGS value ranges, for tests and vectors."""

from __future__ import annotations

import numpy as np

from .color_mlp import ColorMLP
from .splats import FeatureSplats, SplatSet, num_sh_rest


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


def random_feature_splats(
    count: int,
    seed: int = 0,
    *,
    feature_dim: int = 8,
    view_sh_degree: int = 2,
    hidden: int = 16,
    layers: int = 2,
    sh_degree: int = 3,
    bake_directions: int = 64,
) -> FeatureSplats:
    """``count`` random MLP-coloured splats with a random colour decoder of ``layers``
    hidden ReLU layers of ``hidden`` units."""
    rng = np.random.default_rng(seed)
    dims = [feature_dim + (view_sh_degree + 1) ** 2] + [hidden] * layers + [3]
    weights = tuple(
        (rng.normal(0.0, 1.0 / np.sqrt(a), (b, a)), rng.normal(0.0, 0.1, b)) for a, b in zip(dims[:-1], dims[1:])
    )
    geometry = random_splats(count, 0, seed + 1)
    return FeatureSplats(
        means=geometry.means,
        scales=geometry.scales,
        quats=geometry.quats,
        opacities=geometry.opacities,
        features=rng.normal(0.0, 1.0, (count, feature_dim)),
        decoder=ColorMLP(weights, view_sh_degree),
        sh_degree=sh_degree,
        bake_directions=bake_directions,
    )
