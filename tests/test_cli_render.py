"""`gscc render` and `gscc eval` from the command line, on the bundled sample at small sizes.

Commands run in-process (the renderer's one-off start-up is paid once); bad input must give
exactly one `error:` line on stderr, a non-zero exit and no output.
"""

from __future__ import annotations

import json
import math
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import PACKAGED_SAMPLE
from gscc import cli
from gscc.cameras import load_cameras
from gscc.cameras.nerf import opencv_to_blender
from gscc.io import load_splats

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SIZE = ["--width", "48", "--height", "36"]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def gscc(monkeypatch, capsys):
    """Run ``gscc.cli.main`` in-process; an escaping exception counts as a traceback."""

    def run(*args) -> Result:
        monkeypatch.setattr(sys, "argv", ["gscc", *map(str, args)])
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setenv("COLUMNS", "120")
        capsys.readouterr()
        code, crash = 0, ""
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            code, crash = 1, traceback.format_exc()
        out, err = capsys.readouterr()
        return Result(code, out, err + crash)

    return run


def assert_one_line_error(result: Result, fragment: str) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.code != 0, result.stdout
    lines = [line for line in ANSI.sub("", result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert fragment in lines[0], lines[0]


def test_render_orbit_with_depth(gscc, tmp_path: Path) -> None:
    out = tmp_path / "renders"
    result = gscc("render", PACKAGED_SAMPLE, "--cameras", "orbit:2", *SIZE, "--depth", "-o", out)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0000_depth.png", "0001.png", "0001_depth.png"]
    for name in ("0000.png", "0001.png", "0000_depth.png"):
        image = np.asarray(Image.open(out / name))
        assert image.shape == (36, 48, 3) and image.dtype == np.uint8
        assert image.max() > 50 and (image[0, 0] == 0).all()  # the plant is drawn, the corner is background
    assert "wrote 4 images" in result.stdout
    # the folder is not empty now: refused without --force, and left as it was
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = gscc("render", PACKAGED_SAMPLE, "--cameras", "orbit:1", *SIZE, "-o", out, "--background", "white")
    assert_one_line_error(again, "--force")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    forced = gscc("render", PACKAGED_SAMPLE, "--cameras", "orbit:1", *SIZE, "-o", out, "--background", "white", "-f")
    assert forced.code == 0, forced.stderr
    assert (np.asarray(Image.open(out / "0000.png"))[0, 0] == 255).all()


def test_eval_a_file_against_itself(gscc) -> None:
    result = gscc("eval", PACKAGED_SAMPLE, PACKAGED_SAMPLE, "--cameras", "orbit:2", *SIZE, "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [v["psnr"] for v in summary["views"]] == [None, None]  # infinite
    assert summary["psnr_infinite"] == ["orbit 0000", "orbit 0001"]
    assert all(v["ssim"] == pytest.approx(1.0) for v in summary["views"])
    assert summary["mean"]["ssim"] == pytest.approx(1.0)
    assert summary["lpips"]["available"] is (summary["lpips"]["reason"] is None)
    table = gscc("eval", PACKAGED_SAMPLE, PACKAGED_SAMPLE, "--cameras", "orbit:1", *SIZE)
    assert table.code == 0, table.stderr
    assert re.search(r"mean of 1\s*\S*\s*inf\s*\S*\s*1\.0000", table.stdout), table.stdout


def test_eval_an_encoded_file(gscc, tmp_path: Path) -> None:
    encoded = tmp_path / "plant.gsc"
    result = gscc("encode", PACKAGED_SAMPLE, "-o", encoded, "--sort", "none", "--preset", "small")
    assert result.code == 0, result.stderr
    result = gscc("eval", encoded, PACKAGED_SAMPLE, "--cameras", "orbit:2", *SIZE, "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    for view in summary["views"]:
        assert view["psnr"] is not None and math.isfinite(view["psnr"]) and view["psnr"] > 25
        assert 0.8 < view["ssim"] < 1.0
    assert summary["mean"]["psnr"] == pytest.approx(np.mean([v["psnr"] for v in summary["views"]]))


def test_eval_against_dataset_images(gscc, tmp_path: Path) -> None:
    """A NeRF-style dataset made of the sample's own renders: eval finds them (nearly) identical."""
    cameras = load_cameras("orbit:2", splats=load_splats(PACKAGED_SAMPLE), width=48, height=36)
    render = gscc("render", PACKAGED_SAMPLE, "--cameras", "orbit:2", *SIZE, "-o", tmp_path / "test")
    assert render.code == 0, render.stderr
    frames = [
        {"file_path": f"./test/{i:04d}", "transform_matrix": opencv_to_blender(c.world_to_camera).tolist()}
        for i, c in enumerate(cameras)
    ]
    fov_x = 2 * math.atan(0.5 * cameras[0].width / cameras[0].fx)
    (tmp_path / "transforms_test.json").write_text(json.dumps({"camera_angle_x": fov_x, "frames": frames}))
    result = gscc("eval", PACKAGED_SAMPLE, "--cameras", tmp_path, "--background", "black", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [v["name"] for v in summary["views"]] == ["test/0000.png", "test/0001.png"]
    for view in summary["views"]:
        assert view["psnr"] > 45 and view["ssim"] > 0.995  # 8-bit rounding only
    # the images have a black background: scored over the default white one they differ
    white = json.loads(gscc("eval", PACKAGED_SAMPLE, "--cameras", tmp_path, "--json").stdout)
    assert white["mean"]["psnr"] < 20


def test_render_and_eval_with_a_colmap_model(gscc, tmp_path: Path) -> None:
    """COLMAP cameras (scene/sparse/0) with their images in scene/images, as COLMAP lays them out."""
    import pycolmap

    cameras = load_cameras("orbit:2,elevation=30", splats=load_splats(PACKAGED_SAMPLE), width=48, height=36)
    (tmp_path / "scene").mkdir()
    render = gscc("render", PACKAGED_SAMPLE, "--cameras", "orbit:2,elevation=30", *SIZE, "-o", tmp_path / "scene" / "images")
    assert render.code == 0, render.stderr
    reconstruction = pycolmap.Reconstruction()
    for index, camera in enumerate(cameras, start=1):
        model = pycolmap.Camera.create_from_model_name(index, "PINHOLE", camera.fx, camera.width, camera.height)
        model.params = [camera.fx, camera.fy, camera.cx, camera.cy]
        reconstruction.add_camera_with_trivial_rig(model)
        image = pycolmap.Image(name=f"{index - 1:04d}.png", camera_id=index, image_id=index)
        reconstruction.add_image_with_trivial_frame(image, pycolmap.Rigid3d(camera.world_to_camera[:3, :4]))
    (tmp_path / "scene" / "sparse" / "0").mkdir(parents=True)
    reconstruction.write_binary(str(tmp_path / "scene" / "sparse" / "0"))
    result = gscc("eval", PACKAGED_SAMPLE, "--cameras", tmp_path / "scene", "--background", "black", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [v["name"] for v in summary["views"]] == ["0000.png", "0001.png"]
    assert all(v["psnr"] > 45 for v in summary["views"])
    again = gscc("render", PACKAGED_SAMPLE, "--cameras", tmp_path / "scene", "--scale", "0.5", "-o", tmp_path / "half")
    assert again.code == 0, again.stderr
    assert Image.open(tmp_path / "half" / "0001.png").size == (24, 18)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["render", "missing.splat", "--cameras", "orbit:2", "-o", "out"], "no such file"),
        (["render", PACKAGED_SAMPLE, "--cameras", "orbit:0", "-o", "out"], "orbit:0"),
        (["render", PACKAGED_SAMPLE, "--cameras", "orbit:x", "-o", "out"], "orbit:x"),
        (["render", PACKAGED_SAMPLE, "--cameras", "garbage.json", "-o", "out"], "not valid JSON"),
        (["render", PACKAGED_SAMPLE, "--cameras", "nothere", "-o", "out"], "no such file or folder"),
        (["render", PACKAGED_SAMPLE, "--cameras", "orbit:2", "-o", "out", "--background", "blue"], "background"),
        (["render", PACKAGED_SAMPLE, "--cameras", "orbit:2", "-o", "out", "--scale", "0"], "scale"),
        (["render", "bad.gsc", "--cameras", "orbit:2", "-o", "out"], "bad.gsc"),
        (["eval", PACKAGED_SAMPLE, "--cameras", "orbit:2"], "no images"),
        (["eval", PACKAGED_SAMPLE, "missing.ply", "--cameras", "orbit:2"], "no such file"),
        (["eval", PACKAGED_SAMPLE, "--cameras", "garbage.json"], "not valid JSON"),
        (["eval", PACKAGED_SAMPLE, "--cameras", "noimages.json"], "no such image"),
    ],
)
def test_bad_input_gives_one_line_and_writes_nothing(gscc, tmp_path: Path, monkeypatch, args, fragment) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.json").write_bytes(b"\x00\x01{{{ not json")
    (tmp_path / "bad.gsc").write_bytes(b"GSC?" + bytes(60))
    frame = {"file_path": "./none/r_0", "transform_matrix": np.eye(4).tolist()}
    (tmp_path / "noimages.json").write_text(json.dumps({"fl_x": 40.0, "w": 48, "h": 36, "frames": [frame]}))
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_one_line_error(gscc(*args), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no "out" folder, no stray files


# ---- dynamic splats ------------------------------------------------------------------------------


@pytest.fixture
def moving_splatv(tmp_path: Path) -> Path:
    from dynamic_scene import moving_splats
    from gscc.io import write_splatv

    path = tmp_path / "moving.splatv"
    write_splatv(moving_splats(), path)
    return path


def test_render_dynamic_splats_at_times_and_as_video(gscc, moving_splatv: Path, tmp_path: Path) -> None:
    from gscc.eval.video import read_mp4

    result = gscc("render", moving_splatv, "-c", "orbit:2", *SIZE, "--time", "0,1", "-o", tmp_path / "out")
    assert result.code == 0, result.stderr
    first, last = (sorted((tmp_path / "out" / t).glob("*.png")) for t in ("t0000", "t0001"))
    assert [p.name for p in first] == [p.name for p in last] == ["0000.png", "0001.png"]
    assert first[0].read_bytes() != last[0].read_bytes()  # the blob moved
    result = gscc("render", moving_splatv, "-c", "orbit:1", *SIZE, "--frames", "5", "--video", tmp_path / "v.mp4")
    assert result.code == 0, result.stderr
    frames = read_mp4(tmp_path / "v.mp4")
    assert len(frames) == 5 and frames[0].shape == (36, 48, 3)


def test_eval_dynamic_splats_against_themselves_at_times(gscc, moving_splatv: Path) -> None:
    result = gscc("eval", moving_splatv, moving_splatv, "-c", "orbit:2", *SIZE, "--frames", "3", "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["views"]) == 6 and report["views"][-1]["name"].endswith("@ t=1")


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--time", "0.5"], "need dynamic splats"),
        (["--video", "x.mp4"], "need dynamic splats"),
    ],
)
def test_time_options_need_dynamic_splats(gscc, tmp_path: Path, args, fragment) -> None:
    assert_one_line_error(gscc("render", PACKAGED_SAMPLE, "-c", "orbit:1", *SIZE, "-o", tmp_path / "o", *args), fragment)


def test_bad_times_are_one_line_errors(gscc, moving_splatv: Path, tmp_path: Path) -> None:
    for value in ("2", "a", ""):
        result = gscc("render", moving_splatv, "-c", "orbit:1", *SIZE, "--time", value, "-o", tmp_path / "o")
        assert_one_line_error(result, "--time takes numbers in [0, 1]")
    assert not (tmp_path / "o").exists()


def test_frames_need_a_dynamic_dataset(gscc, lego, tmp_path: Path) -> None:
    assert_one_line_error(gscc("train", lego, "-o", tmp_path / "run", "--frames", "0:5"), "need a dynamic dataset")
