"""`gscc view` without a browser: what the page loads, the server, --export, bad input, and
that nothing on the view path imports torch."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest

from gscc.dynamic import DynamicScene, Segment
from gscc.io import write_dynamic_ply, write_ply, write_splatv
from gscc.player.scene_data import PlayerScene, load_scene, pack
from gscc.player.server import PlayerServer, web_files
from gscc.synthetic import random_dynamic_splats, random_feature_splats, random_splats

from conftest import fast_config


def gscc(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gscc.cli", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One small file of every kind `gscc view` reads."""
    from gscc.codec.dynamic_config import DynamicEncodeConfig
    from gscc.codec.dynamic_encoder import encode_dynamic
    from gscc.codec.encoder import encode

    folder = tmp_path_factory.mktemp("view")
    out = {
        "ply": folder / "static.ply", "gsc": folder / "static.gsc", "mlp.gsc": folder / "mlp.gsc",
        "stg.ply": folder / "stg.ply", "basis.ply": folder / "basis.ply", "splatv": folder / "scene.splatv",
        "dynamic.gsc": folder / "dynamic.gsc",
    }
    write_ply(random_splats(300, sh_degree=2, seed=1), out["ply"])
    out["gsc"].write_bytes(encode(random_splats(300, sh_degree=1, seed=2), fast_config()))
    out["mlp.gsc"].write_bytes(encode(random_feature_splats(300, seed=3), fast_config()))
    write_dynamic_ply(random_dynamic_splats(300, seed=4, kind="stg"), out["stg.ply"])
    write_dynamic_ply(random_dynamic_splats(300, seed=5, kind="motion-basis"), out["basis.ply"])
    write_splatv(random_dynamic_splats(300, seed=6, kind="stg", sh_degree=0), out["splatv"])
    moving = random_dynamic_splats(300, seed=8, kind="stg")
    two = DynamicScene([Segment(0.0, 0.4, moving.subset(np.arange(120))), Segment(0.4, 1.0, moving.subset(np.arange(120, 300)))])
    config = DynamicEncodeConfig().with_overrides(sort="none", opacity_threshold=0.0)
    out["dynamic.gsc"].write_bytes(encode_dynamic(two, config))
    return out


def unpack(meta: dict, blob: bytes, segment: int, name: str) -> np.ndarray:
    entry = meta["segments"][segment]["arrays"][name]
    dtype = {"f32": "<f4", "f16": "<f2"}[entry["dtype"]]
    return np.frombuffer(blob, dtype=dtype, count=entry["length"] // np.dtype(dtype).itemsize, offset=entry["offset"])


def test_stg_layout_gives_the_positions_and_opacities_of_the_scene_at_any_time():
    """The geometry texels hold what the page's shader and sort worker read (scene_data's
    docstring): evaluating them as the page does gives DynamicSplats.at(t)."""
    splats = random_dynamic_splats(200, seed=7, kind="stg", sh_degree=3)
    meta, blob = pack(PlayerScene(DynamicScene.single(splats), "x"))
    segment = meta["segments"][0]
    assert (segment["motion"], segment["geometry_stride"], segment["color_stride"]) == ("stg", 7, 12)
    g = unpack(meta, blob, 0, "geometry").reshape(200, 28).astype(np.float64)
    for t in (0.0, 0.3, 0.9):
        dt = t - g[:, 11:12]
        means = g[:, 0:3] + g[:, 17:20] * dt + g[:, 20:23] * dt**2 + g[:, 23:26] * dt**3
        opacity = g[:, 3] * np.exp(-((dt[:, 0] * g[:, 16]) ** 2))
        expected = splats.at(t)
        np.testing.assert_allclose(means, expected.means, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(opacity, 1 / (1 + np.exp(-expected.opacities.astype(np.float64))), atol=1e-6)
    sh = unpack(meta, blob, 0, "color").reshape(200, 48).astype(np.float32)
    np.testing.assert_allclose(sh[:, :3], splats.static.sh0, atol=2e-3)
    np.testing.assert_allclose(sh[:, 3:6], splats.static.shN[:, 0], atol=2e-3)


def test_every_input_kind_packs_and_the_view_path_never_imports_torch(files, tmp_path):
    script = (
        "import sys; sys.modules['torch'] = None\n"  # any import of torch now fails
        "from gscc.cli import main; main()\n"
    )
    for kind, path in files.items():
        target = tmp_path / kind
        result = subprocess.run([sys.executable, "-c", script, "view", "--export", str(target), str(path)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (kind, result.stderr)
        meta = json.loads((target / "scene.json").read_text())
        assert (target / "scene.bin").stat().st_size == meta["bytes"]
        assert meta["count"] == 300 and meta["dynamic"] == (kind in ("stg.ply", "basis.ply", "splatv", "dynamic.gsc"))
        assert {p.name for p in target.iterdir()} == {"scene.json", "scene.bin", *(p.lstrip("/") for p in web_files())}
    assert json.loads((tmp_path / "mlp.gsc" / "scene.json").read_text())["segments"][0]["color"] == "mlp"
    assert json.loads((tmp_path / "basis.ply" / "scene.json").read_text())["segments"][0]["motion"] == "motion-basis"
    assert len(json.loads((tmp_path / "dynamic.gsc" / "scene.json").read_text())["segments"]) == 2


def test_export_refuses_a_non_empty_folder_without_force(files, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = gscc("view", "--export", str(tmp_path), str(files["ply"]))
    assert result.returncode == 1 and result.stderr.startswith("error:") and "--force" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]
    assert gscc("view", "--export", str(tmp_path), "--force", str(files["ply"])).returncode == 0
    assert (tmp_path / "keep.txt").read_text() == "mine" and (tmp_path / "index.html").exists()


@pytest.mark.parametrize("name, content", [
    ("bad.gsc", b"GSC\x00 not really"),
    ("bad.splatv", b"\x4b\x67\x00\x00\xff\xff\xff\x00garbage"),
    ("bad.ply", b"ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n"),
    ("bad.splat", b"\x00" * 31),
    ("scene.xyz", b"hello"),
    ("missing.ply", None),
])
def test_bad_input_fails_with_one_line_before_serving(tmp_path, name, content):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = gscc("view", "--no-open", "--port", "0", str(path), timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "http://" not in result.stdout


def test_server_serves_the_page_and_the_scene_only(files):
    meta, blob = pack(load_scene(files["stg.ply"]))
    server = PlayerServer(json.dumps(meta).encode(), blob, port=0)
    assert server.url.startswith("http://127.0.0.1:")
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        def get(path: str):
            with urllib.request.urlopen(server.url + path, timeout=10) as response:
                return response.headers["Content-Type"], response.read()

        kind, page = get("")
        assert kind.startswith("text/html") and b"main.js" in page
        assert get("main.js")[0].startswith("text/javascript")  # module scripts need a JS type
        assert json.loads(get("scene.json")[1])["count"] == 300
        assert get("scene.bin")[1] == blob
        for path in ("../scene_data.py", "%2e%2e/server.py", "nothing.js"):
            with pytest.raises(urllib.error.HTTPError):
                get(path)
    finally:
        server.close()


def test_ctrl_c_stops_the_server_cleanly(files):
    # as from a terminal: Ctrl-C's default action, even when this test run itself was started
    # in the background of a script (whose shell then ignores SIGINT, and the child inherits it)
    process = subprocess.Popen([sys.executable, "-m", "gscc.cli", "view", "--no-open", "--port", "0", str(files["ply"])],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        url = process.stdout.readline().split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "scene.json", timeout=10) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0 and "Traceback" not in err
