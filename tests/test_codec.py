"""The codec's building blocks round-trip exactly, and the whole codec within its steps."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gscc.codec.config import EncodeConfig, preset
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode, encode_tracked, fill_padding
from gscc.codec.lossless import CODERS
from gscc.codec.predict import PREDICTORS, reconstruct, residuals
from gscc.codec.prune import PruneConfig, keep_mask
from gscc.codec.quantize import dequantize, fit_quantizer, forward_transform, inverse_transform, quantize
from gscc.container import Container, pack, pack_weights, unpack, unpack_weights
from gscc.io import load_splats
from gscc.metrics import attribute_errors
from gscc.splats import SplatSet

SAMPLE = load_splats(__import__("gscc.cli", fromlist=["SAMPLE"]).SAMPLE)


def planes(max_bits: int = 16):
    return st.integers(1, max_bits).flatmap(
        lambda bits: st.tuples(
            st.just(bits),
            st.tuples(st.integers(1, 12), st.integers(1, 12), st.integers(1, 6)).flatmap(
                lambda shape: arrays(np.uint16, shape, elements=st.integers(0, (1 << bits) - 1))
            ),
        )
    )


@settings(max_examples=60, deadline=None)
@given(planes(), st.sampled_from(sorted(CODERS)))
def test_lossless_coders_round_trip_any_plane(plane_and_bits, coder):
    bits, plane = plane_and_bits
    params, chunks = CODERS[coder].encode(plane, bits)
    decoded = CODERS[coder].decode(params, chunks, plane.shape, bits)
    np.testing.assert_array_equal(decoded, plane)


@settings(max_examples=60, deadline=None)
@given(planes(), st.sampled_from(PREDICTORS))
def test_predictors_are_invertible_and_stay_in_range(plane_and_bits, predictor):
    bits, plane = plane_and_bits
    symbols = residuals(plane[:, :, 0], predictor, bits)
    assert symbols.min() >= 0 and symbols.max() < 1 << bits
    np.testing.assert_array_equal(reconstruct(symbols, predictor, bits), plane[:, :, 0])


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 4)), elements=st.floats(-1e4, 1e4)),
    st.integers(1, 16),
)
def test_quantization_error_is_at_most_half_a_step(values, bits):
    params = fit_quantizer(values, bits)
    q = quantize(values, params)
    assert q.max() < 1 << bits
    error = np.abs(dequantize(q, params) - values)
    assert np.all(error <= np.asarray(params.step) / 2 * (1 + 1e-9) + 1e-9)


@pytest.mark.parametrize("name", ["identity", "signlog", "sigmoid"])
def test_transforms_invert(name):
    x = np.linspace(-8, 8, 101)[:, None]
    np.testing.assert_allclose(inverse_transform(name, forward_transform(name, x)), x, rtol=1e-9, atol=1e-9)


def test_smallest_three_keeps_the_rotation():
    q = np.random.default_rng(1).normal(size=(500, 4))
    q[0] = [-2.0, 0, 0, 0]  # a rotation with w < 0
    q[1] = [0.5, 0.5, 0.5, 0.5]  # ties pick the lowest index
    stored = forward_transform("smallest3", q)
    assert stored[1, 3] == 0
    assert np.all(np.abs(stored[:, :3]) <= np.sqrt(0.5) + 1e-12)
    back = inverse_transform("smallest3", stored)
    unit = q / np.linalg.norm(q, axis=1, keepdims=True)
    np.testing.assert_allclose(np.abs(np.sum(back * unit, axis=1)), 1.0, atol=1e-12)


def test_padding_cells_repeat_a_real_neighbour():
    order = np.array([5, 0, 1, 6, 2, 3, 4])  # n = 5: cells 0 and 3 are padding
    source = fill_padding(order, 5)
    assert list(source) == [0, 0, 1, 1, 2, 3, 4]


def test_container_round_trip_with_all_chunk_types():
    container = Container(header={"scene": {"kind": "test"}})
    for kind in ("png", "ans", "raw", "weights"):
        container.add_chunk(kind, kind.encode() * 3)
    back = unpack(pack(container))
    assert back.header == {"scene": {"kind": "test"}}
    assert back.chunks == container.chunks


def test_weights_chunk_round_trips_named_arrays():
    weights = {"w0": np.arange(12, dtype=np.float32).reshape(3, 4), "b0": np.array([1, -2], np.int8)}
    back = unpack_weights(pack_weights(weights))
    assert set(back) == set(weights)
    for name in weights:
        np.testing.assert_array_equal(back[name], weights[name])
        assert back[name].dtype == weights[name].dtype


def _sample(n: int) -> SplatSet:
    return SAMPLE.subset(np.arange(n))


def test_encoding_is_deterministic():
    splats = _sample(1500)
    assert encode(splats) == encode(splats)


@pytest.mark.parametrize("sort", ["plas", "none"])
def test_no_splat_is_lost_without_pruning(sort):
    splats = _sample(997)  # prime: the grid needs padding cells
    config = preset("high").with_overrides(sort=sort)
    encoded = encode_tracked(splats, config)
    decoded = decode(encoded.data)
    assert decoded.count == splats.count
    assert sorted(encoded.source_index) == list(range(splats.count))


@pytest.mark.parametrize("precision", ["fixed", "adaptive"])
def test_round_trip_errors_are_within_the_quantization_steps(precision):
    splats = _sample(2000)
    encoded = encode_tracked(splats, preset("default").with_overrides(precision=precision))
    decoded = decode(encoded.data)
    errors = attribute_errors(splats.subset(encoded.source_index), decoded)
    bits = unpack(encoded.data).header["attributes"]["means"]["quant"]["bits"]
    assert bits == 16 if precision == "fixed" else 12 <= bits <= 16
    assert errors["position_rel_max"] < 1e-4 * 2 ** (16 - bits)  # 1e-4 at 16-bit positions
    assert errors["colour_mean"] < 2 / 255
    assert errors["opacity_mean"] < 2 / 255
    assert errors["rotation_deg_mean"] < 2.0


def test_pruning_drops_only_what_it_is_asked_to():
    splats = _sample(2000)
    opacity = 1 / (1 + np.exp(-splats.opacities.astype(np.float64)))
    keep = keep_mask(splats, PruneConfig(opacity_threshold=0.1))
    assert np.array_equal(keep, opacity >= 0.1)
    assert keep_mask(splats, PruneConfig()).all()


def test_higher_order_sh_survives_vector_quantization():
    rng = np.random.default_rng(0)
    n = 800
    centres = rng.normal(0, 0.3, (16, 15, 3))
    shN = centres[rng.integers(0, 16, n)] + rng.normal(0, 0.01, (n, 15, 3))
    splats = SplatSet(rng.normal(size=(n, 3)), rng.normal(-3, 1, (n, 3)), rng.normal(size=(n, 4)),
                      rng.normal(size=n), rng.normal(size=(n, 3)), shN)
    encoded = encode_tracked(splats, EncodeConfig(sh_codebook=16))
    decoded = decode(encoded.data)
    assert decoded.sh_degree == 3
    error = np.abs(decoded.shN - splats.shN[encoded.source_index])
    assert error.mean() < 0.02


def test_decoding_and_info_do_not_import_torch():
    code = (
        "import sys, gscc.codec.decoder, gscc.info, gscc.io, gscc.cli\n"
        "from gscc.codec.decoder import decode\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_encoding_imports_no_torch():
    # the default preset sorts (numpy and Taichi) and codes without torch
    code = (
        "import sys\n"
        "from gscc.cli import SAMPLE\n"
        "from gscc.codec.config import preset\n"
        "from gscc.codec.encoder import encode\n"
        "from gscc.io import load_splats\n"
        "import numpy as np\n"
        "encode(load_splats(SAMPLE).subset(np.arange(400)), preset('default'))\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_coding_planes_on_threads_gives_the_bytes_of_coding_them_one_by_one():
    rng = np.random.default_rng(1)
    splats = _sample(700)
    with_sh = SplatSet(splats.means, splats.scales, splats.quats, splats.opacities, splats.sh0,
                       rng.normal(0, 0.1, (700, 3, 3)))  # an shN plane: VQ, coded beside the threads
    for scene in (splats, with_sh):
        serial = encode_tracked(scene, preset("default"), workers=1).data
        assert encode_tracked(scene, preset("default"), workers=4).data == serial
