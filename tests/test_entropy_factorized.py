"""The factorized density model (Ballé et al. 2018): C independent learned CDFs in symbol
units, trainable to the entropy of its data, and the tables the encoder codes with."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gscc.codec.decoder import decode
from gscc.codec.encoder import encode
from gscc.codec.quantize import QuantParams, fit_quantizer, forward_transform
from gscc.container import unpack
from gscc.synthetic import random_splats
from gscc.train.entropy.base import EntropyModel
from gscc.train.entropy.factorized import FactorizedModel
from gscc.train.entropy.tables import ModelTables

from conftest import fast_config


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def symbols(n: int, centers, scales, seed: int = 0) -> np.ndarray:
    """Integer samples of discretised Laplacians, one (centre, scale) per channel."""
    rng = np.random.default_rng(seed)
    return np.rint(rng.laplace(centers, scales, (n, len(centers)))).clip(0, 255)


def entropy_bits(column: np.ndarray) -> float:
    _, counts = np.unique(column, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def train(model: FactorizedModel, u: torch.Tensor, steps: int, lr: float = 0.03) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        model.bits(u).mean().backward()
        optimizer.step()


def test_it_is_an_entropy_model_without_context() -> None:
    model = FactorizedModel(4)
    assert isinstance(model, EntropyModel)
    assert (model.name, model.needs_context, model.channels) == ("factorized", False, 4)
    assert model.filters == (3, 3, 3)
    # per channel: every parameter has the channel as its leading dimension
    assert all(p.shape[0] == 4 for p in model.parameters())
    with pytest.raises(ValueError):
        FactorizedModel(0)
    with pytest.raises(ValueError):
        FactorizedModel(2, init_scale=0.0)


def test_untrained_bits_are_positive_finite_and_spread_over_the_symbol_range() -> None:
    model = FactorizedModel(2)
    u = torch.linspace(0, 255, 256).repeat(2, 1).t()
    bits = model.bits(u)
    assert bits.shape == (256, 2)
    assert torch.isfinite(bits).all() and (bits > 0).all()
    assert bits.max() < 14  # no symbol of 0..255 is starved before training
    edges = np.tile(np.arange(257) - 0.5, (2, 1))
    mass = model.bin_probabilities(edges)[:, 1:-1].sum(axis=1)  # inside [0.5, 254.5]
    assert (mass > 0.9).all()
    # the initial median is init_center
    np.testing.assert_allclose(torch.sigmoid(model.cdf_logits(torch.full((1, 2), 127.5))).detach(), 0.5, atol=1e-6)
    shifted = FactorizedModel(1, init_center=10.0, init_scale=2.0)
    assert torch.sigmoid(shifted.cdf_logits(torch.tensor([[10.0]]))).item() == pytest.approx(0.5, abs=1e-6)


def test_the_cdf_is_monotone_for_any_parameters() -> None:
    model = FactorizedModel(3, seed=5)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 2.0)
    u = torch.linspace(-100, 400, 2001).repeat(3, 1).t()
    assert (model.cdf_logits(u).diff(dim=0) >= -1e-5).all()


def test_channels_are_independent() -> None:
    model = FactorizedModel(2, seed=1)
    u = torch.tensor(symbols(50, [60.0, 200.0], [5.0, 20.0]), dtype=torch.float32)
    before = model.bits(u)[:, 0]
    other = u.clone()
    other[:, 1] = torch.flip(other[:, 1], [0]) + 13.0
    after = model.bits(other)[:, 0]
    assert torch.equal(before, after)
    # channel 0's bits have no gradient with respect to channel 1's parameters
    model.bits(u)[:, 0].sum().backward()
    for matrix in model.matrices:
        assert matrix.grad[0].abs().sum() > 0 and matrix.grad[1].abs().sum() == 0


def test_gradients_reach_the_values_and_every_parameter() -> None:
    model = FactorizedModel(3)
    u = torch.tensor(symbols(64, [30.0, 127.0, 220.0], [3.0, 10.0, 8.0]), dtype=torch.float32)
    u = (u + torch.rand_like(u) - 0.5).requires_grad_(True)  # noisy, as in training
    model.bits(u).sum().backward()
    assert torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_training_reaches_the_empirical_entropy_of_the_data() -> None:
    centers, scales = [60.0, 127.5, 150.0], [2.0, 8.0, 15.0]
    x = symbols(4000, centers, scales)
    model = FactorizedModel(3)
    u = torch.tensor(x, dtype=torch.float32)
    untrained = model.bits(u).mean(dim=0).detach().numpy()
    train(model, u, steps=300)
    trained = model.bits(u).mean(dim=0).detach().numpy()
    target = np.array([entropy_bits(x[:, c]) for c in range(3)])
    assert (untrained - target > 0.8).all()  # there was something to learn
    assert (trained >= target - 0.02).all()  # a density cannot beat the data's own histogram
    assert (trained - target < 0.15).all(), (trained, target)


def test_bin_probabilities_are_positive_rows_summing_to_one() -> None:
    model = FactorizedModel(2)
    edges = np.stack([np.linspace(-20, 300, 65), np.linspace(100, 110, 65)])
    p = model.bin_probabilities(edges)
    assert p.shape == (2, 64) and p.dtype == np.float64
    assert (p > 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # the inner bins are F(upper) - F(lower), whatever the outer edges are
    inner = torch.sigmoid(model.cdf_logits(torch.tensor(edges[:, 1:-1].T))).double().detach().numpy().T
    np.testing.assert_allclose(p[:, 1:-1], np.diff(inner, axis=1), atol=1e-6)
    np.testing.assert_array_equal(p, model.bin_probabilities(torch.tensor(edges)))
    with pytest.raises(ValueError):
        model.bin_probabilities(edges[:, ::-1])
    with pytest.raises(ValueError):
        model.bin_probabilities(edges[:1])


def test_bins_far_in_a_tail_keep_their_mass() -> None:
    """The sign trick: a bin far above the median is not lost to 1 - 1 cancellation."""
    model = FactorizedModel(1, init_scale=2.0)
    far = torch.tensor([[127.5 + 60.0]])
    p = model.probability(far).item()
    # untrained, F is the logistic of centre 127.5 and scale 2: the bin's mass is
    # sigmoid(30.25) - sigmoid(29.75) = sigmoid(-29.75) - sigmoid(-30.25), about 3e-14
    expected = 1 / (1 + np.exp(29.75)) - 1 / (1 + np.exp(30.25))
    assert p > 0 and p == pytest.approx(expected, rel=1e-3)


# ============================================================================ tables
def test_model_tables_match_the_model_under_the_training_quantizer() -> None:
    model = FactorizedModel(2)
    quant = QuantParams(8, (-1.0, 3.0), (0.01, 0.5))
    tables = ModelTables(model, quant.lo, quant.step)
    assert (tables.name, tables.coding) == ("factorized", "ans-table")
    p = tables.probabilities(quant)
    expected = model.bin_probabilities(np.tile(np.arange(257) - 0.5, (2, 1)))
    np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_model_tables_follow_the_encoders_quantizer() -> None:
    """A coarser encoder quantizer of the same range: each of its bins holds the mass of
    the training bins it covers."""
    model = FactorizedModel(1)
    train_quant = QuantParams(8, (0.0,), (1.0,))
    tables = ModelTables(model, train_quant.lo, train_quant.step)
    coarse = QuantParams(4, (0.0,), (17.0,))  # 16 bins of 17 training units
    p = tables.probabilities(coarse)
    assert p.shape == (1, 16)
    q = np.arange(17) - 0.5
    np.testing.assert_allclose(p, model.bin_probabilities((q * 17.0)[None, :]), rtol=1e-12)


def test_constant_channels_get_their_mass_on_symbol_zero() -> None:
    model = FactorizedModel(2)
    tables = ModelTables(model, [0.0, 5.0], [1.0, 0.0])
    p = tables.probabilities(QuantParams(6, (0.0, 5.0), (2.0, 0.0)))
    np.testing.assert_array_equal(p[1], np.eye(64)[0])
    p = tables.probabilities(QuantParams(6, (0.0, 5.0), (2.0, 1.0)))
    np.testing.assert_allclose(p[1], 1 / 64)  # the model never saw this channel vary
    with pytest.raises(ValueError):
        tables.probabilities(QuantParams(6, (0.0,), (1.0,)))


def test_a_trained_model_codes_its_attribute_and_the_file_decodes_without_it() -> None:
    splats = random_splats(1500, 0, seed=2)
    config = fast_config(coder="ans")
    y = forward_transform("identity", splats.scales)
    quant = fit_quantizer(y, 8)
    lo, step = np.asarray(quant.lo), np.asarray(quant.step)
    model = FactorizedModel(3)
    train(model, torch.tensor((y - lo) / step, dtype=torch.float32), steps=150)
    data = encode(splats, config, {"scales": ModelTables(model, lo, step)})
    coding = unpack(data).header["attributes"]["scales"]["coding"]
    assert coding["codec"] == "ans-table" and coding["distribution"] == "factorized"
    np.testing.assert_array_equal(decode(data).scales, decode(encode(splats, config)).scales)
