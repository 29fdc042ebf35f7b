"""MLP-coloured scenes (format 1.1): the numpy colour decoder, SH baking, and the `.gsc`
round trip of features plus decoder weights — all without torch on the decoding side."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gscc.codec.decoder import decode, decode_scene
from gscc.codec.encoder import encode, encode_tracked
from gscc.color_mlp import ColorMLP
from gscc.container import pack, unpack
from gscc.errors import FormatError
from gscc.info import summarize
from gscc.sh_basis import sh_basis_np, sphere_directions
from gscc.splats import FeatureSplats, SplatSet
from gscc.synthetic import random_feature_splats

from conftest import fast_config


@pytest.fixture(scope="module")
def scene() -> FeatureSplats:
    return random_feature_splats(400, seed=3)


# 1.0 codings only (no JPEG XL planes, format 1.4), so that the file is exactly 1.1
FORMAT_1_1 = fast_config(coder="ans")


@pytest.fixture(scope="module")
def gsc(scene) -> bytes:
    return encode(scene, FORMAT_1_1)


def unit(rng, n):
    d = rng.normal(size=(n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_numpy_decoder_matches_the_trainers_torch_decoder():
    from gscc.model.features import ColorDecoder
    from gscc.render.sh import sh_basis

    torch.manual_seed(0)
    net = ColorDecoder(feature_dim=6, view_dim=16, hidden=32, layers=2)
    mlp = ColorMLP.from_arrays({k: v.numpy() for k, v in net.state_dict().items()}, view_sh_degree=3)
    assert (mlp.feature_dim, mlp.view_dim, len(mlp.layers)) == (6, 16, 3)
    rng = np.random.default_rng(0)
    features, dirs = rng.normal(size=(50, 6)), unit(rng, 50)
    with torch.no_grad():
        expected = net(torch.from_numpy(features).float(), sh_basis(3, torch.from_numpy(dirs).float()))
    np.testing.assert_allclose(mlp.colors(features, dirs), expected.numpy(), atol=1e-5)


def test_baked_sh_reproduce_the_decoders_colours(scene):
    baked = scene.baked()
    assert isinstance(baked, SplatSet) and baked.sh_degree == 3 and baked.count == scene.count
    np.testing.assert_array_equal(baked.means, scene.means)
    coeffs = np.concatenate([baked.sh0[:, None], baked.shN], axis=1)
    rng = np.random.default_rng(1)
    errors, spread = [], []
    for d in unit(rng, 20):  # directions the fit never saw
        truth = scene.decoder.colors(scene.features, np.repeat(d[None], scene.count, axis=0))
        fitted = np.einsum("m,nmc->nc", sh_basis_np(3, d[None])[0], coeffs) + 0.5
        errors.append(np.abs(fitted - truth).mean())
        spread.append(np.abs(truth - truth.mean(axis=0)).mean())
    assert np.mean(errors) < 0.1 * np.mean(spread)


def test_sphere_directions_are_unit_and_spread():
    d = sphere_directions(64)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-12)
    assert np.abs(d.mean(axis=0)).max() < 0.02


def test_round_trip_keeps_features_and_decoder_exactly_where_it_promises(scene, gsc):
    encoded = encode_tracked(scene, FORMAT_1_1)
    assert encoded.data == gsc  # deterministic
    assert unpack(gsc).version == (1, 1)
    decoded = decode_scene(gsc)
    assert isinstance(decoded, FeatureSplats)
    source = scene.subset(encoded.source_index)
    assert (decoded.sh_degree, decoded.bake_directions) == (scene.sh_degree, scene.bake_directions)
    for (w0, b0), (w1, b1) in zip(scene.decoder.layers, decoded.decoder.layers):
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_array_equal(b0, b1)
    step = (source.features.max(axis=0) - source.features.min(axis=0)) / 255
    assert np.all(np.abs(decoded.features - source.features) <= step / 2 + 1e-6)
    np.testing.assert_allclose(decoded.means, source.means, rtol=1e-3, atol=1e-3)
    # decode() gives viewers SH splats: the decoded scene, baked
    flat = decode(gsc)
    np.testing.assert_array_equal(flat.shN, decoded.baked().shN)


def test_sh_scenes_are_still_written_as_format_1_0(make_splats):
    assert unpack(encode(make_splats(50, 1), FORMAT_1_1)).version == (1, 0)


def test_info_lists_features_and_the_decoder_weights(gsc):
    summary = summarize(gsc)
    rows = {row["attribute"]: row for row in summary["attributes"]}
    assert summary["format_version"] == "1.1" and summary["scene"]["color"] == "mlp"
    assert {"features", "color_mlp"} <= set(rows) and not {"sh0", "shN"} & set(rows)
    weights = sum(a.nbytes for layer in decode_scene(gsc).decoder.layers for a in layer)
    assert rows["color_mlp"]["bytes"] >= weights
    assert sum(r["bytes"] for r in summary["attributes"]) + summary["overhead"]["bytes"] == len(gsc)


def _edited(gsc: bytes, edit) -> bytes:
    container = unpack(gsc)
    edit(container)
    return pack(container)


def _set_version(c, v):
    c.version = v


BAD = {
    "declared as format 1.0": (lambda c: _set_version(c, (1, 0)), "format 1.1"),
    "unknown colour kind": (lambda c: c.header["scene"].__setitem__("color", "nerf"), "unknown scene colour"),
    "no decoder entry": (lambda c: c.header.pop("color_mlp"), "color_mlp"),
    "decoder weights in a PNG chunk": (lambda c: c.header["color_mlp"].__setitem__("weights", 0), "expected 'weights'"),
    "wrong feature count": (lambda c: c.header["color_mlp"].__setitem__("feature_dim", 7), "features"),
    "wrong layer count": (lambda c: c.header["color_mlp"].__setitem__("layers", 2), "layers"),
    "view degree beyond 3": (lambda c: c.header["color_mlp"].__setitem__("view_sh_degree", 4), "view_sh_degree"),
    "view degree not the weights'": (lambda c: c.header["color_mlp"].__setitem__("view_sh_degree", 3), "features"),
    "too few bake directions": (lambda c: c.header["color_mlp"].__setitem__("bake_directions", 15), "bake_directions"),
    "SH colours as well": (lambda c: c.header["attributes"].__setitem__("sh0", c.header["attributes"]["means"]), "sh0"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_mlp_scenes_are_rejected_with_a_reason(gsc, case):
    edit, message = BAD[case]
    with pytest.raises(FormatError, match=message):
        decode(_edited(gsc, edit))


def test_corrupt_weights_chunk_is_rejected(gsc):
    container = unpack(gsc)
    index = container.header["color_mlp"]["weights"]
    container.chunks[index] = ("weights", container.chunks[index][1][:-9])
    with pytest.raises(FormatError, match="weights"):
        decode(pack(container))


def test_non_finite_weights_are_rejected(scene):
    (w, b), *rest = scene.decoder.layers
    w = w.copy()
    w[0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        ColorMLP(((w, b), *rest), scene.decoder.view_sh_degree)


def test_mlp_files_decode_bake_and_summarize_without_torch(tmp_path):
    vector = Path(__file__).resolve().parents[1] / "conformance" / "vectors" / "features-mlp.gsc"
    out = tmp_path / "baked.ply"
    code = (
        "import sys\n"
        "from gscc.codec.decoder import decode\n"
        "from gscc.info import summarize\n"
        "from gscc.io import write_ply\n"
        f"data = open({str(vector)!r}, 'rb').read()\n"
        "summarize(data)\n"
        f"write_ply(decode(data), {str(out)!r})\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    from gscc.io import load_splats

    splats = load_splats(out)
    assert splats.sh_degree == 3 and splats.count == decode_scene(vector.read_bytes()).count
