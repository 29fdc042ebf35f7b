"""Neural 3D Video (N3DV / DyNeRF, Li et al., 2022) scenes: ``poses_bounds.npy`` + ``camNN.mp4``.

Layout::

    poses_bounds.npy    (N, 17) float: one row per camera, in the sorted order of the videos
    cam00.mp4 ... camNN.mp4   one synchronised video per camera; cam00 is the test view

A row is LLFF's format (Mildenhall et al., 2019, ``imgs2poses.py``): 15 numbers, a 3x5 matrix
in row-major order, then the near and far depth bounds of the scene as that camera sees it.
The matrix's first 3x4 block is the camera-to-world transform with its rotation columns in
LLFF's axis order [down, right, back] (LLFF swaps COLMAP's first two axes and negates the
third); its last column is [height, width, focal] of the images in pixels. In gscc's OpenCV
convention (right, down, forward) the camera-to-world rotation columns are therefore
[col 1, col 0, -col 2]; the position is column 3. Intrinsics: focal ``f`` for both axes and
the principal point at the image centre, scaled to the video's size when it differs from
[height, width] (same aspect ratio required). The bounds are not used.

Frames are decoded with PyAV (:mod:`gscc.data.video`); the sequence has as many frames as
the shortest video. Defaults: black background; near plane 0.01 (the renderer's default);
fps from the videos.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..cameras.camera import Camera
from ..errors import InputError
from .images import ASPECT_TOLERANCE
from .sequence import SourceSequence, SourceView
from .video import VideoFrames, probe

POSES_FILE = "poses_bounds.npy"
TEST_CAMERA = "cam00"
NEAR = 0.01
BACKGROUND = (0.0, 0.0, 0.0)
RIGID_TOLERANCE = 1e-3
# LLFF [down, right, back] columns -> OpenCV [right, down, forward]
LLFF_TO_OPENCV = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])


def videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("cam*.mp4") if p.is_file())


def is_n3dv_dir(folder: Path) -> bool:
    return (folder / POSES_FILE).is_file() and bool(videos(folder))


def read_poses(path: Path) -> np.ndarray:
    """The (N, 17) float64 array of a ``poses_bounds.npy``, checked."""
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: not a readable .npy file ({message})") from None
    if array.ndim != 2 or array.shape[1] != 17 or array.shape[0] == 0:
        raise InputError(f"{path}: shape {array.shape}, expected (cameras, 17) (LLFF poses and bounds)")
    if array.dtype.kind not in "fi":
        raise InputError(f"{path}: dtype {array.dtype}, expected numbers")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array[:, :15])):
        raise InputError(f"{path}: non-finite pose entries")
    return array


def llff_camera(row: np.ndarray, width: int, height: int, name: str, where: str) -> Camera:
    """The camera of one poses_bounds row, for frames of ``width`` x ``height`` pixels."""
    matrix = row[:15].reshape(3, 5)
    rotation = matrix[:, :3] @ LLFF_TO_OPENCV
    position = matrix[:, 3]
    pose_height, pose_width, focal = matrix[:, 4]
    if np.abs(rotation.T @ rotation - np.eye(3)).max() > RIGID_TOLERANCE or np.linalg.det(rotation) <= 0:
        raise InputError(f"{where}: the pose's rotation is not a rotation matrix")
    if not (pose_height > 0 and pose_width > 0 and focal > 0):
        raise InputError(f"{where}: height, width and focal must be positive, got {pose_height}, {pose_width}, {focal}")
    if abs(width / height - pose_width / pose_height) > ASPECT_TOLERANCE * width / height:
        raise InputError(
            f"{where}: the video is {width}x{height} but the pose says {pose_width:g}x{pose_height:g} (another aspect ratio)"
        )
    u, _, vt = np.linalg.svd(rotation)
    rotation = u @ vt
    w2c = np.eye(4)
    w2c[:3, :3] = rotation.T
    w2c[:3, 3] = -rotation.T @ position
    fx = focal * width / pose_width
    fy = focal * height / pose_height
    return Camera(width, height, float(fx), float(fy), width / 2.0, height / 2.0, w2c, name)


def _reader(video: VideoFrames, frame: int):
    def read(width: int, height: int, background) -> np.ndarray:
        return video.frame(frame, width, height).astype(np.float32) * np.float32(1.0 / 255.0)

    return read


def load_n3dv(folder: Path) -> SourceSequence:
    files = videos(folder)
    poses = read_poses(folder / POSES_FILE)
    if len(poses) != len(files):
        raise InputError(f"{folder / POSES_FILE}: {len(poses)} poses but {len(files)} camNN.mp4 videos")
    infos = [probe(path) for path in files]
    frame_count = min(info.frame_count for info in infos)
    sources = [VideoFrames(path, info) for path, info in zip(files, infos)]
    train: list[SourceView] = []
    test: list[SourceView] = []
    cameras = [
        llff_camera(row, info.width, info.height, path.stem, f"{folder / POSES_FILE}: row {i} ({path.name})")
        for i, (row, info, path) in enumerate(zip(poses, infos, files))
    ]
    for frame in range(frame_count):
        for path, camera, source in zip(files, cameras, sources):
            name = f"{path.stem}/{frame:06d}"
            view = SourceView(
                camera=replace(camera, name=name),
                frame=frame,
                name=name,
                camera_id=path.stem,
                read=_reader(source, frame),
                path=path,
            )
            (test if path.stem == TEST_CAMERA else train).append(view)

    def select(start: int, end: int, root: Path) -> None:
        for source in sources:
            source.select(start, end, root)

    return SourceSequence(
        "n3dv", train, test, frame_count, infos[0].fps, BACKGROUND, NEAR, monocular=False, select=select
    )
