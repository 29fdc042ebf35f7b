"""Specification of the pieces of the fast sorter: the k-d first arrangement and the
Taichi blur and swap kernels (gscc.codec.kd_layout, gscc.codec.plas_kernels)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gscc.codec.kd_layout import kd_layout
from gscc.codec.plas_kernels import box_blur, swap_squares
from gscc.codec.plas_torch import _blur
from gscc.codec.sort import neighbour_distance


def points(n: int, seed: int = 0, dims: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dims), dtype=np.float32)


@pytest.mark.parametrize("leaf_cells", [1, 16])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (3, 4), (16, 16), (13, 29)])
def test_kd_layout_places_every_row_once(shape: tuple[int, int], leaf_cells: int) -> None:
    m = shape[0] * shape[1]
    order = kd_layout(points(m, seed=m), shape, leaf_cells)
    np.testing.assert_array_equal(np.sort(order), np.arange(m))


def test_kd_layout_puts_close_rows_in_near_cells() -> None:
    feats = points(64 * 64, seed=1)
    order = kd_layout(feats, (64, 64))
    shuffled = np.random.default_rng(2).permutation(64 * 64)
    assert neighbour_distance(feats, order, (64, 64)) < 0.3 * neighbour_distance(feats, shuffled, (64, 64))


def test_kd_layout_of_a_sorted_line_is_monotone_along_a_row() -> None:
    feats = np.arange(8, dtype=np.float32)[:, None]
    np.testing.assert_array_equal(kd_layout(feats, (1, 8)), np.arange(8))


def test_kd_layout_needs_one_row_per_cell() -> None:
    with pytest.raises(ValueError):
        kd_layout(points(10), (3, 4))


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.5, 3.7, 4.0, 9.3, 40.0])
def test_box_blur_matches_the_torch_blur(radius: float) -> None:
    grid = points(37 * 53, seed=3, dims=5).reshape(37, 53, 5)
    ours = box_blur(grid, radius, np.empty_like(grid), np.empty_like(grid))
    tensor = torch.from_numpy(grid)
    reference = _blur(tensor, radius, torch.empty_like(tensor), torch.empty_like(tensor))
    np.testing.assert_allclose(ours, reference.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("step, step_x, top, left", [(1, 1, 0, 0), (2, 3, 1, 4), (5, 1, 7, 0)])
def test_swap_squares_moves_rows_and_vectors_together_and_never_gets_further(
    step: int, step_x: int, top: int, left: int
) -> None:
    h, w, c = 20, 24, 4
    rows = points(h * w, seed=4, dims=c)
    x = rows.copy()
    order = np.arange(h * w, dtype=np.int32)
    target = box_blur(x.reshape(h, w, c), 3.0, np.empty((h, w, c), np.float32), np.empty((h, w, c), np.float32))
    target = target.reshape(h * w, c)
    before = float(((x - target) ** 2).sum())
    swap_squares(x, target, order, (h, w), step, top, left, step_x)
    np.testing.assert_array_equal(np.sort(order), np.arange(h * w))
    np.testing.assert_array_equal(x, rows[order])
    assert float(((x - target) ** 2).sum()) <= before + 1e-4
    assert not np.array_equal(order, np.arange(h * w, dtype=np.int32))  # something moved
