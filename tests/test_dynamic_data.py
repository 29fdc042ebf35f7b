"""Dynamic datasets: Panoptic meta files, N3DV videos, D-NeRF times, lazy frames, initial points.

Small scenes are made here: a Panoptic-layout folder of ray-cast textured patches (a static
floor and wall, a foreground patch that moves), an N3DV-layout folder of splats rendered with
gscc's reference renderer and encoded as MP4 with PyAV. The real D-NeRF mutant is read with
tiny settings where the shared data is present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from gscc.cameras.camera import Camera
from gscc.data.dynamic import frame_time, is_dynamic_dataset, load_dynamic_dataset, parse_frames
from gscc.data.frame_store import FrameStore
from gscc.errors import InputError

MUTANT = Path(__file__).resolve().parents[2] / "shared" / "data" / "dynamic" / "dnerf-mutant"
BASKETBALL = Path(__file__).resolve().parents[2] / "shared" / "data" / "dynamic" / "panoptic-basketball"


def look_at(center, target, width, height, focal, name="") -> Camera:
    """An OpenCV camera at ``center`` looking at ``target`` with world +z up."""
    center, target = np.asarray(center, float), np.asarray(target, float)
    forward = target - center
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    w2c = np.eye(4)
    w2c[:3, :3] = rotation
    w2c[:3, 3] = -rotation @ center
    return Camera(width, height, focal, focal, width / 2.0, height / 2.0, w2c, name)


def ring_cameras(count, width=200, height=150, radius=5.0, spread=100.0) -> list[Camera]:
    angles = np.radians(np.linspace(-spread / 2, spread / 2, count))
    return [
        look_at([radius * np.cos(a), radius * np.sin(a), 1.8], [0.0, 0.0, 0.5], width, height, 0.8 * width, f"c{i}")
        for i, a in enumerate(angles)
    ]


# --- a textured patch scene, ray cast (for Panoptic layouts and triangulation) ---------------


@dataclass
class Patch:
    origin: np.ndarray  # a corner
    u: np.ndarray  # edge vectors spanning the rectangle
    v: np.ndarray
    texture: np.ndarray  # (T, T) grey values in [0, 1]
    foreground: bool = False


def texture(seed: int, size: int = 48) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).random((size, size))
    smooth = gaussian_filter(noise, 1.0)
    return (smooth - smooth.min()) / (smooth.max() - smooth.min())


def patches(time: float) -> list[Patch]:
    """A floor and a wall (static) and a foreground patch that moves along y with time."""
    floor = Patch(np.array([-2.0, -2.0, 0.0]), np.array([4.0, 0, 0]), np.array([0, 4.0, 0]), texture(1))
    wall = Patch(np.array([-2.0, -2.0, 0.0]), np.array([0, 4.0, 0]), np.array([0, 0, 2.0]), texture(2))
    y = -0.6 + 0.4 * time
    mover = Patch(np.array([0.5, y, 0.3]), np.array([0, 0.9, 0]), np.array([0, 0, 0.9]), texture(3), True)
    return [floor, wall, mover]


def ray_cast(camera: Camera, scene: list[Patch]) -> tuple[np.ndarray, np.ndarray]:
    """(RGB float32 (H, W, 3), foreground mask (H, W)) of the patches seen by ``camera``."""
    from scipy.ndimage import map_coordinates

    h, w = camera.height, camera.width
    jj, ii = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    dirs_cam = np.stack([(jj - camera.cx) / camera.fx, (ii - camera.cy) / camera.fy, np.ones_like(jj)], -1)
    c2w = camera.camera_to_world
    dirs = dirs_cam @ c2w[:3, :3].T
    origin = c2w[:3, 3]
    depth = np.full((h, w), np.inf)
    grey = np.zeros((h, w))
    fg = np.zeros((h, w), bool)
    for patch in scene:
        normal = np.cross(patch.u, patch.v)
        denom = dirs @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((patch.origin - origin) @ normal) / denom
        hit = origin + t[..., None] * dirs - patch.origin
        a = hit @ patch.u / (patch.u @ patch.u)
        b = hit @ patch.v / (patch.v @ patch.v)
        ok = (t > 0) & (t < depth) & (a >= 0) & (a <= 1) & (b >= 0) & (b <= 1)
        size = patch.texture.shape[0] - 1
        values = map_coordinates(patch.texture, [a[ok] * size, b[ok] * size], order=1)
        depth[ok], grey[ok], fg[ok] = t[ok], values, patch.foreground
    tint = np.where(fg[..., None], [1.0, 0.7, 0.5], [0.6, 0.8, 1.0])
    return (grey[..., None] * tint).astype(np.float32), fg


def write_panoptic(folder: Path, cameras: list[Camera], test_ids: tuple[int, ...], frame_count: int) -> Path:
    """A Dynamic3DGaussians-layout scene of the patch scene: ims/, seg/, train/test meta files."""
    metas = {"train": {"fn": [], "cam_id": [], "k": [], "w2c": []}, "test": {"fn": [], "cam_id": [], "k": [], "w2c": []}}
    for t in range(frame_count):
        scene = patches(frame_time(t, (0, frame_count)))
        for meta in metas.values():
            for key in meta:
                meta[key].append([])
        for cam_id, camera in enumerate(cameras):
            rgb, fg = ray_cast(camera, scene)
            fn = f"{cam_id}/{t:06d}.jpg"
            (folder / "ims" / str(cam_id)).mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.rint(rgb * 255).astype(np.uint8)).save(folder / "ims" / fn, quality=95)
            split = "test" if cam_id in test_ids else "train"
            if split == "train":
                (folder / "seg" / str(cam_id)).mkdir(parents=True, exist_ok=True)
                Image.fromarray(fg).save(folder / "seg" / f"{cam_id}/{t:06d}.png")
            meta = metas[split]
            meta["fn"][t].append(fn)
            meta["cam_id"][t].append(cam_id)
            meta["k"][t].append(camera.K.tolist())
            meta["w2c"][t].append(camera.world_to_camera.tolist())
    for split, meta in metas.items():
        if not meta["fn"][0]:
            continue  # a split without cameras has no meta file
        (folder / f"{split}_meta.json").write_text(json.dumps({"w": cameras[0].width, "h": cameras[0].height, **meta}))
    return folder


@pytest.fixture(scope="module")
def tiny_panoptic(tmp_path_factory) -> Path:
    """4 cameras (camera 0 the test view) x 3 frames at 40x30."""
    folder = tmp_path_factory.mktemp("panoptic")
    return write_panoptic(folder, ring_cameras(4, 40, 30), (0,), 3)


def rewrite_meta(src: Path, dst: Path, edit) -> Path:
    """A copy of the tiny scene's folder links with ``edit(meta)`` applied to train_meta.json."""
    dst.mkdir()
    for name in ("ims", "seg"):
        (dst / name).symlink_to(src / name)
    (dst / "test_meta.json").write_text((src / "test_meta.json").read_text())
    meta = json.loads((src / "train_meta.json").read_text())
    edit(meta)
    (dst / "train_meta.json").write_text(json.dumps(meta))
    return dst


# --- Panoptic ---------------------------------------------------------------------------------


def test_panoptic_views_times_and_cameras(tiny_panoptic: Path) -> None:
    data = load_dynamic_dataset(tiny_panoptic, init="none")
    assert is_dynamic_dataset(tiny_panoptic) and data.kind == "panoptic"
    assert data.frames == (0, 3) and data.frame_count == 3 and data.fps == 30.0
    assert len(data.train) == 3 * 3 and len(data.test) == 3
    assert [f.name for f in data.test] == ["cam00/000000", "cam00/000001", "cam00/000002"]
    assert [f.time for f in data.test] == [0.0, 0.5, 1.0]
    assert data.near == 0.5 and data.background == (0.0, 0.0, 0.0) and data.points is None
    expected = ring_cameras(4, 40, 30)
    for frame in data.train:
        cam_id = int(frame.camera_id[3:])
        np.testing.assert_allclose(frame.camera.world_to_camera, expected[cam_id].world_to_camera, atol=1e-9)
        assert frame.camera.fx == pytest.approx(expected[cam_id].fx)
    image, mask = data.train[4].image(), data.train[4].mask()
    assert image.shape == (30, 40, 3) and image.dtype == torch.float32 and 0 <= image.min() <= image.max() <= 1
    assert mask.shape == (30, 40) and mask.dtype == torch.bool and mask.any() and not mask.all()
    assert data.test[0].mask() is None  # no seg/ for test cameras


def test_panoptic_frame_range_and_resolution(tiny_panoptic: Path) -> None:
    data = load_dynamic_dataset(tiny_panoptic, frames=(1, 3), resolution=20, init="none")
    assert data.frames == (1, 3)
    assert sorted({f.frame for f in data.train}) == [1, 2]
    assert sorted({f.time for f in data.train}) == [0.0, 1.0]
    assert data.train[0].camera.width == 20 and data.train[0].image().shape == (15, 20, 3)
    assert data.train[0].mask().shape == (15, 20)
    single = load_dynamic_dataset(tiny_panoptic, frames=(2, None), init="none")
    assert single.frames == (2, 3) and {f.time for f in single.train + single.test} == {0.0}
    kept = load_dynamic_dataset(tiny_panoptic, max_views=2, init="none")
    assert len({f.camera_id for f in kept.train}) == 2


@pytest.mark.parametrize("frames", [(2, 1), (0, 4), (-1, 2), (1, 1)])
def test_bad_frame_ranges_are_one_line_errors(tiny_panoptic: Path, frames) -> None:
    with pytest.raises(InputError, match="frames") as info:
        load_dynamic_dataset(tiny_panoptic, frames=frames, init="none")
    assert "\n" not in str(info.value)


@given(start=st.integers(0, 1000), count=st.integers(1, 400))
def test_frame_times_span_zero_to_one(start: int, count: int) -> None:
    times = [frame_time(f, (start, start + count)) for f in range(start, start + count)]
    assert times[0] == 0.0 and times[-1] == (1.0 if count > 1 else 0.0)
    assert all(a < b for a, b in zip(times, times[1:])) and all(0.0 <= t <= 1.0 for t in times)


def test_parse_frames() -> None:
    assert parse_frames("0:50") == (0, 50)
    assert parse_frames("75") == (75, 76)
    assert parse_frames(":10") == (0, 10) and parse_frames("5:") == (5, None)
    with pytest.raises(InputError):
        parse_frames("a:b")


def _drop(key):
    return lambda meta: meta.pop(key)


def _set(key, value):
    return lambda meta: meta.__setitem__(key, value)


def _first_frame(key, value):
    return lambda meta: meta[key][0].__setitem__(0, value)


@pytest.mark.parametrize(
    "edit, message",
    [
        (_drop("w2c"), "missing 'w2c'"),
        (_drop("h"), "missing 'h'"),
        (_set("w", -3), "'w' must be a whole number"),
        (lambda m: m["k"].pop(), "'k' has 2 frames but 'fn' has 3"),
        (lambda m: m["cam_id"][1].pop(), "camera lists differ in length"),
        (_first_frame("k", [[1.0, 0.0], [0.0, 1.0]]), "shape \\(2, 2\\), expected 3x3"),
        (_first_frame("w2c", [[2.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "not a rigid transform"),
        (_first_frame("w2c", "identity"), "not a 4x4 matrix"),
        (_first_frame("fn", "../../etc/passwd"), "not a relative image path"),
        (_first_frame("fn", "1/999999.jpg"), "999999.jpg: no such file"),
        (_set("fn", {}), "'fn' is not a non-empty list"),
    ],
)
def test_broken_meta_files_are_one_line_errors(tiny_panoptic: Path, tmp_path: Path, edit, message) -> None:
    folder = rewrite_meta(tiny_panoptic, tmp_path / "scene", edit)
    with pytest.raises(InputError, match=message) as info:
        load_dynamic_dataset(folder, init="none")
    assert "\n" not in str(info.value)


def test_meta_files_with_different_frame_counts(tiny_panoptic: Path, tmp_path: Path) -> None:
    def two_frames(meta):
        for key in ("fn", "cam_id", "k", "w2c"):
            meta[key].pop()

    folder = rewrite_meta(tiny_panoptic, tmp_path / "scene", two_frames)
    with pytest.raises(InputError, match="test_meta.json has 3 frames but train_meta.json has 2"):
        load_dynamic_dataset(folder, init="none")


def test_not_a_dynamic_dataset(tmp_path: Path) -> None:
    assert not is_dynamic_dataset(tmp_path)
    with pytest.raises(InputError, match="not a dynamic dataset"):
        load_dynamic_dataset(tmp_path)
    (tmp_path / "train_meta.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_dynamic_dataset(tmp_path)


# --- lazy frames ------------------------------------------------------------------------------


def test_frames_are_decoded_lazily_into_a_bounded_uint8_cache(tiny_panoptic: Path) -> None:
    one_image = 30 * 40 * 3
    data = load_dynamic_dataset(tiny_panoptic, init="none", cache_bytes=2 * one_image + 10)
    store = data.store
    assert store.decodes == 0  # nothing decoded at load time
    first = data.train[0].image()
    again = data.train[0].image()
    assert store.decodes == 1 and torch.equal(first, again)
    for frame in data.train:
        frame.image()
        assert store.cached_bytes <= 2 * one_image + 10  # at most two uint8 images kept
    assert store.decodes == len(data.train)
    assert data.train[0].image_uint8().dtype == np.uint8
    assert torch.equal(data.train[0].image(), first)  # decoded again after eviction, same pixels


def test_frame_store_evicts_least_recently_used() -> None:
    store = FrameStore(budget=250)
    for key in "abc":
        store.add(key, lambda: np.zeros(100, np.uint8))
    store.get("a"), store.get("b"), store.get("a"), store.get("c")  # "b" is the least recent
    assert store.decodes == 3 and store.cached_bytes == 200
    store.get("a")
    assert store.decodes == 3
    store.get("b")
    assert store.decodes == 4


# --- D-NeRF (real data) -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mutant() -> Path:
    if not (MUTANT / "transforms_train.json").is_file():
        pytest.skip(f"D-NeRF mutant not found at {MUTANT}")
    return MUTANT


def test_dnerf_mutant_times_from_the_files(mutant: Path) -> None:
    data = load_dynamic_dataset(mutant, resolution=40, max_views=6, init_points=200)
    assert data.kind == "dnerf" and data.frames == (0, 150) and data.background == (1.0, 1.0, 1.0)
    assert data.init == "random" and data.points.shape == (200, 3) and data.point_times.shape == (200,)
    assert len(data.train) == 6 and len(data.test) == 6
    assert data.train[0].time == 0.0 and data.train[-1].time == pytest.approx(1.0)
    test_file = json.loads((mutant / "transforms_test.json").read_text())
    file_times = sorted(frame["time"] for frame in test_file["frames"])
    assert sorted(f.time for f in data.test) == pytest.approx([file_times[i] for i in (0, 4, 8, 11, 15, 19)])
    image = data.train[0].image()
    assert image.shape == (40, 40, 3) and float(image[0, 0].min()) == 1.0  # white background corner

    part = load_dynamic_dataset(mutant, frames=(30, 60), resolution=40, init="none")
    assert len(part.train) == 30 and part.train[0].time == 0.0 and part.train[-1].time == pytest.approx(1.0)
    assert all(30 <= f.frame < 60 for f in part.test)
    with pytest.raises(InputError, match="one camera per time"):
        load_dynamic_dataset(mutant, resolution=40, init="triangulate")


# --- N3DV (synthetic, encoded with PyAV) ------------------------------------------------------


N3DV_SIZE = (64, 48)
MARKER_START = np.array([0.0, -0.3, 0.6])
MARKER_VELOCITY = np.array([0.0, 0.6, 0.0])


def moving_splats(time: float):
    """Seeded dim coloured splats and one bright white marker moving along +y."""
    from gscc.render.api import Gaussians

    rng = np.random.default_rng(7)
    means = np.concatenate([rng.uniform(-0.8, 0.8, (40, 3)) + [0, 0, 0.5], (MARKER_START + time * MARKER_VELOCITY)[None]])
    means[:40] += time * rng.normal(0, 0.1, (40, 3))
    scales = np.concatenate([rng.uniform(0.03, 0.08, (40, 3)), np.full((1, 3), 0.07)])
    colors = np.concatenate([rng.uniform(0.05, 0.35, (40, 3)), np.ones((1, 3))])
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    quats = torch.zeros(41, 4)
    quats[:, 0] = 1
    return Gaussians(t(means), quats, t(scales), torch.full((41,), 0.95), t(colors))


def llff_row(camera: Camera) -> np.ndarray:
    """A poses_bounds.npy row for ``camera``: LLFF's [down, right, back] columns, hwf, bounds."""
    c2w = camera.camera_to_world
    right, down, forward = c2w[:3, 0], c2w[:3, 1], c2w[:3, 2]
    matrix = np.stack([down, right, -forward, c2w[:3, 3], [camera.height, camera.width, camera.fx]], axis=1)
    return np.concatenate([matrix.reshape(-1), [1.0, 10.0]])


def encode_mp4(path: Path, frames: list[np.ndarray], fps: int = 30) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv444p"
        for pixels in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def n3dv_scene(tmp_path_factory):
    """3 cameras x 4 frames of the moving splats; returns (folder, cameras, rendered uint8 frames)."""
    from gscc.render import render

    folder = tmp_path_factory.mktemp("n3dv")
    cameras = ring_cameras(3, *N3DV_SIZE, radius=4.0, spread=60.0)
    rendered = {}
    for index, camera in enumerate(cameras):
        frames = []
        for f in range(4):
            with torch.no_grad():
                out = render(moving_splats(f / 3), camera, backend="reference", background=0.0)
            frames.append(np.rint(out.image.clamp(0, 1).numpy() * 255).astype(np.uint8))
        rendered[index] = frames
        encode_mp4(folder / f"cam{index:02d}.mp4", frames)
    np.save(folder / "poses_bounds.npy", np.stack([llff_row(c) for c in cameras]))
    return folder, cameras, rendered


def test_n3dv_round_trip(n3dv_scene, tmp_path: Path) -> None:
    folder, cameras, rendered = n3dv_scene
    data = load_dynamic_dataset(folder, init="none", cache_dir=tmp_path)
    assert data.kind == "n3dv" and data.frames == (0, 4) and data.fps == pytest.approx(30.0)
    assert {f.camera_id for f in data.test} == {"cam00"} and len(data.train) == 2 * 4
    assert [f.time for f in data.test] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    for frame in data.train + data.test:
        index = int(frame.camera_id[3:])
        np.testing.assert_allclose(frame.camera.world_to_camera, cameras[index].world_to_camera, atol=1e-9)
        assert (frame.camera.fx, frame.camera.cx) == pytest.approx((cameras[index].fx, cameras[index].cx))
        decoded = frame.image_uint8().astype(np.float64)
        mse = np.mean((decoded - rendered[index][frame.frame]) ** 2)
        assert 10 * np.log10(255.0**2 / max(mse, 1e-12)) > 35.0
        # the marker, projected through the loaded camera, is where the video shows it
        point = MARKER_START + frame.time * MARKER_VELOCITY
        cam = frame.camera.world_to_camera @ np.append(point, 1.0)
        u = frame.camera.fx * cam[0] / cam[2] + frame.camera.cx
        v = frame.camera.fy * cam[1] / cam[2] + frame.camera.cy
        grey = decoded.min(axis=2)
        rows, cols = np.nonzero(grey > 0.8 * grey.max())
        assert abs(cols.mean() + 0.5 - u) < 1.0 and abs(rows.mean() + 0.5 - v) < 1.0
    part = load_dynamic_dataset(folder, frames=(1, 3), resolution=32, init="none", cache_dir=tmp_path)
    assert part.train[0].image().shape == (24, 32, 3) and sorted({f.frame for f in part.train}) == [1, 2]


def test_n3dv_broken_inputs(n3dv_scene, tmp_path: Path) -> None:
    folder, _, _ = n3dv_scene
    scene = tmp_path / "scene"
    scene.mkdir()
    for path in folder.glob("cam*.mp4"):
        (scene / path.name).symlink_to(path)
    poses = np.load(folder / "poses_bounds.npy")
    np.save(scene / "poses_bounds.npy", poses[:2])
    with pytest.raises(InputError, match="2 poses but 3 camNN.mp4 videos"):
        load_dynamic_dataset(scene, init="none", cache_dir=tmp_path)
    np.save(scene / "poses_bounds.npy", poses[:, :15])
    with pytest.raises(InputError, match="expected \\(cameras, 17\\)"):
        load_dynamic_dataset(scene, init="none", cache_dir=tmp_path)
    np.save(scene / "poses_bounds.npy", poses)
    (scene / "cam01.mp4").unlink()
    (scene / "cam01.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    with pytest.raises(InputError, match="cam01.mp4: not a readable video") as info:
        load_dynamic_dataset(scene, init="none", cache_dir=tmp_path)
    assert "\n" not in str(info.value)


# --- initial points ---------------------------------------------------------------------------


def test_triangulated_points_lie_on_the_scene(tmp_path_factory, tmp_path: Path) -> None:
    """8 cameras see the patch scene at 2 frames: triangulated points lie on the patches, the
    foreground patch's points carry their frame's time, the static ones are pooled."""
    folder = write_panoptic(tmp_path_factory.mktemp("tri"), ring_cameras(8, 320, 240, spread=80.0), (), 2)
    data = load_dynamic_dataset(folder, init="triangulate", init_every=1, cache_dir=tmp_path)
    assert data.init == "triangulate", data.init_info
    points, static, times = data.points.astype(np.float64), data.point_static, data.point_times
    assert len(points) >= 500 and data.init_info["sampled_frames"] == [0, 1]
    # static points lie on the floor (z = 0) or the wall (x = -2), up to the odd false match
    distance = np.minimum(np.abs(points[static, 2]), np.abs(points[static, 0] + 2.0))
    assert np.median(distance) < 0.02 and np.mean(distance < 0.1) > 0.85
    for frame, t in ((0, 0.0), (1, 1.0)):
        moving = points[~static & (times == t)]
        assert len(moving) >= 20
        y0 = -0.6 + 0.4 * t
        on_patch = (np.abs(moving[:, 0] - 0.5) < 0.03) & (moving[:, 1] > y0 - 0.03) & (moving[:, 1] < y0 + 0.93)
        assert np.mean(on_patch) > 0.9
    assert set(np.unique(times[static])) == {0.5}
    assert data.bounds[0].shape == (3,)
    again = load_dynamic_dataset(folder, init="triangulate", init_every=1, cache_dir=tmp_path)
    assert again.init_info.get("cached") and np.array_equal(again.points, data.points)


def test_triangulation_falls_back_to_random_points(tiny_panoptic: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="random points instead"):
        data = load_dynamic_dataset(tiny_panoptic, init="triangulate", init_points=300, cache_dir=tmp_path)
    assert data.init == "random" and data.points.shape == (300, 3) and "fallback" in data.init_info
    low, high = data.bounds
    assert np.all(data.points >= low - 1e-6) and np.all(data.points <= high + 1e-6)
    assert 0.0 <= data.point_times.min() and data.point_times.max() <= 1.0


@pytest.mark.slow
def test_basketball_triangulation(tmp_path: Path) -> None:
    if not (BASKETBALL / "train_meta.json").is_file():
        pytest.skip(f"basketball not found at {BASKETBALL}")
    data = load_dynamic_dataset(BASKETBALL, frames=(75, 76), resolution=320, cache_dir=tmp_path)
    assert data.init == "triangulate" and len(data.points) > 500
    assert 0 < data.point_static.sum() < len(data.points)
