"""Every named preset encodes and decodes; gsplat-png keeps to gsplat's PNG recipe."""

from __future__ import annotations

import numpy as np
import pytest

from gscc.codec.config import PRESETS, EncodeConfig, preset
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode_tracked
from gscc.container import unpack
from gscc.info import summarize
from gscc.synthetic import random_splats

COUNT = 300  # not a square: the grid needs padding cells


@pytest.fixture(scope="module")
def scene():
    return random_splats(COUNT, sh_degree=3, seed=7)


@pytest.fixture(scope="module")
def encoded(scene):
    """Each preset's file for the synthetic scene (PLAS on, as the presets say)."""
    return {name: encode_tracked(scene, config) for name, config in PRESETS.items()}


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_round_trips(name, scene, encoded):
    result = encoded[name]
    decoded = decode(result.data)
    assert decoded.count == len(result.source_index) <= COUNT
    assert decoded.sh_degree == scene.sh_degree
    original = scene.subset(result.source_index)
    # positions within half a step of the depth the file records (at least 12 bits over the
    # sign-log range); colours within 6-bit steps
    bits = unpack(result.data).header["attributes"]["means"]["quant"]["bits"]
    assert bits >= 12
    extent = np.ptp(np.sign(scene.means) * np.log1p(np.abs(scene.means)), axis=0)
    log_error = np.abs(np.sign(decoded.means) * np.log1p(np.abs(decoded.means))
                       - np.sign(original.means) * np.log1p(np.abs(original.means)))
    assert np.all(log_error <= extent / ((1 << bits) - 1) / 2 * 1.001 + 1e-6)
    assert np.abs(decoded.sh0 - original.sh0).max() <= np.ptp(scene.sh0, axis=0).max() / 63
    summary = summarize(result.data)
    assert summary["scene"]["count"] == decoded.count


def test_gsplat_png_uses_png_only_and_keeps_every_splat(scene, encoded):
    result = encoded["gsplat-png"]
    summary = summarize(result.data)
    codings = {row["attribute"]: row["coding"] for row in summary["attributes"]}
    assert set(codings) == {"means", "scales", "quats", "opacities", "sh0", "shN"}
    assert set(codings.values()) == {"png"}
    chunk_types = {kind for kind, _ in unpack(result.data).chunks}
    assert chunk_types <= {"png", "raw"}  # raw: only the grid's padding-cell list
    assert summary["scene"]["count"] == COUNT  # no pruning, no cropping to a square
    assert sorted(result.source_index) == list(range(COUNT))


def test_gsplat_png_bit_depths_and_transforms(encoded):
    header = unpack(encoded["gsplat-png"].data).header["attributes"]
    assert header["means"]["transform"] == "signlog" and header["means"]["quant"]["bits"] == 16
    for name in ("scales", "sh0"):
        assert header[name]["transform"] == "identity" and header[name]["quant"]["bits"] == 8
    # raw logits and the four normalised quaternion components, 8 bits each
    assert header["opacities"]["transform"] == "identity" and header["opacities"]["quant"]["bits"] == 8
    assert header["quats"]["transform"] == "identity" and header["quats"]["quant"]["bits"] == 8
    shn = header["shN"]
    assert shn["codec"] == "vq" and shn["codebook"]["quant"]["bits"] == 6
    # 65,536 clusters asked for; a 300-splat scene caps the codebook at its grid cells
    assert shn["codebook"]["size"] <= 65536
    assert preset("gsplat-png").sh_codebook == 65536


def test_component_wise_quaternions_are_normalised(scene, encoded):
    result = encoded["gsplat-png"]
    decoded = decode(result.data)
    original = scene.quats[result.source_index].astype(np.float64)
    original /= np.linalg.norm(original, axis=1, keepdims=True)
    # 8 bits per component over at most [-1, 1]: within a step of the unit quaternion
    assert np.abs(decoded.quats - original).max() <= 2 / 255
    assert np.allclose(np.linalg.norm(decoded.quats, axis=1), 1.0, atol=0.02)


def test_raw_logit_opacities_decode_within_a_step(scene, encoded):
    result = encoded["gsplat-png"]
    decoded = decode(result.data)
    original = scene.opacities[result.source_index]
    assert np.abs(decoded.opacities - original).max() <= np.ptp(scene.opacities) / 255 * 0.5 + 1e-5


def test_transform_overrides_are_checked():
    config = EncodeConfig(transforms={"quats": "identity", "opacities": "identity"})
    assert config.transforms == (("opacities", "identity"), ("quats", "identity"))
    assert "transforms" not in EncodeConfig().to_dict()
    assert config.to_dict()["transforms"] == (("opacities", "identity"), ("quats", "identity"))
    with pytest.raises(ValueError):
        EncodeConfig(transforms={"quats": "sigmoid"})
    with pytest.raises(ValueError):
        EncodeConfig(transforms={"colour": "identity"})
    with pytest.raises(ValueError):
        EncodeConfig(transforms=(("quats", "identity"), ("quats", "smallest3")))
