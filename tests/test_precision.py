"""The default preset's adaptive precision (gscc.codec.precision): bit depths chosen from the
scene -- positions by splat size against extent, scales by their range at SPZ's step,
colours one bit finer while that bit is cheap -- with the configured depths as ceilings;
explicit depths and the quality search stay fixed."""

from __future__ import annotations

import numpy as np
import pytest

from gscc.codec import precision
from gscc.codec.config import EncodeConfig, preset
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode_tracked
from gscc.codec.quantize import forward_transform
from gscc.container import unpack
from gscc.synthetic import random_splats


def object_scene(count: int, size: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sign-log means in [-0.5, 0.5]^3 and log scales of splats of about ``size``."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-0.5, 0.5, size=(count, 3))
    log_scales = np.log(size) + rng.normal(0.0, 0.3, size=(count, 3))
    return forward_transform("signlog", means), log_scales


def test_an_object_whose_splats_tile_it_gets_the_position_floor():
    means, log_scales = object_scene(5000, size=2e-3)
    assert precision.position_bits(means, log_scales, ceiling=16) == precision.MIN_POSITION_BITS


def test_smaller_splats_against_the_extent_get_more_position_bits_up_to_the_ceiling():
    bits = [precision.position_bits(*object_scene(5000, size=size), ceiling=16) for size in (2e-3, 2e-4, 2e-5, 2e-6)]
    assert bits == sorted(bits) and bits[0] < bits[2] <= 16
    assert bits[-1] == 16
    assert precision.position_bits(*object_scene(5000, size=2e-5), ceiling=14) == 14


@pytest.mark.parametrize("extent, bits", [(1.0, 12), (2.0, 13), (3.0, 14), (14.0, 16), (1000.0, 16)])
def test_each_doubling_of_the_extent_beyond_one_unit_adds_a_position_bit(extent, bits):
    """(SPZ keeps 2**-12 units whatever the scene; splats here are a fixed share of the extent)"""
    rng = np.random.default_rng(1)
    means = rng.uniform(-extent / 2, extent / 2, size=(4000, 3))
    means[:2] = [[-extent / 2] * 3, [extent / 2] * 3]
    log_scales = np.log(2e-3 * extent) + rng.normal(0.0, 0.3, size=(4000, 3))
    assert precision.position_bits(forward_transform("signlog", means), log_scales, ceiling=16) == bits


def test_the_position_step_stays_within_its_share_of_the_typical_splat():
    means, log_scales = object_scene(5000, size=2e-4)
    bits = precision.position_bits(means, log_scales, ceiling=16)
    assert precision.MIN_POSITION_BITS < bits < 16
    step = np.ptp(means, axis=0) / ((1 << bits) - 1)
    size = np.median(np.exp(log_scales.mean(axis=1))[:, None] / (1 + np.abs(np.expm1(np.abs(means)))), axis=0)
    assert np.all(step <= precision.POSITION_STEP_PER_SIZE * size)
    coarser = np.ptp(means, axis=0) / ((1 << (bits - 1)) - 1)
    assert np.any(coarser > precision.POSITION_STEP_PER_SIZE * size)  # the fewest bits that do


@pytest.mark.parametrize("span, bits", [(0.0, precision.MIN_SCALE_BITS), (3.0, 6), (7.9, 7), (8.0, 8), (20.0, 8)])
def test_scales_get_spz_step_over_their_range(span, bits):
    log_scales = np.linspace(-8.0, -8.0 + span, 300)[:, None].repeat(3, axis=1)
    assert precision.scale_bits(log_scales, ceiling=8) == bits


def colour_cells(kind: str, side: int = 64, seed: int = 0) -> np.ndarray:
    """(side*side, 3) sh0 values on the 8-bit lattice of a .splat file: noise or a gradient."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        levels = rng.integers(0, 256, size=(side * side, 3))
    else:
        ramp = np.linspace(0, 255, side * side).round().reshape(-1, 1)
        levels = np.concatenate([ramp, ramp[::-1], np.full_like(ramp, 128)], axis=1)
    return (levels / 255.0 - 0.5) / 0.28209479177387814


def test_noisy_colours_stay_at_the_base_depth_and_smooth_ones_get_the_ceiling():
    shape = (64, 64)
    assert precision.color_bits(colour_cells("noise"), shape, 8, precision.jxl_cost) == precision.COLOR_BITS
    assert precision.color_bits(colour_cells("smooth"), shape, 8, precision.jxl_cost) == 8
    assert precision.color_bits(colour_cells("smooth"), shape, 7, precision.jxl_cost) == 7


def test_continuous_colours_start_at_spz_step_over_their_range():
    rng = np.random.default_rng(2)
    for span, bits in ((0.5, 6), (2.0, 7), (6.5, 8)):
        cells = rng.uniform(0.0, span, size=(64 * 64, 3))
        assert not precision.on_lattice(cells)
        assert precision.color_bits(cells, (64, 64), 8, lambda plane, b: 10**9 * b) == bits  # finer: never cheap
    assert precision.on_lattice(colour_cells("noise"))


def test_colour_bits_climb_one_at_a_time_while_each_costs_at_most_the_threshold():
    cells, shape = colour_cells("noise"), (64, 64)
    budget = precision.CHEAP_COLOR_BITS * len(cells) / 8
    costs = {6: 1000, 7: 1000 + budget, 8: 1000 + 2 * budget + 1}  # 6->7 just fits, 7->8 does not
    assert precision.color_bits(cells, shape, 8, lambda plane, bits: costs[bits]) == 7


def test_the_default_preset_is_adaptive_and_explicit_depths_are_fixed():
    default = preset("default")
    assert default.precision == "adaptive"
    assert default.with_overrides(sort="none").precision == "adaptive"
    assert default.with_overrides(position_bits=14).precision == "fixed"
    assert default.with_overrides(scale_bits=7, rotation_bits=None).precision == "fixed"
    assert default.with_overrides(position_bits=14, precision="adaptive").precision == "adaptive"
    assert all(preset(name).precision == "fixed" for name in ("small", "high", "gsplat-png"))
    with pytest.raises(ValueError, match="precision"):
        EncodeConfig(precision="auto")


def test_fixed_files_keep_the_settings_record_they_had():
    assert "precision" not in EncodeConfig().to_dict()
    assert EncodeConfig(precision="adaptive").to_dict()["precision"] == "adaptive"


def test_an_adaptive_file_records_its_depths_and_is_smaller_than_the_fixed_one():
    scene = random_splats(600, sh_degree=0, seed=3)
    config = preset("default").with_overrides(sort="none")
    adaptive = encode_tracked(scene, config)
    fixed = encode_tracked(scene, config.with_overrides(precision="fixed"))
    bits = {name: entry["quant"]["bits"] for name, entry in unpack(adaptive.data).header["attributes"].items()}
    assert bits["quats"] == precision.ROTATION_BITS and bits["opacities"] == 8
    assert precision.MIN_POSITION_BITS <= bits["means"] <= 16
    assert precision.COLOR_BITS <= bits["sh0"] <= 8
    assert len(adaptive.data) < len(fixed.data)
    assert decode(adaptive.data).count == len(adaptive.source_index)
