"""Reading and writing dynamic splats: `.splatv` (splaTV) and the STG / motion-basis `.ply`."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from gscc.errors import GsccWarning, InputError
from gscc.io import is_dynamic_file, load_dynamic, load_splats, write_dynamic_ply, write_splatv
from gscc.io.splatv import MAGIC, read_splatv_cameras
from gscc.synthetic import random_dynamic_splats

SPLATV = Path(__file__).resolve().parents[2] / "shared" / "data" / "splatv"
TIMES = (0.0, 0.3, 0.8, 1.0)


@pytest.mark.parametrize("kind", ["stg", "motion-basis"])
def test_dynamic_ply_round_trip_is_exact(tmp_path, kind):
    dyn = random_dynamic_splats(40, seed=5, kind=kind, sh_degree=2)
    write_dynamic_ply(dyn, tmp_path / "d.ply")
    assert is_dynamic_file(tmp_path / "d.ply")
    back = load_dynamic(tmp_path / "d.ply")
    assert back.kind == kind
    for t in TIMES:
        a, b = dyn.at(t), back.at(t)
        for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_a_dynamic_ply_reads_as_its_rest_state_in_static_tools(tmp_path):
    dyn = random_dynamic_splats(10, seed=1)
    write_dynamic_ply(dyn, tmp_path / "d.ply")
    assert np.array_equal(load_splats(tmp_path / "d.ply").means, dyn.static.means)


def test_splatv_round_trip_keeps_values_to_float16(tmp_path):
    dyn = random_dynamic_splats(300, seed=2, sh_degree=0)
    write_splatv(dyn, tmp_path / "d.splatv")
    back = load_dynamic(tmp_path / "d.splatv")
    assert back.count == dyn.count
    assert np.array_equal(back.static.means, dyn.static.means)  # float32 positions
    for t in TIMES:
        a, b = dyn.at(t), back.at(t)
        assert np.allclose(a.means, b.means, atol=0.02)
        assert np.allclose(a.quats, b.quats, atol=0.01)
    cameras = read_splatv_cameras(tmp_path / "d.splatv")
    assert cameras and {"position", "rotation", "fx", "fy", "width", "height"} <= set(cameras[0])


def test_splatv_header_size_matches_its_padded_payload(tmp_path):
    write_splatv(random_dynamic_splats(5, seed=3, sh_degree=0), tmp_path / "d.splatv")
    data = (tmp_path / "d.splatv").read_bytes()
    magic, length = struct.unpack_from("<II", data)
    chunk = json.loads(data[8:8 + length])[0]
    assert magic == MAGIC and chunk["size"] == len(data) - 8 - length
    assert chunk["size"] == chunk["texwidth"] * chunk["texheight"] * 16


def test_non_finite_splats_are_dropped_with_one_warning_giving_the_count(tmp_path):
    dyn = random_dynamic_splats(20, seed=4)
    dyn.static.means[2, 1] = np.nan
    dyn.motion.omega[7, 0] = np.inf
    write_dynamic_ply(dyn, tmp_path / "d.ply")
    with pytest.warns(GsccWarning, match="dropped 2 of 20"):
        back = load_dynamic(tmp_path / "d.ply")
    assert back.count == 18


def test_splatv_infinite_temporal_scale_means_always_visible(tmp_path):
    dyn = random_dynamic_splats(3, seed=6, sh_degree=0)
    write_splatv(dyn, tmp_path / "d.splatv")
    data = bytearray((tmp_path / "d.splatv").read_bytes())
    length = struct.unpack_from("<I", data, 4)[0]
    row_1_t_scale = 8 + length + 64 + 15 * 4 + 2  # high half of u32[15] of the second row
    data[row_1_t_scale:row_1_t_scale + 2] = np.array(np.inf, "<f2").tobytes()
    (tmp_path / "d.splatv").write_bytes(bytes(data))
    with pytest.warns(GsccWarning, match="1 splats have an infinite temporal scale"):
        back = load_dynamic(tmp_path / "d.splatv")
    assert back.count == 3
    assert back.motion.temporal_opacity(back.motion.t_center[1] + 1.0)[1] == pytest.approx(1.0)


def _splatv_bytes(header: object, payload: bytes = b"", magic: int = MAGIC) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<II", magic, len(text)) + text + payload


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "too short"),
        (_splatv_bytes([], magic=0x1234), "not a .splatv"),
        (struct.pack("<II", MAGIC, 1000) + b"[]", "exceeds the file"),
        (struct.pack("<II", MAGIC, 3) + b"[{]", "not valid JSON"),
        (_splatv_bytes({"type": "splat"}), "not a list"),
        (_splatv_bytes([{"type": "splat", "size": -1}]), "no valid size"),
        (_splatv_bytes([{"type": "other", "size": 0}]), "no splat chunk"),
        (_splatv_bytes([{"type": "splat", "size": 64}], bytes(64)), "holds no splats"),
        (_splatv_bytes([{"type": "splat", "size": 64}], np.full(16, np.nan, "<f4").tobytes()), "no splat"),
    ],
)
def test_broken_splatv_files_are_clear_errors(tmp_path, data, message):
    path = tmp_path / "bad.splatv"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        load_dynamic(path)


def test_a_static_ply_is_not_a_dynamic_one(tmp_path, make_splats):
    from gscc.io import write_ply

    write_ply(make_splats(5, 0), tmp_path / "s.ply")
    assert not is_dynamic_file(tmp_path / "s.ply")
    with pytest.raises(InputError, match="static 3DGS PLY"):
        load_dynamic(tmp_path / "s.ply")


@pytest.mark.parametrize("name, count", [("spinach_4", 62442), ("coffee10", 11895), ("coffeeshort2", 6674), ("hanabi2", 24000)])
def test_real_splatv_files_load(name, count):
    path = SPLATV / f"{name}.splatv"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    with pytest.warns() if name != "hanabi2" else _no_warning():
        dyn = load_dynamic(path)
    assert dyn.count == count and dyn.kind == "stg" and dyn.motion.degree == 3
    for t in (0.0, 0.5, 1.0):
        frame = dyn.at(t)
        assert frame.is_finite()


class _no_warning:
    def __enter__(self):
        import warnings

        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("error", GsccWarning)

    def __exit__(self, *exc):
        return self._catch.__exit__(*exc)


def test_splatv_header_cameras_are_a_camera_spec(tmp_path):
    from gscc.cameras import load_views
    from gscc.cameras.orbit import look_at

    w2c = look_at((0.0, -3.0, 1.0), (0.0, 0.0, 0.0))
    c2w = np.linalg.inv(w2c)
    entry = {"id": 0, "img_name": "a", "width": 64, "height": 48, "fx": 50.0, "fy": 51.0,
             "position": c2w[:3, 3].tolist(), "rotation": c2w[:3, :3].tolist()}
    write_splatv(random_dynamic_splats(5, seed=1, sh_degree=0), tmp_path / "d.splatv", cameras=[entry, entry])
    views = load_views(tmp_path / "d.splatv", scale=0.5)
    assert len(views) == 2
    camera = views[0].camera
    assert (camera.width, camera.height, camera.fx, camera.cx) == (32, 24, 25.0, 16.0)
    assert np.allclose(camera.world_to_camera, w2c, atol=1e-9)


def test_a_malformed_splatv_camera_is_a_clear_error(tmp_path):
    from gscc.cameras import load_views

    write_splatv(random_dynamic_splats(5, seed=1, sh_degree=0), tmp_path / "d.splatv",
                 cameras=[{"width": 64, "height": 48, "fx": 50.0, "fy": 50.0, "position": [0, 0], "rotation": []}])
    with pytest.raises(InputError, match="not a camera"):
        load_views(tmp_path / "d.splatv")
