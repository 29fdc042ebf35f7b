"""Specification of gscc.codec.kmeans: k-means vector quantisation of SH coefficients.

All inputs are small so the whole file runs in a few seconds on a 2-core CPU.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gscc.codec.kmeans import KMeansConfig, assign, codebook_size_for, kmeans


def sq_error(x: np.ndarray, codebook: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared distance of every row to its codeword."""
    return float(((x - codebook[labels]) ** 2).sum(1).mean())


def mixture(n: int, d: int, blobs: int, seed: int = 0) -> np.ndarray:
    """SH-like data: small-magnitude blobs plus heavy-tailed noise, float32."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 0.1, (blobs, d))
    noise = 0.02 * rng.standard_t(3, (n, d))
    return (centres[rng.integers(0, blobs, n)] + noise).astype(np.float32)


# --- output contract -------------------------------------------------------------------

@pytest.mark.parametrize("d", [9, 24, 45])
def test_shapes_dtypes_and_label_range(d: int) -> None:
    x = mixture(1500, d, blobs=40)
    codebook, labels = kmeans(x, 64)
    assert codebook.shape == (64, d) and codebook.dtype == np.float32
    assert labels.shape == (1500,) and labels.dtype == np.int64
    assert labels.min() >= 0 and labels.max() < 64
    assert np.isfinite(codebook).all()


def test_labels_are_the_nearest_codewords() -> None:
    x = mixture(2000, 24, blobs=30)
    codebook, labels = kmeans(x, 32)
    brute = ((x[:, None, :] - codebook[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(labels, brute)
    np.testing.assert_array_equal(assign(x, codebook), labels)


def test_config_defaults_and_frozen() -> None:
    cfg = KMeansConfig()
    assert (cfg.max_iters, cfg.tol, cfg.seed, cfg.device, cfg.train_samples) == (
        20, 1e-4, 0, "cpu", 262144)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 1  # type: ignore[misc]


# --- determinism -----------------------------------------------------------------------

def test_same_seed_gives_identical_results() -> None:
    x = mixture(3000, 45, blobs=50)
    cfg = KMeansConfig(seed=7, train_samples=1000)
    cb1, lab1 = kmeans(x, 64, cfg)
    cb2, lab2 = kmeans(x, 64, cfg)
    np.testing.assert_array_equal(cb1, cb2)
    np.testing.assert_array_equal(lab1, lab2)


def test_different_seeds_give_different_codebooks() -> None:
    x = mixture(3000, 9, blobs=200)
    cb1, _ = kmeans(x, 64, KMeansConfig(seed=1))
    cb2, _ = kmeans(x, 64, KMeansConfig(seed=2))
    assert not np.array_equal(cb1, cb2)


# --- quality ---------------------------------------------------------------------------

def test_recovers_well_separated_blobs() -> None:
    rng = np.random.default_rng(3)
    d, blobs, per_blob, sigma = 24, 8, 250, 0.05
    centres = rng.normal(0.0, 10.0, (blobs, d))
    truth = np.repeat(np.arange(blobs), per_blob)
    x = (centres[truth] + rng.normal(0.0, sigma, (blobs * per_blob, d))).astype(np.float32)
    codebook, labels = kmeans(x, blobs)
    # every blob maps to exactly one code, and distinct blobs to distinct codes
    code_of_blob = [np.unique(labels[truth == b]) for b in range(blobs)]
    assert all(len(c) == 1 for c in code_of_blob)
    assert len({int(c[0]) for c in code_of_blob}) == blobs
    # within-cluster error is the noise variance, i.e. near zero relative to the spread
    assert sq_error(x, codebook, labels) < 1.2 * d * sigma**2
    np.testing.assert_allclose(codebook[[int(c[0]) for c in code_of_blob]], centres, atol=0.05)


def test_much_better_than_a_random_codebook() -> None:
    x = mixture(3000, 45, blobs=60, seed=5)
    codebook, labels = kmeans(x, 64)
    rng = np.random.default_rng(0)
    random_book = rng.normal(x.mean(0), x.std(0), (64, 45)).astype(np.float32)
    random_rows = x[rng.choice(len(x), 64, replace=False)]
    km = sq_error(x, codebook, labels)
    assert km < 0.25 * sq_error(x, random_book, assign(x, random_book))
    assert km < 0.5 * sq_error(x, random_rows, assign(x, random_rows))


def test_more_iterations_never_hurt() -> None:
    x = mixture(3000, 24, blobs=100)
    errors = [sq_error(x, *kmeans(x, 64, KMeansConfig(max_iters=it, tol=0.0))) for it in (0, 2, 10)]
    assert errors[0] >= errors[1] >= errors[2]


def test_trains_on_a_subsample_then_assigns_every_row() -> None:
    x = mixture(6000, 9, blobs=50)
    codebook, labels = kmeans(x, 32, KMeansConfig(train_samples=800))
    assert labels.shape == (6000,)
    np.testing.assert_array_equal(labels, assign(x, codebook))
    full = sq_error(x, *kmeans(x, 32, KMeansConfig(train_samples=None)))
    assert sq_error(x, codebook, labels) < 1.25 * full


# --- edge cases ------------------------------------------------------------------------

def test_k_equal_n_reproduces_every_row_exactly() -> None:
    x = np.random.default_rng(0).normal(0.0, 1.0, (300, 45)).astype(np.float32)
    codebook, labels = kmeans(x, 300)
    np.testing.assert_array_equal(codebook[labels], x)
    assert len(np.unique(labels)) == 300


def test_duplicate_rows_and_empty_clusters() -> None:
    # 10 distinct vectors, each repeated: k > distinct values forces empty clusters,
    # which must be re-seeded without error; every row is still reproduced (up to the
    # float32 rounding of a mean of identical rows).
    distinct = np.random.default_rng(1).normal(0.0, 1.0, (10, 9)).astype(np.float32)
    x = np.repeat(distinct, 30, axis=0)
    codebook, labels = kmeans(x, 16)
    assert labels.min() >= 0 and labels.max() < 16
    np.testing.assert_allclose(codebook[labels], x, rtol=0, atol=1e-6)
    codebook, labels = kmeans(x, len(x))  # k == N with duplicates
    np.testing.assert_allclose(codebook[labels], x, rtol=0, atol=1e-6)


def test_k_one_is_the_mean() -> None:
    x = mixture(1000, 24, blobs=5)
    codebook, labels = kmeans(x, 1)
    assert (labels == 0).all()
    np.testing.assert_allclose(codebook[0], x.mean(0), atol=1e-5)


@pytest.mark.parametrize("k", [0, -1, 101])
def test_k_out_of_range_raises(k: int) -> None:
    with pytest.raises(ValueError):
        kmeans(np.zeros((100, 9), np.float32), k)


def test_bad_input_raises() -> None:
    with pytest.raises(ValueError):
        kmeans(np.zeros(100, np.float32), 4)  # not (N, D)
    for value in (np.nan, np.inf, -np.inf):
        bad = np.zeros((100, 9), np.float32)
        bad[3, 4] = value
        with pytest.raises(ValueError):
            kmeans(bad, 4)
    with pytest.raises(ValueError):
        assign(np.zeros((10, 9), np.float32), np.zeros((4, 8), np.float32))


# --- codebook_size_for -----------------------------------------------------------------

def test_codebook_size_examples() -> None:
    assert codebook_size_for(1_000_000) == 4096  # clamped to max_size
    assert codebook_size_for(3_000_000) == 4096
    assert codebook_size_for(32 * 1024) == 1024  # exactly n / points_per_code
    assert codebook_size_for(1000) == 32  # 1000 / 32 = 31.25 -> 32
    assert codebook_size_for(100) == 16  # clamped to min_size
    assert codebook_size_for(10) == 8  # never more than n: n rounded down to 2^k
    assert codebook_size_for(1) == 1
    assert codebook_size_for(10_000, max_size=65536, min_size=1, points_per_code=1) == 8192
    with pytest.raises(ValueError):
        codebook_size_for(0)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 10**8),
       max_exp=st.integers(0, 16), min_exp=st.integers(0, 16), ppc=st.integers(1, 256))
def test_codebook_size_properties(n: int, max_exp: int, min_exp: int, ppc: int) -> None:
    lo, hi = 1 << min(min_exp, max_exp), 1 << max_exp
    size = codebook_size_for(n, max_size=hi, min_size=lo, points_per_code=ppc)
    assert size >= 1 and size & (size - 1) == 0  # a power of two
    assert size <= n and size <= hi  # never more than n, nor max_size
    assert size >= min(lo, 1 << (n.bit_length() - 1))  # at least min_size unless n is tiny
    target = n / ppc
    if lo <= target <= hi and size <= n:
        assert target / 2 <= size <= target * 2  # near n / points_per_code


def test_codebook_size_is_monotonic_in_n() -> None:
    sizes = [codebook_size_for(n) for n in range(1, 300_000, 997)]
    assert sizes == sorted(sizes)
