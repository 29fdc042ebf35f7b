"""A tiny seeded moving splat scene rendered by gscc's CPU renderer from a few cameras at a
few times: a dynamic dataset with the shape of ``gscc.data.dynamic.DynamicDataset`` for the
trainer's tests (camera, normalised time, frame, lazily rendered image)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

from gscc.cameras.orbit import orbit_cameras
from gscc.dynamic import DynamicSplats, STGMotion
from gscc.render import Gaussians, render
from gscc.splats import SH_C0, SplatSet


def moving_splats(count: int = 120, seed: int = 0) -> DynamicSplats:
    """A still disc of splats with a blob that moves along x and a blob that fades in."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 0.5, (count, 3)) * np.array([1.0, 1.0, 0.2])
    colors = rng.random((count, 3))
    motion = np.zeros((count, 9))
    moving = np.arange(count) < count // 4
    means[moving] = rng.normal(0.0, 0.1, (moving.sum(), 3)) + np.array([-0.4, 0.0, 0.3])
    motion[moving, 0] = 0.8  # dx/dt
    t_scale = np.full(count, np.log(1e3))
    fading = (np.arange(count) >= count // 4) & (np.arange(count) < count // 3)
    t_scale[fading] = np.log(0.3)
    t_center = np.where(fading, 1.0, 0.5)
    static = SplatSet(
        means=means, scales=np.full((count, 3), np.log(0.08)), quats=np.tile([1.0, 0, 0, 0], (count, 1)),
        opacities=np.full(count, 2.0), sh0=(colors - 0.5) / SH_C0, shN=np.zeros((count, 0, 3)),
    )
    return DynamicSplats(static, STGMotion(motion, np.zeros((count, 4)), t_center, t_scale))


@dataclass
class TimedFrame:
    camera: object
    time: float
    frame: int
    name: str
    scene: DynamicSplats = field(repr=False)
    background: tuple = (0.0, 0.0, 0.0)

    def image(self) -> torch.Tensor:
        gaussians = Gaussians.from_splats(self.scene.at(self.time), device="cpu")
        return render(gaussians, self.camera, backend="taichi", background=self.background).image.clamp(0, 1)

    def mask(self) -> Optional[torch.Tensor]:
        return None


@dataclass
class DynamicDataset:
    kind: str
    train: list
    test: list
    frames: tuple
    fps: float
    points: Optional[np.ndarray]
    colors: Optional[np.ndarray]
    point_times: Optional[np.ndarray]
    scale: float
    bounds: tuple
    background: tuple
    near: float = 0.01


def moving_dataset(frames: Optional[tuple[int, int]] = None, *, total: int = 6, cameras: int = 5, size: int = 40,
                   seed: int = 0) -> DynamicDataset:
    """Frames ``frames`` (default: all ``total``) of the moving scene seen by ``cameras``
    orbit cameras (the last one held out), time (f - a) / (b - a - 1) within the range."""
    start, end = frames or (0, total)
    scene = moving_splats(seed=seed)
    views = orbit_cameras(np.zeros(3), 0.9, cameras, width=size, height=size * 3 // 4, elevation_deg=35.0)
    train, test = [], []
    for f in range(start, end):
        t = (f - start) / max(end - start - 1, 1)
        for index, camera in enumerate(views):
            frame = TimedFrame(camera, t, f, f"{camera.name}/{f:04d}", scene)
            (test if index == cameras - 1 else train).append(frame)
    rng = np.random.default_rng(seed + 7)
    points = rng.normal(0.0, 0.5, (150, 3)) * np.array([1.0, 1.0, 0.3])
    return DynamicDataset(
        kind="synthetic", train=train, test=test, frames=(start, end), fps=10.0, points=points.astype(np.float32),
        colors=rng.random((150, 3)).astype(np.float32), point_times=rng.random(150).astype(np.float32),
        scale=1.0, bounds=(np.full(3, -1.0), np.full(3, 1.0)), background=(0.0, 0.0, 0.0),
    )


def load_moving(scene, frames, config) -> DynamicDataset:
    """A loader for gscc.train.segments.train_dynamic (the scene path is ignored)."""
    return moving_dataset(frames)


def write_n3dv(folder, *, total: int = 6, cameras: int = 4, size: int = 40) -> None:
    """The moving scene as an N3DV-layout folder: camNN.mp4 per camera (cam00 the test
    view) and poses_bounds.npy."""
    from pathlib import Path

    from gscc.data.n3dv import LLFF_TO_OPENCV
    from gscc.eval.video import write_mp4

    def llff_row(camera) -> np.ndarray:  # LLFF's [down, right, back] columns (the map is its own inverse), hwf, bounds
        c2w = camera.camera_to_world
        matrix = np.concatenate([c2w[:3, :3] @ LLFF_TO_OPENCV, c2w[:3, 3:], [[camera.height], [camera.width], [camera.fx]]], axis=1)
        return np.concatenate([matrix.reshape(-1), [0.1, 10.0]])

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data = moving_dataset(total=total, cameras=cameras, size=size)
    views = data.test[:1] + data.train[: cameras - 1]  # frame 0 of every camera, the held-out one first
    for index, first in enumerate(views):
        frames = [f for f in data.train + data.test if f.camera is first.camera]
        pixels = [np.rint(f.image().numpy() * 255).astype(np.uint8) for f in sorted(frames, key=lambda f: f.frame)]
        write_mp4(folder / f"cam{index:02d}.mp4", pixels, fps=10)
    np.save(folder / "poses_bounds.npy", np.stack([llff_row(f.camera) for f in views]))
