"""Shared fixtures: real splat samples, a synthetic SH-degree-3 factory, and a small `.gsc` file.

Everything here is kept small so the whole suite stays fast on a 2-core CPU machine:
encodes use ``sort="none"`` (PLAS on 3,000 splats costs seconds; the tests here are about
the container and decoder, not about sorting quality).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gscc.splats import SplatSet
from gscc.synthetic import random_splats

SHARED_SPLATS = Path(__file__).resolve().parents[2] / "shared" / "data" / "splats"
LEGO = Path(__file__).resolve().parents[2] / "shared" / "data" / "lego"
PACKAGED_SAMPLE = Path(__file__).resolve().parents[1] / "gscc" / "samples" / "plant-20k.splat"
SMALL_COUNT = 3000


def fast_config(**overrides):
    """The default preset without PLAS sorting (fast), with optional overrides."""
    from gscc.codec.config import preset

    return preset("default").with_overrides(sort="none", **overrides)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors: one torch thread is several times faster than two contending ones (the
    machine may be busy); the thread count is restored after the module."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_splats() -> Path:
    """The folder of shared real splat scenes (skips the test where it is missing)."""
    if not SHARED_SPLATS.is_dir():
        pytest.skip(f"shared splat data not found at {SHARED_SPLATS}")
    return SHARED_SPLATS


@pytest.fixture(scope="session")
def lego() -> Path:
    """The shared NeRF-synthetic lego scene (skips the test where it is missing)."""
    if not (LEGO / "transforms_train.json").is_file():
        pytest.skip(f"lego dataset not found at {LEGO}")
    return LEGO


@pytest.fixture(scope="session")
def plant_path(shared_splats: Path) -> Path:
    path = shared_splats / "plant.splat"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def small_splats(plant_path: Path) -> SplatSet:
    """The first 3,000 splats of the real plant scene (SH degree 0)."""
    from gscc.io import load_splats

    return load_splats(plant_path).subset(np.arange(SMALL_COUNT))


def synthetic_splats(count: int = 500, sh_degree: int = 3, seed: int = 0) -> SplatSet:
    """A seeded random SplatSet with plausible 3DGS value ranges."""
    return random_splats(count, sh_degree, seed)


@pytest.fixture(scope="session")
def make_splats() -> Callable[..., SplatSet]:
    """Factory ``make_splats(count=500, sh_degree=3, seed=0)`` of synthetic SplatSets."""
    return synthetic_splats


@pytest.fixture(scope="session")
def small_gsc(small_splats: SplatSet) -> bytes:
    """A valid `.gsc` file: the 3,000 real splats, default preset, unsorted."""
    from gscc.codec.encoder import encode

    return encode(small_splats, fast_config())


@pytest.fixture
def small_gsc_path(small_gsc: bytes, tmp_path: Path) -> Path:
    path = tmp_path / "scene.gsc"
    path.write_bytes(small_gsc)
    return path
