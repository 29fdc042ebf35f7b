"""The Taichi CPU rasterizer against a dense float64 torch implementation of the same 2D
compositing rules (written here, independently of the kernels)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch

from gscc.render import taichi_raster
from gscc.render.taichi_raster import rasterize_2d, tile_intersections

ALPHA_MIN = 1.0 / 255.0


def dense_composite(means2d, conics, opacities, colors, depths, radii, width, height, background=None):
    """Every visible splat at every pixel centre, in float64; returns image, alpha and
    counters of how often the cut-offs fired (to check a case really exercises them)."""
    means2d, conics, opacities, colors = (t.to(torch.float64) for t in (means2d, conics, opacities, colors))
    visible = [i for i in range(radii.shape[0]) if int(radii[i]) > 0]
    visible.sort(key=lambda i: (float(depths[i]), i))
    ys = torch.arange(height, dtype=torch.float64)[:, None] + 0.5
    xs = torch.arange(width, dtype=torch.float64)[None, :] + 0.5
    T = torch.ones(height, width, dtype=torch.float64)
    acc = torch.zeros(height, width, colors.shape[1], dtype=torch.float64)
    stopped = torch.zeros(height, width, dtype=torch.bool)
    stats = {"stopped": 0, "faint": 0, "clamped": 0}
    for i in visible:
        dx = xs - means2d[i, 0]
        dy = ys - means2d[i, 1]
        power = -0.5 * (conics[i, 0] * dx * dx + conics[i, 2] * dy * dy) - conics[i, 1] * dx * dy
        raw = opacities[i] * torch.exp(power)
        alpha = torch.clamp(raw, max=0.999)
        ok = (power <= 0) & (alpha >= ALPHA_MIN) & ~stopped
        next_T = T * (1.0 - alpha)
        stop = ok & (next_T <= 1e-4)
        stats["stopped"] += int(stop.sum())
        stats["faint"] += int(((power <= 0) & (alpha < ALPHA_MIN) & (alpha > 1e-4) & ~stopped).sum())
        stats["clamped"] += int((ok & (raw > 0.999)).sum())
        stopped = stopped | stop
        use = ok & ~stop
        weight = torch.where(use, alpha * T, torch.zeros_like(T))
        acc = acc + weight[..., None] * colors[i]
        T = torch.where(use, next_T, T)
    image = acc
    if background is not None:
        image = image + T[..., None] * background.to(torch.float64)
    return image, (1.0 - T)[..., None], stats


def opacity_radius(conics, opacities):
    """The docstring's opacity-aware radius (0 where opacity < 1/255)."""
    a, b, c = conics.to(torch.float64).unbind(-1)
    det = a * c - b * b
    cov = torch.stack([c / det, -b / det, a / det], -1)  # the 2D covariance
    mid = 0.5 * (cov[:, 0] + cov[:, 2])
    lam = mid + torch.sqrt(torch.clamp(mid * mid - (cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2), min=0))
    o = opacities.to(torch.float64)
    r = torch.ceil(torch.sqrt(2 * torch.log(torch.clamp(255 * o, min=1.0))) * torch.sqrt(lam))
    return torch.where(o >= ALPHA_MIN, r, torch.zeros_like(r)).to(torch.int32)


def random_splats(n, width, height, channels, seed, *, sigma=(0.6, 6.0), opacity=(0.05, 0.99), margin=6.0):
    g = torch.Generator().manual_seed(seed)
    means2d = torch.stack(
        [torch.rand(n, generator=g) * (width + 2 * margin) - margin, torch.rand(n, generator=g) * (height + 2 * margin) - margin],
        -1,
    )
    s = torch.exp(torch.empty(n, 2).uniform_(math.log(sigma[0]), math.log(sigma[1]), generator=g))
    theta = torch.rand(n, generator=g) * math.pi
    cos, sin = torch.cos(theta), torch.sin(theta)
    xx = cos**2 * s[:, 0] ** 2 + sin**2 * s[:, 1] ** 2 + 0.3
    yy = sin**2 * s[:, 0] ** 2 + cos**2 * s[:, 1] ** 2 + 0.3
    xy = cos * sin * (s[:, 0] ** 2 - s[:, 1] ** 2)
    det = xx * yy - xy * xy
    conics = torch.stack([yy / det, -xy / det, xx / det], -1)
    opacities = torch.empty(n).uniform_(*opacity, generator=g)
    colors = torch.rand(n, channels, generator=g) * 2 - 0.5
    depths = torch.rand(n, generator=g) * 10 + 1
    radii = opacity_radius(conics, opacities)
    return means2d, conics, opacities, colors, depths, radii


def check_against_dense(inputs, width, height, background=None, tile_size=16, seed=0):
    means2d, conics, opacities, colors, depths, radii = inputs
    leaves = [t.clone().requires_grad_(True) for t in (means2d, conics, opacities, colors)]
    bg = None if background is None else background.clone().requires_grad_(True)
    image, alpha = rasterize_2d(*leaves, depths, radii, width, height, background=bg, tile_size=tile_size)
    assert image.shape == (height, width, colors.shape[1]) and alpha.shape == (height, width, 1)
    assert image.dtype == torch.float32 and alpha.dtype == torch.float32

    ref_leaves = [t.detach().to(torch.float64).requires_grad_(True) for t in leaves]
    ref_bg = None if bg is None else bg.detach().to(torch.float64).requires_grad_(True)
    ref_image, ref_alpha, stats = dense_composite(*ref_leaves[:4], depths, radii, width, height, ref_bg)
    torch.testing.assert_close(image.double(), ref_image, rtol=1e-4, atol=2e-5)
    torch.testing.assert_close(alpha.double(), ref_alpha, rtol=1e-4, atol=2e-5)

    g = torch.Generator().manual_seed(seed + 1)
    w_img = torch.randn(image.shape, generator=g)
    w_alpha = torch.randn(alpha.shape, generator=g)
    ((image * w_img).sum() + (alpha * w_alpha).sum()).backward()
    ((ref_image * w_img.double()).sum() + (ref_alpha * w_alpha.double()).sum()).backward()
    names = ["means2d", "conics", "opacities", "colors"]
    pairs = list(zip(names, leaves, ref_leaves))
    if bg is not None:
        pairs.append(("background", bg, ref_bg))
    for name, mine, ref in pairs:
        assert mine.grad is not None, name
        scale = float(ref.grad.abs().max()) if ref.grad.numel() else 0.0
        torch.testing.assert_close(
            mine.grad.double(), ref.grad, rtol=2e-3, atol=1e-4 * max(scale, 1.0), msg=lambda m: f"{name}: {m}"
        )
    return stats


@pytest.mark.parametrize("tile_size", [16, 8])
def test_matches_dense_rgb_with_background(tile_size):
    inputs = random_splats(40, 37, 29, 3, seed=1)
    inputs[4][5] = inputs[4][6]  # a depth tie: broken by index
    background = torch.tensor([0.2, -0.1, 0.7])
    stats = check_against_dense(inputs, 37, 29, background, tile_size=tile_size)
    assert stats["faint"] > 0


def test_matches_dense_single_channel_odd_size():
    inputs = random_splats(30, 23, 41, 1, seed=2)
    check_against_dense(inputs, 23, 41, tile_size=8)


def test_transmittance_cutoff_and_alpha_clamp():
    # many nearly opaque, overlapping splats: most pixels stop early, many hit the 0.999 clamp
    means2d, conics, opacities, colors, depths, radii = random_splats(
        45, 33, 27, 4, seed=3, sigma=(3.0, 9.0), opacity=(0.6, 1.0), margin=0.0
    )
    opacities[:10] = 1.0
    radii = opacity_radius(conics, opacities)
    stats = check_against_dense((means2d, conics, opacities, colors, depths, radii), 33, 27, torch.ones(4) * 0.5)
    assert stats["stopped"] > 100 and stats["clamped"] > 0


def test_offscreen_culled_and_degenerate_splats():
    means2d, conics, opacities, colors, depths, radii = random_splats(36, 31, 19, 3, seed=4, margin=12.0)
    # culled by the caller: bright, near and in the middle, yet never drawn
    means2d[0] = torch.tensor([15.0, 9.0])
    opacities[0] = 0.95
    depths[0] = 0.1
    radii[0] = 0
    # a huge (clamped) bounding square around a small ellipse
    means2d[1] = torch.tensor([4.3, 5.6])
    radii[1] = 1 << 30
    # an indefinite "conic": power > 0 regions are skipped, the rest drawn; its bounding
    # square covers the whole image (α does not fall off, so only then is the result tiling-free)
    conics[2] = torch.tensor([0.2, 0.5, 0.1])
    means2d[2] = torch.tensor([20.0, 10.0])
    radii[2] = 40
    # a very faint splat (opacity < 1/255) given a radius anyway
    opacities[3] = 0.003
    radii[3] = 5
    # centres far off-screen whose ellipse still reaches in
    means2d[4] = torch.tensor([-7.5, 8.0])
    means2d[5] = torch.tensor([15.0, 25.0])
    check_against_dense((means2d, conics, opacities, colors, depths, radii), 31, 19, torch.tensor([0.3, 0.3, 0.3]))

    leaves = [t.clone().requires_grad_(True) for t in (means2d, conics, opacities, colors)]
    image, alpha = rasterize_2d(*leaves, depths, radii, 31, 19)
    (image.sum() + alpha.sum()).backward()
    for leaf in leaves:
        assert torch.all(leaf.grad[0] == 0)


def test_channel_chunks(monkeypatch):
    monkeypatch.setattr(taichi_raster, "MAX_STATIC_CHANNELS", 2)
    inputs = random_splats(25, 21, 18, 5, seed=5, opacity=(0.3, 1.0))
    check_against_dense(inputs, 21, 18, torch.linspace(-0.5, 0.5, 5), tile_size=8)


@pytest.mark.parametrize("case", ["empty", "all_culled", "offscreen"])
def test_nothing_drawn_gives_background_and_zero_grads(case):
    n = 0 if case == "empty" else 7
    means2d, conics, opacities, colors, depths, radii = random_splats(n, 20, 17, 3, seed=6)
    if case == "all_culled":
        radii.zero_()
    if case == "offscreen":
        means2d += 500.0
    leaves = [t.clone().requires_grad_(True) for t in (means2d, conics, opacities, colors)]
    bg = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    image, alpha = rasterize_2d(*leaves, depths, radii, 20, 17, background=bg)
    assert torch.equal(image, bg.detach().expand(17, 20, 3))
    assert torch.equal(alpha, torch.zeros(17, 20, 1))
    (image.sum() + alpha.sum()).backward()
    for leaf in leaves:
        assert leaf.grad is not None and torch.all(leaf.grad == 0)
    assert torch.allclose(bg.grad, torch.full((3,), 17.0 * 20.0))


def test_one_pixel_image():
    means2d = torch.tensor([[0.5, 0.5], [0.2, 0.9], [3.0, 3.0]])
    conics = torch.tensor([[0.5, 0.0, 0.5], [1.0, 0.2, 0.8], [0.1, 0.0, 0.1]])
    opacities = torch.tensor([0.4, 0.7, 0.9])
    colors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    depths = torch.tensor([2.0, 1.0, 3.0])
    radii = opacity_radius(conics, opacities)
    check_against_dense((means2d, conics, opacities, colors, depths, radii), 1, 1, tile_size=16)


def test_no_background_and_no_grad_inputs():
    means2d, conics, opacities, colors, depths, radii = random_splats(20, 16, 16, 3, seed=7)
    image, alpha = rasterize_2d(means2d, conics, opacities, colors, depths, radii, 16, 16)
    ref_image, ref_alpha, _ = dense_composite(means2d, conics, opacities, colors, depths, radii, 16, 16)
    assert not image.requires_grad
    torch.testing.assert_close(image.double(), ref_image, rtol=1e-4, atol=2e-5)
    torch.testing.assert_close(alpha.double(), ref_alpha, rtol=1e-4, atol=2e-5)


def test_bad_shapes_raise():
    means2d, conics, opacities, colors, depths, radii = random_splats(5, 8, 8, 3, seed=8)
    with pytest.raises(ValueError):
        rasterize_2d(means2d, conics[:, :2], opacities, colors, depths, radii, 8, 8)
    with pytest.raises(ValueError):
        rasterize_2d(means2d, conics, opacities, colors, depths, radii, 8, 8, background=torch.zeros(2))
    with pytest.raises(ValueError):
        rasterize_2d(means2d, conics, opacities, colors, depths, radii, 0, 8)


@pytest.mark.parametrize("tile_size", [16, 8])
def test_binning_covers_every_drawn_pixel(tile_size):
    """Every (splat, tile) pair with a pixel of α >= 1/255 is binned, and no pair outside
    the bounding squares."""
    width, height = 45, 38
    means2d, conics, opacities, colors, depths, radii = random_splats(60, width, height, 1, seed=9, margin=10.0)
    a, b, c = conics.double().unbind(-1)
    ys = torch.arange(height, dtype=torch.float64)[:, None] + 0.5
    xs = torch.arange(width, dtype=torch.float64)[None, :] + 0.5
    needed = 0
    in_squares = 0
    for i in range(60):
        if int(radii[i]) <= 0:
            continue
        dx = xs - means2d[i, 0].double()
        dy = ys - means2d[i, 1].double()
        alpha = opacities[i].double() * torch.exp(-0.5 * (a[i] * dx * dx + c[i] * dy * dy) - b[i] * dx * dy)
        drawn = torch.nn.functional.pad(alpha >= ALPHA_MIN, (0, (-width) % tile_size, 0, (-height) % tile_size))
        tiles = drawn.reshape(drawn.shape[0] // tile_size, tile_size, drawn.shape[1] // tile_size, tile_size)
        needed += int(tiles.any(dim=3).any(dim=1).sum())
        r = float(radii[i])
        x0, x1 = (float(means2d[i, 0]) - r) // tile_size, (float(means2d[i, 0]) + r) // tile_size
        y0, y1 = (float(means2d[i, 1]) - r) // tile_size, (float(means2d[i, 1]) + r) // tile_size
        nx = max(0.0, min(x1, (width - 1) // tile_size) - max(x0, 0) + 1)
        ny = max(0.0, min(y1, (height - 1) // tile_size) - max(y0, 0) + 1)
        in_squares += int(nx * ny)
    count = tile_intersections(means2d, conics, opacities, depths, radii, width, height, tile_size)
    assert needed > 0
    assert needed <= count <= in_squares


def test_float64_inputs_get_float64_grads():
    inputs = random_splats(15, 19, 13, 3, seed=10)
    leaves = [t.double().requires_grad_(True) for t in inputs[:4]]
    image, alpha = rasterize_2d(*leaves, inputs[4].double(), inputs[5].long(), 19, 13)
    assert image.dtype == torch.float32
    (image.sum() + alpha.sum()).backward()
    for leaf in leaves:
        assert leaf.grad.dtype == torch.float64 and torch.isfinite(leaf.grad).all()
    assert leaves[3].grad.abs().sum() > 0


def test_import_and_init_print_nothing():
    code = "import gscc.render.taichi_raster as t; t.ensure_taichi(); t.ensure_taichi()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
