"""Pruning by contribution: how much each splat of a dynamic segment adds to renders.

A splat's contribution to a view is its total blending weight there: the sum over the
view's pixels of alpha_i * T_i (its opacity at the pixel times the transmittance in front
of it), i.e. how many pixels' worth of colour it paints. It is read off one backward pass:
rendering a constant feature of 1 per splat, the gradient of the image's sum with respect
to a splat's feature is exactly that sum. A splat's *peak contribution* is the largest
over a set of probe views seen at a few times spread over the segment: the scene's own
cameras (a `.splatv` header's), when given, and an orbit around the splats at mid-segment,
all rendered ``PROBE_WIDTH`` pixels across (Taichi CPU rasterizer). Splats whose peak
contribution stays below a fraction of a pixel are hidden behind others, far outside
every view, too small or too faint at every time -- dropping them costs renders nothing
measurable and saves every bit they would cost (bench/README.md, dynamic codec).

Needs torch (encoding only; decoding never renders).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..cameras import Camera
from ..dynamic import DynamicSplats

PROBE_WIDTH = 320  # pixels across every probe view (the threshold is in these pixels)
PROBE_TIMES = 11  # times the probe renders each view at, ends of the segment included
PROBE_ELEVATION_DEG = 20.0  # orbit probe cameras' elevation


def probe_cameras(splats: DynamicSplats, cameras: Sequence[Camera], views: int) -> list[Camera]:
    """The given cameras scaled to ``PROBE_WIDTH`` pixels across, then ``views`` orbit
    cameras around the splats at mid-segment (16:9, ``PROBE_WIDTH`` across). ValueError
    when that makes no camera at all."""
    from ..cameras import load_cameras

    if not cameras and views <= 0:
        raise ValueError("pruning by contribution needs probe views: the scene's cameras or at least one orbit view")
    probe = [c.scaled(PROBE_WIDTH / c.width) for c in cameras]
    if views > 0:
        probe += load_cameras(f"orbit:{views},elevation={PROBE_ELEVATION_DEG:g}", splats=splats.at(0.5),
                              width=PROBE_WIDTH, height=PROBE_WIDTH * 9 // 16)
    return probe


def peak_contribution(splats: DynamicSplats, cameras: Sequence[Camera], times: Sequence[float]) -> np.ndarray:
    """(N,) float64: each splat's largest total blending weight (pixels) over ``cameras``
    x ``times`` (local times of the segment)."""
    import torch

    from ..render import render
    from ..render.api import Gaussians

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)

    peak = np.zeros(splats.count)
    for t in times:
        at = splats.at(float(t))
        means, quats = tensor(at.means), tensor(at.quats)
        scales, opacities = torch.exp(tensor(at.scales)), torch.sigmoid(tensor(at.opacities))
        for camera in cameras:
            ones = torch.ones(splats.count, 1, requires_grad=True)
            out = render(Gaussians(means, quats, scales, opacities, ones), camera, backend="taichi")
            out.image.sum().backward()
            peak = np.maximum(peak, ones.grad[:, 0].numpy().astype(np.float64))
    return peak
