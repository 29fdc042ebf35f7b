"""`gscc view` in a real browser: headless Chromium with software WebGL2 (SwiftShader).

The player must draw what gscc's own CPU renderer draws: screenshots from the same camera are
compared by PSNR against the Taichi renderer, for static and dynamic scenes at several times,
for both motion models, a multi-segment scene, MLP colours and the depth mode. The timeline,
the keyboard, the mouse and the URL state are driven through the page's test hook.
"""

from __future__ import annotations

import dataclasses
import math
import threading

import numpy as np
import pytest

from gscc.cameras import Camera
from gscc.cameras.orbit import look_at
from gscc.dynamic import DynamicScene, DynamicSplats, Segment
from gscc.io import write_dynamic_ply, write_ply
from gscc.player.headless import PlayerPage, browser, chromium_path, view_server
from gscc.player.scene_data import PlayerScene, meta_json, pack
from gscc.player.server import PlayerServer
from gscc.synthetic import random_dynamic_splats, random_feature_splats, random_splats

pytest.importorskip("playwright", reason="the browser tests need playwright (requirements-dev.txt)")
pytestmark = pytest.mark.skipif(chromium_path() is None, reason="no Chromium (apt-get install chromium; .ci/run does)")

WIDTH, HEIGHT = 320, 240
# The player must match the CPU renderer: both run the same float32 projection, and the
# player composites in float32 render targets. What differs is summation order, the GPU's
# exp/sqrt and float16 SH coefficients, so a few pixels on the edge of a cut-off (alpha
# 1/255, the radius) differ by a step. Measured on these scenes: 60-64 dB (RGB), 55 dB
# (depth); a picture that merely looks plausible scores below 30.
PSNR_RGB = 45.0
PSNR_DEPTH = 40.0  # colour-mapped: a pixel crossing a 1/256 bin of the map steps its colour


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def view_from(eye) -> Camera:
    """A 60-degree camera at ``eye`` looking at the origin, world -y up on screen."""
    return Camera.from_fov(WIDTH, HEIGHT, math.radians(60.0), look_at(eye, up=(0.0, -1.0, 0.0)))


CAMERA = view_from((3.0, -2.0, -11.0))
# random_splats' axes (about 0.02) are below a pixel here; these are a few pixels wide and
# overlap, so shapes, orientations and the depth order all show in the comparison
LARGER = 2.5


def larger(splats):
    """Splats (static or dynamic) with every axis exp(LARGER) times longer."""
    if isinstance(splats, DynamicSplats):
        return DynamicSplats(larger(splats.static), splats.motion)
    return dataclasses.replace(splats, scales=splats.scales + LARGER)


def cpu_render(splats, camera: Camera, depth: bool = False) -> np.ndarray:
    """gscc's CPU (Taichi) render of static splats as 8-bit RGB, or its depth map."""
    from gscc.eval.render_views import colorize_depth, to_uint8
    from gscc.render import Gaussians, render

    out = render(Gaussians.from_splats(splats, device="cpu"), camera, backend="taichi", background=[0.0, 0.0, 0.0],
                 render_depth=depth)
    if depth:
        return colorize_depth(out.depth[..., 0].numpy(), out.alpha[..., 0].numpy())
    return to_uint8(out.image.numpy())


def cpu_render_features(scene, camera: Camera) -> np.ndarray:
    """gscc's own render of an MLP-coloured scene: features splatted, then the MLP per pixel."""
    import torch

    from gscc.eval.render_views import to_uint8
    from gscc.model.features import FeatureModel

    with torch.no_grad():
        out = FeatureModel.from_scene(scene).render(camera, 0, background=[0.0, 0.0, 0.0], backend="taichi")
    return to_uint8(out.image.numpy())


@pytest.fixture(scope="module")
def chromium():
    with browser() as instance:
        yield instance


@pytest.fixture(scope="module")
def static_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("player") / "static.ply"
    write_ply(larger(random_splats(1500, sh_degree=3, seed=3)), path)
    return path


@pytest.fixture(scope="module")
def dynamic_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("player") / "dynamic.ply"
    write_dynamic_ply(larger(random_dynamic_splats(1500, seed=5, kind="stg", sh_degree=2)), path)
    return path


@pytest.fixture(scope="module")
def static_page(chromium, static_file):
    with view_server(static_file) as url:
        page = PlayerPage(chromium, url, WIDTH, HEIGHT)
        yield page
        page.close()


@pytest.fixture(scope="module")
def dynamic_page(chromium, dynamic_file):
    with view_server(dynamic_file) as url:
        page = PlayerPage(chromium, url, WIDTH, HEIGHT)
        page.call("window.gscc.pause()")
        yield page
        page.close()


def served(chromium, source: PlayerScene):
    """A page for a scene built in memory (no file format holds it yet), served in-process."""
    meta, blob = pack(source)
    server = PlayerServer(meta_json(meta), blob, port=0)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    return server, PlayerPage(chromium, server.url, WIDTH, HEIGHT)


def show(page: PlayerPage, camera: Camera, t: float = 0.0, mode: str = "rgb") -> np.ndarray:
    page.set_camera(camera)
    page.call(f"window.gscc.setTime({t})")
    page.call(f"window.gscc.setMode('{mode}')")
    return page.image()


def test_static_scene_matches_the_cpu_renderer(static_page, static_file):
    from gscc.io import load_splats

    image = show(static_page, CAMERA)
    expected = cpu_render(load_splats(static_file), CAMERA)
    assert image.shape == expected.shape
    assert expected.mean() > 5  # the camera sees the scene
    assert psnr(image, expected) > PSNR_RGB, psnr(image, expected)
    # a second view, from the other side
    other = view_from((-6.0, 4.0, 9.0))
    assert psnr(show(static_page, other), cpu_render(load_splats(static_file), other)) > PSNR_RGB


@pytest.mark.parametrize("t", [0.2, 0.65])
def test_dynamic_scene_matches_the_cpu_renderer_at_each_time(dynamic_page, dynamic_file, t):
    from gscc.io import load_dynamic

    image = show(dynamic_page, CAMERA, t)
    expected = cpu_render(load_dynamic(dynamic_file).at(t), CAMERA)
    assert psnr(image, expected) > PSNR_RGB, psnr(image, expected)
    # and the motion is visible: another time gives another picture
    elsewhere = cpu_render(load_dynamic(dynamic_file).at(1.0 - t), CAMERA)
    assert psnr(image, elsewhere) < PSNR_RGB - 10


def test_depth_mode_matches_gscc_depth_maps(dynamic_page, dynamic_file):
    from gscc.io import load_dynamic

    image = show(dynamic_page, CAMERA, 0.4, mode="depth")
    expected = cpu_render(load_dynamic(dynamic_file).at(0.4), CAMERA, depth=True)
    assert psnr(image, expected) > PSNR_DEPTH, psnr(image, expected)
    colour = show(dynamic_page, CAMERA, 0.4, mode="rgb")
    assert psnr(image, colour) < psnr(image, expected) - 10  # a depth map, not the colour image
    dynamic_page.call("window.gscc.setMode('rgb')")


def test_motion_basis_and_segments_match_the_cpu_renderer(chromium):
    first = larger(random_dynamic_splats(800, seed=11, kind="motion-basis", sh_degree=1))
    second = larger(random_dynamic_splats(900, seed=12, kind="stg", sh_degree=0))
    scene = DynamicScene([Segment(0.0, 0.5, first), Segment(0.5, 1.0, second)], fps=10.0, frame_count=20)
    server, page = served(chromium, PlayerScene(scene, "segments"))
    try:
        for t in (0.3, 0.8):
            image = show(page, CAMERA, t)
            state = page.state()
            assert state["segment"] == (0 if t < 0.5 else 1)
            assert state["frameCount"] == 20
            expected = cpu_render(scene.at(t), CAMERA)
            assert psnr(image, expected) > PSNR_RGB, (t, psnr(image, expected))
    finally:
        page.close()
        server.close()


def test_mlp_colours_are_decoded_per_pixel_as_gscc_renders_them(chromium):
    scene = larger(random_feature_splats(1200, seed=4, feature_dim=8, view_sh_degree=3, hidden=16, layers=2))
    server, page = served(chromium, PlayerScene(scene, "features"))
    try:
        image = show(page, CAMERA)
        expected = cpu_render_features(scene, CAMERA)
        assert psnr(image, expected) > PSNR_RGB, psnr(image, expected)
        # per-pixel decoding is not the baked per-splat colour
        assert psnr(image, cpu_render(scene.baked(), CAMERA)) < PSNR_RGB - 5
    finally:
        page.close()
        server.close()


def test_timeline_play_pause_step_loop_and_slider(dynamic_page):
    page = dynamic_page
    gscc = "window.gscc"
    page.call(f"{gscc}.setLoop(true); {gscc}.setSpeed(1); {gscc}.setFrame(10)")
    assert page.state()["frame"] == 10
    # step moves exactly one frame, both ways, by hook and by keyboard
    page.call(f"{gscc}.step(1)")
    state = page.state()
    assert state["frame"] == 11 and state["t"] == pytest.approx(11 / (state["frameCount"] - 1))  # frame k: k / (n - 1)
    page.page.keyboard.press("ArrowLeft")
    assert page.state()["frame"] == 10
    # play advances, pause stops
    frames_before = page.state()["frames"]
    page.page.keyboard.press("Space")
    # software GL draws a frame or two a second here: wait for them, however slow
    page.page.wait_for_function(f"{gscc}.getState().frame > 10 && {gscc}.frames > {frames_before + 1}", timeout=30_000)
    assert page.state()["playing"]
    page.page.keyboard.press("Space")
    paused = page.state()
    page.page.wait_for_timeout(300)
    assert not page.state()["playing"] and page.state()["t"] == paused["t"]
    # loop wraps at the end; without loop, playing stops on the last frame
    n = paused["frameCount"]
    page.call(f"{gscc}.setSpeed(4); {gscc}.setFrame({n - 2}); {gscc}.play()")
    page.page.wait_for_function(f"{gscc}.getState().frame < {n - 2}", timeout=10_000)
    page.call(f"{gscc}.pause(); {gscc}.setLoop(false); {gscc}.setFrame({n - 3}); {gscc}.play()")
    page.page.wait_for_function(f"!{gscc}.getState().playing", timeout=10_000)
    assert page.state()["frame"] == n - 1
    # the slider seeks
    page.page.locator("#slider").fill("123")
    state = page.state()
    assert state["frame"] == 123 and state["t"] == pytest.approx(123 / (n - 1))
    page.call(f"{gscc}.setLoop(true); {gscc}.setSpeed(1)")


def test_fly_mode_moves_the_camera_forward_with_w(dynamic_page):
    page = dynamic_page
    page.set_camera(CAMERA)
    before = page.settle()["camera"]
    page.page.keyboard.press("f")
    page.page.keyboard.down("w")
    page.page.wait_for_timeout(400)
    page.page.keyboard.up("w")
    page.page.keyboard.press("f")
    after = page.settle()["camera"]
    assert after["R"] == before["R"]  # moved, not turned
    step = np.subtract(after["c"], before["c"])
    forward = np.asarray(before["R"][6:9])
    assert np.linalg.norm(step) > 0.05 and np.dot(step, forward) == pytest.approx(np.linalg.norm(step))


def test_url_keeps_time_camera_and_mode(chromium, dynamic_file, dynamic_page):
    page = dynamic_page
    page.set_camera(CAMERA)
    page.call("window.gscc.setTime(0.37)")
    # orbit and zoom with the mouse: the camera moves
    page.settle()
    before = page.state()["camera"]
    page.page.keyboard.press("h")  # hide the control panel, which covers part of a small window
    page.page.mouse.move(160, 100)
    page.page.mouse.down()
    page.page.mouse.move(200, 120, steps=4)
    page.page.mouse.up()
    page.page.mouse.wheel(0, 200)
    page.page.keyboard.press("m")  # depth mode
    state = page.settle()
    assert state["camera"]["R"] != before["R"] and state["camera"]["c"] != before["c"] and state["mode"] == "depth"
    page.page.keyboard.press("h")
    image = page.image()
    url = page.page.url.split("#")[0]
    again = PlayerPage(chromium, url, WIDTH, HEIGHT, hash=state["hash"])
    try:
        restored = again.settle()
        assert restored["t"] == pytest.approx(0.37) and restored["mode"] == "depth"
        np.testing.assert_allclose(np.r_[restored["camera"]["R"], restored["camera"]["c"]],
                                   np.r_[state["camera"]["R"], state["camera"]["c"]], atol=1e-6)
        assert psnr(again.image(), image) > 40
    finally:
        again.close()
    page.call("window.gscc.setMode('rgb')")


def test_real_stg_scene_plays(chromium):
    """spinach_4 (STG, a man cooking in a kitchen) plays and changes over time, in both
    modes. With GSCC_SCREENSHOTS=DIR the screenshots are kept there (the README's picture:
    GSCC_SCREENSHOTS=docs ./dev test tests/test_player.py -k real)."""
    import os
    from pathlib import Path

    from PIL import Image

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "splatv" / "spinach_4.splatv"
    if not path.exists():
        pytest.skip("no ../shared/data/splatv/spinach_4.splatv")
    keep = os.environ.get("GSCC_SCREENSHOTS")
    with view_server(path) as url:
        page = PlayerPage(chromium, url, 320, 180)
        try:
            shots = {}
            for mode, times in (("rgb", (0.1, 0.5)), ("depth", (0.5,))):
                page.call(f"window.gscc.setMode('{mode}')")
                for t in times:
                    page.call(f"window.gscc.setTime({t})")
                    shots[mode, t] = page.image()
            if keep:  # the README's picture: colour and depth side by side
                Image.fromarray(np.concatenate([shots["rgb", 0.5], shots["depth", 0.5]], axis=1)).save(
                    Path(keep) / "player-spinach.png")
            state = page.state()
            assert state["visible"] > 10_000 and state["splats"] > 60_000
            assert shots["rgb", 0.1].mean() > 40 and psnr(shots["rgb", 0.1], shots["rgb", 0.5]) < 40  # lit; the man moves
            assert psnr(shots["rgb", 0.5], shots["depth", 0.5]) < 20
        finally:
            page.close()
