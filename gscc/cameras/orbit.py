"""Cameras on a circle around a splat set, looking at its centre and framing all of it.

The centre is the middle of the axis-aligned bounding box of the splat means and the radius
that of the smallest sphere about that centre holding every mean. A pinhole camera with
half field of view θ (the smaller of the horizontal and vertical half-angles) sees the
whole sphere when its centre is at distance ``radius / sin θ`` or more; the orbit uses that
distance times a small margin. Cameras are evenly spaced in azimuth on a circle about the
``up`` axis through the centre, raised by ``elevation`` degrees towards ``up``.

3DGS scenes reconstructed with COLMAP (and Marcel Padilla's splats) have -y up, the
default; NeRF-synthetic scenes have +z up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..splats import SplatSet
from .camera import Camera

AXES = {"x": 0, "y": 1, "z": 2}
DEFAULT_FOV_DEG = 50.0
DEFAULT_ELEVATION_DEG = 15.0
DEFAULT_UP = "-y"
MARGIN = 1.1


@dataclass(frozen=True)
class OrbitSpec:
    """What ``orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS]`` asks for."""

    count: int
    elevation_deg: float = DEFAULT_ELEVATION_DEG
    fov_deg: float = DEFAULT_FOV_DEG
    up: str = DEFAULT_UP


def parse_up(text: str) -> np.ndarray:
    """A unit vector from an axis name: x, y, z with an optional sign (``-y``, ``+z``)."""
    text = text.strip().lower()
    sign = -1.0 if text.startswith("-") else 1.0
    axis = text.lstrip("+-")
    if axis not in AXES or len(text) - len(axis) > 1:
        raise InputError(f"up axis {text!r}: expected one of x, y, z with an optional sign (e.g. -y, +z)")
    vector = np.zeros(3)
    vector[AXES[axis]] = sign
    return vector


def parse_orbit_spec(spec: str) -> OrbitSpec:
    """Parse ``orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS]`` (N cameras, N >= 1)."""
    if not spec.startswith("orbit:"):
        raise InputError(f"camera spec {spec!r}: not an orbit (orbit:N)")
    parts = spec[len("orbit:"):].split(",")
    try:
        count = int(parts[0])
    except ValueError:
        raise InputError(f"camera spec {spec!r}: the number of orbit cameras must be a whole number (orbit:N)") from None
    if not 1 <= count <= 100_000:
        raise InputError(f"camera spec {spec!r}: the number of orbit cameras must be 1 to 100000")
    options: dict[str, object] = {}
    for part in parts[1:]:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in ("elevation", "fov", "up") or key in options:
            raise InputError(
                f"camera spec {spec!r}: expected orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS], each option once"
            )
        if key == "up":
            parse_up(value)
            options[key] = value.strip().lower()
            continue
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"camera spec {spec!r}: {key} must be a number of degrees") from None
        if key == "elevation" and not -89.0 <= number <= 89.0:
            raise InputError(f"camera spec {spec!r}: elevation must be within -89..89 degrees")
        if key == "fov" and not 1.0 <= number <= 170.0:
            raise InputError(f"camera spec {spec!r}: fov must be within 1..170 degrees")
        options[key + "_deg"] = number
    return OrbitSpec(count, **options)  # type: ignore[arg-type]


def bounding_sphere(splats: SplatSet) -> tuple[np.ndarray, float]:
    """Centre (bounding-box middle) and radius of a sphere holding every splat mean."""
    means = splats.means.astype(np.float64)
    if means.shape[0] == 0:
        raise InputError("cannot place orbit cameras around an empty splat set")
    centre = 0.5 * (means.min(axis=0) + means.max(axis=0))
    radius = float(np.sqrt(((means - centre) ** 2).sum(axis=1).max()))
    if radius <= 0.0:  # a single splat, or all at one point: frame its extent instead
        radius = float(3.0 * np.exp(splats.scales.astype(np.float64)).max())
    if not (math.isfinite(radius) and radius > 0.0):
        radius = 1.0
    return centre, radius


def look_at(eye, target=(0.0, 0.0, 0.0), up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World-to-camera (OpenCV axes) for a camera at ``eye`` looking at ``target``, ``up`` up."""
    eye, target, up = (np.asarray(v, dtype=np.float64) for v in (eye, target, up))
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, up)
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("the viewing direction is parallel to the up axis")
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward], axis=1)  # camera-to-world columns
    w2c = np.eye(4)
    w2c[:3, :3] = rotation.T
    w2c[:3, 3] = -rotation.T @ eye
    return w2c


def orbit_distance(radius: float, width: int, height: int, fov_x: float, margin: float = MARGIN) -> float:
    """How far from the centre a camera must be to see all of a sphere of ``radius``."""
    half_x = 0.5 * fov_x
    half_y = math.atan(math.tan(half_x) * height / width)
    return margin * radius / math.sin(min(half_x, half_y))


def orbit_cameras(
    centre: np.ndarray,
    radius: float,
    count: int,
    *,
    width: int,
    height: int,
    fov_deg: float = DEFAULT_FOV_DEG,
    elevation_deg: float = DEFAULT_ELEVATION_DEG,
    up: str = DEFAULT_UP,
) -> list[Camera]:
    """``count`` cameras evenly spaced on a circle about ``up`` through ``centre``."""
    if count < 1:
        raise InputError("an orbit needs at least one camera")
    up_vector = parse_up(up)
    centre = np.asarray(centre, dtype=np.float64)
    fov_x = math.radians(fov_deg)
    distance = orbit_distance(radius, width, height, fov_x)
    # two unit vectors spanning the plane perpendicular to up
    axis = int(np.argmax(np.abs(up_vector)))
    first = np.zeros(3)
    first[(axis + 1) % 3] = 1.0
    second = np.cross(up_vector, first)
    elevation = math.radians(elevation_deg)
    cameras = []
    for index in range(count):
        azimuth = 2.0 * math.pi * index / count
        direction = math.cos(elevation) * (math.cos(azimuth) * first + math.sin(azimuth) * second)
        direction = direction + math.sin(elevation) * up_vector
        eye = centre + distance * direction
        w2c = look_at(eye, centre, up_vector)
        cameras.append(Camera.from_fov(width, height, fov_x, w2c, name=f"orbit {index:04d}"))
    return cameras


def orbit_around(splats: SplatSet, spec: OrbitSpec, *, width: int, height: int) -> list[Camera]:
    """The cameras of an orbit spec around a splat set."""
    centre, radius = bounding_sphere(splats)
    return orbit_cameras(
        centre, radius, spec.count, width=width, height=height,
        fov_deg=spec.fov_deg, elevation_deg=spec.elevation_deg, up=spec.up,
    )
