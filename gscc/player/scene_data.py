"""What the player page loads: a scene turned into JSON metadata and one binary blob.

numpy only (``gscc view`` must not need torch). A scene is either static splats
(:class:`gscc.splats.SplatSet` or :class:`gscc.splats.FeatureSplats`) or a
:class:`gscc.dynamic.DynamicScene`; a static scene is one segment without motion.

The blob is laid out for the GPU, so the page uploads it without reshuffling. Each array
starts at a multiple of 16 bytes; ``meta["segments"][i]["arrays"][name]`` gives its
``offset`` and ``length`` in bytes and its ``dtype`` (``f32`` or ``f16``). Per segment of N
splats:

``geometry`` f32 (N, stride, 4), ``stride`` = ``geometry_stride`` texels (RGBA) per splat:
    texel 0: rest mean x, y, z, activated opacity (sigmoid);
    texel 1: rest quaternion w, x, y, z (as stored, not normalised);
    texel 2: activated scales (exp) x, y, z, then the STG time centre (else 0);
    motion ``stg`` (3 more texels, motion always padded to degree 3):
    texel 3: angular velocity (4); texel 4: exp(-t_scale), motion[0:3] (degree 1);
    texel 5: motion[3:6] (degree 2), motion[6]; texel 6: motion[7:9], 0, 0;
    motion ``motion-basis``: texels 3.. hold the B basis coefficients, four per texel.
``color`` (N, color_stride, 4): SH coefficients as f16, DC first, coefficient k's channel c
    at 3k + c (zero padded), or, for MLP colours, the features as f32.
``basis`` f32 (B, K, 4) (motion-basis only): trajectory b's displacement at knot k, xyz, 0.
``mlp`` f32 (MLP colours only): per layer, its weight (out, in) row-major then its bias.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ..cameras.splatv import splatv_pose
from ..dynamic import DynamicScene, MotionBasis, STGMotion
from ..dynamic.motion import Motion
from ..dynamic.splats import sigmoid
from ..errors import InputError
from ..io.splatv import framing_camera
from ..splats import FeatureSplats, SplatSet

FORMAT = "gscc-player-scene"
VERSION = 1
ALIGN = 16
# The timeline: frame k of frame_count shows global time k / (frame_count - 1) (gscc's
# dynamic datasets number frames so). A dynamic scene that says nothing of its timing plays
# as STG's N3DV videos: 300 frames at 30 fps.
DEFAULT_FPS = 30.0
DEFAULT_FRAMES = 300
STG_TEXELS = 4  # angular velocity, temporal scale + motion (3 texels)
STG_DEGREE = 3

SceneSource = Union[SplatSet, FeatureSplats, DynamicScene]


@dataclass
class PlayerScene:
    """What ``gscc view`` shows: the scene plus how to start looking at it."""

    source: SceneSource
    name: str
    camera: Optional[dict] = None  # a splaTV camera (OpenCV camera-to-world), e.g. a .splatv's first


def _segments(source: SceneSource) -> list[tuple[float, float, Union[SplatSet, FeatureSplats], Optional[Motion]]]:
    if isinstance(source, DynamicScene):
        return [(s.start, s.end, s.splats.static, s.splats.motion) for s in source.segments]
    return [(0.0, 1.0, source, None)]


def _texels(values: np.ndarray) -> np.ndarray:
    """(N, C) values zero-padded to (N, ceil(C / 4) * 4)."""
    n, c = values.shape
    out = np.zeros((n, max(1, math.ceil(c / 4)) * 4), dtype=values.dtype)
    out[:, :c] = values
    return out


def _motion_texels(motion: Optional[Motion], n: int) -> tuple[str, np.ndarray, float, dict]:
    """The motion kind, its per-splat texels (N, 4k), the time centre column and extras."""
    if motion is None:
        return "none", np.zeros((n, 0), np.float32), np.zeros(n, np.float32), {}
    if isinstance(motion, STGMotion):
        poly = np.zeros((n, 3 * STG_DEGREE), np.float32)
        poly[:, : motion.motion.shape[1]] = motion.motion
        with np.errstate(over="ignore"):
            inverse_scale = np.exp(-motion.t_scale.astype(np.float64)).astype(np.float32)
        texels = np.concatenate(
            [motion.omega, inverse_scale[:, None], poly, np.zeros((n, 2), np.float32)], axis=1
        )
        return "stg", texels, motion.t_center, {"motion_degree": motion.degree}
    if isinstance(motion, MotionBasis):
        return "motion-basis", _texels(motion.coeffs), np.zeros(n, np.float32), motion.describe()
    raise InputError(f"the player cannot show motion model {motion.kind!r}")


def _color(static: Union[SplatSet, FeatureSplats]) -> tuple[np.ndarray, dict]:
    if isinstance(static, FeatureSplats):
        info = {"color": "mlp", "feature_dim": int(static.features.shape[1])}
        return _texels(static.features.astype(np.float32)), info
    sh = np.concatenate([static.sh0[:, None, :], static.shN], axis=1).reshape(static.count, -1)
    limit = float(np.finfo(np.float16).max)
    return _texels(np.clip(sh, -limit, limit).astype(np.float16)), {"color": "sh", "sh_degree": static.sh_degree}


def _mlp(static: FeatureSplats) -> tuple[np.ndarray, dict]:
    decoder = static.decoder
    parts, shapes = [], []
    for weight, bias in decoder.layers:
        parts += [weight.reshape(-1), bias]
        shapes.append([int(weight.shape[0]), int(weight.shape[1])])
    return np.concatenate(parts).astype(np.float32), {"layers": shapes, "view_sh_degree": decoder.view_sh_degree}


class _Blob:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, array: np.ndarray) -> dict:
        data = np.ascontiguousarray(array).tobytes()
        entry = {"offset": self.size, "length": len(data), "dtype": {np.float32: "f32", np.float16: "f16"}[array.dtype.type]}
        pad = (-len(data)) % ALIGN
        self.parts += [data, b"\0" * pad]
        self.size += len(data) + pad
        return entry


def _bounds(means: np.ndarray) -> dict:
    lo, hi = np.percentile(means, [5, 95], axis=0)
    centre = (lo + hi) / 2.0
    return {"center": [float(v) for v in centre], "radius": float(np.linalg.norm(hi - lo) / 2.0) or 1.0}


def _timing(source: SceneSource) -> dict:
    if not isinstance(source, DynamicScene):
        return {"dynamic": False, "fps": DEFAULT_FPS, "frame_count": 1, "timing_assumed": False}
    assumed = not (source.fps and source.frame_count)
    return {
        "dynamic": True,
        "fps": float(source.fps or DEFAULT_FPS),
        "frame_count": int(source.frame_count or DEFAULT_FRAMES),
        "timing_assumed": assumed,
    }


def pack(scene: PlayerScene) -> tuple[dict, bytes]:
    """The page's metadata (JSON-able) and binary blob for ``scene`` (layout: module docstring)."""
    blob = _Blob()
    segments = []
    all_means = []
    for start, end, static, motion in _segments(scene.source):
        n = static.count
        if n == 0:
            raise InputError(f"{scene.name}: a segment holds no splats")
        kind, motion_texels, t_center, described = _motion_texels(motion, n)
        base = np.concatenate(
            [
                static.means, sigmoid(static.opacities)[:, None],
                static.quats,
                np.exp(static.scales.astype(np.float64)), t_center[:, None],
            ],
            axis=1,
        ).astype(np.float32)
        geometry = np.concatenate([base, motion_texels.astype(np.float32)], axis=1)
        if not np.isfinite(geometry).all():
            raise InputError(f"{scene.name}: holds non-finite values (NaN or infinity)")
        color, color_info = _color(static)
        segment = {
            "start": float(start), "end": float(end), "count": n, "motion": kind, **described, **color_info,
            "geometry_stride": geometry.shape[1] // 4, "color_stride": color.shape[1] // 4,
            "arrays": {"geometry": blob.add(geometry), "color": blob.add(color)},
        }
        if isinstance(motion, MotionBasis):
            basis = np.zeros(motion.basis.shape[:2] + (4,), np.float32)
            basis[..., :3] = motion.basis
            segment["arrays"]["basis"] = blob.add(basis)
        if isinstance(static, FeatureSplats):
            weights, segment["mlp"] = _mlp(static)
            segment["arrays"]["mlp"] = blob.add(weights)
        segments.append(segment)
        all_means.append(static.means)
    meta = {
        "format": FORMAT, "version": VERSION, "name": scene.name, "bytes": blob.size,
        "count": sum(s["count"] for s in segments), "segments": segments,
        "bounds": _bounds(np.concatenate(all_means)),
        "camera": scene.camera or framing_camera(np.concatenate(all_means)), **_timing(scene.source),
    }
    return meta, b"".join(blob.parts)


def _read_gsc(path: Path) -> SceneSource:
    from ..codec.decoder import decode_scene
    from ..codec.dynamic_decoder import decode_dynamic, is_dynamic_gsc

    data = path.read_bytes()
    if is_dynamic_gsc(data):
        return decode_dynamic(data)
    return decode_scene(data)


def load_scene(path: Union[str, os.PathLike]) -> PlayerScene:
    """Read any file ``gscc view`` shows: `.gsc`, 3DGS `.ply`, `.splat`, dynamic `.ply`, `.splatv`."""
    from ..io import existing_file, is_dynamic_file, load_dynamic, load_splats
    from ..io.splatv import read_splatv_cameras

    path = existing_file(path)
    suffix = path.suffix.lower()
    camera = None
    if suffix == ".gsc":
        source = _read_gsc(path)
    elif suffix in (".splatv", ".ply") and is_dynamic_file(path):
        source = DynamicScene.single(load_dynamic(path))
        if suffix == ".splatv":
            cameras = read_splatv_cameras(path)
            camera = cameras[0] if cameras else None
    else:
        source = load_splats(path)
    return PlayerScene(source, path.name, _checked_camera(camera))


def _checked_camera(camera: object) -> Optional[dict]:
    """A splaTV camera the page can use (a finite pose, positive sizes), else None."""
    if camera is None:
        return None
    try:
        pose = splatv_pose(camera, "camera")
    except InputError:
        return None
    return {"position": pose.position.tolist(), "rotation": pose.rotation.tolist(),
            "fx": pose.fx, "fy": pose.fy, "width": pose.width, "height": pose.height}


def meta_json(meta: dict) -> bytes:
    return json.dumps(meta, separators=(",", ":")).encode("utf-8")
