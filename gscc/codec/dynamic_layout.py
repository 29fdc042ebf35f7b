"""How each motion model of gscc.dynamic is laid out in a dynamic `.gsc` file (spec/dynamic.md).

A layout names the model's parameters in ``scene.motion`` (with their ranges), the planes
of its per-splat arrays (name -> channels), the shapes of its shared arrays (held in one
``weights`` chunk per segment) and which planes move a splat (the static-splat mask
leaves them out). A new motion model is one entry here plus its gscc.dynamic class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Optional

from ..dynamic import Motion
from .header_fields import check_keys
from ..errors import HeaderError


@dataclass(frozen=True)
class MotionLayout:
    params: dict[str, tuple[int, int]]  # scene.motion key -> inclusive range
    planes: Callable[[dict], dict[str, int]]  # params -> per-splat plane channels, in coding order
    shared: Callable[[dict], dict[str, tuple[int, ...]]]  # params -> shared array shapes
    moving: tuple[str, ...]  # the planes a static splat does not code
    # The motion window (spec/dynamic.md): the plane whose decoded values set each splat's
    # visibility half-window (a log temporal scale), and params -> for each windowed plane
    # the power of the window its channels are coded multiplied by. None: no window.
    window_source: Optional[str] = None
    window_powers: Optional[Callable[[dict], dict[str, tuple[int, ...]]]] = None


LAYOUTS: dict[str, MotionLayout] = {
    "stg": MotionLayout(
        params={"motion_degree": (0, 3)},
        planes=lambda p: {"motion": 3 * p["motion_degree"], "omega": 4, "t_center": 1, "t_scale": 1},
        shared=lambda p: {},
        moving=("motion", "omega"),
        window_source="t_scale",
        window_powers=lambda p: {"motion": tuple(c // 3 + 1 for c in range(3 * p["motion_degree"])),
                                 "omega": (1, 1, 1, 1)},
    ),
    "motion-basis": MotionLayout(
        params={"basis_count": (1, 256), "basis_knots": (1, 4096)},
        planes=lambda p: {"coeffs": p["basis_count"]},
        shared=lambda p: {"basis": (p["basis_count"], p["basis_knots"], 3)},
        moving=("coeffs",),
    ),
}


def motion_entry(motion: Motion) -> dict:
    """``scene.motion`` of a file holding ``motion``'s model."""
    if motion.kind not in LAYOUTS:
        raise ValueError(f"no .gsc layout for motion model {motion.kind!r}")
    return {"kind": motion.kind, **motion.describe()}


def read_motion_entry(entry: object) -> tuple[MotionLayout, dict]:
    """The layout and parameters of ``scene.motion``: a map of ``kind`` and exactly its
    model's parameters (spec/dynamic.md); HeaderError when malformed."""
    if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str) or entry["kind"] not in LAYOUTS:
        kind = entry.get("kind") if isinstance(entry, dict) else None
        raise HeaderError(f"unknown motion model {kind!r} (known: {', '.join(LAYOUTS)})")
    layout = LAYOUTS[entry["kind"]]
    check_keys(entry, "scene.motion", ("kind", *layout.params))
    params = {}
    for key, (low, high) in layout.params.items():
        value = entry.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise HeaderError(f"motion field {key!r} is missing or out of range {low}..{high}")
        params[key] = value
    return layout, params
