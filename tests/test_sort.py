"""Specification of gscc.codec.sort: PLAS grid sorting and grid shapes."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from gscc.codec.sort import PlasConfig, grid_shape, neighbour_distance, plas_sort, radii

# Small grids converge quickly; a coarser schedule keeps the suite fast.
FAST = PlasConfig(radius_decay=0.8, max_iters_per_radius=8)


def random_points(n: int, seed: int = 0, dims: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).random((n, dims), dtype=np.float32)


def assert_is_permutation(order: np.ndarray, m: int) -> None:
    assert order.dtype == np.int64
    assert order.shape == (m,)
    np.testing.assert_array_equal(np.sort(order), np.arange(m))


# --- grid_shape -------------------------------------------------------------

def test_grid_shape_single_element_is_one_cell() -> None:
    assert grid_shape(1) == (1, 1)


def test_grid_shape_100k_needs_no_padding() -> None:
    h, w = grid_shape(100_000)
    assert h * w == 100_000
    assert 1 / 2.25 <= h / w <= 2.25  # near square


def test_grid_shape_perfect_square_is_square() -> None:
    assert grid_shape(1024) == (32, 32)
    assert grid_shape(1_000_000) == (1000, 1000)


def test_grid_shape_covers_n_with_little_padding() -> None:
    for n in [*range(1, 2000), 4099, 65_537, 99_991, 123_457, 1_000_003]:
        h, w = grid_shape(n)
        assert h >= 1 and w >= 1 and h * w >= n, n
        # never worse than the obvious near-square grid W = ceil(sqrt(n))
        side = math.ceil(math.sqrt(n))
        assert h * w - n <= side * math.ceil(n / side) - n, n
        assert h * w - n < max(h, w), n
        assert max(h, w) <= 2.25 * min(h, w) + 1, n  # near square


def test_grid_shape_rejects_non_positive() -> None:
    with pytest.raises(ValueError):
        grid_shape(0)


# --- plas_sort: output contract ----------------------------------------------

def test_result_is_a_permutation_of_all_cells() -> None:
    feats = random_points(1000)
    order = plas_sort(feats, (32, 32), FAST)
    assert_is_permutation(order, 32 * 32)


def test_padding_cells_get_indices_n_and_above() -> None:
    n, shape = 1000, (32, 32)
    order = plas_sort(random_points(n), shape, FAST)
    padding = order[order >= n]
    assert len(padding) == 32 * 32 - n
    np.testing.assert_array_equal(np.sort(padding), np.arange(n, 32 * 32))


def test_padding_sorts_next_to_real_data() -> None:
    # Padding rows duplicate real rows, so they must not all end up in one place:
    # the grid with padding is as smooth as (nearly) without.
    n, shape = 1000, (32, 32)
    feats = random_points(n, seed=3)
    order = plas_sort(feats, shape, FAST)
    assert neighbour_distance(feats, order, shape) < 0.5 * _random_neighbour_distance(feats, shape)


def test_same_seed_gives_identical_result() -> None:
    feats = random_points(700, seed=1)
    a = plas_sort(feats, (26, 27), FAST)
    b = plas_sort(feats, (26, 27), FAST)
    np.testing.assert_array_equal(a, b)


def test_different_seeds_give_different_arrangements() -> None:
    feats = random_points(700, seed=1)
    a = plas_sort(feats, (26, 27), dataclasses.replace(FAST, seed=1))
    b = plas_sort(feats, (26, 27), dataclasses.replace(FAST, seed=2))
    assert not np.array_equal(a, b)
    assert_is_permutation(a, 26 * 27)
    assert_is_permutation(b, 26 * 27)


def test_input_is_not_modified() -> None:
    feats = random_points(300)
    before = feats.copy()
    plas_sort(feats, grid_shape(300), FAST)
    np.testing.assert_array_equal(feats, before)


# --- plas_sort: quality --------------------------------------------------------

def _random_neighbour_distance(feats: np.ndarray, shape: tuple[int, int]) -> float:
    order = np.random.default_rng(123).permutation(shape[0] * shape[1])
    return neighbour_distance(feats, order, shape)


def test_sorting_makes_neighbours_similar() -> None:
    feats = random_points(1024, seed=0)
    order = plas_sort(feats, (32, 32))
    before = _random_neighbour_distance(feats, (32, 32))
    after = neighbour_distance(feats, order, (32, 32))
    assert after < 0.5 * before
    assert after < 0.3 * before  # in practice it gets far better than the bar above


def test_sorting_is_insensitive_to_feature_scale() -> None:
    # Columns are standardised inside: changing units changes nothing
    # (power-of-two factors keep the standardised values bit-identical).
    feats = random_points(1024, seed=5)
    scaled = feats * np.array([2.0**8, 1.0, 2.0**-8], dtype=np.float32)
    np.testing.assert_array_equal(plas_sort(feats, (32, 32), FAST),
                                  plas_sort(scaled, (32, 32), FAST))


def test_weights_select_what_is_sorted() -> None:
    rng = np.random.default_rng(7)
    smooth = rng.random((1024, 1), dtype=np.float32)
    noise = rng.random((1024, 2), dtype=np.float32)
    feats = np.hstack([smooth, noise])
    order = plas_sort(feats, (32, 32), FAST, weights=np.array([1.0, 0.0, 0.0]))
    only_smooth = neighbour_distance(smooth, order, (32, 32))
    assert only_smooth < 0.25 * _random_neighbour_distance(smooth, (32, 32))


def test_constant_and_duplicate_features_are_fine() -> None:
    feats = np.ones((50, 4), dtype=np.float32)
    feats[:, 1] = np.arange(50) % 3  # one informative column, the rest constant
    order = plas_sort(feats, (8, 8), FAST)
    assert_is_permutation(order, 64)


# --- plas_sort: tiny and awkward inputs ----------------------------------------

@pytest.mark.parametrize(
    "n, shape",
    [(1, (1, 1)), (1, (1, 2)), (2, (1, 2)), (2, (2, 1)), (2, (2, 2)), (3, (2, 2)),
     (4, (2, 2)), (5, (1, 5)), (5, (5, 1)), (7, (3, 3)), (15, (4, 4)), (17, (5, 4)),
     (40, (2, 20)), (60, (60, 1)), (100, (3, 40)), (200, (15, 15))],
)
def test_tiny_and_narrow_grids(n: int, shape: tuple[int, int]) -> None:
    order = plas_sort(random_points(n, seed=n), shape)
    assert_is_permutation(order, shape[0] * shape[1])


def test_single_column_features_and_float64_input() -> None:
    feats = np.linspace(0.0, 1.0, 64)[:, None]  # float64, one column
    order = plas_sort(feats, (8, 8), FAST)
    assert_is_permutation(order, 64)
    assert neighbour_distance(feats, order, (8, 8)) < 0.5 * _random_neighbour_distance(feats, (8, 8))


def test_too_many_vectors_for_the_grid_is_an_error() -> None:
    with pytest.raises(ValueError):
        plas_sort(random_points(10), (3, 3))


@pytest.mark.parametrize(
    "bad",
    [{"radius_decay": 1.0}, {"min_radius": 0.0}, {"group_size": 7}, {"init": "hilbert"}, {"groups": "rings"},
     {"swaps_per_target": 0}],
)
def test_invalid_config_is_an_error(bad: dict) -> None:
    with pytest.raises(ValueError):
        plas_sort(random_points(16), (4, 4), PlasConfig(**bad))


def test_config_is_frozen_with_documented_defaults() -> None:
    cfg = PlasConfig()
    assert cfg.seed == 0 and cfg.device == "cpu"
    assert cfg.max_iters_per_radius >= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1  # type: ignore[misc]


# --- neighbour_distance ----------------------------------------------------------

def test_neighbour_distance_of_a_ramp() -> None:
    feats = np.arange(12, dtype=np.float32)[:, None]  # 3x4 grid, row-major ramp
    order = np.arange(12)
    # 9 horizontal pairs at distance 1, 8 vertical pairs at distance 4
    assert neighbour_distance(feats, order, (3, 4)) == pytest.approx((9 * 1 + 8 * 4) / 17)


def test_neighbour_distance_skips_padding_cells() -> None:
    feats = np.zeros((3, 1), dtype=np.float32)
    order = np.array([0, 3, 1, 2])  # index 3 is padding
    assert neighbour_distance(feats, order, (2, 2)) == 0.0


# --- the default schedule ----------------------------------------------------------

def test_the_schedule_starts_at_64_cells_or_half_the_grid():
    assert radii(1000, 1000, PlasConfig())[0] == 64.0
    assert radii(20, 30, PlasConfig())[0] == 15.0
    assert radii(1000, 1000, PlasConfig(start_radius=None))[0] == 500.0
    assert radii(1000, 1000, PlasConfig())[-1] >= 1.0


def test_starting_at_64_cells_keeps_the_quality_of_the_full_schedule():
    # the k-d start places rows globally: the radii above 64 cells add little
    shape = (256, 256)
    feats = random_points(shape[0] * shape[1], seed=11, dims=5)
    capped = neighbour_distance(feats, plas_sort(feats, shape), shape)
    full = neighbour_distance(feats, plas_sort(feats, shape, PlasConfig(start_radius=None)), shape)
    assert capped <= 1.03 * full
    assert capped < 0.3 * _random_neighbour_distance(feats, shape)
