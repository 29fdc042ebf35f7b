"""Splat file I/O: what gscc reads and writes, and how it rejects bad input.

The rule: a 3DGS `.ply` written by gscc reads back bit for bit; a real `.splat` reads into
sane values; and every malformed, truncated, empty, missing or absurd input raises
``gscc.errors.InputError`` (which the CLI turns into one line) -- never another exception
type, never a large allocation or a hang.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gscc.errors import GsccWarning, InputError
from gscc.io import load_splats, read_splat, write_ply
from gscc.splats import SH_C0, SplatSet, num_sh_rest

ATTRIBUTES = ("means", "scales", "quats", "opacities", "sh0", "shN")
REQUIRED = [
    "x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
    "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3",
]


def ply_bytes(
    properties: list[str] = REQUIRED,
    rows: np.ndarray | None = None,
    fmt: str = "binary_little_endian",
    count: int | None = None,
    header_extra: str = "",
) -> bytes:
    """A float32 vertex-only PLY with the given properties (rows default: one of zeros)."""
    if rows is None:
        rows = np.zeros((1, len(properties)), np.float32)
    rows = np.asarray(rows, np.float32)
    count = len(rows) if count is None else count
    header = f"ply\nformat {fmt} 1.0\nelement vertex {count}\n"
    header += "".join(f"property float {name}\n" for name in properties)
    header += header_extra + "end_header\n"
    if fmt == "ascii":
        body = "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in rows).encode()
    else:
        body = rows.astype("<f4" if fmt == "binary_little_endian" else ">f4").tobytes()
    return header.encode("ascii") + body


def valid_row() -> np.ndarray:
    """One plausible splat in REQUIRED order (unit quaternion, finite values)."""
    row = np.zeros(len(REQUIRED), np.float32)
    row[REQUIRED.index("rot_0")] = 1.0
    return row


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_bit_exact(a: SplatSet, b: SplatSet) -> None:
    for name in ATTRIBUTES:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        assert x.dtype == y.dtype == np.float32, name
        assert np.array_equal(x.view(np.uint32), y.view(np.uint32)), f"{name} differs"


# ---------------------------------------------------------------------------------------------
# PLY round trip
# ---------------------------------------------------------------------------------------------
finite_f32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def splat_sets(draw, sh_degree: int) -> SplatSet:
    n = draw(st.integers(1, 50))
    k = num_sh_rest(sh_degree)

    def block(*shape):
        return draw(arrays(np.float32, shape, elements=finite_f32))

    return SplatSet(
        means=block(n, 3), scales=block(n, 3), quats=block(n, 4),
        opacities=block(n), sh0=block(n, 3), shN=block(n, k, 3),
    )


@pytest.mark.parametrize("sh_degree", [0, 1, 2, 3])
def test_ply_write_then_read_is_bit_exact(sh_degree, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"ply_roundtrip_{sh_degree}")

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(splats=splat_sets(sh_degree))
    def check(splats):
        path = folder / "splats.ply"
        write_ply(splats, path)
        back = load_splats(path)
        assert back.count == splats.count
        assert back.sh_degree == sh_degree
        assert_bit_exact(splats, back)

    check()


def test_ply_written_by_gscc_has_standard_3dgs_layout(make_splats, tmp_path):
    path = tmp_path / "s.ply"
    write_ply(make_splats(count=4, sh_degree=3), path)
    header = path.read_bytes().split(b"end_header\n", 1)[0].decode()
    assert "format binary_little_endian 1.0" in header
    assert "element vertex 4" in header
    names = [line.split()[-1] for line in header.splitlines() if line.startswith("property")]
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    assert names[9:54] == [f"f_rest_{i}" for i in range(45)]
    assert names[54:] == ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]


def test_ply_write_leaves_no_temporary_files(make_splats, tmp_path):
    write_ply(make_splats(count=3, sh_degree=1), tmp_path / "s.ply")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.ply"]


# ---------------------------------------------------------------------------------------------
# .splat reader on real data
# ---------------------------------------------------------------------------------------------
def test_splat_reader_on_real_scene_gives_sane_values(plant_path):
    splats = read_splat(plant_path)
    assert splats.count == plant_path.stat().st_size // 32
    assert splats.sh_degree == 0 and splats.shN.shape == (splats.count, 0, 3)
    assert splats.is_finite()
    norms = np.linalg.norm(splats.quats.astype(np.float64), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    # opacity is the alpha byte / 255 (0 and 255 kept just inside (0, 1)): a finite logit
    alpha = 1.0 / (1.0 + np.exp(-splats.opacities.astype(np.float64)))
    alpha_bytes = np.fromfile(plant_path, dtype=np.uint8).reshape(-1, 32)[:, 27]
    np.testing.assert_array_equal(np.rint(alpha * 255), alpha_bytes)
    assert alpha.min() > 0 and alpha.max() < 1
    # colour bytes 0..255 map to sh0 = (c / 255 - 0.5) / SH_C0
    colour = splats.sh0.astype(np.float64) * SH_C0 + 0.5
    assert colour.min() >= -1e-6 and colour.max() <= 1 + 1e-6
    assert np.all(splats.scales > np.log(1e-12) - 1e-3)


def test_load_splats_reads_real_scene_through_extension_dispatch(plant_path):
    assert load_splats(plant_path).count == plant_path.stat().st_size // 32


def test_splat_then_ply_round_trip_of_real_scene(small_splats, tmp_path):
    write_ply(small_splats, tmp_path / "plant.ply")
    assert_bit_exact(small_splats, load_splats(tmp_path / "plant.ply"))


# ---------------------------------------------------------------------------------------------
# Malformed inputs: InputError, nothing else
# ---------------------------------------------------------------------------------------------
def expect_input_error(path: Path, match: str | None = None) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        load_splats(path)
    message = str(info.value)
    assert "\n" not in message, "error messages must be one line"
    return info.value


def test_missing_file_is_an_input_error(tmp_path):
    expect_input_error(tmp_path / "nope.ply", "no such file")


def test_directory_is_an_input_error(tmp_path):
    (tmp_path / "dir.ply").mkdir()
    expect_input_error(tmp_path / "dir.ply", "not a file")


@pytest.mark.parametrize("name", ["scene.obj", "scene", "scene.gsc", "scene.ply.bak"])
def test_unknown_extension_is_an_input_error(tmp_path, name):
    expect_input_error(write(tmp_path, name, ply_bytes(rows=valid_row()[None])), "unknown splat format")


@pytest.mark.parametrize("name", ["empty.ply", "empty.splat"])
def test_empty_file_is_an_input_error(tmp_path, name):
    expect_input_error(write(tmp_path, name, b""))


def test_not_a_ply_is_an_input_error(tmp_path):
    expect_input_error(write(tmp_path, "x.ply", b"solid cube\nfacet normal 0 0 1\n"), "not a PLY")


def test_ply_without_end_header_is_an_input_error(tmp_path):
    data = ply_bytes().replace(b"end_header\n", b"")
    expect_input_error(write(tmp_path, "x.ply", data), "end_header")


def test_ply_header_cut_right_after_end_header_keyword_is_an_input_error(tmp_path):
    data = ply_bytes().split(b"end_header")[0] + b"end_header"
    expect_input_error(write(tmp_path, "x.ply", data))


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian", "ascii"])
def test_ply_claiming_a_trillion_vertices_fails_fast_without_allocating(tmp_path, fmt):
    path = write(tmp_path, "huge.ply", ply_bytes(rows=valid_row()[None], fmt=fmt, count=10**12))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        expect_input_error(path)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.perf_counter() - start < 2.0
    assert peak < 16 << 20, f"reading a 1-vertex file allocated {peak} bytes"


@pytest.mark.parametrize("keep", [0.0, 0.5, 0.99])
def test_truncated_binary_ply_is_an_input_error(tmp_path, keep):
    data = ply_bytes(rows=np.tile(valid_row(), (10, 1)))
    header_len = data.index(b"end_header\n") + len(b"end_header\n")
    cut = header_len + int((len(data) - header_len) * keep)
    expect_input_error(write(tmp_path, "x.ply", data[:cut]), "truncated")


def test_truncated_ascii_ply_is_an_input_error(tmp_path):
    header, body = ply_bytes(rows=np.tile(valid_row(), (3, 1)), fmt="ascii").split(b"end_header\n")
    data = header + b"end_header\n" + body[: len(body) * 2 // 3]
    expect_input_error(write(tmp_path, "x.ply", data))


def test_ascii_ply_with_non_numeric_value_is_an_input_error(tmp_path):
    data = ply_bytes(rows=valid_row()[None], fmt="ascii")
    header, body = data.split(b"end_header\n")
    expect_input_error(write(tmp_path, "x.ply", header + b"end_header\nabc" + body[3:]))


def test_ply_with_unknown_format_is_an_input_error(tmp_path):
    expect_input_error(write(tmp_path, "x.ply", ply_bytes(rows=valid_row()[None], fmt="binary_middle_endian")))


def test_ply_with_unknown_header_keyword_is_an_input_error(tmp_path):
    data = ply_bytes(rows=valid_row()[None], header_extra="frobnicate 3\n")
    expect_input_error(write(tmp_path, "x.ply", data))


def test_ply_with_non_integer_vertex_count_is_an_input_error(tmp_path):
    data = ply_bytes(rows=valid_row()[None]).replace(b"element vertex 1", b"element vertex 1e3")
    expect_input_error(write(tmp_path, "x.ply", data), "not an integer")


def test_ply_with_negative_vertex_count_is_an_input_error(tmp_path):
    data = ply_bytes(rows=valid_row()[None]).replace(b"element vertex 1", b"element vertex -5")
    expect_input_error(write(tmp_path, "x.ply", data), "negative")


def test_ply_with_unknown_property_type_is_an_input_error(tmp_path):
    data = ply_bytes(rows=valid_row()[None]).replace(b"property float x\n", b"property float128 x\n")
    expect_input_error(write(tmp_path, "x.ply", data))


def test_ply_without_vertex_element_is_an_input_error(tmp_path):
    data = ply_bytes(rows=valid_row()[None]).replace(b"element vertex", b"element face")
    expect_input_error(write(tmp_path, "x.ply", data), "no vertex element")


def test_ply_with_zero_vertices_is_an_input_error(tmp_path):
    expect_input_error(write(tmp_path, "x.ply", ply_bytes(rows=np.zeros((0, len(REQUIRED))))), "no splats")


@pytest.mark.parametrize("missing", ["x", "opacity", "rot_3", "f_dc_1", "scale_2"])
def test_ply_lacking_a_required_property_is_an_input_error(tmp_path, missing):
    props = [p for p in REQUIRED if p != missing]
    rows = np.zeros((2, len(props)), np.float32)
    expect_input_error(write(tmp_path, "x.ply", ply_bytes(props, rows)), missing)


def test_mesh_ply_without_splat_properties_is_an_input_error(tmp_path):
    props = ["x", "y", "z", "nx", "ny", "nz"]
    expect_input_error(write(tmp_path, "mesh.ply", ply_bytes(props, np.zeros((4, 6)))), "not a 3DGS file")


@pytest.mark.parametrize("rest", [1, 4, 10])
def test_ply_with_f_rest_count_not_a_multiple_of_3_is_an_input_error(tmp_path, rest):
    props = REQUIRED + [f"f_rest_{i}" for i in range(rest)]
    expect_input_error(write(tmp_path, "x.ply", ply_bytes(props, np.zeros((2, len(props))))), "multiple of 3")


@pytest.mark.parametrize("rest", [6, 12, 48])
def test_ply_with_f_rest_count_matching_no_sh_degree_is_an_input_error(tmp_path, rest):
    props = REQUIRED + [f"f_rest_{i}" for i in range(rest)]
    expect_input_error(write(tmp_path, "x.ply", ply_bytes(props, np.zeros((2, len(props))))), "SH degree")


def test_ply_with_gap_in_f_rest_numbering_is_an_input_error(tmp_path):
    props = REQUIRED + [f"f_rest_{i}" for i in (0, 1, 2, 3, 4, 5, 6, 7, 9)]
    expect_input_error(write(tmp_path, "x.ply", ply_bytes(props, np.zeros((2, len(props))))), "numbered")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("column", ["x", "opacity", "rot_0", "f_rest_7"])
def test_ply_splats_with_non_finite_values_are_dropped_with_a_count(tmp_path, column, value):
    """The input policy for NaN and infinity, the same for every format: drop, and say how many."""
    props = REQUIRED + [f"f_rest_{i}" for i in range(9)]
    rows = np.tile(np.concatenate([valid_row(), np.zeros(9, np.float32)]), (3, 1))
    rows[1, props.index(column)] = value
    path = write(tmp_path, "x.ply", ply_bytes(props, rows))
    with pytest.warns(GsccWarning) as caught:
        splats = load_splats(path)
    assert splats.count == 2 and splats.is_finite()
    assert [str(w.message) for w in caught] == [f"{path}: dropped 1 of 3 splats with non-finite values"]


def test_ply_without_any_finite_splat_is_an_input_error(tmp_path):
    rows = np.tile(valid_row(), (2, 1))
    rows[:, REQUIRED.index("x")] = np.nan
    expect_input_error(write(tmp_path, "x.ply", ply_bytes(REQUIRED, rows)), "no splat without NaN")


@pytest.mark.parametrize("size", [1, 31, 33, 32 * 5 + 7])
def test_splat_file_size_not_a_multiple_of_32_is_an_input_error(tmp_path, size):
    expect_input_error(write(tmp_path, "x.splat", bytes(size)), "multiple of 32")


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("field", ["pos", "scale"])
def test_splat_file_splats_with_non_finite_values_are_dropped_with_a_count(tmp_path, field, value):
    rows = np.zeros(3, dtype=[("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
    rows["rot"] = (255, 128, 128, 128)
    rows[field][1, 2] = value
    path = write(tmp_path, "x.splat", rows.tobytes())
    with pytest.warns(GsccWarning) as caught:
        splats = load_splats(path)
    assert splats.count == 2 and splats.is_finite()
    assert [str(w.message) for w in caught] == [f"{path}: dropped 1 of 3 splats with non-finite values"]


def test_splat_file_with_all_zero_quaternion_bytes_still_reads_unit_quaternions(tmp_path):
    rows = np.zeros(2, dtype=[("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])
    rows["rot"] = 128  # (q * 128 + 128) == 128: the zero quaternion
    splats = load_splats(write(tmp_path, "x.splat", rows.tobytes()))
    np.testing.assert_array_equal(splats.quats, np.tile([1.0, 0.0, 0.0, 0.0], (2, 1)))
    assert splats.is_finite()
