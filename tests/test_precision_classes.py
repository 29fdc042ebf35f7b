"""Specification of precision classes (format 1.6): splats renders hardly see coded at a
coarser step (gscc.codec.refinement, gscc.codec.sensitivity, the quality search's step 6)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import fast_config
from test_robustness import gscc_cli  # noqa: F401  (fixture)
from gscc.codec.decoder import decode, decode_scene
from gscc.codec.encoder import encode_tracked
from gscc.codec.quantize import QuantParams, quantize
from gscc.codec.refinement import Classes, ShiftTable, join, split
from gscc.container import REFINE_VERSION, pack, unpack
from gscc.errors import FormatError, HeaderError, PayloadError, VersionError


@st.composite
def refined_planes(draw):
    """A plane whose every value is a multiple of its cell's 2**shift, its classes and table."""
    height, width = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    channels, classes = draw(st.integers(1, 4)), draw(st.integers(2, 5))
    bits = draw(st.integers(2, 16))
    top = min(8, bits - 1)
    rows = draw(st.lists(st.lists(st.integers(0, top), min_size=channels, max_size=channels),
                         min_size=classes, max_size=classes))
    if not any(any(row) for row in rows):
        rows[-1][0] = top
    table = ShiftTable(tuple(tuple(r) for r in rows))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cell_class = rng.integers(0, classes, height * width)
    shift = table.per_cell(cell_class)
    plane = (rng.integers(0, 1 << bits, (height * width, channels)) >> shift) << shift
    return plane.reshape(height, width, channels).astype(np.uint16), cell_class, table, bits


@settings(max_examples=150, deadline=None)
@given(refined_planes())
def test_split_then_join_gives_the_plane_back(case) -> None:
    plane, cell_class, table, bits = case
    coarse, payload = split(plane, cell_class, table)
    assert (coarse.astype(np.int64) < (1 << (bits - table.refined))).all()
    widths = (table.refined[None, :] - table.per_cell(cell_class)).sum()
    assert len(payload) == (widths + 7) // 8  # only the bits the classes keep are stored
    assert np.array_equal(join(coarse, payload, cell_class, table, bits), plane)


def test_split_rejects_a_value_with_bits_below_its_shift() -> None:
    table = ShiftTable(((0,), (2,)))
    with pytest.raises(ValueError, match="below its class"):
        split(np.array([[[5], [6]]], np.uint16), np.array([0, 1]), table)


def test_join_rejects_malformed_refinements() -> None:
    table = ShiftTable(((0,), (2,)))
    coarse, payload = split(np.array([[[5], [4]]], np.uint16), np.array([0, 1]), table)  # 2 + 0 bits
    assert len(payload) == 1
    with pytest.raises(PayloadError, match="expected 1"):
        join(coarse, payload + b"\0", np.array([0, 1]), table, 8)
    with pytest.raises(PayloadError, match="padding bits"):
        join(coarse, bytes([payload[0] | 1]), np.array([0, 1]), table, 8)
    with pytest.raises(PayloadError, match="does not fit"):
        join(np.array([[[64], [0]]], np.uint16), payload, np.array([0, 1]), table, 8)


def test_shift_tables_from_the_header_are_checked() -> None:
    assert ShiftTable.from_header([[0, 0], [1, 2]], 2, 2, 8).refined.tolist() == [1, 2]
    for bad in ([[0, 0], [0, 0]], [[0, 0]], [[0, 0], [1, 8]], [[0, 0], [1, True]], [[0], [1]], "x"):
        with pytest.raises(HeaderError):
            ShiftTable.from_header(bad, 2, 2, 8)


def test_quantize_with_a_shift_takes_the_nearest_multiple_of_the_coarser_step() -> None:
    params = QuantParams(4, (0.0,), (1.0,))
    y = np.array([[0.4], [1.6], [5.0], [6.1], [14.6], [15.0]])
    assert quantize(y, params, np.zeros((6, 1), np.int64)).ravel().tolist() == quantize(y, params).ravel().tolist()
    assert quantize(y, params, np.full((6, 1), 2)).ravel().tolist() == [0, 0, 4, 8, 12, 12]  # 15 -> 12: top
    assert quantize(y, params, np.full((6, 1), 3)).ravel().tolist() == [0, 0, 8, 8, 8, 8]


def classes_for(scene, seed: int = 0) -> Classes:
    rng = np.random.default_rng(seed)
    tables = {
        "means": ShiftTable(tuple((c, c, c) for c in range(4))),
        "quats": ShiftTable(tuple((c, c, c, 0) for c in range(4))),
        "sh0": ShiftTable(tuple((min(c, 2), min(c, 1), 0) for c in range(4))),
    }
    return Classes(rng.integers(0, 4, scene.count), 4, tables)


@pytest.fixture(scope="module")
def scene(small_splats):
    return small_splats.subset(np.arange(600))


def test_a_coarser_class_decodes_with_a_proportionally_larger_error(scene) -> None:
    config = fast_config(position_bits=12)
    classes = classes_for(scene)
    plain, refined = encode_tracked(scene, config), encode_tracked(scene, config, classes=classes)
    assert unpack(plain.data).version < REFINE_VERSION <= unpack(refined.data).version
    assert len(refined.data) < len(plain.data)
    decoded = decode(refined.data)
    source = refined.source_index
    error = np.abs(decoded.means - scene.means[source]).max(axis=1)
    by_class = [error[classes.per_splat[source] == c].mean() for c in range(4)]
    assert all(b > 1.6 * a for a, b in zip(by_class, by_class[1:]))  # each class about twice the last
    unrefined = np.abs(decode(plain.data).opacities - scene.opacities[plain.source_index]).max()
    assert np.abs(decoded.opacities - scene.opacities[source]).max() == pytest.approx(unrefined)


def test_a_file_without_classes_is_unchanged(scene) -> None:
    config = fast_config()
    assert encode_tracked(scene, config).data == encode_tracked(scene, config, classes=None).data


def test_classes_follow_pruning(scene) -> None:
    drop = np.zeros(scene.count, bool)
    drop[::3] = True
    classes = classes_for(scene)
    encoded = encode_tracked(scene, fast_config(opacity_threshold=0.0), drop=drop, classes=classes)
    decoded = decode(encoded.data)
    source = encoded.source_index
    coarse = classes.per_splat[source] == 3
    assert np.abs(decoded.means - scene.means[source])[coarse].mean() > np.abs(decoded.means - scene.means[source])[~coarse].mean()


def edit(data: bytes, change) -> bytes:
    container = unpack(data)
    change(container)
    return pack(container)


def test_the_decoder_rejects_broken_class_headers(scene) -> None:
    data = encode_tracked(scene, fast_config(), classes=classes_for(scene)).data
    decode_scene(data)
    cases = [
        (lambda c: setattr(c, "version", (1, 5)), VersionError),
        (lambda c: c.header["classes"].__setitem__("count", 1), HeaderError),
        (lambda c: c.header["classes"].__setitem__("count", 17), HeaderError),
        (lambda c: c.header["classes"].__setitem__("extra", 0), HeaderError),
        (lambda c: c.header.pop("classes"), HeaderError),
        (lambda c: c.header["attributes"]["means"]["refine"].__setitem__("shifts", [[0, 0, 0]] * 4), HeaderError),
        (lambda c: c.header["attributes"]["means"]["refine"].pop("chunk"), HeaderError),
        (lambda c: c.header["attributes"]["means"]["refine"].__setitem__(
            "chunk", c.header["attributes"]["means"]["coding"]["chunks"][0]), FormatError),
    ]
    for change, error in cases:
        with pytest.raises(error):
            decode_scene(edit(data, change))


def test_the_decoder_rejects_a_class_beyond_the_count(scene) -> None:
    """Three classes in a 2-bit class plane: a cell of class 3 is invalid (P13)."""
    from gscc.codec.lossless import code_plane

    classes = classes_for(scene)
    three = Classes(np.minimum(classes.per_splat, 2), 3, {k: ShiftTable(v.shifts[:3]) for k, v in classes.tables.items()})
    data = encode_tracked(scene, fast_config(coder="ans"), classes=three).data

    def set_class_three(container) -> None:
        grid = container.header["grid"]
        plane = np.full((grid["height"], grid["width"], 1), 3, np.uint16)
        coding = code_plane(plane, 2, "ans")
        index = container.header["classes"]["coding"]["chunks"][0]
        container.chunks[index] = (container.chunks[index][0], coding.chunks[0][1])

    decode_scene(data)
    with pytest.raises(PayloadError, match="class 3"):
        decode_scene(edit(data, set_class_three))


def test_sensitivity_is_near_zero_for_splats_renders_cannot_see(scene) -> None:
    from gscc.codec.sensitivity import sensitivities
    from test_target import with_invisible

    padded = with_invisible(scene, 40)
    s = sensitivities(padded, fast_config(), (64, 48), specs=("orbit:2", "orbit:2,elevation=60"))
    assert set(s) == {"means", "scales", "quats", "opacities", "sh0"}
    seen = s["means"][: scene.count].sum(axis=1)
    hidden = s["means"][scene.count:].sum(axis=1)
    assert np.median(hidden) < 1e-3 * np.median(seen[seen > 0])


def test_the_planner_spends_the_error_it_is_given_on_the_least_sensitive_splats(scene) -> None:
    from gscc.codec.sensitivity import CLASSES, ClassPlanner

    planner = ClassPlanner(scene, fast_config(), (64, 48))
    config = fast_config(position_bits=12)
    _, _, extra = planner.costs(config)
    most = extra[:, -1].sum()  # every splat at the coarsest class
    small, large = planner.plan(config, 0.02 * most), planner.plan(config, 0.3 * most)
    assert 0 < small.per_splat.mean() < large.per_splat.mean() < CLASSES - 1
    for classes, budget in ((small, 0.02 * most), (large, 0.3 * most)):
        spent = extra[np.arange(scene.count), classes.per_splat].sum()
        assert spent <= budget * 1.0001
    weight = extra[:, 1]
    for classes in (small, large):  # the coarsest class holds the least sensitive splats
        finest, coarsest = classes.per_splat.min(), classes.per_splat.max()
        assert weight[classes.per_splat == coarsest].mean() < weight[classes.per_splat == finest].mean()
    capped = planner.plan(config, 0.3 * most, {"sh0": 3.5, "means": 9.0})  # sh0 codes in 3.5 bits: one shift at most
    assert max(max(row) for row in capped.tables["sh0"].shifts) == 1
    assert max(max(row) for row in capped.tables["means"].shifts) == CLASSES - 1


def test_the_search_codes_hidden_splats_coarser_and_records_it(scene) -> None:
    from gscc.codec.target import QualityProbe, encode_for_psnr
    from gscc.info import summarize
    from test_target import with_invisible

    padded = with_invisible(scene, 150)
    probe = QualityProbe(padded, views=2, size=(64, 48))
    with_classes = encode_for_psnr(padded, fast_config(), 35.0, probe=probe, prune=False)
    without = encode_for_psnr(padded, fast_config(), 35.0, probe=probe, prune=False, classes=False)
    assert with_classes.reached and with_classes.psnr >= 35.0
    assert len(with_classes.encoded.data) < len(without.encoded.data)
    assert unpack(with_classes.encoded.data).version == REFINE_VERSION
    assert probe.psnr(decode(with_classes.encoded.data)) == pytest.approx(with_classes.psnr)
    quality = summarize(with_classes.encoded.data)["encoder"]["quality"]
    assert quality["precision_classes"] > 0
    assert "precision_classes" not in summarize(without.encoded.data)["encoder"]["quality"]


def test_info_shows_the_class_plane_and_each_refined_depth(gscc_cli) -> None:
    """`gscc info` on the plant-classes vector: a row for the class plane, the refinement
    bits counted with their attribute, each refined attribute's depths coarsest to finest."""
    from pathlib import Path

    from gscc.info import summarize

    path = Path(__file__).resolve().parents[1] / "conformance" / "vectors" / "plant-classes.gsc"
    data = path.read_bytes()
    rows = {row["attribute"]: row for row in summarize(data)["attributes"]}
    container = unpack(data)
    classes = container.header["classes"]
    assert rows["classes"]["bytes"] == sum(len(container.chunks[i][1]) for i in classes["coding"]["chunks"])
    means = container.header["attributes"]["means"]
    refined = len(container.chunks[means["refine"]["chunk"]][1])
    assert rows["means"]["bytes"] == refined + sum(len(container.chunks[i][1]) for i in means["coding"]["chunks"])
    assert sum(row["bytes"] for row in rows.values()) + summarize(data)["overhead"]["bytes"] == len(data)
    shown = gscc_cli("info", path)
    assert shown.code == 0, shown.stderr
    assert "classes" in shown.stdout and "9-12" in shown.stdout  # 12-bit means, shifted up to 3 bits
