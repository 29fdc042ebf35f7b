"""PLAS -- Parallel Linear Assignment Sorting, with a k-d start and Taichi kernels.

Sorts N feature vectors into an H x W grid so that neighbouring cells hold
similar vectors (Morgenstern et al., "Compact 3D Scene Representation via
Self-Organizing Gaussian Grids", 2024).  Our own implementation of the
published algorithm, made about an order of magnitude cheaper:

* The grid ``X`` (H, W, C) starts from a locality-preserving arrangement
  (``init="kd"``: gscc.codec.kd_layout's median splits; ``"random"``: a seeded
  shuffle, as in the paper).
* For a radius ``r`` going from ``start_radius`` (default 64 cells, at most
  ``max(H, W) / 2``; the k-d start already places rows globally: starting at
  ``max(H, W) / 2`` instead makes files 0.1-0.3 % smaller and the sort of 1M
  splats half as long again, bench/README.md "Encoding speed") down to
  ``min_radius`` (multiplied by ``radius_decay`` after each stage),
  ``max_iters_per_radius`` times (``groups="squares"``: once, with that many
  times the swap steps, for radii of ``single_target_radius`` and more):

  1. target ``T`` = ``X`` blurred by a border-normalised box filter of
     half-width ``r`` (for ``r >= 4`` computed on an ``r/2``-pooled grid and
     linearly interpolated back, so every blur costs a few passes);
  2. ``swaps_per_target`` assignment steps against ``T``: the grid's cells are
     split into groups of four, and every group takes the permutation of its
     vectors over its cells (all 24) with the smallest summed squared L2
     distance to the targets at those cells (the identity is a candidate, so
     no group gets worse).

  The groups (``groups=``):

  - ``"squares"`` (default; numpy and Taichi kernels on the CPU,
    gscc.codec.plas_kernels; no torch): the corners of ``dy`` x ``dx``
    rectangles, tiled from a random offset, with ``dy`` and ``dx`` drawn at
    random up to ``r``;
  - ``"random"`` (torch, any device: gscc.codec.plas_torch): the paper's -- the
    grid is tiled into square blocks (side ``min(block_size, max(4, 2r))``) at
    a random offset and each block's cells are shuffled into groups of
    ``group_size``; a radius also ends early once ``|X - T|^2`` improves by
    less than ``improvement_break``.

Results are deterministic for a given seed (``"squares"``: one seeded numpy
Generator; ``"random"``: one seeded ``torch.Generator`` per device; no global
RNG; the kernels work on disjoint groups and rows, so the thread count does
not matter).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .grid import grid_shape  # noqa: F401  (re-exported: part of the sorting API)
from .kd_layout import kd_layout

__all__ = ["PlasConfig", "grid_shape", "plas_sort", "neighbour_distance"]

INITS = ("kd", "random")  # first arrangement: gscc.codec.kd_layout, or a seeded shuffle
KD_LEAF_CELLS = 16  # the k-d start stops splitting there; the swaps order the leaves' cells
GROUPS = ("squares", "random")  # swap groups: rectangle corners (Taichi, CPU), or random cells in blocks (torch)


@dataclass(frozen=True)
class PlasConfig:
    """Parameters of :func:`plas_sort`.

    block_size: side length (in cells) of the square blocks whose cells are
        shuffled into assignment groups; a vector moves at most about this far
        per iteration.  Clipped to the grid size.
    group_size: cells per assignment group; all ``group_size!`` permutations
        are evaluated (2..6; 4 -> 24 permutations).
    start_radius: first blur radius, at most ``max(H, W) / 2``; ``None`` means
        ``max(H, W) / 2``.
    min_radius: last blur radius (the schedule stops below it).
    radius_decay: factor applied to the radius after every stage.
    improvement_break: leave a radius when the relative improvement of the
        mean squared distance to the blurred target falls below this.
    max_iters_per_radius: targets (blurs) per radius; with ``groups="random"``
        a bound, as a radius may end early.
    seed: seed of the generator driving all randomness (numpy's for
        ``groups="squares"``, torch's for ``"random"``).
    device: torch device to compute on (``groups="squares"``: the CPU only).
    num_threads: if set, torch intra-op threads used during the call
        (restored afterwards); ``None`` keeps torch's current setting.
    init: the first arrangement, one of INITS.
    groups: how cells are grouped for the assignment steps, one of GROUPS.
    swaps_per_target: assignment steps against each blurred target.
    single_target_radius: from this radius up, ``groups="squares"`` blurs once
        per radius and takes all ``max_iters_per_radius * swaps_per_target``
        steps against that target (a wide blur barely changes within a radius).

    block_size, group_size and improvement_break apply to ``groups="random"``
    only (squares are groups of four).
    """

    block_size: int = 32
    group_size: int = 4
    start_radius: float | None = 64.0
    min_radius: float = 1.0
    radius_decay: float = 0.85
    improvement_break: float = 1e-4
    max_iters_per_radius: int = 2
    seed: int = 0
    device: str = "cpu"
    num_threads: int | None = None
    init: str = "kd"
    groups: str = "squares"
    swaps_per_target: int = 6
    single_target_radius: float = 4.0


def radii(h: int, w: int, cfg: PlasConfig) -> list[float]:
    """The radius schedule: from the start radius down to ``min_radius``."""
    radius = min(cfg.start_radius, max(h, w) / 2) if cfg.start_radius is not None else max(h, w) / 2
    radius = max(radius, cfg.min_radius)
    out = []
    while radius >= cfg.min_radius - 1e-9:
        out.append(radius)
        radius *= cfg.radius_decay
    return out


def _compiled_kernels():
    """gscc.codec.plas_kernels (Taichi: imported only when there is something to swap) with
    its kernels compiled."""
    from . import plas_kernels

    plas_kernels.warm_up()
    return plas_kernels


def _squares(feats: np.ndarray, n: int, hw: tuple[int, int], cfg: PlasConfig) -> np.ndarray:
    """The ``groups="squares"`` sorter (numpy and gscc.codec.plas_kernels' Taichi kernels)
    on the normalised float32 (N, C) ``feats``; returns ``order`` (H*W,) int64."""
    h, w = hw
    m = h * w
    rng = np.random.default_rng(cfg.seed)
    if m > n:  # padding rows: copies of random real rows, reported as n..m-1
        feats = np.concatenate([feats, feats[rng.integers(0, n, m - n)]], 0)
    swapping = min(h, w) >= 2
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Taichi's import and kernel compilation (Python work) overlap the k-d start (numpy)
        kernels = pool.submit(_compiled_kernels) if swapping else None
        order = kd_layout(feats, hw, KD_LEAF_CELLS) if cfg.init == "kd" else rng.permutation(m)
        if kernels is None:
            return order.astype(np.int64)
        plas_kernels = kernels.result()
    x = np.ascontiguousarray(feats[order], dtype=np.float32)  # (M, C) grid, row-major cells
    order = order.astype(np.int32)
    grid = x.reshape(h, w, -1)
    tmp, out = np.empty_like(grid), np.empty_like(grid)
    for radius in radii(h, w, cfg):
        reach = max(1, round(radius))
        targets = max(1, cfg.max_iters_per_radius)
        if radius >= cfg.single_target_radius:  # one wide blur serves the radius's every step
            targets, steps = 1, targets * cfg.swaps_per_target
        else:
            steps = cfg.swaps_per_target
        for _ in range(targets):
            target = plas_kernels.box_blur(grid, radius, tmp, out).reshape(m, -1)
            for _ in range(steps):
                # rectangles of random (seeded) sides up to the radius, from a random offset
                step = int(rng.integers(1, max(1, min(reach, h // 2)) + 1))
                step_x = int(rng.integers(1, max(1, min(reach, w // 2)) + 1))
                top, left = int(rng.integers(0, 2 * step)), int(rng.integers(0, 2 * step_x))
                plas_kernels.swap_squares(x, target, order, hw, step, top, left, step_x)
    return order.astype(np.int64)


def plas_sort(features: np.ndarray, shape: tuple[int, int],
              config: PlasConfig = PlasConfig(), *,
              weights: np.ndarray | None = None) -> np.ndarray:
    """Sort ``features`` (N, C) into a grid of ``shape = (H, W)``.

    Features are normalised inside: per column, subtract the mean and divide
    by the standard deviation (floored at 1e-6 times the largest column std,
    and at 1e-12), then multiply by ``weights`` (C,) if given.

    Returns ``order``: int64 array of length ``H * W``; ``order[cell]``
    (row-major cell index) is the index into the padded feature list placed
    at that cell.  The ``H * W - N`` padding entries are copies of randomly
    chosen (seeded) real rows, so they sort next to their twins, and are
    reported as indices ``N .. H*W-1``.  Every index ``0 .. H*W-1`` appears
    exactly once.  Deterministic for a given ``config.seed`` and device.
    """
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim == 1:
        feats = feats[:, None]
    if feats.ndim != 2:
        raise ValueError(f"features must be (N, C), got shape {feats.shape}")
    h, w = int(shape[0]), int(shape[1])
    n, m = feats.shape[0], h * w
    if h < 1 or w < 1 or n > m:
        raise ValueError(f"cannot place {n} vectors on a {h}x{w} grid")
    if not 2 <= config.group_size <= 6:
        raise ValueError("group_size must be in 2..6")
    if not (0.0 < config.radius_decay < 1.0 and config.min_radius > 0.0):
        raise ValueError("need 0 < radius_decay < 1 and min_radius > 0")
    if config.init not in INITS or config.groups not in GROUPS:
        raise ValueError(f"init must be one of {', '.join(INITS)} and groups one of {', '.join(GROUPS)}")
    if config.groups == "squares" and config.device.split(":")[0] != "cpu":
        raise ValueError('groups="squares" runs on the CPU (Taichi); use groups="random" on other devices')
    if config.swaps_per_target < 1:
        raise ValueError("swaps_per_target must be at least 1")
    if n == 0:
        return np.arange(m, dtype=np.int64)
    mean = feats.mean(0)
    std = feats.std(0)
    std = np.maximum(std, max(1e-6 * float(std.max(initial=0.0)), 1e-12))
    feats = (feats - mean) / std
    if weights is not None:
        feats = feats * np.asarray(weights, dtype=np.float64).reshape(1, -1)

    feats = feats.astype(np.float32)
    if config.groups == "squares":
        return _squares(feats, n, (h, w), config)
    from .plas_torch import plas_random  # torch: only for the paper's random groups

    return plas_random(feats, n, (h, w), config)


def neighbour_distance(features: np.ndarray, order: np.ndarray, shape: tuple[int, int]) -> float:
    """Mean L2 distance between horizontally/vertically adjacent cells.

    ``features`` is the padded (H*W, C) list (or (N, C) with ``order``
    entries >= N ignored as padding: pairs touching a padding cell are skipped).
    """
    h, w = shape
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim == 1:
        feats = feats[:, None]
    order = np.asarray(order).reshape(h, w)
    valid = order < feats.shape[0]
    grid = feats[np.where(valid, order, 0)]
    dists, masks = [], []
    for a, b, va, vb in ((grid[:, 1:], grid[:, :-1], valid[:, 1:], valid[:, :-1]),
                         (grid[1:], grid[:-1], valid[1:], valid[:-1])):
        dists.append(np.linalg.norm(a - b, axis=-1).ravel())
        masks.append((va & vb).ravel())
    d, mk = np.concatenate(dists), np.concatenate(masks)
    return float(d[mk].mean()) if mk.any() else 0.0
