"""What a finished dynamic run (one segment) leaves in its folder, besides ``config.json``
and ``ckpt.pt``:

- ``splats.ply``: the trained splats at rest with their motion, in STG's dynamic PLY layout
  (``trbf_center``, ``trbf_scale``, ``motion_0..8``, ``omega_0..3``; motion-basis:
  ``basis_coeff_*`` and a ``motion_basis`` element; see :mod:`gscc.io.dynamic_ply`);
- ``scene.splatv`` (``stg`` only: the format holds STG motion): for the splaTV web viewer,
  with the training cameras in its camera list (the first is where the viewer starts);
- ``scene.gsc``: the segment coded by the dynamic encoder (gscc.codec.dynamic_encoder) with
  the config's dynamic codec settings (``TrainConfig.dynamic_codec_config``; pruning by
  contribution probes the training cameras) and, where compression constrained an
  attribute's rate, its learned distribution;
- ``metrics.json``: PSNR/SSIM per test camera and frame (``test.views``), their means
  (``test.mean``) and per-camera means (``test.cameras``), splat and parameter counts,
  steps, training time, the periodic evaluations (``history``); the bitrates over the
  segment's duration (``duration_seconds`` = frames / fps, the dataset's frame rate or 30):
  ``raw`` (the float32 ``splats.ply``: ``bytes``, ``mbps``; ``parameter_bytes``: the trained
  numbers as float32) and ``gsc`` (``bytes``, ``mbps``, decoded ``splat_count``, the codec
  settings, the attributes given learned ``distributions`` and those the file codes with
  them, ``learned`` (the encoder keeps the smaller of learned and image coding), and
  ``test``: the decoded file's scores at every test camera and frame, as ``test``);
- ``videos/CAMERA.mp4``: each test camera's renders over the segment's frames (a monocular
  capture's test views in time order: ``videos/test.mp4``);
- ``renders/CAMERA_FRAME.png``: the first, middle and last frame of the first
  ``test_renders`` test cameras, render left of the ground truth.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..codec.dynamic_decoder import decode_dynamic
from ..codec.dynamic_encoder import encode_dynamic
from ..codec.learned import is_learned
from ..container import unpack
from ..dynamic import DynamicScene, DynamicSplats, STGMotion
from ..eval.render_views import to_uint8, write_png
from ..eval.video import write_mp4
from ..info import mbps
from ..io import write_dynamic_ply, write_splatv
from ..io.atomic import write_bytes_atomically
from .evaluation import mean_scores
from .outputs import GSC_NAME, METRICS_NAME, PLY_NAME, RENDERS_DIR, safe_name, write_json

SPLATV_NAME = "scene.splatv"
VIDEOS_DIR = "videos"


def camera_key(frame) -> str:
    """The name of a timed frame's camera (what groups a test camera's frames)."""
    return str(getattr(frame, "camera_id", "") or getattr(frame.camera, "name", "") or frame.name)


def frame_scores(frames: list, rows: list[dict]) -> dict:
    """``{"views": [{"camera", "frame", "time", "psnr", "ssim"}], "mean", "cameras"}``."""
    views = [
        {"camera": camera_key(f), "frame": int(f.frame), "time": float(f.time), **row} for f, row in zip(frames, rows)
    ]
    by_camera = defaultdict(list)
    for view in views:
        by_camera[view["camera"]].append(view)
    return {"views": views, "mean": mean_scores(views), "cameras": {k: mean_scores(v) for k, v in by_camera.items()}}


def splatv_camera(camera, index: int) -> dict:
    """A camera in splaTV's header format: OpenCV camera-to-world position and rotation."""
    c2w = np.asarray(camera.camera_to_world, dtype=np.float64)
    return {
        "id": index, "img_name": camera.name or f"camera{index:02d}", "width": int(camera.width),
        "height": int(camera.height), "position": c2w[:3, 3].tolist(), "rotation": c2w[:3, :3].tolist(),
        "fx": float(camera.fx), "fy": float(camera.fy),
    }


def distinct_cameras(frames: list) -> list:
    """The cameras of the frames, one per camera name, in order of first appearance."""
    seen: dict[str, object] = {}
    for frame in frames:
        seen.setdefault(camera_key(frame), frame.camera)
    return list(seen.values())


def by_camera(frames: list) -> dict[str, list]:
    """Test frames per camera in frame order; a monocular capture (every camera seen once,
    D-NeRF) is one sequence, ``test``."""
    groups: dict[str, list] = defaultdict(list)
    for frame in sorted(frames, key=lambda f: (camera_key(f), int(f.frame))):
        groups[camera_key(frame)].append(frame)
    if len(groups) > 1 and all(len(g) == 1 for g in groups.values()):
        return {"test": sorted(frames, key=lambda f: (int(f.frame), float(f.time)))}
    return dict(groups)


def export_dynamic_run(
    folder: Path,
    splats: DynamicSplats,
    *,
    summary: dict,
    scores: Optional[dict],
    test_frames: list,
    train_frames: list,
    renders: dict[int, np.ndarray],
    target: Callable,
    fps: float,
    render_count: int,
    codec,
    frame_count: int,
    scene_fps: float,
    distributions: Optional[dict] = None,
    score_decoded: Optional[Callable[[DynamicSplats], Optional[dict]]] = None,
) -> dict:
    """Write the outputs listed in the module docstring; returns the metrics. ``fps``: the
    videos' frame rate; ``codec`` (a DynamicEncodeConfig) and ``distributions`` code
    scene.gsc; ``frame_count`` / ``scene_fps``: the segment's duration;
    ``score_decoded`` scores the decoded splats at the test frames."""
    folder = Path(folder)
    write_dynamic_ply(splats, folder / PLY_NAME)
    metrics = dict(summary)
    metrics["splat_count"] = splats.count
    metrics["motion"] = {"kind": splats.kind, **splats.motion.describe()}
    metrics["ply_bytes"] = (folder / PLY_NAME).stat().st_size
    scene = DynamicScene.single(splats, fps=scene_fps, frame_count=frame_count)
    scene.extra["cameras"] = distinct_cameras(train_frames)  # the views pruning by contribution probes
    data = encode_dynamic(scene, codec, distributions or None)
    write_bytes_atomically(folder / GSC_NAME, data)
    decoded = decode_dynamic(data).segments[0].splats
    duration = frame_count / scene_fps
    metrics["duration_seconds"] = duration
    metrics["raw"] = {"bytes": metrics["ply_bytes"], "mbps": mbps(metrics["ply_bytes"], duration)}
    if "parameter_count" in summary:
        metrics["raw"]["parameter_bytes"] = 4 * int(summary["parameter_count"])
    metrics["gsc"] = {"bytes": len(data), "mbps": mbps(len(data), duration), "splat_count": decoded.count,
                      "distributions": sorted(distributions or {}), "learned": learned_planes(data),
                      "codec": codec.to_dict()}
    if score_decoded is not None:
        metrics["gsc"]["test"] = score_decoded(decoded)
    if isinstance(splats.motion, STGMotion):
        cameras = [splatv_camera(c, i) for i, c in enumerate(distinct_cameras(train_frames))]
        write_splatv(splats, folder / SPLATV_NAME, cameras=cameras)
        metrics["splatv_bytes"] = (folder / SPLATV_NAME).stat().st_size
    if scores is not None:
        metrics["test"] = scores
        groups = by_camera(test_frames)
        metrics["videos"] = write_videos(folder / VIDEOS_DIR, groups, renders, fps)
        metrics["renders"] = write_frame_pairs(folder / RENDERS_DIR, groups, renders, target, render_count)
    write_json(folder / METRICS_NAME, metrics)
    return metrics


def learned_planes(data: bytes) -> list[str]:
    """The attributes a dynamic file codes with a learned distribution (in any segment)."""
    header = unpack(data, select=lambda header: set()).header
    return sorted({name for segment in header["segments"] for name, entry in segment["attributes"].items()
                   if is_learned(entry.get("coding"))})


def write_videos(folder: Path, groups: dict[str, list], renders: dict[int, np.ndarray], fps: float) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (camera, frames) in enumerate(groups.items()):
        images = [renders[id(f)] for f in frames if id(f) in renders]
        if not images:
            continue
        name = f"{safe_name(camera, index)}.mp4"
        write_mp4(folder / name, images, fps)
        written.append(name)
    return written


def write_frame_pairs(
    folder: Path, groups: dict[str, list], renders: dict[int, np.ndarray], target: Callable, count: int
) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, (camera, frames) in enumerate(list(groups.items())[:count]):
        picks = sorted({0, len(frames) // 2, len(frames) - 1})
        for pick in picks:
            frame = frames[pick]
            if id(frame) not in renders:
                continue
            truth = to_uint8(target(frame).float().cpu().numpy())
            name = f"{safe_name(camera, index)}_{int(frame.frame):04d}.png"
            write_png(folder / name, np.concatenate([renders[id(frame)], truth], axis=1))
            written.append(name)
    return written
