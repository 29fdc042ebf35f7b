"""Dynamic splats evaluated over time: the motion models' formulas, segments and selection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gscc.dynamic import DynamicScene, DynamicSplats, MotionBasis, Segment, STGMotion, motion_from_arrays
from gscc.synthetic import random_dynamic_splats, random_splats


def _static(count: int):
    s = random_splats(count, 0, seed=3)
    s.quats[:] = [1.0, 0.0, 0.0, 0.0]
    return s


@given(st.floats(-1.0, 2.0), st.integers(0, 3))
@settings(max_examples=40, deadline=None)
def test_stg_position_is_the_polynomial_in_dt(t, degree):
    rng = np.random.default_rng(degree)
    static = _static(4)
    coeffs = rng.normal(size=(4, 3 * degree))
    motion = STGMotion(coeffs, np.zeros((4, 4)), np.full(4, 0.25), np.full(4, 10.0))
    dt = t - 0.25
    expected = static.means.astype(np.float64)
    for k in range(degree):
        expected = expected + coeffs[:, 3 * k:3 * k + 3] * dt ** (k + 1)
    got = DynamicSplats(static, motion).at(t).means
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_stg_temporal_opacity_is_a_gaussian_of_dt_over_the_scale():
    static = _static(3)
    static.opacities[:] = 0.0  # sigmoid 0.5
    motion = STGMotion(np.zeros((3, 9)), np.zeros((3, 4)), np.array([0.0, 0.5, 1.0]), np.log([0.1, 0.2, 0.4]))
    at = DynamicSplats(static, motion).at(0.5)
    alpha = 1.0 / (1.0 + np.exp(-at.opacities.astype(np.float64)))
    expected = 0.5 * np.exp(-np.square((0.5 - np.array([0.0, 0.5, 1.0])) / np.array([0.1, 0.2, 0.4])))
    assert np.allclose(alpha, expected, rtol=1e-5, atol=1e-7)


def test_stg_rotation_adds_omega_then_normalises():
    static = _static(2)
    omega = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
    motion = STGMotion(np.zeros((2, 9)), omega, np.zeros(2), np.zeros(2))
    q = DynamicSplats(static, motion).at(0.5).quats
    expected = np.array([[1.0, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(q, expected, atol=1e-6)


def test_faded_splats_keep_a_finite_logit():
    static = _static(1)
    motion = STGMotion(np.zeros((1, 9)), np.zeros((1, 4)), np.zeros(1), np.log([1e-3]))
    assert np.isfinite(DynamicSplats(static, motion).at(1.0).opacities).all()


def test_motion_basis_interpolates_linearly_between_knots_and_holds_outside():
    basis = np.zeros((2, 3, 3))
    basis[0, :, 0] = [0.0, 1.0, 3.0]  # knots at t = 0, 0.5, 1
    basis[1, :, 2] = [0.0, -2.0, -2.0]
    coeffs = np.array([[1.0, 0.0], [0.5, 1.0]])
    dyn = DynamicSplats(_static(2), MotionBasis(coeffs, basis))
    rest = dyn.static.means
    assert np.allclose(dyn.at(0.25).means - rest, [[0.5, 0, 0], [0.25, 0, -1.0]], atol=1e-6)
    assert np.allclose(dyn.at(0.75).means - rest, [[2.0, 0, 0], [1.0, 0, -2.0]], atol=1e-6)
    assert np.allclose(dyn.at(7.0).means - rest, dyn.at(1.0).means - rest)
    assert np.allclose(dyn.at(-1.0).means, rest)
    # opacity and rotation do not change over time
    assert np.array_equal(dyn.at(0.3).opacities, dyn.static.opacities)


@pytest.mark.parametrize("kind", ["stg", "motion-basis"])
def test_subset_keeps_static_and_motion_rows_together(kind):
    dyn = random_dynamic_splats(50, seed=1, kind=kind)
    index = np.array([7, 3, 41])
    assert np.allclose(dyn.subset(index).at(0.6).means, dyn.at(0.6).means[index])
    mask = np.zeros(50, bool)
    mask[::5] = True
    assert np.allclose(dyn.subset(mask).at(0.2).opacities, dyn.at(0.2).opacities[mask])


def test_mismatched_motion_and_static_counts_are_refused():
    with pytest.raises(ValueError):
        DynamicSplats(_static(3), STGMotion.still(4))


def test_motion_arrays_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError):
        STGMotion(np.zeros((3, 8)), np.zeros((3, 4)), np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError):
        MotionBasis(np.zeros((3, 2)), np.zeros((3, 4, 3)))
    with pytest.raises(ValueError):
        motion_from_arrays("teleport", {})


def test_finite_rows_flags_any_non_finite_value():
    dyn = random_dynamic_splats(6, seed=2)
    dyn.motion.motion[1, 4] = np.nan
    dyn.static.means[3, 0] = np.inf
    assert dyn.finite_rows().tolist() == [True, False, True, False, True, True]


def test_visibility_is_the_peak_temporal_opacity_over_the_times():
    motion = STGMotion(np.zeros((2, 9)), np.zeros((2, 4)), np.array([0.5, 3.0]), np.log([0.1, 0.1]))
    vis = motion.visibility(np.linspace(0, 1, 11))
    assert vis[0] == pytest.approx(1.0) and vis[1] < 1e-6


def test_scene_picks_the_segment_and_its_local_time():
    first = random_dynamic_splats(10, seed=1)
    second = random_dynamic_splats(12, seed=2)
    scene = DynamicScene([Segment(0.0, 0.5, first), Segment(0.5, 1.0, second)], fps=30.0, frame_count=60)
    segment, local = scene.segment_at(0.25)
    assert segment.splats is first and local == pytest.approx(0.5)
    segment, local = scene.segment_at(0.5)
    assert segment.splats is second and local == pytest.approx(0.0)
    assert scene.segment_at(1.0)[1] == pytest.approx(1.0)
    assert np.allclose(scene.at(0.75).means, second.at(0.5).means)
    assert scene.duration == pytest.approx(2.0) and scene.count == 22


@pytest.mark.parametrize(
    "spans", [[(0.0, 0.6), (0.5, 1.0)], [(0.0, 0.4), (0.5, 1.0)], [(0.1, 1.0)], [(0.0, 0.9)]]
)
def test_segments_must_tile_the_time_range(spans):
    dyn = random_dynamic_splats(4)
    with pytest.raises(ValueError):
        DynamicScene([Segment(a, b, dyn) for a, b in spans])
