"""Every conformance vector decodes to exactly the arrays its manifest promises."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from gscc.codec.attributes import attribute_arrays
from gscc.codec.decoder import decode, decode_scene
from gscc.splats import FeatureSplats

ROOT = Path(__file__).resolve().parents[1] / "conformance"
VECTORS = json.loads((ROOT / "manifest.json").read_text())["vectors"]
MANIFEST = [e for e in VECTORS if e["decoded"].get("kind") != "dynamic"]  # static scenes
DYNAMIC = [e for e in VECTORS if e["decoded"].get("kind") == "dynamic"]


def test_manifest_covers_the_codec_paths() -> None:
    names = {entry["name"] for entry in MANIFEST}
    assert {"plant-png", "plant-ans", "sh3-vq-ans", "sh3-scalar-png", "one-splat"} <= names
    degrees = {entry["decoded"]["sh_degree"] for entry in MANIFEST}
    assert degrees == {0, 1, 2, 3}
    assert {entry["format_version"] for entry in MANIFEST} == {"1.0", "1.1", "1.2", "1.4", "1.5", "1.6"}
    assert {entry["format_version"] for entry in DYNAMIC} == {"1.3"}
    assert any(entry["decoded"].get("color") == "mlp" for entry in MANIFEST)


def test_vectors_code_planes_with_jpeg_xl() -> None:
    """Format 1.4: jxl planes of 16, 8 and 6 bits, one and several channels per image, and
    the codebook and 16-bit labels of a VQ attribute."""
    from gscc.container import unpack

    seen = set()
    for entry in (e for e in MANIFEST if e["format_version"] == "1.4"):
        attributes = unpack((ROOT / entry["file"]).read_bytes()).header["attributes"]
        for a in attributes.values():
            if a["codec"] == "scalar" and a["coding"]["codec"] == "jxl":
                seen.add(("bits", a["quant"]["bits"]))
                seen.add(("images", len(a["coding"]["chunks"])))
                seen.add(("group", a["coding"]["params"]["group"], len(a["quant"]["lo"])))
            if a["codec"] == "vq" and a["labels"]["coding"]["codec"] == "jxl":
                seen.add(("vq labels", a["labels"]["bits"] > 8))
    assert {("bits", 16), ("bits", 8), ("bits", 6), ("images", 1), ("images", 3), ("vq labels", True)} <= seen
    assert {("group", 1, 3), ("group", 4, 3), ("group", 4, 4), ("group", 4, 9)} <= seen


def test_vectors_cover_precision_classes() -> None:
    """Format 1.6: 2, 3 and 4 classes (1- and 2-bit class planes, one with an unused class
    value), class planes coded png, ans and the auto coder's choice, refined planes of 8,
    12 and 16 bits, shifts up to the limit of 8, per-channel shift rows, channels that
    no class shifts (smallest3's index), attributes left unrefined, and grids with and
    without padding cells."""
    from gscc.container import unpack

    seen = set()
    for entry in (e for e in MANIFEST if e["format_version"] == "1.6"):
        header = unpack((ROOT / entry["file"]).read_bytes()).header
        seen.add(("classes", header["classes"]["count"]))
        seen.add(("class coding", header["classes"]["coding"]["codec"]))
        seen.add(("padding", header["grid"]["padding"] is not None))
        for a in header["attributes"].values():
            if "refine" not in a:
                seen.add("unrefined")
                continue
            rows = a["refine"]["shifts"]
            seen.add(("bits", a["quant"]["bits"]))
            seen.add(("max shift", max(max(r) for r in rows)))
            seen.add(("per-channel rows", any(len(set(r)) > 1 for r in rows)))
            seen.add(("unshifted channel", any(all(r[c] == 0 for r in rows) for c in range(len(rows[0])))))
    assert {("classes", 2), ("classes", 3), ("classes", 4), ("class coding", "png"), ("class coding", "ans")} <= seen
    assert {("bits", 8), ("bits", 12), ("bits", 16), ("max shift", 8), ("per-channel rows", True)} <= seen
    assert {("unshifted channel", True), "unrefined", ("padding", True), ("padding", False)} <= seen


def test_vectors_code_planes_with_ans_interp() -> None:
    """Format 1.5: ans-interp planes of 16 (escapes with high parts), 12, 8 and 6 bits, of
    one to four channels, a VQ codebook and 9-bit labels, and a one-cell plane (no phase)."""
    from gscc.container import unpack

    seen = set()
    for entry in (e for e in MANIFEST if e["format_version"] == "1.5"):
        container = unpack((ROOT / entry["file"]).read_bytes())
        grid = container.header["grid"]
        seen.add(("cells", grid["height"] * grid["width"] == 1))
        for a in container.header["attributes"].values():
            if a["codec"] == "scalar" and a["coding"]["codec"] == "ans-interp":
                seen.add(("bits", a["quant"]["bits"]))
                seen.add(("channels", len(a["coding"]["chunks"])))
            if a["codec"] == "vq" and a["labels"]["coding"]["codec"] == "ans-interp":
                seen.add(("vq labels", a["labels"]["bits"]))
    assert {("bits", 16), ("bits", 12), ("bits", 8), ("bits", 6), ("vq labels", 9)} <= seen
    assert {("channels", 1), ("channels", 3), ("channels", 4), ("cells", True), ("cells", False)} <= seen


def test_a_vector_codes_attributes_with_learned_tables() -> None:
    """Format 1.2: ans-table planes of 8 and 6 bits next to an empirical ANS plane."""
    from gscc.container import unpack

    learned = [e for e in MANIFEST if e["format_version"] == "1.2"]
    assert learned
    codings = {}
    for entry in learned:
        attributes = unpack((ROOT / entry["file"]).read_bytes()).header["attributes"]
        for a in attributes.values():
            if a["codec"] == "scalar":
                codings.setdefault(a["coding"]["codec"], set()).add(a["quant"]["bits"])
    assert {8, 6} <= codings["ans-table"] and "ans" in codings


def test_a_vector_codes_attributes_with_a_context_network() -> None:
    """Format 1.2: ans-context planes of 8 and 6 bits, predicted from an empirically coded
    means plane by networks with both dense and hashed grid levels."""
    from gscc.codec.context_net import ContextNetwork, is_dense
    from gscc.codec.lossless import CODERS
    from gscc.container import unpack

    bits, dense = set(), set()
    for entry in (e for e in MANIFEST if e["format_version"] == "1.2"):
        container = unpack((ROOT / entry["file"]).read_bytes())
        attributes = container.header["attributes"]
        for a in attributes.values():
            if a["codec"] == "scalar" and a["coding"]["codec"] == "ans-context":
                assert attributes["means"]["coding"]["codec"] in CODERS
                bits.add(a["quant"]["bits"])
                net = ContextNetwork.from_bytes(container.chunk(a["coding"]["chunks"][0], "raw"))
                dense |= {is_dense(r, net.log2_table) for r in net.resolutions}
    assert {8, 6} <= bits and dense == {True, False}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_vector_decodes_bit_exactly(entry: dict) -> None:
    data = (ROOT / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["file_sha256"], "vector file was changed"
    scene = decode_scene(data)
    expected = entry["decoded"]
    assert scene.count == expected["count"]
    assert scene.sh_degree == expected["sh_degree"]
    arrays = attribute_arrays(scene)
    assert set(arrays) == set(expected["arrays"])
    for name, array in arrays.items():
        assert sha256(array.astype("<f4")) == expected["arrays"][name], f"{name} differs from the vector"
    assert isinstance(scene, FeatureSplats) == (expected.get("color") == "mlp")
    if isinstance(scene, FeatureSplats):
        mlp = expected["color_mlp"]
        assert (scene.decoder.view_sh_degree, scene.bake_directions) == (mlp["view_sh_degree"], mlp["bake_directions"])
        weights = scene.decoder.to_arrays()
        assert {name: sha256(a) for name, a in weights.items()} == mlp["weights"]


@pytest.mark.parametrize("entry", [e for e in MANIFEST if "baked" in e], ids=lambda e: e["name"])
def test_mlp_vector_bakes_to_its_reference_sh(entry: dict) -> None:
    """Baking is a float computation, not exact decoding: within the stated tolerance."""
    baked = decode((ROOT / entry["file"]).read_bytes())
    reference = np.load(ROOT / entry["baked"]["file"])
    coeffs = np.concatenate([baked.sh0[:, None, :], baked.shN], axis=1)
    assert coeffs.shape == reference.shape
    np.testing.assert_allclose(coeffs, reference, rtol=0, atol=entry["baked"]["tolerance"])


def test_dynamic_vectors_cover_the_motion_models_colours_segments_and_masks() -> None:
    """Format 1.3: STG and motion-basis motion, SH and MLP colours, several segments, a
    partial motion mask and a segment with no moving splat."""
    decoded = [e["decoded"] for e in DYNAMIC]
    assert {d["motion"]["kind"] for d in decoded} == {"stg", "motion-basis"}
    assert any("color_mlp" in s for d in decoded for s in d["segments"])
    assert max(len(d["segments"]) for d in decoded) >= 3
    moving = [(s["moving"], s["count"]) for d in decoded for s in d["segments"]]
    assert any(0 < m < n for m, n in moving) and any(m == 0 for m, _ in moving)


@pytest.mark.parametrize("entry", DYNAMIC, ids=[e["name"] for e in DYNAMIC])
def test_dynamic_vector_decodes_bit_exactly(entry: dict) -> None:
    from gscc.codec.dynamic_decoder import decode_dynamic

    data = (ROOT / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["file_sha256"], "vector file was changed"
    scene = decode_dynamic(data)
    expected = entry["decoded"]
    assert (scene.count, scene.fps, scene.frame_count) == (expected["count"], expected["fps"], expected["frame_count"])
    assert len(scene.segments) == len(expected["segments"])
    for segment, want in zip(scene.segments, expected["segments"]):
        static = segment.splats.static
        assert (segment.start, segment.end, static.count, static.sh_degree) == (
            want["start"], want["end"], want["count"], expected["sh_degree"])
        assert segment.splats.kind == expected["motion"]["kind"]
        assert {name: sha256(a.astype("<f4")) for name, a in attribute_arrays(static).items()} == want["arrays"]
        assert {name: sha256(a.astype("<f4")) for name, a in segment.splats.motion.arrays().items()} == want["motion"]
        if "color_mlp" in want:
            assert {name: sha256(a) for name, a in static.decoder.to_arrays().items()} == want["color_mlp"]


def sha256(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def test_interlaced_pngs_with_ancillary_chunks_decode_like_plain_ones() -> None:
    """PNG variants a conforming reader must accept (spec/validation.md, P3) change nothing."""
    by_name = {entry["name"]: entry for entry in MANIFEST}
    assert by_name["png-interlaced-ancillary"]["decoded"] == by_name["plant-png"]["decoded"]


def test_vectors_cover_the_paths_the_validation_spec_names() -> None:
    """ans-context with B > 8 (escapes in two parts), a raw VQ codebook, one-word rANS
    streams, the sigmoid clamp, interlaced PNGs with ancillary chunks."""
    names = {entry["name"] for entry in MANIFEST}
    assert {"learned-context-10bit", "vq-raw-codebook", "ans-single-word", "sigmoid-clamp",
            "png-interlaced-ancillary"} <= names
