"""Training datasets (gscc.data): splits, resolution, compositing, scene scale, points, errors.

Real data: the NeRF-synthetic lego scene in ../shared/data/lego (100 posed 800x800 RGBA
views, transforms_train.json only). Small NeRF and COLMAP datasets are built in tmp from a
few lego frames; the COLMAP models are written by pycolmap itself, binary and text.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import LEGO
from gscc.cameras import Camera, load_cameras
from gscc.data import Frame, SceneDataset, detect_kind, load_dataset, random_points
from gscc.errors import InputError

LEGO_FX = 0.5 * 800 / np.tan(0.5 * 0.6911112070083618)


@pytest.fixture(scope="module")
def lego8(lego: Path) -> SceneDataset:
    return load_dataset(lego, downscale=8)


def lego_rgba(lego: Path, index: int) -> np.ndarray:
    """Lego view ``index`` as (800, 800, 4) float64 in [0, 1], read independently of gscc."""
    with Image.open(lego / "train" / f"r_{index}.png") as image:
        return np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0


def composite(rgba: np.ndarray, background) -> np.ndarray:
    alpha = rgba[..., 3:]
    return rgba[..., :3] * alpha + np.asarray(background, dtype=np.float64) * (1.0 - alpha)


def block_mean(pixels: np.ndarray, factor: int) -> np.ndarray:
    h, w, c = pixels.shape
    return pixels.reshape(h // factor, factor, w // factor, factor, c).mean(axis=(1, 3))


# --- lego: the real NeRF-synthetic dataset ----------------------------------------------------


def test_lego_split_every_eighth_view_held_out(lego8: SceneDataset) -> None:
    assert lego8.kind == "nerf"
    assert len(lego8.train) == 87 and len(lego8.test) == 13
    assert [f.name for f in lego8.test] == [f"train/r_{i}.png" for i in range(0, 100, 8)]
    assert [f.name for f in lego8.train] == [f"train/r_{i}.png" for i in range(100) if i % 8 != 0]
    assert all(isinstance(f, Frame) and f.name == f.camera.name for f in lego8.train + lego8.test)


def test_lego_images_and_cameras_at_downscale_8(lego: Path, lego8: SceneDataset) -> None:
    for frame in lego8.train + lego8.test:
        assert frame.image.shape == (100, 100, 3) and frame.image.dtype == torch.float32
        assert float(frame.image.min()) >= 0.0 and float(frame.image.max()) <= 1.0
        cam = frame.camera
        assert (cam.width, cam.height) == (100, 100)
        assert np.allclose([cam.fx, cam.fy, cam.cx, cam.cy], [LEGO_FX / 8, LEGO_FX / 8, 50.0, 50.0], rtol=1e-6)
    # poses are the full-resolution ones
    full = load_cameras(lego / "transforms_train.json")
    assert np.allclose(lego8.test[1].camera.world_to_camera, full[8].world_to_camera, atol=1e-12)

    # pixels: composited over white at full size, then averaged over 8x8 blocks (area filter)
    frame = lego8.test[1]  # r_8
    rgba = lego_rgba(lego, 8)
    expected = block_mean(composite(rgba, (1.0, 1.0, 1.0)), 8)
    assert np.abs(frame.image.numpy() - expected).max() < 1e-5
    empty = block_mean(rgba[..., 3:], 8)[..., 0] == 0.0
    assert empty.sum() > 1000  # most of the frame is background
    assert np.all(frame.image.numpy()[empty] == 1.0)
    assert float(frame.image.numpy()[~empty].mean()) < 0.9  # the object is there


def test_lego_scene_scale_points_and_bounds(lego: Path, lego8: SceneDataset) -> None:
    frames = json.loads((lego / "transforms_train.json").read_text())["frames"]
    centres = np.array([np.array(f["transform_matrix"])[:3, 3] for f in frames])
    assert np.allclose(np.linalg.norm(centres, axis=1), 4.0311, atol=1e-3)  # on a sphere about the origin
    train = np.array([c for i, c in enumerate(centres) if i % 8 != 0])
    expected = 1.1 * np.linalg.norm(train - train.mean(axis=0), axis=1).max()
    assert lego8.scene_scale == pytest.approx(expected, rel=1e-9)
    # the cameras cover the upper hemisphere only, so their mean is off the origin and the
    # largest distance from it is ~4.63, not the sphere's radius 4.03
    assert lego8.scene_scale == pytest.approx(1.1 * 4.625, abs=0.01)

    assert lego8.points is None and lego8.point_colors is None
    assert lego8.background == (1.0, 1.0, 1.0)
    low, high = lego8.bounds
    assert np.allclose(low, -1.5, atol=0.02) and np.allclose(high, 1.5, atol=0.02)

    points = random_points(lego8.bounds, 5000, seed=3)
    assert points.shape == (5000, 3) and points.dtype == np.float32
    assert np.all(points >= low.astype(np.float32)) and np.all(points <= high.astype(np.float32))
    assert np.allclose(points.min(axis=0), low, atol=0.01) and np.allclose(points.max(axis=0), high, atol=0.01)
    assert np.array_equal(points, random_points(lego8.bounds, 5000, seed=3))
    assert not np.array_equal(points, random_points(lego8.bounds, 5000, seed=4))


def test_lego_resolution_max_views_and_background(lego: Path) -> None:
    data = load_dataset(lego, resolution=64, max_views=4, background=(0.0, 0.0, 0.0))
    # evenly spaced through each split: train 1..99 without multiples of 8, test 0, 8, .., 96
    train_names = [f"train/r_{i}.png" for i in range(100) if i % 8 != 0]
    assert [f.name for f in data.train] == [train_names[i] for i in (0, 29, 57, 86)]
    assert [f.name for f in data.test] == ["train/r_0.png", "train/r_32.png", "train/r_64.png", "train/r_96.png"]
    frame = data.test[0]
    assert frame.image.shape == (64, 64, 3)
    assert (frame.camera.width, frame.camera.height) == (64, 64)
    assert frame.camera.fx == pytest.approx(LEGO_FX * 64 / 800, rel=1e-9)
    assert data.background == (0.0, 0.0, 0.0)
    rgba = lego_rgba(lego, 0)
    premultiplied = Image.fromarray((rgba[..., :3] * rgba[..., 3:]).astype(np.float32)[..., 0], mode="F")
    expected_red = np.asarray(premultiplied.resize((64, 64), Image.BOX))  # over black: rgb * a
    assert np.abs(frame.image.numpy()[..., 0] - expected_red).max() < 1e-5

    odd = load_dataset(lego, downscale=3, max_views=1, test_every=0)
    assert odd.test == [] and len(odd.train) == 1
    assert odd.train[0].image.shape == (267, 267, 3)
    assert odd.train[0].camera.fx == pytest.approx(LEGO_FX * 267 / 800, rel=1e-9)


# --- detect_kind ------------------------------------------------------------------------------


def test_detect_kind_rejects_folders_that_are_no_dataset(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="not a training dataset.*sparse/0.*transforms_train.json"):
        detect_kind(empty)
    junk = tmp_path / "junk"
    (junk / "images").mkdir(parents=True)
    (junk / "notes.txt").write_text("hello")
    (junk / "transforms_val.json").write_text("{}")
    (junk / "sparse" / "0").mkdir(parents=True)
    (junk / "sparse" / "0" / "cameras.bin").write_bytes(b"\0" * 16)  # no images.bin: not a model
    with pytest.raises(InputError, match="not a training dataset"):
        detect_kind(junk)
    with pytest.raises(InputError, match="not a training dataset"):
        load_dataset(junk)
    with pytest.raises(InputError, match="no such folder"):
        detect_kind(tmp_path / "missing")
    with pytest.raises(InputError, match="not a folder"):
        detect_kind(junk / "notes.txt")


def test_detect_kind_recognises_both_layouts(tmp_path: Path) -> None:
    nerf = tmp_path / "nerf"
    nerf.mkdir()
    (nerf / "transforms.json").write_text("{}")
    assert detect_kind(nerf) == "nerf"
    scene = tmp_path / "scene"
    write_colmap_scene(scene, colmap_cameras(2), rgb_images(2), np.zeros((0, 3)), np.zeros((0, 3), np.uint8))
    assert detect_kind(scene) == "colmap"
    assert detect_kind(scene / "sparse" / "0") == "colmap"


# --- small NeRF datasets ----------------------------------------------------------------------


def write_nerf_frames(folder: Path, json_name: str, indices: list[int], size: int = 40) -> None:
    """A transforms file over lego views ``indices``, their RGBA images shrunk to ``size``."""
    source = json.loads((LEGO / "transforms_train.json").read_text())
    (folder / "img").mkdir(parents=True, exist_ok=True)
    frames = []
    for i in indices:
        with Image.open(LEGO / "train" / f"r_{i}.png") as image:
            image.convert("RGBA").resize((size, size), Image.BOX).save(folder / "img" / f"v{i}.png")
        frames.append({"file_path": f"./img/v{i}", "transform_matrix": source["frames"][i]["transform_matrix"]})
    data = {"camera_angle_x": source["camera_angle_x"], "frames": frames}
    (folder / json_name).write_text(json.dumps(data))


def test_nerf_dataset_uses_its_own_test_split(lego: Path, tmp_path: Path) -> None:
    write_nerf_frames(tmp_path, "transforms_train.json", [1, 2, 3])
    write_nerf_frames(tmp_path, "transforms_test.json", [5])
    write_nerf_frames(tmp_path, "transforms_val.json", [6])
    data = load_dataset(tmp_path, background=(0.0, 0.0, 0.0))
    assert [f.name for f in data.train] == ["img/v1.png", "img/v2.png", "img/v3.png"]
    assert [f.name for f in data.test] == ["img/v5.png"]
    assert data.train[0].image.shape == (40, 40, 3)
    assert data.train[0].camera.fx == pytest.approx(LEGO_FX * 40 / 800, rel=1e-9)
    with Image.open(tmp_path / "img" / "v5.png") as image:
        rgba = np.asarray(image, dtype=np.float64) / 255.0
    assert np.abs(data.test[0].image.numpy() - composite(rgba, (0.0, 0.0, 0.0))).max() < 1e-6
    assert np.all(data.test[0].image.numpy()[rgba[..., 3] == 0] == 0.0)  # black where transparent
    # test_every applies only where the dataset has no split of its own
    assert [f.name for f in load_dataset(tmp_path, test_every=2).test] == ["img/v5.png"]


def test_nerf_transforms_json_alone_is_held_out(lego: Path, tmp_path: Path) -> None:
    write_nerf_frames(tmp_path, "transforms.json", [10, 11, 12, 13, 14])
    data = load_dataset(tmp_path, test_every=2, downscale=2)
    assert [f.name for f in data.test] == ["img/v10.png", "img/v12.png", "img/v14.png"]
    assert [f.name for f in data.train] == ["img/v11.png", "img/v13.png"]
    assert data.train[0].image.shape == (20, 20, 3)
    with pytest.raises(InputError, match="no training views"):
        load_dataset(tmp_path, test_every=1)


def test_nerf_point_cloud_is_read(lego: Path, tmp_path: Path) -> None:
    from plyfile import PlyData, PlyElement

    write_nerf_frames(tmp_path, "transforms_train.json", [1, 2])
    rng = np.random.default_rng(0)
    xyz = rng.uniform(-1, 1, (300, 3)).astype(np.float32)
    rgb = rng.integers(0, 256, (300, 3), dtype=np.uint8)
    vertex = np.empty(300, dtype=[(k, "f4") for k in "xyz"] + [(k, "u1") for k in ("red", "green", "blue")])
    for i, k in enumerate("xyz"):
        vertex[k] = xyz[:, i]
    for i, k in enumerate(("red", "green", "blue")):
        vertex[k] = rgb[:, i]
    PlyData([PlyElement.describe(vertex, "vertex")]).write(str(tmp_path / "points3d.ply"))
    data = load_dataset(tmp_path)
    assert np.array_equal(data.points, xyz)
    assert np.allclose(data.point_colors, rgb / 255.0, atol=1e-7)
    assert np.allclose(data.bounds[0], np.percentile(xyz, 1, axis=0), atol=1e-6)
    assert np.allclose(data.bounds[1], np.percentile(xyz, 99, axis=0), atol=1e-6)

    (tmp_path / "points3d.ply").write_bytes(b"ply\nnonsense")
    with pytest.raises(InputError, match="points3d.ply: not a readable point cloud"):
        load_dataset(tmp_path)


def test_nerf_bad_images(lego: Path, tmp_path: Path) -> None:
    write_nerf_frames(tmp_path, "transforms_train.json", [1, 2])
    (tmp_path / "img" / "v2.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(InputError, match=r"v2\.png: not a readable image"):
        load_dataset(tmp_path)
    (tmp_path / "img" / "v2.png").unlink()
    with pytest.raises(InputError, match=r"v2\.png: no such image"):
        load_dataset(tmp_path)
    shutil.copy(tmp_path / "img" / "v1.png", tmp_path / "img" / "v2.png")
    data = json.loads((tmp_path / "transforms_train.json").read_text())
    data.update(w=40, h=20)
    (tmp_path / "transforms_train.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="another aspect ratio"):
        load_dataset(tmp_path)


# --- COLMAP datasets built with pycolmap ------------------------------------------------------


def colmap_cameras(count: int, size: int = 48) -> list[Camera]:
    """Lego cameras 1..count at ``size`` pixels, with distinct intrinsics per camera."""
    full = load_cameras(LEGO / "transforms_train.json")[1 : count + 1]
    cameras = []
    for i, c in enumerate(full):
        s = c.scaled(size / c.width)
        cameras.append(Camera(size, size, s.fx + i, s.fy + 2 * i, s.cx - 0.5 * i, s.cy + 0.25 * i,
                              s.world_to_camera, f"view_{i:02d}.png"))
    return cameras


def rgb_images(count: int, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for _ in range(count)]


def write_colmap_scene(folder: Path, cameras: list[Camera], images: list[np.ndarray], xyz: np.ndarray,
                       rgb: np.ndarray, *, text: bool = False, model: str = "PINHOLE") -> None:
    import pycolmap

    reconstruction = pycolmap.Reconstruction()
    for index, camera in enumerate(cameras, start=1):
        colmap_camera = pycolmap.Camera.create_from_model_name(index, model, camera.fx, camera.width, camera.height)
        if model == "PINHOLE":
            colmap_camera.params = [camera.fx, camera.fy, camera.cx, camera.cy]
        elif model == "SIMPLE_RADIAL":
            colmap_camera.params = [camera.fx, camera.cx, camera.cy, 0.01]
        reconstruction.add_camera_with_trivial_rig(colmap_camera)
        image = pycolmap.Image(name=camera.name, camera_id=index, image_id=index)
        reconstruction.add_image_with_trivial_frame(image, pycolmap.Rigid3d(camera.world_to_camera[:3, :4]))
    for position, colour in zip(xyz, rgb):
        reconstruction.add_point3D(np.asarray(position, dtype=np.float64), pycolmap.Track(), colour)
    model_dir = folder / "sparse" / "0"
    model_dir.mkdir(parents=True)
    (reconstruction.write_text if text else reconstruction.write_binary)(str(model_dir))
    (folder / "images").mkdir()
    for camera, pixels in zip(cameras, images):
        Image.fromarray(pixels).save(folder / "images" / camera.name)


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_colmap_scene_round_trip(lego: Path, tmp_path: Path, text: bool) -> None:
    cameras = colmap_cameras(5)
    images = rgb_images(5)
    rng = np.random.default_rng(1)
    xyz = rng.uniform(-1.2, 1.2, (400, 3))
    rgb = rng.integers(0, 256, (400, 3), dtype=np.uint8)
    write_colmap_scene(tmp_path, cameras, images, xyz, rgb, text=text)

    data = load_dataset(tmp_path, test_every=4)
    assert data.kind == "colmap"
    # sorted by name, every 4th (index 0, 4) held out
    assert [f.name for f in data.test] == ["view_00.png", "view_04.png"]
    assert [f.name for f in data.train] == ["view_01.png", "view_02.png", "view_03.png"]
    by_name = {f.name: f for f in data.train + data.test}
    for camera, pixels in zip(cameras, images):
        frame = by_name[camera.name]
        got = frame.camera
        assert (got.width, got.height) == (48, 48)
        assert np.allclose([got.fx, got.fy, got.cx, got.cy], [camera.fx, camera.fy, camera.cx, camera.cy],
                           atol=1e-9)
        assert np.allclose(got.world_to_camera, camera.world_to_camera, atol=1e-6)
        assert np.abs(frame.image.numpy() - pixels / 255.0).max() < 1e-6
    assert data.points.shape == (400, 3) and data.points.dtype == np.float32
    assert np.allclose(data.points, xyz, atol=1e-6)
    assert data.point_colors.dtype == np.float32
    assert np.allclose(data.point_colors, rgb / 255.0, atol=1e-7)
    assert np.allclose(data.bounds[0], np.percentile(xyz, 1, axis=0), atol=1e-5)
    assert np.allclose(data.bounds[1], np.percentile(xyz, 99, axis=0), atol=1e-5)
    train_centres = np.array([cameras[i].center for i in (1, 2, 3)])
    expected = 1.1 * np.linalg.norm(train_centres - train_centres.mean(axis=0), axis=1).max()
    assert data.scene_scale == pytest.approx(expected, rel=1e-6)

    half = load_dataset(tmp_path, downscale=2, test_every=0)
    assert len(half.train) == 5 and half.test == []
    frame, camera = half.train[2], cameras[2]
    assert frame.image.shape == (24, 24, 3)
    assert np.allclose([frame.camera.fx, frame.camera.cx], [camera.fx / 2, camera.cx / 2], atol=1e-9)
    assert np.abs(frame.image.numpy() - block_mean(images[2] / 255.0, 2)).max() < 1e-5


def test_colmap_simple_radial_and_no_points(lego: Path, tmp_path: Path) -> None:
    cameras = colmap_cameras(3)
    cameras = [Camera(c.width, c.height, c.fx, c.fx, c.cx, c.cy, c.world_to_camera, c.name) for c in cameras]
    write_colmap_scene(tmp_path, cameras, rgb_images(3), np.zeros((0, 3)), np.zeros((0, 3), np.uint8),
                       model="SIMPLE_RADIAL")
    data = load_dataset(tmp_path)
    assert data.points is None and data.point_colors is None
    assert [f.name for f in data.test] == ["view_00.png"]
    got = data.test[0].camera
    assert np.allclose([got.fx, got.fy, got.cx, got.cy], [cameras[0].fx, cameras[0].fx, cameras[0].cx,
                                                           cameras[0].cy], atol=1e-9)
    # lego cameras look at the origin from 4.03 away: the object box about it
    low, high = data.bounds
    assert np.allclose(low, -1.5, atol=0.05) and np.allclose(high, 1.5, atol=0.05)


def test_colmap_jpeg_images_are_decoded_at_reduced_scale(lego: Path, tmp_path: Path) -> None:
    cameras = colmap_cameras(2, size=64)
    x, y = np.meshgrid(np.linspace(0, 1, 64), np.linspace(0, 1, 64))
    smooth = (np.stack([x, y, 0.5 * (x + y)], axis=-1) * 255).round().astype(np.uint8)
    write_colmap_scene(tmp_path, cameras, [smooth, smooth], np.zeros((0, 3)), np.zeros((0, 3), np.uint8))
    for camera in cameras:
        (tmp_path / "images" / camera.name).unlink()
        Image.fromarray(smooth).save(tmp_path / "images" / camera.name, format="JPEG", quality=95)
    data = load_dataset(tmp_path, downscale=4, test_every=0)
    image = data.train[0].image.numpy()
    assert image.shape == (16, 16, 3)
    with Image.open(tmp_path / "images" / cameras[0].name) as full:
        expected = block_mean(np.asarray(full.convert("RGB"), dtype=np.float64) / 255.0, 4)
    assert np.abs(image - expected).mean() < 0.01 and np.abs(image - expected).max() < 0.05


def test_colmap_bad_inputs(lego: Path, tmp_path: Path) -> None:
    fisheye = tmp_path / "fisheye"
    write_colmap_scene(fisheye, colmap_cameras(2), rgb_images(2), np.zeros((0, 3)), np.zeros((0, 3), np.uint8),
                       model="OPENCV_FISHEYE")
    with pytest.raises(InputError, match="OPENCV_FISHEYE camera model; supported: .*PINHOLE"):
        load_dataset(fisheye)

    scene = tmp_path / "scene"
    write_colmap_scene(scene, colmap_cameras(3), rgb_images(3), np.zeros((1, 3)), np.zeros((1, 3), np.uint8))
    (scene / "images" / "view_01.png").write_bytes(b"GIF89a garbage")
    with pytest.raises(InputError, match=r"view_01\.png: not a readable image"):
        load_dataset(scene)
    (scene / "images" / "view_01.png").unlink()
    with pytest.raises(InputError, match=r"view_01\.png: no such image"):
        load_dataset(scene)
    shutil.rmtree(scene / "images")
    with pytest.raises(InputError, match="images folder .* does not exist"):
        load_dataset(scene)


def test_bad_options(lego: Path, tmp_path: Path) -> None:
    write_nerf_frames(tmp_path, "transforms.json", [1, 2])
    for kwargs, message in [
        ({"downscale": 0.5}, "no upsampling"),
        ({"downscale": float("nan")}, "downscale must be a number"),
        ({"downscale": 2, "resolution": 20}, "not both"),
        ({"resolution": 0}, "resolution must be a positive"),
        ({"resolution": 41}, "wider than view"),
        ({"test_every": -1}, "test_every"),
        ({"max_views": 0}, "max_views"),
        ({"background": (2.0, 0.0, 0.0)}, "background"),
        ({"background": (1.0, 1.0)}, "background"),
    ]:
        with pytest.raises(InputError, match=message):
            load_dataset(tmp_path, **kwargs)
    with pytest.raises(InputError, match="low <= high"):
        random_points((np.ones(3), np.zeros(3)), 10, seed=0)
    with pytest.raises(InputError, match="count"):
        random_points((np.zeros(3), np.ones(3)), -1, seed=0)
