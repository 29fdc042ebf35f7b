"""The hash-grid Gaussian entropy model (torch, gscc.train.entropy) and its fixed-point
copy for the codec (numpy, gscc.codec.context_net): the grid layout, training, agreement
of the two, bit-exact integer evaluation and the network's byte layout."""

from __future__ import annotations

import math
import struct
from fractions import Fraction

import numpy as np
import pytest
import torch

from gscc.codec.context_net import (
    LEVELS,
    LEVELS_PER_OCTAVE,
    SIGMA_MIN,
    ContextNetwork,
    FixedLayer,
    is_dense,
    level_resolutions,
    table_rows,
)
from gscc.errors import FormatError
from gscc.train.entropy.gaussian import HashGridGaussian, gaussian_bin_probability, sigma_of_level
from gscc.train.entropy.hashgrid import HashGrid

POSITION_BITS = 12
TOP = (1 << POSITION_BITS) - 1
SMALL = dict(levels=4, features=2, log2_table=10, min_resolution=2, max_resolution=8, hidden=32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------------- naive references
def naive_row(i: int, j: int, k: int, resolution: int, log2_table: int) -> int:
    size = 2**log2_table
    side = resolution + 1
    if side**3 <= size:
        return i + j * side + k * side * side
    return ((i * 1) ^ (j * 2654435761) ^ (k * 805459861)) % 2**32 % size


def naive_grid(x: np.ndarray, grid: HashGrid) -> np.ndarray:
    """Per point, per level: cell, weights, 8 corners, trilinear sum (float64)."""
    out = []
    for point in x:
        features = []
        for resolution, table in zip(grid.resolutions, grid.tables):
            table = table.detach().double().numpy()
            p = [float(v) * resolution for v in point]
            cell = [min(max(math.floor(v), 0), resolution - 1) for v in p]
            w = [v - c for v, c in zip(p, cell)]
            acc = np.zeros(grid.features)
            for dz in (0, 1):
                for dy in (0, 1):
                    for dx in (0, 1):
                        weight = 1.0
                        for d, wa in zip((dx, dy, dz), w):
                            weight *= wa if d else 1.0 - wa
                        row = naive_row(cell[0] + dx, cell[1] + dy, cell[2] + dz, resolution, grid.log2_table)
                        acc += weight * table[row]
            features.extend(acc)
        out.append(features)
    return np.array(out)


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def naive_fixed_predict(net: ContextNetwork, q: np.ndarray, position_bits: int) -> tuple[list, list]:
    """The spec's integer evaluation, one point at a time, in Python integers."""
    top = 2**position_bits - 1
    mus, levels = [], []
    for point in q.tolist():
        a = []
        for resolution, table in zip(net.resolutions, net.tables):
            cell, w = [], []
            for v in point:
                c = min(v * resolution // top, resolution - 1)
                cell.append(c)
                w.append(half_up(Fraction((v * resolution - c * top) * 4096, top)))
            acc = [0] * net.features
            for corner in range(8):
                d = [(corner >> axis) & 1 for axis in range(3)]
                weight = math.prod(wa if da else 4096 - wa for wa, da in zip(w, d))
                row = naive_row(*(c + da for c, da in zip(cell, d)), resolution, net.log2_table)
                for f in range(net.features):
                    acc[f] += weight * int(table[row, f])
            a.extend(half_up(Fraction(v, 2**36)) for v in acc)
        for number, layer in enumerate(net.layers):
            out = []
            for row, bias, shift in zip(layer.weight.tolist(), layer.bias.tolist(), layer.shift.tolist()):
                value = sum(wi * ai for wi, ai in zip(row, a)) + bias
                value = half_up(Fraction(value, 2**shift))
                out.append(max(value, 0) if number < len(net.layers) - 1 else value)
            a = out
        c = net.channels
        mus.append([min(max(v, 0), 2**net.bits - 1) for v in a[:c]])
        levels.append([min(max(v, 0), LEVELS - 1) for v in a[c:]])
    return mus, levels


# ---------------------------------------------------------------------------- synthetic data
def smooth_data(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Integer positions (count, 3) and 8-bit symbols (count, 2): smooth functions of the
    position plus Gaussian noise of 1.5 symbols."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, TOP + 1, (count, 3))
    x = q / TOP
    f = np.stack([
        127.5 + 90 * np.sin(2 * np.pi * x[:, 0]) * np.cos(2 * np.pi * x[:, 1]),
        127.5 + 60 * np.cos(3 * x[:, 2] + x[:, 0]),
    ], axis=1)
    return q, np.clip(np.rint(f + rng.normal(0, 1.5, f.shape)), 0, 255)


def context_of(q: np.ndarray) -> torch.Tensor:
    return torch.tensor(q / TOP, dtype=torch.float32)


def empirical_entropy_bits(symbols: np.ndarray) -> float:
    counts = np.bincount(symbols.astype(np.int64))
    p = counts[counts > 0] / len(symbols)
    return float(-(p * np.log2(p)).sum())


@pytest.fixture(scope="module")
def trained():
    """A small model trained for 200 full-batch Adam steps on 2,000 smooth-data splats
    (with the uniform-noise stand-in for rounding), its data and final bits per symbol."""
    torch.manual_seed(0)
    q, symbols = smooth_data(2000)
    context, u = context_of(q), torch.tensor(symbols, dtype=torch.float32)
    model = HashGridGaussian(2, **SMALL)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(200):
        loss = model.bits(u + torch.rand_like(u) - 0.5, context).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        bits = model.bits(u, context).mean(dim=0).numpy()
    return model, q, symbols, bits


# ---------------------------------------------------------------------------- the grid
def test_level_resolutions_grow_geometrically_from_min_to_max():
    assert level_resolutions(8, 16, 512) == (16, 26, 43, 70, 115, 190, 312, 512)  # 16 * 2**(5l/7)
    assert level_resolutions(1, 16, 512) == (16,)
    assert level_resolutions(4, 2, 8) == (2, 3, 5, 8)
    for levels, lo, hi in [(5, 3, 300), (16, 16, 2048), (2, 7, 7)]:
        r = level_resolutions(levels, lo, hi)
        assert r[0] == lo and r[-1] == hi and list(r) == sorted(r)


def test_a_level_is_dense_when_all_its_corners_fit_the_table_else_hashed():
    grid = HashGrid(levels=3, features=2, log2_table=10, min_resolution=4, max_resolution=16)
    assert grid.resolutions == (4, 8, 16)
    assert [is_dense(r, 10) for r in grid.resolutions] == [True, True, False]  # 125, 729 <= 1024 < 4913
    assert [t.shape[0] for t in grid.tables] == [125, 729, 1024]
    assert table_rows(9, 10) == 1000 and table_rows(10, 10) == 1024  # 11**3 = 1331 > 1024
    assert all(t.abs().max() <= 1e-4 for t in grid.tables)  # Instant-NGP's initial range


def test_hash_grid_matches_a_naive_per_point_reference():
    torch.manual_seed(1)
    grid = HashGrid(levels=3, features=2, log2_table=10, min_resolution=4, max_resolution=16)
    with torch.no_grad():
        for table in grid.tables:
            table.uniform_(-1, 1)
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.random((40, 3)), [[0, 0, 0], [1, 1, 1], [1, 0, 0.5], [0.25, 0.5, 0.75]]])
    got = grid(torch.tensor(x, dtype=torch.float64).float()).detach().double().numpy()
    expected = naive_grid(x.astype(np.float32), grid)
    assert got.shape == (len(x), 6)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_hash_grid_is_continuous_across_cell_faces():
    torch.manual_seed(3)
    grid = HashGrid(levels=2, features=1, log2_table=6, min_resolution=4, max_resolution=8)
    with torch.no_grad():
        for table in grid.tables:
            table.uniform_(-1, 1)
    face = torch.tensor([[0.25, 0.4, 0.6]])  # a cell face of both levels (x = 1/4)
    eps = torch.tensor([[1e-4, 0, 0]])
    assert torch.allclose(grid(face - eps), grid(face + eps), atol=1e-3)


# ---------------------------------------------------------------------------- the torch model
def test_gaussian_bin_probabilities_sum_to_one_and_match_the_normal_cdf():
    mu, sigma = torch.tensor(100.3, dtype=torch.float64), torch.tensor(2.7, dtype=torch.float64)
    u = torch.arange(0, 256, dtype=torch.float64)
    p = gaussian_bin_probability(u, mu, sigma)
    assert abs(float(p.sum()) - 1.0) < 1e-9
    phi = lambda t: 0.5 * (1 + math.erf(t / math.sqrt(2)))
    for value in (90.0, 100.0, 101.0, 108.0):
        expected = phi((value + 0.5 - 100.3) / 2.7) - phi((value - 0.5 - 100.3) / 2.7)
        assert float(gaussian_bin_probability(torch.tensor(value, dtype=torch.float64), mu, sigma)) == pytest.approx(expected, rel=1e-9)
    # far in the upper tail the mass stays positive and accurate (Mills ratio)
    far = gaussian_bin_probability(torch.tensor(140.0, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64), torch.tensor(5.0, dtype=torch.float64))
    assert 0 < float(far) < 1e-150


def test_scale_levels_map_to_sigma_in_quarter_octaves():
    s = torch.tensor([-3.0, 0.0, 4.0, 10.0, 63.0, 80.0])
    expected = SIGMA_MIN * 2 ** (np.clip(s.numpy(), 0, LEVELS - 1) / LEVELS_PER_OCTAVE)
    np.testing.assert_allclose(sigma_of_level(s).numpy(), expected, rtol=1e-6)


def test_a_new_model_predicts_the_middle_of_the_range_with_a_wide_gaussian():
    model = HashGridGaussian(3, init_center=127.5, init_sigma=32.0)
    assert model.name == "gaussian" and model.needs_context
    context = torch.rand(50, 3)
    mu, s = model.predict(context)
    assert mu.shape == s.shape == (50, 3)
    assert torch.allclose(mu, torch.full_like(mu, 127.5), atol=0.5)
    assert torch.allclose(sigma_of_level(s), torch.full_like(s, 32.0), rtol=0.05)
    bits = model.bits(torch.full((50, 3), 127.0), context)
    assert bits.shape == (50, 3) and torch.all(bits > 0)
    with pytest.raises(ValueError):
        model.bits(torch.zeros(50, 3))


def test_bits_are_floored_yet_far_bins_still_have_a_gradient():
    model = HashGridGaussian(1, init_center=0.0, init_sigma=1.0)
    u = torch.full((4, 1), 200.0)  # ~200 sigma away
    bits = model.bits(u, torch.rand(4, 3))
    assert torch.allclose(bits, torch.full_like(bits, -math.log2(1e-9)), rtol=1e-4)
    bits.sum().backward()
    bias = model.mlp[-1].bias.grad
    assert bias[0] < 0  # descending the gradient raises mu towards u


def test_training_needs_clearly_fewer_bits_than_any_context_free_coding(trained):
    model, q, symbols, bits = trained
    for c in range(2):
        entropy = empirical_entropy_bits(symbols[:, c])  # the best static histogram: ~7 bits
        y = symbols[:, c]
        gaussian = float(model_free_gaussian_bits(y))  # the best single Gaussian
        assert bits[c] < 0.6 * entropy and bits[c] < 0.6 * gaussian, (bits, entropy, gaussian)
    assert np.all(bits > 2.0)  # the noise (sigma 1.5 -> ~2.6 bits) is not predictable


def model_free_gaussian_bits(y: np.ndarray) -> float:
    u = torch.tensor(y, dtype=torch.float64)
    p = gaussian_bin_probability(u, u.mean(), u.std())
    return float(-torch.log2(p).mean())


def test_export_describes_the_network_exactly(trained):
    model = trained[0]
    arrays = model.export_arrays()
    assert (arrays["levels"], arrays["features"], arrays["log2_table"], arrays["hidden"], arrays["channels"]) == (4, 2, 10, 32, 2)
    assert arrays["resolutions"] == [2, 3, 5, 8]
    assert all(arrays[f"grid.{l}"].dtype == np.float32 for l in range(4))
    assert arrays["layers.0.weight"].shape == (32, 8) and arrays["layers.2.weight"].shape == (4, 32)
    # evaluating the exported arrays by hand gives the model's prediction
    context = context_of(trained[1][:100])
    with torch.no_grad():
        features = model.grid(context).double().numpy()
        mu, s = model.predict(context)
    a = features
    for k in range(3):
        a = a @ arrays[f"layers.{k}.weight"].T.astype(np.float64) + arrays[f"layers.{k}.bias"]
        a = np.maximum(a, 0) if k < 2 else a
    np.testing.assert_allclose(a[:, :2], mu.numpy(), atol=1e-3)
    np.testing.assert_allclose(a[:, 2:], s.numpy(), atol=1e-4)


# ---------------------------------------------------------------------------- fixed point
def fixed(model, **units) -> ContextNetwork:
    units = {"bits": 8, "train_lo": 0.0, "train_step": 1.0, "enc_lo": 0.0, "enc_step": 1.0, **units}
    return ContextNetwork.from_float(model.export_arrays(), **units)


def float_prediction(model, q):
    with torch.no_grad():
        mu, s = model.predict(context_of(q))
    return mu.double().numpy(), s.double().numpy()


def test_fixed_point_prediction_agrees_with_the_float_model(trained):
    model, q, _, _ = trained
    net = fixed(model)
    mu, level = net.predict(q, POSITION_BITS)
    mu_f, s_f = float_prediction(model, q)
    mu_r = np.clip(np.floor(mu_f + 0.5), 0, 255)
    level_r = np.clip(np.floor(s_f + 0.5), 0, LEVELS - 1)
    assert np.abs(mu - mu_r).max() <= 1 and np.abs(level - level_r).max() <= 1
    assert (mu == mu_r).mean() > 0.95 and (level == level_r).mean() > 0.95
    assert len(np.unique(mu)) > 50  # a non-trivial prediction


def test_fixed_point_folds_the_change_of_quantizer_into_the_last_layer(trained):
    model, q, _, _ = trained
    train_lo, train_step = np.array([-1.0, 2.0]), np.array([0.01, 0.02])
    enc_lo, enc_step = np.array([-1.2, 1.9]), np.array([0.0025, 0.004])  # 10-bit encoding
    net = fixed(model, bits=10, train_lo=train_lo, train_step=train_step, enc_lo=enc_lo, enc_step=enc_step)
    mu, level = net.predict(q, POSITION_BITS)
    mu_f, s_f = float_prediction(model, q)
    gain = train_step / enc_step
    mu_enc = np.clip(np.floor((train_lo - enc_lo) / enc_step + gain * mu_f + 0.5), 0, 1023)
    level_enc = np.clip(np.floor(s_f + LEVELS_PER_OCTAVE * np.log2(gain) + 0.5), 0, LEVELS - 1)
    assert np.abs(mu - mu_enc).max() <= 1 and (mu == mu_enc).mean() > 0.95
    assert np.abs(level - level_enc).max() <= 1 and (level == level_enc).mean() > 0.95
    assert mu.max() > 255  # really in 10-bit units


def test_a_channel_the_encoder_does_not_code_predicts_zero(trained):
    net = fixed(trained[0], enc_step=np.array([1.0, 0.0]))
    mu, level = net.predict(trained[1][:200], POSITION_BITS)
    assert np.all(mu[:, 1] == 0) and np.all(level[:, 1] == 0) and len(np.unique(mu[:, 0])) > 10


def test_fixed_point_prediction_is_the_specified_integer_arithmetic(trained):
    net = fixed(trained[0])
    q = np.concatenate([trained[1][:12], [[0, 0, 0], [TOP, TOP, TOP], [TOP, 0, 17]]])
    mu, level = net.predict(q, POSITION_BITS)
    expected_mu, expected_level = naive_fixed_predict(net, q, POSITION_BITS)
    assert mu.tolist() == expected_mu and level.tolist() == expected_level


def test_fixed_point_prediction_is_integer_only_and_deterministic(trained):
    model, q, _, _ = trained
    net = fixed(model)
    assert all(t.dtype == np.int64 for t in net.tables)
    assert all(a.dtype == np.int64 for layer in net.layers for a in (layer.weight, layer.bias, layer.shift))
    mu, level = net.predict(q, POSITION_BITS)
    assert mu.dtype == np.int64 and level.dtype == np.int64
    again = net.predict(q.astype(np.uint16), POSITION_BITS)
    assert np.array_equal(again[0], mu) and np.array_equal(again[1], level)
    order = np.random.default_rng(0).permutation(len(q))  # per splat: no dependence on the batch
    permuted = net.predict(q[order], POSITION_BITS)
    assert np.array_equal(permuted[0], mu[order]) and np.array_equal(permuted[1], level[order])
    with pytest.raises(ValueError):
        net.predict(q.astype(np.float64), POSITION_BITS)
    with pytest.raises(ValueError):
        net.predict(q + (1 << POSITION_BITS), POSITION_BITS)


def test_extreme_networks_cannot_overflow(trained):
    """Every table entry and weight at the int16 extreme: the bound check passes (it is
    proven in the module) and the result equals exact Python-integer evaluation."""
    net = fixed(trained[0])
    tables = tuple(np.full_like(t, 32767) for t in net.tables)
    layers = tuple(FixedLayer(np.full_like(l.weight, 32767), l.bias, np.full_like(l.shift, 14)) for l in net.layers)
    extreme = ContextNetwork(bits=8, log2_table=net.log2_table, resolutions=net.resolutions, tables=tables, layers=layers)
    q = trained[1][:3]
    assert extreme.predict(q, POSITION_BITS)[0].tolist() == naive_fixed_predict(extreme, q, POSITION_BITS)[0]
    too_big = tuple(FixedLayer(l.weight, l.bias, np.zeros_like(l.shift)) for l in layers)  # no shifts: > 2**70
    with pytest.raises(FormatError, match="overflow"):
        ContextNetwork(bits=8, log2_table=net.log2_table, resolutions=net.resolutions, tables=tables, layers=too_big)


# ---------------------------------------------------------------------------- bytes
def test_network_bytes_round_trip(trained):
    model, q, _, _ = trained
    net = fixed(model)
    data = net.to_bytes()
    rows = sum(table_rows(r, 10) for r in (2, 3, 5, 8))
    assert len(data) == 9 + 2 * 4 + 2 * 2 * rows + sum(i * o * 2 + o * 9 for i, o in [(8, 32), (32, 32), (32, 4)])
    back = ContextNetwork.from_bytes(data)
    assert back.to_bytes() == data
    for a, b in zip(back.predict(q, POSITION_BITS), net.predict(q, POSITION_BITS)):
        assert np.array_equal(a, b)


def header_with(data: bytes, **fields) -> bytes:
    names = ("version", "levels", "features", "log2_table", "bits", "hidden", "channels")
    values = dict(zip(names, struct.unpack_from("<BBBBBHH", data)))
    values.update(fields)
    return struct.pack("<BBBBBHH", *(values[n] for n in names)) + data[9:]


def test_malformed_network_bytes_raise_format_errors(trained):
    data = fixed(trained[0]).to_bytes()
    last_shift = len(data) - 1
    bad = {
        "empty": b"",
        "truncated": data[:-1],
        "trailing": data + b"\0",
        "version": header_with(data, version=2),
        "no levels": header_with(data, levels=0),
        "bits": header_with(data, bits=17),
        "table": header_with(data, log2_table=25),
        "huge header": header_with(data, hidden=1024, channels=256, log2_table=24, levels=2),
        "zero resolution": data[:9] + b"\0\0" + data[11:],
        "shift": data[:last_shift] + bytes([63]),
        "overflowing bias": data[: len(data) - 12] + struct.pack("<q", 1 << 62) + data[len(data) - 4 :],
    }
    for name, blob in bad.items():
        with pytest.raises(FormatError) as info:
            ContextNetwork.from_bytes(blob)
        assert "\n" not in str(info.value), name
