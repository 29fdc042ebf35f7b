"""JPEG XL lossless planes (format 1.4): grouping, version rules, malformed chunks, auto."""

from __future__ import annotations

import numpy as np
import pytest

from gscc.codec.config import preset
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode
from gscc.codec.jxl import GROUPS, PROBE_EFFORT, JxlCoder, effort_for, encode_image
from gscc.codec.lossless import AUTO_CANDIDATES, CODERS, channel_groups, code_plane
from gscc.container import INTERP_VERSION, JXL_VERSION, pack, unpack
from gscc.errors import FormatError
from gscc.io import load_splats

SAMPLE = load_splats(__import__("gscc.cli", fromlist=["SAMPLE"]).SAMPLE).subset(np.arange(300))
UNSORTED = preset("default").with_overrides(sort="none")


def correlated_plane(channels: int, bits: int, seed: int = 0) -> np.ndarray:
    """Channels that share one smooth image plus a little noise each."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:24, 0:32]
    base = (np.sin(x / 5.0) + np.cos(y / 7.0) + 2) / 4 * ((1 << bits) - 1)
    noise = rng.integers(-2, 3, (24, 32, channels))
    return np.clip(base[:, :, None] + noise, 0, (1 << bits) - 1).astype(np.uint16)


def test_channels_are_cut_into_groups_in_order():
    assert channel_groups(9, 4) == [(0, 4), (4, 8), (8, 9)]
    assert channel_groups(3, 1) == [(0, 1), (1, 2), (2, 3)]
    assert channel_groups(2, 4) == [(0, 2)]


@pytest.mark.parametrize("bits", [5, 8, 12, 16])
def test_the_grouping_smaller_in_the_probe_is_coded_at_the_effort_for_its_depth(bits):
    plane = correlated_plane(3, bits)
    params, chunks = JxlCoder().encode(plane, bits)
    probe = {
        group: sum(len(encode_image(plane[:, :, a:b], bits, PROBE_EFFORT)) for a, b in channel_groups(3, group))
        for group in GROUPS
    }
    assert params["group"] == min(GROUPS, key=probe.get)
    expected = [encode_image(plane[:, :, a:b], bits, effort_for(bits)) for a, b in channel_groups(3, params["group"])]
    assert chunks == expected
    np.testing.assert_array_equal(JxlCoder().decode(params, chunks, plane.shape, bits), plane)


def test_correlated_channels_share_an_image_and_deep_planes_take_the_faster_effort():
    assert JxlCoder().encode(correlated_plane(3, 8), 8)[0] == {"group": 4}
    assert JxlCoder().encode(correlated_plane(1, 8), 8)[0] == {"group": 1}
    assert [effort_for(bits) for bits in (6, 8, 9, 16)] == [5, 5, 3, 3]


def test_files_are_1_4_exactly_when_they_keep_a_jxl_plane():
    jxl = unpack(encode(SAMPLE, UNSORTED.with_overrides(coder="jxl")))
    assert jxl.version == JXL_VERSION
    assert all(entry["coding"]["codec"] == "jxl" for entry in jxl.header["attributes"].values())
    assert unpack(encode(SAMPLE, UNSORTED.with_overrides(coder="ans"))).version == (1, 0)
    automatic = unpack(encode(SAMPLE, UNSORTED))
    kinds = {kind for kind, _ in automatic.chunks}
    # auto may also keep ans-interp planes (format 1.5): the file is the later of the two
    later = [v for kind, v in (("jxl", JXL_VERSION), ("ans-interp", INTERP_VERSION)) if kind in kinds]
    assert automatic.version == max([(1, 0), *later])


def test_auto_keeps_the_smallest_candidate():
    assert "jxl" in AUTO_CANDIDATES
    plane = correlated_plane(4, 8, seed=1)
    sizes = {name: sum(map(len, CODERS[name].encode(plane, 8)[1])) for name in AUTO_CANDIDATES}
    assert code_plane(plane, 8, "auto").size == min(sizes.values())


def _jxl_file():
    return unpack(encode(SAMPLE, UNSORTED.with_overrides(coder="jxl")))


def _first_jxl(container):
    return next(i for i, (kind, _) in enumerate(container.chunks) if kind == "jxl")


def _set_version(container, version):
    container.version = version


def _truncate(container):
    i = _first_jxl(container)
    container.chunks[i] = ("jxl", container.chunks[i][1][: len(container.chunks[i][1]) // 2])


def _garbage(container):
    i = _first_jxl(container)
    container.chunks[i] = ("jxl", b"\xff\x0a" + bytes(range(256)) * 4)


def _group(value):
    def apply(container):
        container.header["attributes"]["scales"]["coding"]["params"]["group"] = value
    return apply


def _wrong_size_image(container):
    i = container.header["attributes"]["opacities"]["coding"]["chunks"][0]
    container.chunks[i] = ("jxl", encode_image(np.zeros((3, 5, 1), np.uint16), 8))


def _sixteen_bit_image(container):
    grid = container.header["grid"]
    i = container.header["attributes"]["opacities"]["coding"]["chunks"][0]
    container.chunks[i] = ("jxl", encode_image(np.full((grid["height"], grid["width"], 1), 300, np.uint16), 16))


def _huge_image(container):
    """A few hundred bytes that declare a 3000 x 3000 image: refused, not decoded."""
    i = container.header["attributes"]["opacities"]["coding"]["chunks"][0]
    container.chunks[i] = ("jxl", encode_image(np.zeros((3000, 3000, 1), np.uint16), 8))


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda c: _set_version(c, (1, 2)), "needs format 1.4"),
        (_truncate, "corrupt JPEG XL chunk"),
        (_garbage, "corrupt JPEG XL chunk"),
        (_group(0), "group"),
        (_group(5), "group"),
        (_group(True), "group"),
        (_group(1), "chunks"),
        (_wrong_size_image, "not a .* image"),
        (_sixteen_bit_image, "with 8-bit samples"),
        (_huge_image, "not a .* image"),
    ],
)
def test_malformed_jxl_planes_are_rejected(damage, message):
    container = _jxl_file()
    damage(container)
    with pytest.raises(FormatError, match=message):
        decode(pack(container))
