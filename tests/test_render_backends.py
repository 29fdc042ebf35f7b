"""The fast rasterizers against the float64 reference renderer (the oracle).

The Taichi CPU backend (float32) must reproduce ``render_reference`` (float64) on seeded
random scenes: image, alpha and depth, and the gradients of a random loss w.r.t. every splat
attribute. gsplat (CUDA only) is checked against the CPU backend where a GPU is present.

float32 arithmetic can flip a discontinuity (the 1/255 skip, the transmittance stop) at a
rare pixel, so images are compared by the fraction of values off by more than a tight
tolerance, and gradients by relative norm error and cosine similarity per attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from gscc.cameras import Camera
from gscc.cameras.orbit import look_at
from gscc.render.api import Gaussians, render
from gscc.render.backends import available_backends
from gscc.render.reference import project_reference, render_reference
from gscc.render.sh import eval_sh_colors

F64 = torch.float64
ATTRS = ("means", "quats", "scales", "opacities", "colors")


# Odd sizes, fx != fy, principal points off the centre, a camera inside the cloud (splats
# behind it and beside it), a wide and a narrow field of view.
CAMERAS = {
    "front": Camera(37, 23, 30.0, 28.0, 18.1, 11.7, look_at([0.3, -3.5, 0.6])),
    "oblique": Camera(48, 33, 36.0, 40.0, 25.3, 15.2, look_at([2.6, 2.1, -1.4], up=(0.1, 0.0, 1.0))),
    "inside": Camera(41, 29, 18.0, 17.0, 20.5, 14.5, look_at([0.2, 0.1, 0.05], target=[1.0, 0.4, 0.2])),
    "tele": Camera(19, 31, 60.0, 62.0, 9.0, 16.3, look_at([-1.0, -4.0, 2.0])),
}


def random_scene(
    n: int, seed: int, sh_degree: int | None, channels: int = 3, dense: bool = False
) -> dict[str, torch.Tensor]:
    """Activated float64 splats in a cube around the origin, a few pixels to tens of pixels wide.

    ``sh_degree`` None gives plain (N, channels) features. ``dense`` packs mostly opaque
    splats into a small ball, so that many pixels reach the transmittance stop.
    """
    rng = np.random.default_rng(seed)
    if dense:
        means = rng.normal(0.0, 0.3, (n, 3))
        logit = rng.normal(3.0, 1.5, n)
    else:
        means = rng.uniform(-1.0, 1.0, (n, 3))
        logit = rng.normal(0.0, 1.5, n)
    quats = rng.normal(size=(n, 4))
    scales = np.exp(rng.normal(-2.7, 0.6, (n, 3)))
    opacities = 1.0 / (1.0 + np.exp(-logit))
    if sh_degree is None:
        colors = rng.uniform(0.0, 1.0, (n, channels))
    else:
        k = (sh_degree + 1) ** 2
        colors = rng.normal(0.0, 0.1, (n, k, 3))
        colors[:, 0] = rng.normal(0.0, 0.8, (n, 3))
    out = dict(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors)
    return {k: torch.tensor(v, dtype=F64) for k, v in out.items()}


def leaves(scene: dict[str, torch.Tensor], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: v.detach().to(dtype).clone().requires_grad_() for k, v in scene.items()}


@dataclass
class Result:
    image: torch.Tensor
    alpha: torch.Tensor
    depth: torch.Tensor
    grads: dict[str, torch.Tensor]
    radii: torch.Tensor | None = None
    means2d: torch.Tensor | None = None


def loss_weights(camera: Camera, channels: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    h, w = camera.height, camera.width
    return (
        torch.randn(h, w, channels, generator=g, dtype=F64),
        torch.randn(h, w, 1, generator=g, dtype=F64),
        torch.randn(h, w, 1, generator=g, dtype=F64),
    )


def weighted_loss(image, alpha, depth, weights, depth_mask):
    wi, wa, wd = (w.to(image.dtype) for w in weights)
    # depth = acc / alpha is ill-conditioned where alpha is tiny: weigh it where alpha is solid
    return (wi * image).sum() + (wa * alpha).sum() + (wd * depth * depth_mask.to(image.dtype)).sum()


def run_reference(scene, camera: Camera, background, sh_degree, weights, depth_mask=None) -> Result:
    p = leaves(scene, F64)
    viewmat = torch.tensor(camera.world_to_camera, dtype=F64)
    K = torch.tensor(camera.K, dtype=F64)
    if p["colors"].ndim == 3:
        center = torch.tensor(camera.center, dtype=F64)
        colors = eval_sh_colors(p["colors"], p["means"], center, sh_degree)
    else:
        colors = p["colors"]
    bg = None if background is None else torch.as_tensor(background, dtype=F64)
    image, alpha, depth = render_reference(
        p["means"], p["quats"], p["scales"], p["opacities"], colors, viewmat, K, camera.width, camera.height,
        background=bg, render_depth=True,
    )
    if depth_mask is None:
        depth_mask = alpha.detach() > 0.2
    weighted_loss(image, alpha, depth, weights, depth_mask).backward()
    proj = project_reference(
        scene["means"], scene["quats"], scene["scales"], scene["opacities"], viewmat, K, camera.width, camera.height
    )
    return Result(
        image.detach(), alpha.detach(), depth.detach(), {k: p[k].grad for k in ATTRS}, proj.radii, proj.means2d
    )


def run_backend(backend: str, scene, camera: Camera, background, sh_degree, weights, depth_mask, device="cpu") -> Result:
    p = {k: v.to(device) for k, v in leaves(scene, torch.float32).items()}
    for v in p.values():
        v.retain_grad()
    g = Gaussians(p["means"], p["quats"], p["scales"], p["opacities"], p["colors"])
    out = render(
        g, camera, backend=backend, sh_degree=sh_degree if p["colors"].ndim == 3 else None,
        background=background, render_depth=True,
    )
    assert out.image.dtype == torch.float32
    assert out.image.shape == (camera.height, camera.width, weights[0].shape[-1])
    assert out.alpha.shape == out.depth.shape == (camera.height, camera.width, 1)
    w = tuple(x.to(device) for x in weights)
    weighted_loss(out.image, out.alpha, out.depth, w, depth_mask.to(device)).backward()
    grads = {k: p[k].grad.detach().cpu().to(F64) for k in ATTRS}
    radii = None if out.radii is None else out.radii.detach().cpu().reshape(-1)
    means2d = None if out.means2d is None else out.means2d.detach().cpu().to(F64).reshape(-1, 2)
    return Result(
        out.image.detach().cpu().to(F64), out.alpha.detach().cpu().to(F64), out.depth.detach().cpu().to(F64),
        grads, radii, means2d,
    )


def assert_maps_close(name, got, want, atol, max_frac=1e-3, hard=0.2):
    """All but a ``max_frac`` fraction of values within ``atol`` (a flipped cut-off), none off by ``hard``."""
    err = (got - want).abs()
    frac = (err > atol).double().mean().item()
    assert frac <= max_frac, f"{name}: {frac:.2%} of values off by > {atol} (max {err.max().item():.3g})"
    assert err.max().item() < hard, f"{name}: max error {err.max().item():.3g}"


def grad_agreement(got: torch.Tensor, want: torch.Tensor) -> tuple[float, float]:
    got, want = got.flatten(), want.flatten()
    rel = ((got - want).norm() / want.norm().clamp_min(1e-30)).item()
    cos = torch.nn.functional.cosine_similarity(got, want, dim=0).item()
    return rel, cos


def assert_grads_close(got: dict, want: dict, rel_tol: float, cos_tol: float):
    report = {}
    for k in ATTRS:
        assert torch.isfinite(got[k]).all(), f"non-finite gradient for {k}"
        assert want[k].norm() > 0, f"the scene gives no gradient for {k}"
        report[k] = grad_agreement(got[k], want[k])
    bad = {k: v for k, v in report.items() if not (v[0] <= rel_tol and v[1] >= cos_tol)}
    assert not bad, f"gradients disagree (relative norm error, cosine): {bad}"


CASES = [
    # (camera, count, seed, sh_degree, channels, background, dense)
    ("front", 120, 0, 3, 3, (0.2, 0.5, 0.9), False),
    ("oblique", 200, 1, 0, 3, None, False),
    ("inside", 150, 2, 3, 3, (1.0, 1.0, 1.0), False),
    ("tele", 60, 3, None, 5, (0.1, 0.2, 0.3, 0.4, 0.5), False),
    ("front", 40, 4, None, 1, None, False),
    ("oblique", 300, 5, 3, 3, (0.0, 0.0, 0.0), False),
    ("front", 250, 6, 1, 3, (0.5, 0.5, 0.5), True),
    ("tele", 200, 7, None, 2, None, True),
]


@pytest.mark.parametrize("cam,n,seed,sh_degree,channels,background,dense", CASES)
def test_taichi_matches_reference(cam, n, seed, sh_degree, channels, background, dense):
    camera = CAMERAS[cam]
    scene = random_scene(n, seed, sh_degree, channels, dense)
    weights = loss_weights(camera, channels, seed)
    ref = run_reference(scene, camera, background, sh_degree, weights)
    depth_mask = ref.alpha > 0.2
    assert (ref.radii > 0).sum() >= min(20, n // 3), "the scene should be mostly visible"
    assert depth_mask.any()
    if dense:  # T < 0.005 behind these pixels: the next near-opaque splat hits the stop
        assert (ref.alpha > 0.995).sum() >= 10, "the dense scene should reach the transmittance stop"

    got = run_backend("taichi", scene, camera, background, sh_degree, weights, depth_mask)
    assert_maps_close("image", got.image, ref.image, atol=1e-4)
    assert_maps_close("alpha", got.alpha, ref.alpha, atol=1e-4)
    solid = ref.alpha > 0.05
    rel_depth = (got.depth - ref.depth).abs() / ref.depth.abs().clamp_min(1e-6)
    assert_maps_close("depth (relative, alpha > 0.05)", rel_depth[solid], torch.zeros_like(rel_depth[solid]), atol=1e-4)
    assert torch.all(got.depth[got.alpha == 0] == 0)

    # projection outputs: the same splats are drawn, at the same places
    drawn = ref.radii > 0
    assert got.radii is not None and got.means2d is not None
    mismatch = (got.radii.to(torch.int64) != ref.radii).sum().item()
    assert mismatch <= max(1, n // 100), f"{mismatch} radii differ"
    assert ((got.radii.to(torch.int64) - ref.radii).abs() <= 1).all()
    torch.testing.assert_close(got.means2d[drawn], ref.means2d[drawn], atol=2e-4, rtol=1e-5)

    assert_grads_close(got.grads, ref.grads, rel_tol=1e-3, cos_tol=0.99999)


def test_taichi_backend_via_api_matches_reference_backend_via_api():
    """The two backends behind ``render``, same inputs: the plumbing (SH, depth, background) agrees."""
    camera = CAMERAS["front"]
    scene = random_scene(80, 11, 2)
    outs = {}
    for backend, dtype in (("reference", F64), ("taichi", torch.float32)):
        p = leaves(scene, dtype)
        g = Gaussians(p["means"], p["quats"], p["scales"], p["opacities"], p["colors"])
        out = render(g, camera, backend=backend, sh_degree=1, background=0.5, render_depth=True)
        assert out.backend == backend
        outs[backend] = out
    ref, tai = outs["reference"], outs["taichi"]
    assert_maps_close("image", tai.image.double(), ref.image, atol=1e-4)
    assert_maps_close("alpha", tai.alpha.double(), ref.alpha, atol=1e-4)
    solid = ref.alpha > 0.05
    assert solid.any()
    torch.testing.assert_close(tai.depth.double()[solid], ref.depth[solid], rtol=1e-4, atol=1e-5)


def test_taichi_handles_an_empty_view():
    """Every splat culled (behind the camera): background everywhere, zero alpha, no NaN gradients."""
    camera = CAMERAS["front"]
    scene = random_scene(10, 7, 0)
    eye = torch.tensor(camera.center)
    R = torch.tensor(camera.world_to_camera[:3, :3])
    scene["means"] = eye - 2.0 * R[2] + 0.1 * scene["means"]  # 2 units behind the camera centre
    p = leaves(scene, torch.float32)
    g = Gaussians(p["means"], p["quats"], p["scales"], p["opacities"], p["colors"])
    out = render(g, camera, backend="taichi", background=(0.1, 0.2, 0.3))
    assert torch.all(out.alpha == 0)
    torch.testing.assert_close(out.image, torch.tensor([0.1, 0.2, 0.3]).expand_as(out.image))
    out.image.sum().backward()
    for k in ATTRS:
        grad = p[k].grad
        assert grad is None or (torch.isfinite(grad).all() and (grad == 0).all())


# --------------------------------------------------------------------------- gsplat


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_gsplat_is_reported_unavailable_without_cuda():
    reason = available_backends()["gsplat"]
    assert reason, "gsplat must not be reported available without CUDA"
    assert "CUDA" in reason
    scene = random_scene(5, 0, 0)
    p = leaves(scene, torch.float32)
    g = Gaussians(p["means"], p["quats"], p["scales"], p["opacities"], p["colors"])
    with pytest.raises(RuntimeError, match="gsplat.*unavailable"):
        render(g, CAMERAS["front"], backend="gsplat")


# gsplat clamps the EWA Jacobian to a range around (cx, cy) that equals our symmetric
# ±1.3·tan(fov/2) only for centred principal points, so these cameras are centred.
GSPLAT_CAMERAS = {
    "front": Camera(37, 23, 30.0, 28.0, 18.5, 11.5, look_at([0.3, -3.5, 0.6])),
    "oblique": Camera(48, 33, 36.0, 40.0, 24.0, 16.5, look_at([2.6, 2.1, -1.4], up=(0.1, 0.0, 1.0))),
    "inside": Camera(41, 29, 18.0, 17.0, 20.5, 14.5, look_at([0.2, 0.1, 0.05], target=[1.0, 0.4, 0.2])),
}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat needs a CUDA device")
@pytest.mark.parametrize(
    "cam,n,seed,sh_degree,channels,background",
    [
        ("front", 150, 0, 3, 3, (0.2, 0.5, 0.9)),
        ("oblique", 300, 1, None, 4, None),
        ("inside", 200, 2, 3, 3, (1.0, 1.0, 1.0)),
    ],
)
def test_gsplat_matches_taichi_and_reference(cam, n, seed, sh_degree, channels, background):
    assert available_backends()["gsplat"] == "", available_backends()["gsplat"]
    camera = GSPLAT_CAMERAS[cam]
    scene = random_scene(n, seed, sh_degree, channels)
    weights = loss_weights(camera, channels, seed)
    ref = run_reference(scene, camera, background, sh_degree, weights)
    depth_mask = ref.alpha > 0.2
    gs = run_backend("gsplat", scene, camera, background, sh_degree, weights, depth_mask, device="cuda")
    cpu = run_backend("taichi", scene, camera, background, sh_degree, weights, depth_mask)
    for name, other in (("reference", ref), ("taichi", cpu)):
        assert_maps_close(f"gsplat vs {name} image", gs.image, other.image, atol=5e-4, max_frac=5e-3)
        assert_maps_close(f"gsplat vs {name} alpha", gs.alpha, other.alpha, atol=5e-4, max_frac=5e-3)
        solid = ref.alpha > 0.05
        torch.testing.assert_close(gs.depth[solid], other.depth[solid], rtol=1e-3, atol=1e-4)
        assert_grads_close(gs.grads, other.grads, rel_tol=1e-2, cos_tol=0.9995)
    # gsplat's radii are per-axis (tighter), but it draws the same splats
    assert ((gs.radii > 0) == (ref.radii > 0)).double().mean() > 0.98
