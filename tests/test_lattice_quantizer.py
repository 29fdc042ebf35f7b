"""An already-quantized channel keeps its lattice (gscc.codec.quantize.fit_lattice_quantizer):
8-bit inputs coded at 8 bits come back exactly; anything else is quantized as before."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import fast_config
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode_tracked
from gscc.codec.quantize import dequantize, fit_lattice_quantizer, fit_quantizer, quantize
from gscc.sh_basis import C0


def lattice_values(lo: float, step: float, index: np.ndarray) -> np.ndarray:
    return (lo + index * step).reshape(-1, 1)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(-100, 100),
    st.floats(1e-4, 10),
    st.integers(1, 12),
    st.lists(st.integers(0, 4095), min_size=2, max_size=300),
)
def test_values_on_a_lattice_that_fits_come_back_exactly(lo, step, bits, indices):
    """(The lattice's spacing is the smallest gap between distinct values: two neighbours.)"""
    index = np.asarray(indices + [0, 1]) % (1 << bits)
    values = lattice_values(lo, step, index)
    params = fit_lattice_quantizer(values, bits)
    q = quantize(values, params)
    np.testing.assert_allclose(dequantize(q, params), values, rtol=0, atol=step * 1e-6)
    assert len(np.unique(q)) == len(np.unique(values))


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-3, 1), st.integers(1, 7), st.lists(st.integers(0, 255), min_size=3, max_size=300))
def test_a_finer_lattice_gets_every_mth_point_within_half_a_step(step, bits, indices):
    values = lattice_values(0.25, step, np.asarray(indices + [0, 7, 8, 255]))  # 256 points: more than fit
    params = fit_lattice_quantizer(values, bits)
    q = quantize(values, params)
    assert q.max() < 1 << bits
    error = np.abs(dequantize(q, params) - values)
    assert np.all(error <= params.step[0] / 2 * (1 + 1e-6))
    ratio = params.step[0] / step  # a whole number of lattice steps per level
    assert abs(ratio - round(ratio)) < 1e-6


def test_a_channel_the_min_max_grid_holds_exactly_keeps_it():
    """(e.g. the index channel of smallest3 quaternions: 0..3 at any depth)"""
    values = np.array([[0.0], [1.0], [2.0], [3.0], [1.0]])
    for bits in (2, 8):
        assert fit_lattice_quantizer(values, bits) == fit_quantizer(values, bits)


def test_continuous_values_are_quantized_as_before():
    values = np.random.default_rng(3).normal(size=(20_000, 3))
    for bits in (6, 8, 16):
        assert fit_lattice_quantizer(values, bits) == fit_quantizer(values, bits)


def test_eight_bit_colours_and_opacities_decode_exactly(small_splats):
    """A .splat file's colours and opacities are bytes: at 8 bits they survive."""
    encoded = encode_tracked(small_splats, fast_config(color_bits=8, opacity_bits=8))
    decoded = decode(encoded.data)
    source = small_splats.subset(encoded.source_index)
    np.testing.assert_allclose(decoded.sh0, source.sh0, atol=1e-6)
    alpha = lambda logits: 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))  # noqa: E731
    np.testing.assert_allclose(alpha(decoded.opacities), alpha(source.opacities), atol=1e-6)


def test_the_lattice_changes_only_the_lattice_channels_of_a_conformance_recipe():
    """plant-png (real sample: 8-bit colours and opacities) re-encodes to its vector except
    for the opacity and colour planes, whose quantizers are now their input's lattices."""
    import sys
    from pathlib import Path

    from gscc.codec.encoder import encode
    from gscc.container import unpack

    conformance = Path(__file__).resolve().parents[1] / "conformance"
    sys.path.insert(0, str(conformance))
    try:
        from generate import RECIPES
    finally:
        sys.path.remove(str(conformance))
    recipe = next(r for r in RECIPES if r.name == "plant-png")
    now = unpack(encode(recipe.scene(), recipe.config))
    vector = unpack((conformance / "vectors" / "plant-png.gsc").read_bytes())
    changed = {name for name, entry in now.header["attributes"].items() if entry != vector.header["attributes"][name]}
    assert changed == {"opacities", "sh0"}
    assert now.header["attributes"]["opacities"]["quant"]["step"][0] == pytest.approx(1 / 255, rel=1e-6)
    assert now.header["attributes"]["sh0"]["quant"]["step"] == pytest.approx([1 / 255 / C0] * 3, rel=1e-6)
