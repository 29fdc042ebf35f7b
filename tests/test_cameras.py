"""Camera loaders: NeRF transforms.json, COLMAP models, orbits, and the camera spec.

Real data: the NeRF-synthetic lego scene in ../shared/data/lego (100 posed 800x800 views,
camera_angle_x 0.6911, cameras on a sphere of radius ~4.03 about the origin, +z up) and
the bundled plant sample for orbits.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import PACKAGED_SAMPLE
from gscc.cameras import Camera, load_cameras, load_views, parse_orbit_spec
from gscc.cameras.nerf import blender_to_opencv, load_transforms, opencv_to_blender
from gscc.cameras.orbit import bounding_sphere, core_sphere, look_at, orbit_azimuths, orbit_cameras
from gscc.errors import InputError
from gscc.io import load_splats

LEGO_FOV_X = 0.6911112070083618


def project(camera: Camera, point) -> tuple[float, float, float]:
    """Pixel (u, v) and camera depth z of a world point."""
    x, y, z = (camera.world_to_camera @ np.append(np.asarray(point, dtype=np.float64), 1.0))[:3]
    return camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy, z


# ---------------------------------------------------------------------------------------------
# NeRF transforms.json
# ---------------------------------------------------------------------------------------------
def test_lego_cameras_count_size_fov(lego: Path) -> None:
    views = load_views(lego / "transforms_train.json")
    assert len(views) == 100
    for view in views:
        cam = view.camera
        assert (cam.width, cam.height) == (800, 800)
        assert cam.fx == pytest.approx(400 / math.tan(LEGO_FOV_X / 2), rel=1e-9)
        assert cam.fy == cam.fx
        assert (cam.cx, cam.cy) == (400.0, 400.0)
        assert view.image_path is not None and view.image_path.is_file()
    assert views[0].camera.name == "train/r_0.png"
    assert views[0].image_path == lego / "train" / "r_0.png"
    # the dataset folder holds only the train split: the folder spec gives all of it, in order
    assert [v.camera.name for v in load_views(lego)] == [v.camera.name for v in views]


def test_lego_camera_centres_on_a_sphere_and_rigid(lego: Path) -> None:
    for camera in load_cameras(lego / "transforms_train.json"):
        assert np.linalg.norm(camera.center) == pytest.approx(4.0311, abs=1e-3)
        rotation = camera.world_to_camera[:3, :3]
        assert np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0, abs=1e-12)


def test_lego_origin_projects_to_image_centre_and_up_is_up(lego: Path) -> None:
    """OpenCV convention: the object at the origin is in front, +z (Blender up) is up in the image."""
    for camera in load_cameras(lego / "transforms_train.json"):
        u, v, z = project(camera, [0, 0, 0])
        assert z == pytest.approx(np.linalg.norm(camera.center), abs=1e-6)  # straight ahead
        assert abs(u - 400) < 0.05 and abs(v - 400) < 0.05
        above = project(camera, [0, 0, 0.5])
        assert above[1] < v - 1  # image rows grow downwards
        assert abs(above[0] - u) < abs(above[1] - v)


def test_lego_image_content_is_where_the_cameras_say(lego: Path) -> None:
    """The lego model (opaque pixels) is centred in each image, as the projection of the origin."""
    for view in load_views(lego / "transforms_train.json")[:3]:
        alpha = np.asarray(Image.open(view.image_path))[..., 3].astype(np.float64)
        rows, cols = np.nonzero(alpha > 128)
        u, v, _ = project(view.camera, [0, 0, 0])
        assert abs(cols.mean() + 0.5 - u) < 80 and abs(rows.mean() + 0.5 - v) < 80


def test_blender_opencv_round_trip() -> None:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    c2w = np.eye(4)
    c2w[:3, :3] = q * np.sign(np.linalg.det(q))
    c2w[:3, 3] = rng.normal(size=3)
    w2c = blender_to_opencv(c2w)
    assert np.allclose(opencv_to_blender(w2c), c2w, atol=1e-12)
    # the Blender camera looks down its -z: a point 2 units in front is at OpenCV depth +2
    ahead = c2w @ np.array([0.0, 0.0, -2.0, 1.0])
    assert np.allclose(w2c @ ahead, [0.0, 0.0, 2.0, 1.0], atol=1e-12)


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_explicit_intrinsics_and_image_size_from_json(tmp_path: Path) -> None:
    frame = {"file_path": "missing/img", "transform_matrix": np.eye(4).tolist(), "fl_y": 90.0}
    data = {"fl_x": 100.0, "cx": 30.5, "cy": 20.25, "w": 64, "h": 48, "frames": [frame]}
    (view,) = load_transforms(write_json(tmp_path / "t.json", data))
    cam = view.camera
    assert (cam.width, cam.height, cam.fx, cam.fy, cam.cx, cam.cy) == (64, 48, 100.0, 90.0, 30.5, 20.25)
    assert view.image_path == tmp_path / "missing" / "img.png"


def test_image_size_read_from_the_image(tmp_path: Path) -> None:
    Image.new("RGB", (40, 30)).save(tmp_path / "a.jpg")
    data = {"camera_angle_x": math.pi / 2, "frames": [{"file_path": "./a", "transform_matrix": np.eye(4).tolist()}]}
    (view,) = load_transforms(write_json(tmp_path / "t.json", data))
    assert (view.camera.width, view.camera.height) == (40, 30)
    assert view.camera.fx == pytest.approx(20.0)
    assert view.image_path == tmp_path / "a.jpg"


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a transforms file"),
        ('{"frames": []}', "empty"),
        ('{"frames": [{"file_path": "a", "transform_matrix": [[1, 0], [0, 1]]}], "w": 4, "h": 4, "fl_x": 1}', "4x4"),
        ('{"frames": [{"transform_matrix": [[2,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}], "w": 4, "h": 4, "fl_x": 1}',
         "rigid"),
        ('{"frames": [{"file_path": "a", "transform_matrix": "x"}], "w": 4, "h": 4, "fl_x": 1}', "matrix"),
        ('{"frames": [{"transform_matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}], "w": 4, "h": 4}', "focal"),
        ('{"frames": [{"file_path": "nothere", "transform_matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}], '
         '"camera_angle_x": 0.5}', "no such image"),
        ('{"frames": [{"transform_matrix": [[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]}], "w": 4, "h": 4, '
         '"camera_angle_x": 4}', "field of view"),
    ],
)
def test_bad_transforms_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "transforms.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_cameras(path)


def test_dataset_folder_prefers_the_test_split(tmp_path: Path) -> None:
    def transforms(count: int) -> dict:
        frames = [{"transform_matrix": np.eye(4).tolist()} for _ in range(count)]
        return {"fl_x": 10.0, "w": 8, "h": 8, "frames": frames}

    write_json(tmp_path / "transforms_train.json", transforms(3))
    write_json(tmp_path / "transforms_val.json", transforms(2))
    assert len(load_cameras(tmp_path)) == 5  # no test split: all of them
    write_json(tmp_path / "transforms_test.json", transforms(4))
    assert len(load_cameras(tmp_path)) == 4
    assert len(load_cameras(tmp_path, every=3)) == 2


# ---------------------------------------------------------------------------------------------
# COLMAP
# ---------------------------------------------------------------------------------------------
def write_colmap_model(folder: Path, cameras: list[Camera], *, text: bool, model: str = "PINHOLE") -> None:
    """A real COLMAP model of these cameras, written by pycolmap."""
    import pycolmap

    reconstruction = pycolmap.Reconstruction()
    for index, camera in enumerate(cameras, start=1):
        colmap_camera = pycolmap.Camera.create_from_model_name(index, model, camera.fx, camera.width, camera.height)
        if model == "PINHOLE":
            colmap_camera.params = [camera.fx, camera.fy, camera.cx, camera.cy]
        elif model == "OPENCV":
            colmap_camera.params = [camera.fx, camera.fy, camera.cx, camera.cy, 0.01, -0.02, 0.001, 0.002]
        reconstruction.add_camera_with_trivial_rig(colmap_camera)
        image = pycolmap.Image(name=f"view_{index:02d}.png", camera_id=index, image_id=index)
        reconstruction.add_image_with_trivial_frame(image, pycolmap.Rigid3d(camera.world_to_camera[:3, :4]))
    folder.mkdir(parents=True)
    (reconstruction.write_text if text else reconstruction.write_binary)(str(folder))


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_colmap_model_round_trip(lego: Path, tmp_path: Path, text: bool) -> None:
    originals = [c.scaled(0.5) for c in load_cameras(lego / "transforms_train.json")[:4]]
    # make the intrinsics distinct per camera, so a mix-up would show
    originals = [
        Camera(c.width, c.height, c.fx + i, c.fy + 2 * i, c.cx - i, c.cy + 0.5 * i, c.world_to_camera, c.name)
        for i, c in enumerate(originals)
    ]
    write_colmap_model(tmp_path / "scene" / "sparse" / "0", originals, text=text)
    for spec in (tmp_path / "scene", tmp_path / "scene" / "sparse" / "0"):
        views = load_views(spec)
        assert [v.camera.name for v in views] == [f"view_{i:02d}.png" for i in range(1, 5)]
        for view, original in zip(views, originals):
            cam = view.camera
            assert (cam.width, cam.height) == (original.width, original.height)
            assert np.allclose([cam.fx, cam.fy, cam.cx, cam.cy], [original.fx, original.fy, original.cx, original.cy],
                               atol=1e-6)
            assert np.allclose(cam.world_to_camera, original.world_to_camera, atol=1e-6)
            assert view.image_path == (tmp_path / "scene" / "images" / cam.name).resolve()


def test_colmap_distortion_models_read_as_pinhole(tmp_path: Path) -> None:
    w2c = look_at(np.array([0.0, 0.0, -3.0]), np.zeros(3), np.array([0.0, -1.0, 0.0]))
    camera = Camera(64, 48, 50.0, 55.0, 31.0, 25.0, w2c)
    write_colmap_model(tmp_path / "opencv", [camera], text=True, model="OPENCV")
    (view,) = load_views(tmp_path / "opencv")
    assert (view.camera.fx, view.camera.fy, view.camera.cx, view.camera.cy) == (50.0, 55.0, 31.0, 25.0)


def test_colmap_unsupported_and_broken_models(tmp_path: Path) -> None:
    w2c = look_at(np.array([0.0, 0.0, -3.0]), np.zeros(3), np.array([0.0, -1.0, 0.0]))
    write_colmap_model(tmp_path / "fisheye", [Camera(64, 48, 50.0, 50.0, 32.0, 24.0, w2c)], text=False,
                       model="OPENCV_FISHEYE")
    with pytest.raises(InputError, match="OPENCV_FISHEYE"):
        load_cameras(tmp_path / "fisheye")
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("cameras.bin", "images.bin", "points3D.bin"):
        (broken / name).write_bytes(b"\x07garbage")
    with pytest.raises(InputError, match="COLMAP"):
        load_cameras(broken)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no transforms"):
        load_cameras(tmp_path / "empty")


# ---------------------------------------------------------------------------------------------
# Orbits and the camera spec
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def plant():
    return load_splats(PACKAGED_SAMPLE)


@pytest.mark.parametrize("spec", ["orbit:6", "orbit:3,elevation=40,up=+z,fov=30", "orbit:5,elevation=-20"])
def test_orbit_looks_at_the_centre_and_frames_all_splats(plant, spec: str) -> None:
    centre, radius = bounding_sphere(plant)
    cameras = load_cameras(spec, splats=plant, width=80, height=60)
    orbit = parse_orbit_spec(spec)
    assert len(cameras) == orbit.count
    distances = [np.linalg.norm(c.center - centre) for c in cameras]
    assert np.allclose(distances, distances[0])
    for camera in cameras:
        assert (camera.width, camera.height) == (80, 60)
        u, v, _ = project(camera, centre)
        assert abs(u - 40) < 1e-6 and abs(v - 30) < 1e-6
        points = np.c_[plant.means, np.ones(plant.count)] @ camera.world_to_camera.T
        assert (points[:, 2] > 0).all()
        us = camera.fx * points[:, 0] / points[:, 2] + camera.cx
        vs = camera.fy * points[:, 1] / points[:, 2] + camera.cy
        assert us.min() >= 0 and us.max() <= 80 and vs.min() >= 0 and vs.max() <= 60
        # and not lost in the middle: the splats fill a good part of the frame
        assert max(us.max() - us.min(), vs.max() - vs.min()) > 0.4 * 60
    # elevation: the cameras sit above (towards up) the centre by sin(elevation) * distance
    up = np.zeros(3)
    axis = "xyz".index(orbit.up[-1])
    up[axis] = -1.0 if orbit.up.startswith("-") else 1.0
    heights = [float((c.center - centre) @ up) for c in cameras]
    assert np.allclose(heights, distances[0] * math.sin(math.radians(orbit.elevation_deg)))


def test_an_arc_spreads_the_cameras_evenly_between_its_ends_centred_on_the_azimuth() -> None:
    assert np.allclose(np.degrees(orbit_azimuths(5, 40.0, 170.0)), [150, 160, 170, 180, 190])
    assert np.allclose(np.degrees(orbit_azimuths(1, 40.0, 170.0)), [170])
    assert np.allclose(np.degrees(orbit_azimuths(4)), [0, 90, 180, 270])  # the full circle as before
    # azimuth 0 is the axis after up's: z for -y up, so a camera at azimuth 0 sits on +z
    camera = orbit_cameras(np.zeros(3), 1.0, 1, width=32, height=32, up="-y", elevation_deg=0, arc_deg=0)[0]
    assert camera.center[2] > 0 and abs(camera.center[0]) < 1e-9
    camera = orbit_cameras(np.zeros(3), 1.0, 1, width=32, height=32, up="-y", elevation_deg=0, arc_deg=0,
                           azimuth_deg=90)[0]
    assert camera.center[0] < 0 and abs(camera.center[2]) < 1e-9  # towards up x z = -x


def test_core_fit_frames_the_scene_not_its_floaters(plant) -> None:
    means = np.concatenate([plant.means, np.full((3, 3), 1e4, dtype=plant.means.dtype)])
    with_floaters = dataclasses.replace(plant.subset(np.r_[np.arange(plant.count), [0, 0, 0]]), means=means)
    centre, radius = core_sphere(with_floaters)
    core_centre, core_radius = core_sphere(plant)
    assert np.allclose(centre, core_centre, atol=0.05 * core_radius) and radius < 1.2 * core_radius
    assert bounding_sphere(with_floaters)[1] > 1000  # the whole-box fit chases the floaters
    cameras = load_cameras("orbit:3,fit=core,arc=60", splats=with_floaters, width=80, height=60)
    assert all(np.linalg.norm(c.center - centre) < 10 * core_radius for c in cameras)


def test_orbit_up_axis_points_up_in_the_image() -> None:
    cameras = orbit_cameras(np.zeros(3), 1.0, 4, width=32, height=32, up="-y", elevation_deg=0)
    for camera in cameras:
        assert project(camera, [0, -0.5, 0])[1] < 16 - 1  # -y is up: above the centre in the image


@pytest.mark.parametrize(
    "spec, message",
    [
        ("orbit:0", "1 to 100000"),
        ("orbit:x", "whole number"),
        ("orbit:", "whole number"),
        ("orbit:3,elevation=95", "elevation"),
        ("orbit:3,fov=abc", "fov"),
        ("orbit:3,up=w", "up axis"),
        ("orbit:3,zoom=2", "expected orbit"),
        ("orbit:3,arc=400", "arc"),
        ("orbit:3,azimuth=nan", "azimuth"),
        ("orbit:3,fit=tight", "fit must be"),
        ("orbit:3,arc=30,arc=40", "each option once"),
    ],
)
def test_bad_orbit_specs(plant, spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_cameras(spec, splats=plant)


def test_spec_errors(plant, tmp_path: Path, lego: Path) -> None:
    with pytest.raises(InputError, match="need a splat set"):
        load_cameras("orbit:3")
    with pytest.raises(InputError, match="no such file"):
        load_cameras(tmp_path / "nothing.json")
    (tmp_path / "cams.txt").write_text("hello")
    with pytest.raises(InputError, match="not a camera file"):
        load_cameras(tmp_path / "cams.txt")
    with pytest.raises(InputError, match="only to orbit"):
        load_cameras(lego, width=100)
    with pytest.raises(InputError, match="scale"):
        load_cameras(lego, scale=0)


def test_scale_and_every(lego: Path, plant) -> None:
    cameras = load_cameras(lego / "transforms_train.json", scale=0.25, every=8)
    assert len(cameras) == 13
    assert all((c.width, c.height, c.cx) == (200, 200, 100.0) for c in cameras)
    assert cameras[1].name == "train/r_8.png"
    orbit = load_cameras("orbit:2", splats=plant, scale=0.5)
    assert (orbit[0].width, orbit[0].height) == (320, 240)
