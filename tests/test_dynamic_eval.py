"""`gscc eval SOURCE -c DYNAMIC_DATASET`: dynamic splats scored on a dynamic dataset's test
cameras at every frame (the trainer's test metric, for any dynamic source and near plane).

The dataset is the tiny moving scene of tests/dynamic_scene.py written in the N3DV layout
(one mp4 per camera, cam00 held out); its true splats must score far better than the same
splats with their motion removed, and the scores must be one per test frame."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from dynamic_scene import moving_splats, write_n3dv
from gscc.dynamic import DynamicSplats
from gscc.io import write_dynamic_ply, write_ply
from test_cli_render import assert_one_line_error, gscc  # noqa: F401  (the fixture)

FRAMES = 6


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dyn-eval")
    write_n3dv(folder / "n3dv", total=FRAMES)
    truth = moving_splats()
    write_dynamic_ply(truth, folder / "truth.ply")
    still = DynamicSplats(truth.static, dataclasses.replace(truth.motion, motion=np.zeros_like(truth.motion.motion)))
    write_dynamic_ply(still, folder / "still.ply")
    write_ply(truth.at(0.5), folder / "static.ply")
    return folder


def scores(gscc, *args) -> dict:  # noqa: F811
    result = gscc("eval", *args, "--json")
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_true_motion_scores_above_frozen_motion_on_every_test_frame(gscc, scene) -> None:  # noqa: F811
    truth = scores(gscc, scene / "truth.ply", "-c", scene / "n3dv", "--near", "0.01")
    still = scores(gscc, scene / "still.ply", "-c", scene / "n3dv", "--near", "0.01")
    names = [v["name"] for v in truth["views"]]
    assert names == [f"cam00/{k:06d}" for k in range(FRAMES)]  # the held-out camera at every frame
    assert truth["mean"]["psnr"] > 30.0  # the images are the truth's renders (through mp4)
    assert truth["mean"]["psnr"] > still["mean"]["psnr"] + 3.0
    # at the first frame the two agree more than at the last (the blob moves away over time)
    first = truth["views"][0]["psnr"] - still["views"][0]["psnr"]
    last = truth["views"][-1]["psnr"] - still["views"][-1]["psnr"]
    assert last > first


def test_dataset_frames_select_views_and_near_plane_changes_the_render(gscc, scene) -> None:  # noqa: F811
    some = scores(gscc, scene / "truth.ply", "-c", scene / "n3dv", "--dataset-frames", "2:4", "--near", "0.01")
    assert [v["name"] for v in some["views"]] == ["cam00/000002", "cam00/000003"]
    far = scores(gscc, scene / "truth.ply", "-c", scene / "n3dv", "--dataset-frames", "2:4", "--near", "100")
    assert far["mean"]["psnr"] < some["mean"]["psnr"] - 10.0  # everything culled: background only


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["static.ply"], "need dynamic splats"),
        (["truth.ply", "--time", "0.5"], "use --dataset-frames"),
        (["truth.ply", "--near", "-1"], "--near must be a positive number"),
        (["truth.ply", "--dataset-frames", "4:99"], "frames 4:99"),
    ],
)
def test_bad_requests_are_one_line_errors(gscc, scene, args, fragment) -> None:  # noqa: F811
    result = gscc("eval", scene / args[0], "-c", scene / "n3dv", *args[1:])
    assert_one_line_error(result, fragment)


def test_near_needs_a_dynamic_dataset(gscc, scene) -> None:  # noqa: F811
    result = gscc("eval", scene / "truth.ply", scene / "truth.ply", "-c", "orbit:2", "--near", "0.5")
    assert_one_line_error(result, "apply when --cameras names a dynamic dataset")
