"""The ``ans-context`` learned coding (format 1.2): symbols coded with the Gaussian table
a fixed-point context network picks from the decoded positions; round trips, cost, the
stored tables, the file, and malformed input."""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import fast_config
from gscc.codec.context_coding import (
    AnsContextCoding,
    GaussianContextSource,
    decode_channel,
    encode_channel,
    half_width,
    level_table,
    put_tables,
    read_tables,
)
from gscc.codec.context_net import LEVELS, LEVELS_PER_OCTAVE, SIGMA_MIN
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode
from gscc.codec.learned import LEARNED_CODINGS, DecodedPlane
from gscc.codec.quantize import fit_quantizer, forward_transform, quantize
from gscc.container import LEARNED_VERSION, Container, unpack
from gscc.errors import FormatError
from gscc.synthetic import random_splats
from gscc.train.entropy.gaussian import HashGridGaussian

NOISE = 0.01  # of sh0, about 1.3 symbols at 8 bits
SLOPES = np.array([[1.0, 0.5, 0.0], [0.0, -1.0, 0.3], [0.2, 0.2, 0.2]])  # sh0 = SLOPES @ x + noise


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def normalised_positions(means: np.ndarray) -> np.ndarray:
    """The trainer's context: signlog means, per-axis min/max normalised."""
    y = forward_transform("signlog", np.asarray(means, np.float32).astype(np.float64))
    return (y - y.min(axis=0)) / (y.max(axis=0) - y.min(axis=0))


def linear_scene(count: int, seed: int = 0):
    """Random splats whose sh0 is a linear function of the normalised position plus noise."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-1, 1, (count, 3))
    sh0 = normalised_positions(means) @ SLOPES.T + rng.normal(0, NOISE, (count, 3))
    return replace(random_splats(count, 0, seed), means=means, sh0=sh0)


def linear_source(scene) -> GaussianContextSource:
    """A HashGridGaussian set by hand to the scene's exact distribution: one grid level of
    resolution 1 whose corner (i, j, k) holds (i, j, k), so the features are x itself; the
    hidden layers pass x on; the last layer gives mu = SLOPES @ x in the units of the
    8-bit quantizer of sh0, and the scale level of the noise."""
    quant = fit_quantizer(scene.sh0.astype(np.float64), 8)
    lo, step = np.array(quant.lo), np.array(quant.step)
    model = HashGridGaussian(3, levels=1, features=3, log2_table=4, min_resolution=1, max_resolution=1, hidden=3)
    level = LEVELS_PER_OCTAVE * np.log2(NOISE / step / SIGMA_MIN)
    with torch.no_grad():
        model.grid.tables[0].copy_(torch.tensor([[i, j, k] for k in (0, 1) for j in (0, 1) for i in (0, 1)]))
        for layer in (model.mlp[0], model.mlp[2]):
            layer.weight.copy_(torch.eye(3))
            layer.bias.zero_()
        last = model.mlp[4]
        last.weight.copy_(torch.tensor(np.concatenate([SLOPES / step[:, None], np.zeros((3, 3))])))
        last.bias.copy_(torch.tensor(np.concatenate([-lo / step, level])))
        model.out_scale.fill_(1.0)
        model.out_offset.zero_()
    return GaussianContextSource(model.export_arrays(), quant.lo, quant.step)


@pytest.fixture(scope="module")
def linear():
    """A 12,000-splat linear scene and the source of its exact distribution."""
    scene = linear_scene(12000)
    return linear_source(scene), scene


# ---------------------------------------------------------------------------- tables
def test_every_level_has_a_valid_symmetric_gaussian_table():
    previous_centre = 1 << 16
    for level in range(LEVELS):
        sigma = SIGMA_MIN * 2 ** (level / LEVELS_PER_OCTAVE)
        k = half_width(level)
        assert k == min(127, max(1, math.ceil(8 * sigma)))
        freq = level_table(level)
        assert len(freq) == 2 * k + 2 and freq.sum() == 1 << 16 and freq.min() >= 1
        assert np.array_equal(freq[:k], freq[k + 1 : 2 * k + 1][::-1])
        assert np.all(np.diff(freq[k : 2 * k + 1]) <= 0)  # unimodal at residual 0
        assert freq[k] <= previous_centre  # wider levels are flatter
        previous_centre = freq[k]
        if k < 127:
            assert freq[-1] <= 2  # 8 sigma: the escape is (almost) never needed
        expected = 0.5 * math.erfc(0.5 / (sigma * math.sqrt(2)))  # P(r > 1/2)
        assert abs(freq[k] / 65536 - (1 - 2 * expected)) < 1e-3


def test_the_tables_chunk_round_trips_and_stores_half_of_each_table():
    tables = {level: level_table(level) for level in (0, 5, 17, 30, 63)}
    data = put_tables(tables)
    back = read_tables(data)
    assert sorted(back) == sorted(tables) and all(np.array_equal(back[l], tables[l]) for l in tables)
    explicit = sum(int((t > 1).sum()) for t in tables.values())
    assert len(data) < 1.2 * explicit  # about one byte per stored frequency, half the table


# ---------------------------------------------------------------------------- channels
def ideal_bits(q, mu, level, tables, bits):
    total = 0.0
    for qi, m, l in zip(q, mu, level):
        k = (len(tables[l]) - 2) // 2
        r = qi - m
        s = 2 * k + 1 if abs(r) > k else r + k
        total += -math.log2(tables[l][s] / 65536) + (bits if abs(r) > k else 0)
    return total


@pytest.mark.parametrize("bits", [1, 8, 12])
def test_a_channel_round_trips_through_residuals_and_escapes(bits):
    rng = np.random.default_rng(bits)
    n = 3000
    top = (1 << bits) - 1
    level = rng.integers(0, 30, n)
    mu = rng.integers(0, top + 1, n)
    sigma = SIGMA_MIN * 2 ** (level / LEVELS_PER_OCTAVE)
    q = np.clip(np.rint(mu + rng.normal(0, 1, n) * sigma), 0, top).astype(np.int64)
    q[::97] = rng.integers(0, top + 1, len(q[::97]))  # outliers: many escape
    tables = {l: level_table(l) for l in np.unique(level).tolist()}
    data = encode_channel(q, mu, level, tables, bits)
    assert np.array_equal(decode_channel(data, mu, level, tables, bits), q)
    assert len(data) * 8 < ideal_bits(q, mu, level, tables, bits) + 64 + 32  # rANS: a word or two over


def test_coding_is_near_the_models_information_content():
    rng = np.random.default_rng(5)
    level = np.full(5000, 12)  # sigma 0.88
    mu = rng.integers(10, 240, 5000)
    q = np.rint(mu + rng.normal(0, SIGMA_MIN * 2 ** 3, 5000)).astype(np.int64)
    tables = {12: level_table(12)}
    size = len(encode_channel(q, mu, level, tables, 8))
    assert size < 5000 * 2.2 / 8  # the discretised N(0, 0.88): ~1.7 bits per symbol


# ---------------------------------------------------------------------------- the file
def test_the_encoder_codes_with_the_context_network_and_the_decoder_agrees(linear):
    source, scene = linear
    config = fast_config(coder="ans")
    plain = encode(scene, config)
    learned = encode(scene, config, distributions={"sh0": source})
    container = unpack(learned)
    assert container.version >= LEARNED_VERSION
    entry = container.header["attributes"]["sh0"]["coding"]
    assert entry["codec"] == "ans-context" and entry["distribution"] == "gaussian"
    sizes = lambda c, e: sum(len(c.chunks[i][1]) for i in e["chunks"])
    plain_container = unpack(plain)
    plain_size = sizes(plain_container, plain_container.header["attributes"]["sh0"]["coding"])
    size = sizes(container, entry)
    # ~2.4 bits per symbol (noise of ~1.3 symbols) against ~7 for the empirical coding
    assert size < 0.45 * plain_size  # network and tables included
    sigma = NOISE / np.array(fit_quantizer(scene.sh0.astype(np.float64), 8).step)
    ideal = scene.count * np.log2(sigma * math.sqrt(2 * math.pi * math.e)).sum() / 8
    assert size < 1.1 * ideal + 2000, (size, ideal)
    a, b = decode(plain), decode(learned)
    assert np.array_equal(a.sh0, b.sh0) and np.array_equal(a.means, b.means)


def test_a_context_coded_file_decodes_without_torch(linear, tmp_path):
    source, scene = linear
    data = encode(scene.subset(np.arange(3000)), fast_config(coder="ans"), distributions={"sh0": source})
    assert unpack(data).header["attributes"]["sh0"]["coding"]["codec"] == "ans-context"
    path = tmp_path / "scene.gsc"
    path.write_bytes(data)
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from gscc.codec.decoder import decode\n"
        f"print(decode(open({str(path)!r}, 'rb').read()).sh0.tobytes().hex())"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == decode(data).sh0.tobytes().hex()


def test_the_quantizer_change_is_folded_for_other_bit_depths(linear):
    source, scene = linear
    scene = scene.subset(np.arange(4000))
    config = fast_config(coder="ans", color_bits=6, position_bits=12)
    data = encode(scene, config, distributions={"sh0": source})
    entry = unpack(data).header["attributes"]["sh0"]["coding"]
    assert entry["codec"] == "ans-context"
    assert np.array_equal(decode(data).sh0, decode(encode(scene, config)).sh0)


def test_positions_cannot_be_coded_with_themselves_as_context(linear):
    source, scene = linear
    with pytest.raises(ValueError, match="means"):
        encode(scene.subset(np.arange(200)), fast_config(coder="ans"), distributions={"means": source})


# ---------------------------------------------------------------------------- malformed
@pytest.fixture(scope="module")
def coded_plane(linear):
    """(container, entry, shape, quant, context) of a context-coded sh0 plane."""
    source, scene = linear
    n = 600
    means = forward_transform("signlog", scene.means[:n].astype(np.float64))
    mq = fit_quantizer(means, 16)
    context = {"means": DecodedPlane(quantize(means, mq).reshape(20, 30, 3), mq, "signlog")}
    quant = fit_quantizer(scene.sh0[:n].astype(np.float64), 8)
    plane = quantize(scene.sh0[:n].astype(np.float64), quant).reshape(20, 30, 3)
    coding = LEARNED_CODINGS["ans-context"].encode(plane, quant, source, context)
    container = Container(header={})
    entry = coding.add_to(container)
    decoded = AnsContextCoding().decode(container, entry, (20, 30, 3), quant, context)
    assert np.array_equal(decoded, plane)
    return container, entry, quant, context


def altered(container: Container, index: int, data: bytes) -> Container:
    chunks = list(container.chunks)
    chunks[index] = (chunks[index][0], data)
    return Container(header={}, chunks=chunks, version=container.version)


def test_malformed_context_coding_is_a_format_error(coded_plane):
    container, entry, quant, context = coded_plane
    net, tables, first = entry["chunks"][0], entry["chunks"][1], entry["chunks"][2]
    net_bytes, table_bytes, stream = (container.chunks[i][1] for i in (net, tables, first))
    wrong_bits = bytearray(net_bytes)
    wrong_bits[4] = 7
    cases = {
        "no positions": (container, entry, {}),
        "chunk count": (container, {**entry, "chunks": entry["chunks"][:-1]}, context),
        "network": (altered(container, net, net_bytes[:-3]), entry, context),
        "network bits": (altered(container, net, bytes(wrong_bits)), entry, context),
        "no tables": (altered(container, tables, b"\x00"), entry, context),
        "tables trailing": (altered(container, tables, table_bytes + b"\x00"), entry, context),
        "stream truncated": (altered(container, first, stream[:-4]), entry, context),
        "stream trailing": (altered(container, first, stream + b"\x01"), entry, context),
    }
    for name, (c, e, ctx) in cases.items():
        with pytest.raises(FormatError) as info:
            AnsContextCoding().decode(c, e, (20, 30, 3), quant, ctx)
        assert "\n" not in str(info.value), name


def test_mutated_streams_decode_or_raise_format_error(coded_plane):
    container, entry, quant, context = coded_plane
    rng = np.random.default_rng(0)
    index = entry["chunks"][2]
    original = container.chunks[index][1]
    for _ in range(40):
        data = bytearray(original)
        data[rng.integers(0, len(data))] ^= 1 << rng.integers(0, 8)
        try:
            plane = AnsContextCoding().decode(altered(container, index, bytes(data)), entry, (20, 30, 3), quant, context)
        except FormatError:
            continue
        assert plane.shape == (20, 30, 3) and int(plane.max()) < 256


def test_a_bad_tables_chunk_is_a_format_error():
    one = lambda level: put_tables({level: level_table(level)})[1:]  # a table without the count
    good = put_tables({3: level_table(3), 9: level_table(9)})
    bad = {
        "more tables than levels": bytes([65]),
        "levels not increasing": bytes([2]) + one(9) + one(3),
        "level 64": bytes([1, 64, 1, 1, 0]),
        "zero K": bytes([1, 3, 0, 1, 0]),
        "m beyond K": bytes([1, 3, 1, 1, 2, 5, 0]),
        "sum too big": bytes([1, 3, 1, 1, 1, 0x80, 0x80, 0x02]),  # f(1) = 32768: f(0) = -1
        "truncated": good[:-1],
        "trailing": good + b"\x00",
    }
    assert read_tables(bytes([2]) + one(3) + one(9)).keys() == {3, 9}
    for name, data in bad.items():
        with pytest.raises(FormatError) as info:
            read_tables(data)
        assert "\n" not in str(info.value), name
