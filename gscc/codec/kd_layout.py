"""A locality-preserving first arrangement of feature vectors on a grid: a k-d split.

The rows are split at the median of the feature with the largest range (measured on
every ``RANGE_STRIDE``-th row of the part, in its current order), and the grid
rectangle they fill is halved along its longer side, the lower half of the rows going to
the top (or left) part; both halves are split again, level by level, until the parts are
at most ``leaf_cells`` cells. Each leaf's rows fill its rectangle row-major, in the
order of the leaf's last split feature. Rows that are close in feature space therefore
land in nearby cells, so a sorter refining the arrangement (gscc.codec.sort) only needs
local moves. Vectorised over all parts of a level: about 20 numpy passes for 1M rows.
Deterministic (no randomness).
"""

from __future__ import annotations

import numpy as np

__all__ = ["kd_layout"]

RANGE_STRIDE = 8  # split features are chosen on every 8th row: 1M rows' k-d start in ~2/3 of the time


def kd_layout(features: np.ndarray, shape: tuple[int, int], leaf_cells: int = 1) -> np.ndarray:
    """``order`` (H*W,) int64: ``order[cell]`` is the row of ``features`` (H*W, C) placed
    at row-major ``cell``. Every row appears once."""
    h, w = int(shape[0]), int(shape[1])
    m = h * w
    feats = np.ascontiguousarray(features, dtype=np.float32)
    if feats.shape[0] != m:
        raise ValueError(f"kd_layout needs one row per cell: {feats.shape[0]} rows for {h}x{w} cells")
    rows = np.arange(m)
    # the parts of the current level: rectangle (top, left, height, width), rows [start, start + h*w)
    top, left = np.zeros(1, np.int64), np.zeros(1, np.int64)
    height, width = np.array([h], np.int64), np.array([w], np.int64)
    start = np.zeros(1, np.int64)
    while True:
        cells = height * width
        split = cells > max(1, leaf_cells)
        if not split.any():
            break
        part = np.repeat(np.arange(len(start)), cells)
        # each part's split feature: the widest over every RANGE_STRIDE-th of its rows (a
        # part that is split has at least two of them); then its range over all its rows
        sampled = np.arange(0, m, RANGE_STRIDE)
        first = np.minimum(np.searchsorted(sampled, start), len(sampled) - 1)
        xs = np.take(feats, rows[sampled], axis=0)
        dim = np.argmax(np.maximum.reduceat(xs, first, axis=0) - np.minimum.reduceat(xs, first, axis=0), axis=1)
        value = feats[rows, dim[part]]
        high, lowest = np.maximum.reduceat(value, start), np.minimum.reduceat(value, start)
        span = np.maximum(high - lowest, 1e-30).astype(np.float64)
        # sort rows by (part, value): value scaled into [0, 0.5) of each part's key range
        key = part + (value - lowest[part]) / span[part] * 0.5
        rows = rows[np.argsort(key, kind="stable")]
        rows_first = height >= width  # halve the longer side
        h1 = np.where(split & rows_first, height // 2, height)
        w1 = np.where(split & ~rows_first, width // 2, width)
        h2 = np.where(rows_first, height - h1, height)
        w2 = np.where(rows_first, width, width - w1)
        children = (
            np.stack([top, top + np.where(rows_first, h1, 0)], 1),
            np.stack([left, left + np.where(rows_first, 0, w1)], 1),
            np.stack([h1, h2], 1),
            np.stack([w1, w2], 1),
            np.stack([start, start + h1 * w1], 1),
        )
        keep = np.stack([np.ones_like(split), split], 1).ravel()
        top, left, height, width, start = (c.ravel()[keep] for c in children)
    cells = height * width
    part = np.repeat(np.arange(len(start)), cells)
    k = np.arange(m) - start[part]
    order = np.empty(m, np.int64)
    order[(top[part] + k // width[part]) * w + left[part] + k % width[part]] = rows
    return order
