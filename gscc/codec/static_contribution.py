"""Which static splats renders can spare: the order pruning by contribution drops them in.

Each splat's estimated squared error if dropped (gscc.codec.contribution: its blending
weight times its colour against the image's, read off one render with a backward pass)
is summed over many views from all around the scene -- orbits at ``VIEWS``' elevations,
below, level, above and nearly overhead, and a closer ring -- so a splat hidden from a
few views but seen from others is not taken for an invisible one. A quality target's
probe alone (4 orbit views at one elevation) would overfit: on the phone capture
``plant``, dropping 5 % of its splats by their error in those 4 views is 88.7 dB there
(PSNR of the pruning alone) but 63.2 dB in views from other elevations, while by their
error in these 34 views it is 78.5 dB in both (bench/README.md, "Pruning in the quality
search"). Even these views miss some splats of some scenes (the mesh teapot), so the
quality search checks the pruning on other views as well (gscc.codec.target).

Needs torch (encoding only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..cameras import Camera
from ..splats import FeatureSplats, SplatSet
from .contribution import contributions

# orbit specs (gscc.cameras) of the views the errors are summed over
VIEWS = (
    "orbit:4",
    "orbit:8,elevation=40,azimuth=22.5",
    "orbit:8,elevation=-10,azimuth=45",
    "orbit:6,elevation=70,azimuth=10",
    "orbit:8,elevation=15,azimuth=30,fov=30",
)


class _Still:
    """A static scene as a one-time dynamic one (what ``contributions`` reads)."""

    def __init__(self, splats: SplatSet | FeatureSplats) -> None:
        self.splats, self.count = splats, splats.count

    def at(self, t: float) -> SplatSet | FeatureSplats:
        return self.splats


def view_cameras(splats: SplatSet | FeatureSplats, specs: Sequence[str], size: tuple[int, int]) -> list[Camera]:
    """The cameras of orbit ``specs`` around ``splats``, ``size`` (width, height) pixels."""
    from ..cameras import load_cameras

    anchor = splats.baked() if isinstance(splats, FeatureSplats) else splats
    return [c for spec in specs for c in load_cameras(spec, splats=anchor, width=size[0], height=size[1])]


def pruning_order(splats: SplatSet | FeatureSplats, size: tuple[int, int], specs: Sequence[str] = VIEWS) -> np.ndarray:
    """(N,) indices of ``splats``, the one whose dropping costs least (estimated squared
    error summed over the views of ``specs``, ``size`` pixels) first; ties keep the input order."""
    probed = contributions(_Still(splats), view_cameras(splats, specs, size), [0.0])
    return np.argsort(probed.error.astype(np.float64).sum(axis=0), kind="stable")
