"""Pruning by contribution: how much each splat of a dynamic segment adds to renders.

A splat's contribution to a view is its total blending weight there: the sum over the
view's pixels of w = alpha_i * T_i (its opacity at the pixel times the transmittance in
front of it), i.e. how many pixels' worth of colour it paints. Dropping it changes a pixel
by about w (c_i - I) (its colour against the image's), so the squared error it would add
to the view is estimated as opacity / 2 * sum over its pixels of w |c_i - I|^2 (mean over
the colour channels; w is at most the splat's opacity at a pixel, and over a Gaussian
footprint sum w^2 = opacity / 2 * sum w). Both sums are read off one render with a
backward pass: the splats' features are their colours (each splat's own colour seen from
the camera: SH, or its features through the colour MLP) and two 1s; the gradient of
sum(image * G) with respect to a splat's features, G the image's colour, 1 and |colour|^2
per pixel, is the sum over the splat's pixels of w G. A splat that grows more opaque
within half a probe step of the probe time (one that lives a short time between two probe
times) has its error scaled by the square of how much (at most ``MAX_BRIGHTENING``).

The probe is a set of views seen at a few times spread over the segment: the scene's own
cameras (a `.splatv` header's), when given, and an orbit around the splats at mid-segment,
all rendered ``PROBE_WIDTH`` pixels across (Taichi CPU rasterizer). A splat's *peak
contribution* is its largest weight over the views x times. Splats whose peak stays below
a fraction of a pixel are hidden behind others, far outside every view, too small or too
faint at every time: each costs renders next to nothing, but thousands of them in one view
add up (a close-up training camera sees many more fine splats than an orbit view: the
worst render of a file is there). So pruning can hold a *budget per view*: the candidates
(peak below the threshold) go least summed error first, each only while no probe view's
summed error of the splats dropped would exceed that view's squared error at a chosen
PSNR (bench/README.md, dynamic codec).

Needs torch (encoding only; decoding never renders).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..cameras import Camera
from ..dynamic import DynamicSplats
from ..splats import FeatureSplats, SplatSet

PROBE_WIDTH = 320  # pixels across every probe view (the threshold is in these pixels)
PROBE_ELEVATION_DEG = 20.0  # orbit probe cameras' elevation
CHECK_ROUNDS = 3  # renders checking the budget per view (prune_within_views)
NEARBY_SAMPLES = 9  # times within half a probe step a splat's opacity is looked at
MAX_BRIGHTENING = 4.0  # cap on how much brighter near a probe time than at it counts


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


@dataclass(frozen=True)
class Contributions:
    """What each splat adds to each probe view (one row per camera x time)."""

    weight: np.ndarray  # (V, N) float32: total blending weight, pixels
    error: np.ndarray  # (V, N) float32: estimated squared error of dropping the splat alone
    pixels: np.ndarray  # (V,) pixels of each view

    @property
    def peak(self) -> np.ndarray:
        """(N,) float64: each splat's largest weight over the views."""
        return self.weight.max(axis=0).astype(np.float64)

    def dropped(self, threshold: float, view_psnr: float = 0.0, correction: np.ndarray | None = None) -> np.ndarray:
        """(N,) bool: the splats pruning drops. Candidates are those whose peak stays below
        ``threshold`` pixels. With ``view_psnr`` > 0 (dB) they go least summed error first,
        each only while every view's summed error of the dropped splats stays within
        pixels * 10^(-view_psnr / 10) (that view's squared error at that PSNR); the others
        are kept. Without, every candidate goes. ``correction`` (V,): factors the views'
        estimated errors are multiplied by (measured against estimated, see
        :func:`prune_within_views`)."""
        peak = self.peak
        dropped = peak < threshold
        if view_psnr <= 0 or not dropped.any():
            return dropped
        budget = self.pixels * 10.0 ** (-view_psnr / 10.0)
        spent = np.zeros(len(budget))
        candidates = np.flatnonzero(dropped)
        candidates = candidates[np.argsort(self.error[:, candidates].sum(axis=0), kind="stable")]
        scale = np.ones(len(budget)) if correction is None else np.asarray(correction, np.float64)
        errors = np.ascontiguousarray(self.error[:, candidates].T * scale, dtype=np.float64)  # (candidates, V)
        dropped[:] = False
        for index, error in zip(candidates, errors):
            after = spent + error
            if (after <= budget).all():
                spent = after
                dropped[index] = True
        return dropped


def contributions(splats: DynamicSplats, cameras: Sequence[Camera], times: Sequence[float]) -> Contributions:
    """Each splat's weight and error in each of ``cameras`` x ``times`` (local times of the
    segment; rows time-major)."""
    import torch

    from ..render import render
    from ..render.api import Gaussians

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32)

    weight, error = [], []
    times = np.asarray(times, np.float64).reshape(-1)
    half_step = float(np.median(np.diff(times))) / 2 if len(times) > 1 else 0.0
    for t in times:
        brighter = nearby_brightening(splats, t, half_step, times[0], times[-1])
        at = splats.at(float(t))
        means, quats = tensor(at.means), tensor(at.quats)
        scales, opacities = torch.exp(tensor(at.scales)), torch.sigmoid(tensor(at.opacities))
        colors_from = splat_colors(at, means)
        for camera in cameras:
            with torch.no_grad():
                colors = colors_from(camera)
            # features: the colour (gradient: sum w I), a 1 (sum w) and a 1 (sum w |I|^2)
            features = torch.cat([colors, torch.ones(splats.count, 2)], dim=1).requires_grad_(True)
            out = render(Gaussians(means, quats, scales, opacities, features), camera, backend="taichi").image
            image = out[..., :3].detach()
            loss = (out[..., :3] * image).sum() + out[..., 3].sum() + (out[..., 4] * (image * image).sum(dim=-1)).sum()
            loss.backward()
            grad = features.grad.double()
            c = colors.double()
            squared = (c * c).sum(dim=1) * grad[:, 3] - 2.0 * (c * grad[:, :3]).sum(dim=1) + grad[:, 4]
            # sum w d^2 bounds the squared error only loosely: a pixel's w is at most the
            # splat's opacity, and over a Gaussian footprint sum w^2 = opacity / 2 * sum w
            factor = 0.5 * opacities.double() * torch.as_tensor(brighter) ** 2
            weight.append(grad[:, 3].numpy().astype(np.float32))
            error.append(np.maximum((factor * squared).numpy() / 3.0, 0.0).astype(np.float32))
    pixels = np.array([camera.width * camera.height for camera in cameras] * len(times), dtype=np.float64)
    return Contributions(np.stack(weight), np.stack(error), pixels)


def nearby_brightening(splats: DynamicSplats, t: float, half_step: float, start: float, end: float) -> np.ndarray:
    """(N,) float64 in [1, MAX_BRIGHTENING]: how much more opaque each splat gets within
    ``half_step`` of probe time ``t`` (inside [start, end]) than at ``t``. A splat that
    lives a short time between two probe times is judged at its fading edges; its error
    (weight times opacity) near ``t`` is up to this squared times the one rendered at ``t``."""
    if half_step <= 0:
        return np.ones(splats.count)
    near = np.clip(t + np.linspace(-half_step, half_step, NEARBY_SAMPLES), start, end)
    at = splats.motion.visibility(np.array([t])).astype(np.float64)
    peak = splats.motion.visibility(near).astype(np.float64)
    return np.clip(peak / np.maximum(at, 1e-30), 1.0, MAX_BRIGHTENING)


def splat_colors(splats: SplatSet | FeatureSplats, means) -> Callable[[Camera], object]:
    """A function of a camera giving (N, 3) torch colours: each splat's own colour seen from
    the camera (its SH, or its features through the scene's colour MLP along the
    direction from the camera to it); ``means`` the splats' (N, 3) torch positions."""
    import torch

    def directions(camera: Camera):
        center = torch.as_tensor(camera.center, dtype=means.dtype)
        return means - center

    if isinstance(splats, FeatureSplats):
        from ..model.features import FeatureModel

        model = FeatureModel.from_scene(splats)
        features = torch.as_tensor(splats.features, dtype=model.decoder.layers[0].weight.dtype)

        def mlp(camera: Camera):
            d = directions(camera).to(features.dtype)
            return model.decode(features, d / d.norm(dim=-1, keepdim=True).clamp_min(1e-12)).to(means.dtype)

        return mlp
    from ..render.api import Gaussians
    from ..render.sh import eval_sh_colors

    coeffs = Gaussians.from_splats(splats).colors
    degree = splats.sh_degree
    return lambda camera: eval_sh_colors(coeffs, means, torch.as_tensor(camera.center, dtype=means.dtype), degree)


def prune_within_views(
    splats: DynamicSplats, cameras: Sequence[Camera], times: Sequence[float], probed: Contributions,
    threshold: float, view_psnr: float, memo: dict | None = None,
) -> np.ndarray:
    """(N,) bool: the splats pruning drops within the budget per view, the estimates checked
    against renders. The estimate misses where dropped splats overlap (their errors add
    up in a pixel: faint sparks along one firework trail) and where a splat's colour is
    far from what lies behind it. So after choosing, the probe views (``cameras`` x
    ``times``, as ``probed`` was made) are rendered with and without the dropped splats;
    each view whose measured error exceeds its budget gets its estimates scaled by
    measured / estimated, and the choice is made again (at most ``CHECK_ROUNDS`` times).
    ``memo``: a dict the renders of ``splats`` are kept in between calls."""
    budget = probed.pixels * 10.0 ** (-view_psnr / 10.0)
    reference = None if memo is None else memo.get("reference")
    if reference is None:
        reference = [image.astype(np.float32) for image in probe_renders(splats, cameras, times)]
        if memo is not None:
            memo["reference"] = reference
    correction = np.ones(len(budget))
    dropped = probed.dropped(threshold, view_psnr, correction)
    for _ in range(CHECK_ROUNDS):
        if not dropped.any():
            break
        renders = probe_renders(splats.subset(np.flatnonzero(~dropped)), cameras, times)
        measured = np.array([float(np.mean((a - b) ** 2, axis=-1).sum()) for a, b in zip(renders, reference)])
        over = measured > budget
        if not over.any():
            break
        estimated = probed.error[:, dropped].sum(axis=1) * correction
        correction[over] *= measured[over] / np.maximum(estimated[over], 1e-12 * budget[over])
        dropped = probed.dropped(threshold, view_psnr, correction)
    return dropped


def probe_renders(splats, cameras: Sequence[Camera], times: Sequence[float], backend: str = "taichi") -> list[np.ndarray]:
    """Renders (H, W, 3) float64 of ``splats`` (DynamicSplats or a DynamicScene: anything
    with ``at(t)``) from ``cameras`` x ``times`` (time-major)."""
    from ..eval.render_views import Renderer

    images = []
    for t in times:
        renderer = Renderer(splats.at(float(t)), backend=backend)
        images += [renderer.render(camera)[0].astype(np.float64) for camera in cameras]
    return images


def peak_contribution(splats: DynamicSplats, cameras: Sequence[Camera], times: Sequence[float]) -> np.ndarray:
    """(N,) float64: each splat's largest total blending weight (pixels) over ``cameras``
    x ``times`` (local times of the segment)."""
    return contributions(splats, cameras, times).peak
