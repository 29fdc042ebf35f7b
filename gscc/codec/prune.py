"""Pruning: drop splats that contribute little before coding.

- opacity threshold: drop splats whose opacity sigmoid(logit) is below the threshold;
- scale threshold (optional): drop splats whose largest axis exp(scale) is below it;
- statistical outlier removal (optional): drop splats whose mean distance to their
  k nearest neighbours exceeds the mean of that statistic by ``outlier_std`` standard
  deviations (KD-tree).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..splats import SplatSet


@dataclass(frozen=True)
class PruneConfig:
    opacity_threshold: float = 0.0
    scale_threshold: float = 0.0
    outlier_neighbours: int = 0
    outlier_std: float = 3.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.opacity_threshold < 1.0:
            raise ValueError("opacity threshold must lie in [0, 1)")
        if self.scale_threshold < 0:
            raise ValueError("scale threshold must not be negative")
        if self.outlier_neighbours < 0 or self.outlier_std <= 0:
            raise ValueError("outlier removal needs neighbours >= 0 and std > 0")


def outlier_mask(means: np.ndarray, neighbours: int, std: float) -> np.ndarray:
    """True for splats kept by statistical outlier removal."""
    from scipy.spatial import cKDTree

    n = len(means)
    if neighbours <= 0 or n <= neighbours:
        return np.ones(n, bool)
    distances, _ = cKDTree(means).query(means, k=neighbours + 1, workers=-1)
    mean_distance = distances[:, 1:].mean(axis=1)
    limit = mean_distance.mean() + std * mean_distance.std()
    return mean_distance <= limit


def keep_mask(splats: SplatSet, config: PruneConfig) -> np.ndarray:
    keep = np.ones(splats.count, bool)
    if config.opacity_threshold > 0:
        opacity = 0.5 * (1.0 + np.tanh(0.5 * splats.opacities.astype(np.float64)))
        keep &= opacity >= config.opacity_threshold
    if config.scale_threshold > 0:
        keep &= np.exp(splats.scales.max(axis=1).astype(np.float64)) >= config.scale_threshold
    if config.outlier_neighbours > 0:
        keep &= outlier_mask(splats.means, config.outlier_neighbours, config.outlier_std)
    if not keep.any():
        # never prune a scene away entirely: keep the most opaque splat
        keep[int(np.argmax(splats.opacities))] = True
    return keep


def prune(splats: SplatSet, config: PruneConfig) -> SplatSet:
    keep = keep_mask(splats, config)
    return splats if keep.all() else splats.subset(keep)
