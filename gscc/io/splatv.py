"""The `.splatv` layout of the splaTV web viewer (Kevin Kwok): trained Spacetime Gaussians.

All little-endian: ``u32 0x674B``, ``u32 json_len``, a UTF-8 JSON array of chunk
descriptors, then each chunk's bytes in order. The ``splat`` chunk (descriptor
``{"type": "splat", "size": S, "texwidth": 4096, "texheight": H, "cameras": [...]}``) holds
one 64-byte row (16 u32) per splat; ``half2`` is two float16 in one u32, the first in the
low 16 bits:

- u32[0..2]   float32 x, y, z
- u32[3..4]   half2 quaternion w, x, y, z (not normalised)
- u32[5..6]   half2 linear scales sx, sy, sz, 0
- u32[7]      bytes R, G, B, A (A = opacity · 255)
- u32[8..12]  half2 motion m0..m8, 0
- u32[13..14] half2 omega 0..3
- u32[15]     half2 t_center, t_scale (linear)

Real files disagree with themselves: ``S`` is the texture's size (H · texwidth · 16 bytes)
while the payload may stop after the last real row; texture padding is all-zero rows. The
reader reads the rows that are there, drops padding, drops splats with non-finite values
or a zero scale (with one warning giving the count), keeps splats whose temporal scale
overflowed to +inf as always visible (their meaning in the viewer), clamped to float16's
largest value, and reads an all-zero quaternion (most splats of some real files) as the
identity rotation. The writer pads to the texture size so header and payload agree, and always
writes cameras (splaTV needs them: the first is where a viewer starts).
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Optional

import numpy as np

from ..dynamic import DynamicSplats, STGMotion
from ..dynamic.splats import sigmoid
from ..errors import InputError, warn
from ..splats import SH_C0, SplatSet
from .atomic import write_atomically
from .splat_format import colour_from_rgba

MAGIC = 0x674B
ROW_BYTES = 64
TEXWIDTH = 4096
MAX_HEADER_BYTES = 1 << 24
HALF_MAX = float(np.finfo(np.float16).max)


def _header(path: Path, data: bytes) -> tuple[dict, int]:
    """The splat chunk's descriptor and the offset of its bytes."""
    if len(data) < 8:
        raise InputError(f"{path}: too short for a .splatv file")
    magic, json_len = struct.unpack_from("<II", data)
    if magic != MAGIC:
        raise InputError(f"{path}: not a .splatv file (magic {magic:#x}, expected {MAGIC:#x})")
    if json_len > min(MAX_HEADER_BYTES, len(data) - 8):
        raise InputError(f"{path}: .splatv header length {json_len} exceeds the file")
    try:
        chunks = json.loads(data[8:8 + json_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: .splatv header is not valid JSON ({exc})") from None
    if not isinstance(chunks, list) or not all(isinstance(c, dict) for c in chunks):
        raise InputError(f"{path}: .splatv header is not a list of chunk descriptors")
    offset = 8 + json_len
    for chunk in chunks:
        size = chunk.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InputError(f"{path}: .splatv chunk has no valid size")
        if chunk.get("type") == "splat":
            return chunk, offset
        offset += size
    raise InputError(f"{path}: .splatv file has no splat chunk")


def read_splatv(path: str | os.PathLike) -> DynamicSplats:
    """Read a `.splatv` file into dynamic splats (SH degree 0, STG motion of degree 3)."""
    path = Path(path)
    data = path.read_bytes()
    chunk, offset = _header(path, data)
    available = max(len(data) - offset, 0)
    size = min(chunk["size"], available)
    if size < chunk["size"]:
        warn(f"{path}: header promises {chunk['size']} bytes of splats, the file holds {available}; reading those")
    rows = np.frombuffer(data, dtype="<u4", count=(size // ROW_BYTES) * 16, offset=offset).reshape(-1, 16)
    rows = rows[rows.any(axis=1)]  # texture padding
    if len(rows) == 0:
        raise InputError(f"{path}: .splatv file holds no splats")
    halves = rows[:, 3:].copy().view("<f2").astype(np.float32)  # (N, 26); halves 8, 9 are RGBA bytes
    halves[:, 8:10] = 0.0
    means = rows[:, :3].copy().view("<f4")
    quats = halves[:, 0:4]
    linear_scales = halves[:, 4:7]
    rgba = rows[:, 7:8].copy().view(np.uint8)
    motion = halves[:, 10:19]
    omega = halves[:, 20:24]
    t_center = halves[:, 24]
    t_scale = halves[:, 25]

    always = np.isposinf(t_scale)
    t_scale = np.where(always, HALF_MAX, t_scale)
    halves[:, 25] = t_scale
    ok = np.isfinite(means).all(1) & np.isfinite(halves).all(1)
    ok &= (linear_scales > 0).all(1) & (t_scale > 0)
    quats[(quats == 0).all(1), 0] = 1.0  # no rotation stored (real files have them): the identity
    if not ok.any():
        raise InputError(f"{path}: no splat in the file has finite values")
    dropped = int((~ok).sum())
    if dropped:
        warn(f"{path}: dropped {dropped} of {len(rows)} splats with non-finite or degenerate values")
    if int(always[ok].sum()):
        warn(f"{path}: {int(always[ok].sum())} splats have an infinite temporal scale; kept as always visible")
    sh0, opacities = colour_from_rgba(rgba[ok])
    static = SplatSet(
        means=means[ok],
        scales=np.log(linear_scales[ok]),
        quats=quats[ok],
        opacities=opacities,
        sh0=sh0,
        shN=np.zeros((int(ok.sum()), 0, 3), np.float32),
    )
    motion_model = STGMotion(motion[ok], omega[ok], t_center[ok], np.log(t_scale[ok]))
    return DynamicSplats(static, motion_model)


def read_splatv_cameras(path: str | os.PathLike) -> list[dict]:
    """The camera list of a `.splatv` file's splat chunk (empty when it has none)."""
    path = Path(path)
    chunk, _ = _header(path, path.read_bytes())
    cameras = chunk.get("cameras", [])
    return cameras if isinstance(cameras, list) else []


def framing_camera(means: np.ndarray, width: int = 1280, height: int = 720) -> dict:
    """A splaTV camera (OpenCV convention, camera-to-world) looking at the splats along +Z."""
    finite = means[np.isfinite(means).all(1)]
    lo, hi = np.percentile(finite, [5, 95], axis=0) if len(finite) else (np.zeros(3), np.ones(3))
    centre = (lo + hi) / 2.0
    radius = float(np.linalg.norm(hi - lo) / 2.0) or 1.0
    focal = 0.9 * width
    distance = radius * focal / (0.5 * min(width, height)) * 1.1
    return {
        "id": 0, "img_name": "gscc-framing", "width": width, "height": height,
        "position": [float(centre[0]), float(centre[1]), float(centre[2] - distance)],
        "rotation": np.eye(3).tolist(), "fx": focal, "fy": focal,
    }


def _halves(values: np.ndarray) -> np.ndarray:
    """(N, 2k) float values as (N, k) u32 of half2 pairs, first in the low 16 bits."""
    h = np.clip(np.asarray(values, dtype=np.float32), -HALF_MAX, HALF_MAX).astype("<f2")
    return np.ascontiguousarray(h).view("<u4")


def splatv_rows(splats: DynamicSplats) -> np.ndarray:
    """(N, 16) u32 rows of the splat chunk. Colour is baked to RGB (SH degree 0)."""
    if not isinstance(splats.motion, STGMotion):
        raise InputError(f".splatv holds STG motion only, not {splats.kind!r}")
    static = splats.static if isinstance(splats.static, SplatSet) else splats.static.baked()
    n = static.count
    motion = np.zeros((n, 10), np.float32)
    motion[:, :3 * splats.motion.degree] = splats.motion.motion
    rgb = np.clip(static.sh0 * SH_C0 + 0.5, 0.0, 1.0)
    alpha = sigmoid(static.opacities)
    rgba = np.round(np.concatenate([rgb, alpha[:, None]], axis=1) * 255.0).astype(np.uint8)
    scales = np.concatenate([np.exp(static.scales), np.zeros((n, 1), np.float32)], axis=1)
    trbf = np.stack([splats.motion.t_center, np.exp(splats.motion.t_scale)], axis=1)
    return np.concatenate([
        static.means.astype("<f4").view("<u4"),
        _halves(static.quats), _halves(scales),
        np.ascontiguousarray(rgba).view("<u4"),
        _halves(motion), _halves(splats.motion.omega), _halves(trbf),
    ], axis=1)


def write_splatv(splats: DynamicSplats, path: str | os.PathLike, cameras: Optional[list[dict]] = None) -> None:
    """Write a `.splatv` file, atomically, that the splaTV viewer opens."""
    rows = splatv_rows(splats)
    texheight = max(1, -(-len(rows) * 4 // TEXWIDTH))
    padded = np.zeros((texheight * TEXWIDTH // 4, 16), dtype="<u4")
    padded[:len(rows)] = rows
    chunk = {
        "type": "splat", "size": padded.nbytes, "texwidth": TEXWIDTH, "texheight": texheight,
        "cameras": cameras or [framing_camera(splats.static.means)],
    }
    header = json.dumps([chunk]).encode("utf-8")

    def write(handle) -> None:
        handle.write(struct.pack("<II", MAGIC, len(header)))
        handle.write(header)
        handle.write(padded.tobytes())

    write_atomically(path, write)
