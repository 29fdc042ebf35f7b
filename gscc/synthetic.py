"""Seeded random splat sets with plausible 3DGS value ranges, for tests and vectors."""

from __future__ import annotations

import numpy as np

from .color_mlp import ColorMLP
from .dynamic import DynamicSplats, MotionBasis, STGMotion
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


def random_stg_motion(count: int, seed: int = 0, degree: int = 3, still: float = 0.0) -> STGMotion:
    """Random Spacetime-Gaussian motion; a fraction ``still`` of the splats does not move."""
    rng = np.random.default_rng(seed)
    moving = rng.random((count, 1)) >= still
    return STGMotion(
        motion=rng.normal(0.0, 0.3, (count, 3 * degree)) * moving,
        omega=rng.normal(0.0, 0.2, (count, 4)) * moving,
        t_center=rng.uniform(0.0, 1.0, count),
        t_scale=rng.normal(np.log(0.3), 0.5, count),
    )


def random_motion_basis(count: int, seed: int = 0, bases: int = 4, knots: int = 8) -> MotionBasis:
    """Random motion-basis coefficients over smooth random trajectories that start at 0."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.2, (bases, knots, 3))
    steps[:, 0] = 0.0
    return MotionBasis(coeffs=rng.normal(0.0, 1.0, (count, bases)), basis=np.cumsum(steps, axis=1))


def random_dynamic_splats(
    count: int, seed: int = 0, kind: str = "stg", sh_degree: int = 1, still: float = 0.0
) -> DynamicSplats:
    """Seeded random dynamic splats: SH colour of ``sh_degree`` and an ``stg`` or ``motion-basis`` motion."""
    static = random_splats(count, sh_degree, seed)
    if kind == "stg":
        motion = random_stg_motion(count, seed + 1, still=still)
    elif kind == "motion-basis":
        motion = random_motion_basis(count, seed + 1)
    else:
        raise ValueError(f"unknown motion model {kind!r}")
    return DynamicSplats(static, motion)
