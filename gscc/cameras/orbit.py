"""Cameras on a circle around a splat set, looking at its centre and framing all of it.

The centre is the middle of the axis-aligned bounding box of the splat means and the radius
that of the smallest sphere about that centre holding every mean. A pinhole camera with
half field of view θ (the smaller of the horizontal and vertical half-angles) sees the
whole sphere when its centre is at distance ``radius / sin θ`` or more; the orbit uses that
distance times a small margin. Cameras are evenly spaced in azimuth on a circle about the
``up`` axis through the centre, raised by ``elevation`` degrees towards ``up``.

3DGS scenes reconstructed with COLMAP (and Marcel Padilla's splats) have -y up, the
default; NeRF-synthetic scenes have +z up.

Two options serve real captures, whose splats include far background and stray floaters and
which were filmed from one side (forward-facing scenes such as the STG kitchens):

- ``fit=core`` frames the core of the scene instead of every mean: the centre is the middle
  of the box between the 2nd and 98th percentiles of the means per axis and the radius the
  98th percentile of the means' distances from it;
- ``arc=DEG`` (with ``azimuth=DEG``) spreads the cameras evenly over an arc of that many
  degrees centred on that azimuth, both ends included, instead of the full circle.
  Azimuth 0 is the world axis after ``up``'s (x -> y -> z -> x: z for the default -y up) and
  grows towards ``up`` x that axis.
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
FITS = ("all", "core")
CORE_PERCENTILES = (2.0, 98.0)
# option name in the spec -> OrbitSpec field
OPTIONS = {"elevation": "elevation_deg", "fov": "fov_deg", "up": "up", "arc": "arc_deg",
           "azimuth": "azimuth_deg", "fit": "fit"}


@dataclass(frozen=True)
class OrbitSpec:
    """What ``orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS][,arc=DEG][,azimuth=DEG][,fit=all|core]``
    asks for."""

    count: int
    elevation_deg: float = DEFAULT_ELEVATION_DEG
    fov_deg: float = DEFAULT_FOV_DEG
    up: str = DEFAULT_UP
    arc_deg: float = 360.0
    azimuth_deg: float = 0.0
    fit: str = "all"


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
    """Parse ``orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS][,arc=DEG][,azimuth=DEG][,fit=all|core]``
    (N cameras, N >= 1)."""
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
        if not sep or key not in OPTIONS or OPTIONS[key] in options:
            raise InputError(
                f"camera spec {spec!r}: expected orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS][,arc=DEG]"
                "[,azimuth=DEG][,fit=all|core], each option once"
            )
        if key == "up":
            parse_up(value)
            options[key] = value.strip().lower()
            continue
        if key == "fit":
            if value.strip().lower() not in FITS:
                raise InputError(f"camera spec {spec!r}: fit must be one of {', '.join(FITS)}")
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
        if key == "arc" and not 0.0 <= number <= 360.0:
            raise InputError(f"camera spec {spec!r}: arc must be within 0..360 degrees")
        if key == "azimuth" and not (math.isfinite(number) and -360.0 <= number <= 360.0):
            raise InputError(f"camera spec {spec!r}: azimuth must be within -360..360 degrees")
        options[OPTIONS[key]] = number
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


def core_sphere(splats: SplatSet) -> tuple[np.ndarray, float]:
    """Centre and radius framing the core of a splat set (``fit=core``, module docstring)."""
    means = splats.means.astype(np.float64)
    if means.shape[0] == 0:
        raise InputError("cannot place orbit cameras around an empty splat set")
    low, high = np.percentile(means, CORE_PERCENTILES, axis=0)
    centre = 0.5 * (low + high)
    radius = float(np.percentile(np.sqrt(((means - centre) ** 2).sum(axis=1)), CORE_PERCENTILES[1]))
    if not (math.isfinite(radius) and radius > 0.0):
        return bounding_sphere(splats)
    return centre, radius


def orbit_azimuths(count: int, arc_deg: float = 360.0, azimuth_deg: float = 0.0) -> np.ndarray:
    """The cameras' azimuths in radians: the full circle evenly (from ``azimuth_deg``), or an
    arc of ``arc_deg`` centred on ``azimuth_deg`` with both ends included."""
    if arc_deg >= 360.0:
        fractions = np.arange(count) / count
        return np.radians(azimuth_deg) + 2.0 * math.pi * fractions
    if count == 1:
        return np.array([math.radians(azimuth_deg)])
    return np.radians(azimuth_deg + arc_deg * (np.arange(count) / (count - 1) - 0.5))


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
    arc_deg: float = 360.0,
    azimuth_deg: float = 0.0,
) -> list[Camera]:
    """``count`` cameras evenly spaced on a circle (or an arc of it) about ``up`` through ``centre``."""
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
    for index, azimuth in enumerate(orbit_azimuths(count, arc_deg, azimuth_deg)):
        direction = math.cos(elevation) * (math.cos(azimuth) * first + math.sin(azimuth) * second)
        direction = direction + math.sin(elevation) * up_vector
        eye = centre + distance * direction
        w2c = look_at(eye, centre, up_vector)
        cameras.append(Camera.from_fov(width, height, fov_x, w2c, name=f"orbit {index:04d}"))
    return cameras


def orbit_around(splats: SplatSet, spec: OrbitSpec, *, width: int, height: int) -> list[Camera]:
    """The cameras of an orbit spec around a splat set."""
    centre, radius = (core_sphere if spec.fit == "core" else bounding_sphere)(splats)
    return orbit_cameras(
        centre, radius, spec.count, width=width, height=height, fov_deg=spec.fov_deg,
        elevation_deg=spec.elevation_deg, up=spec.up, arc_deg=spec.arc_deg, azimuth_deg=spec.azimuth_deg,
    )
