"""The float64 reference renderer (the test oracle) against closed forms and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from gscc.render.reference import project_reference, quat_to_rotmat, render_reference

F64 = torch.float64


def t64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def intrinsics(fx: float, fy: float, cx: float, cy: float) -> torch.Tensor:
    return t64([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def identity_view() -> torch.Tensor:
    return torch.eye(4, dtype=F64)


def view_from(rot: Rotation, trans) -> torch.Tensor:
    m = np.eye(4)
    m[:3, :3] = rot.as_matrix()
    m[:3, 3] = trans
    return t64(m)


def scene(means, scales, opacities, colors, quats=None):
    means = t64(means).reshape(-1, 3)
    n = means.shape[0]
    scales = t64(scales).reshape(n, -1).expand(n, 3).clone()
    quats = t64([[1.0, 0.0, 0.0, 0.0]] * n) if quats is None else t64(quats).reshape(n, 4)
    return means, quats, scales, t64(opacities).reshape(n), t64(colors).reshape(n, -1)


def pixel_grid(width: int, height: int):
    ys, xs = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    return xs, ys


def single_splat_alpha(cov2d: np.ndarray, mean2d, opacity: float, width: int, height: int) -> np.ndarray:
    """Closed-form alpha of one splat at every pixel centre, with the 1/255 skip and 0.999 clamp."""
    xs, ys = pixel_grid(width, height)
    conic = np.linalg.inv(cov2d)
    dx, dy = xs - mean2d[0], ys - mean2d[1]
    power = -0.5 * (conic[0, 0] * dx * dx + conic[1, 1] * dy * dy) - conic[0, 1] * dx * dy
    alpha = np.minimum(0.999, opacity * np.exp(power))
    return np.where(alpha >= 1 / 255, alpha, 0.0)


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("opacity,cx,cy", [(0.6, 8.3, 6.15), (1.0, 8.52, 6.49)])
def test_isotropic_splat_on_axis_matches_closed_form(opacity, cx, cy):
    width, height, f, z, s = 17, 13, 20.0, 4.0, 0.5  # (cx, cy) = mean2d, off the pixel centres
    color = np.array([0.2, 0.7, 0.4])
    bg = np.array([0.1, 0.0, 0.9])
    means, quats, scales, ops, cols = scene([0, 0, z], [s], [opacity], color)
    image, alpha = render_reference(
        means, quats, scales, ops, cols, identity_view(), intrinsics(f, f, cx, cy), width, height,
        background=t64(bg),
    )
    assert image.shape == (height, width, 3) and alpha.shape == (height, width, 1)
    assert image.dtype == F64

    var = (f * s / z) ** 2 + 0.3  # the low-pass filter widens the splat
    # the centre pixel, written out
    i, j = height // 2, width // 2
    dx, dy = j + 0.5 - cx, i + 0.5 - cy
    a_centre = min(0.999, opacity * math.exp(-0.5 * (dx * dx + dy * dy) / var))
    np.testing.assert_allclose(alpha[i, j, 0].item(), a_centre, rtol=1e-12)
    np.testing.assert_allclose(image[i, j].numpy(), a_centre * color + (1 - a_centre) * bg, rtol=1e-12)

    expected = single_splat_alpha(np.eye(2) * var, (cx, cy), opacity, width, height)
    np.testing.assert_allclose(alpha[..., 0].numpy(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        image.numpy(), expected[..., None] * color + (1 - expected[..., None]) * bg, rtol=1e-12, atol=1e-15
    )
    # the scene exercises the 1/255 skip: some pixels have 0 < o·exp(power) < 1/255
    xs, ys = pixel_grid(width, height)
    raw = opacity * np.exp(-0.5 * ((xs - cx) ** 2 + (ys - cy) ** 2) / var)
    below = (raw > 0) & (raw < 1 / 255)
    assert below.any()
    assert np.all(alpha[..., 0].numpy()[below] == 0.0)
    # and without the low-pass the answer would be measurably different
    no_lp = single_splat_alpha(np.eye(2) * (f * s / z) ** 2, (cx, cy), opacity, width, height)
    assert np.abs(no_lp - expected).max() > 1e-2
    if opacity == 1.0:
        assert alpha.max().item() == pytest.approx(0.999, abs=1e-15)  # the α clamp


@pytest.mark.parametrize("z", [-3.0, 0.0, 0.005, 0.01, 1e10, 2e10])
def test_culled_by_depth_contributes_nothing(z):
    means, quats, scales, ops, cols = scene([0, 0, z], [0.5], [0.9], [1.0, 1.0, 1.0])
    bg = t64([0.25, 0.5, 0.75])
    image, alpha = render_reference(
        means, quats, scales, ops, cols, identity_view(), intrinsics(20, 20, 8, 6), 16, 12, background=bg
    )
    assert torch.all(alpha == 0)
    assert torch.all(image == bg)
    assert project_reference(means, quats, scales, ops, identity_view(), intrinsics(20, 20, 8, 6), 16, 12).radii[0] == 0


def test_just_inside_near_and_far_is_rendered():
    K = intrinsics(20, 20, 8, 6)
    for z, s in [(0.02, 0.002), (9e9, 1e9)]:
        means, quats, scales, ops, cols = scene([0, 0, z], [s], [0.9], [1.0])
        _, alpha = render_reference(means, quats, scales, ops, cols, identity_view(), K, 16, 12)
        assert alpha.max() > 0.5


def test_tiny_opacity_is_culled():
    means, quats, scales, ops, cols = scene([[0, 0, 4], [0, 0, 5]], [[0.5], [0.5]], [0.99 / 255, 0.5], [[1.0], [1.0]])
    proj = project_reference(means, quats, scales, ops, identity_view(), intrinsics(20, 20, 8, 6), 16, 12)
    assert proj.radii.tolist()[0] == 0 and proj.radii.tolist()[1] > 0


def test_offscreen_square_is_culled_but_edge_touching_one_is_not():
    K = intrinsics(20, 20, 8, 6)
    ops = t64([0.8])
    quats = t64([[1, 0, 0, 0]])
    scales = t64([[0.1, 0.1, 0.1]])
    for x, inside in [(0.0, True), (2.0, True), (-2.0, True), (2.2, False), (-3.5, False)]:
        means = t64([[x, 0.0, 4.0]])
        proj = project_reference(means, quats, scales, ops, identity_view(), K, 16, 12)
        r, mx = proj.radii[0].item(), 20 * x / 4 + 8
        assert (r > 0) == inside
        if inside:
            assert mx + r > 0 and mx - r < 16


def test_radius_formula_and_square_bounds_every_contribution():
    gen = np.random.default_rng(3)
    width, height = 40, 32
    K = intrinsics(30, 28, 19.6, 16.3)
    for _ in range(12):
        q = gen.normal(size=4)
        s = np.exp(gen.uniform(-3.5, -1.0, size=3))
        o = gen.uniform(0.01, 1.0)
        p = [gen.uniform(-0.5, 0.5), gen.uniform(-0.5, 0.5), gen.uniform(2.5, 4.0)]
        means, quats, scales, ops, cols = scene(p, s, [o], [1.0], quats=q)
        proj = project_reference(means, quats, scales, ops, identity_view(), K, width, height)
        cov = proj.cov2d[0].numpy()
        lam = np.linalg.eigvalsh(np.array([[cov[0], cov[1]], [cov[1], cov[2]]])).max()
        r = math.ceil(math.sqrt(2 * math.log(255 * o)) * math.sqrt(lam))
        assert proj.radii[0].item() == r
        _, alpha = render_reference(means, quats, scales, ops, cols, identity_view(), K, width, height)
        xs, ys = pixel_grid(width, height)
        m = proj.means2d[0].numpy()
        outside = (np.abs(xs - m[0]) > r) | (np.abs(ys - m[1]) > r)
        assert np.all(alpha[..., 0].numpy()[outside] == 0)
        assert alpha.max() > 0


# --------------------------------------------------------------------------- compositing


def _alpha_alone(means, quats, scales, ops, K, width, height, k):
    one = slice(k, k + 1)
    _, a = render_reference(
        means[one], quats[one], scales[one], ops[one], torch.ones(1, 1, dtype=F64), identity_view(), K, width, height
    )
    return a


def test_two_splats_composite_front_to_back_regardless_of_index():
    width, height = 15, 11
    K = intrinsics(18, 18, 7.2, 5.4)
    means, quats, scales, ops, cols = scene(
        [[0.0, 0.0, 6.0], [0.1, 0.05, 3.0]], [[0.8], [0.3]], [0.7, 0.6], [[0, 0, 1.0], [1.0, 0, 0]]
    )
    bg = t64([0.3, 0.3, 0.3])
    a_back = _alpha_alone(means, quats, scales, ops, K, width, height, 0)
    a_front = _alpha_alone(means, quats, scales, ops, K, width, height, 1)
    expected = a_front * cols[1] + (1 - a_front) * a_back * cols[0] + (1 - a_front) * (1 - a_back) * bg
    for perm in ([0, 1], [1, 0]):
        image, alpha = render_reference(
            means[perm], quats[perm], scales[perm], ops[perm], cols[perm], identity_view(), K, width, height,
            background=bg,
        )
        torch.testing.assert_close(image, expected, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(alpha, 1 - (1 - a_front) * (1 - a_back), rtol=1e-12, atol=1e-14)
    # the wrong order would be visibly different
    wrong = a_back * cols[0] + (1 - a_back) * a_front * cols[1] + (1 - a_front) * (1 - a_back) * bg
    assert (wrong - expected).abs().max() > 0.05


def test_equal_depth_ties_break_by_index():
    width, height = 9, 9
    K = intrinsics(10, 10, 4.5, 4.5)
    means, quats, scales, ops, cols = scene(
        [[0.0, 0.0, 4.0], [0.0, 0.0, 4.0]], [[0.8], [0.4]], [0.5, 0.8], [[1.0, 0.0], [0.0, 1.0]]
    )
    for perm in ([0, 1], [1, 0]):
        image, _ = render_reference(
            means[perm], quats[perm], scales[perm], ops[perm], cols[perm], identity_view(), K, width, height
        )
        first, second = perm
        a1 = _alpha_alone(means, quats, scales, ops, K, width, height, first)
        a2 = _alpha_alone(means, quats, scales, ops, K, width, height, second)
        expected = a1 * cols[first] + (1 - a1) * a2 * cols[second]
        torch.testing.assert_close(image, expected, rtol=1e-12, atol=1e-14)


def test_transmittance_stop_drops_the_splat_and_everything_behind():
    # Three splats centred on pixel (4, 4) of a 9x9 image. At the centre: A (α 0.99) leaves
    # T = 0.01; B (α clamped to 0.999) would leave 1e-5 <= 1e-4, so compositing stops there:
    # neither B nor C (α 0.5, which would be acceptable on its own) is added.
    width = height = 9
    K = intrinsics(10, 10, 4.5, 4.5)
    means, quats, scales, ops, cols = scene(
        [[0, 0, 4.0], [0, 0, 2.0], [0, 0, 3.0]],  # index order C, A, B
        [[0.6], [0.6], [0.6]],
        [0.5, 0.99, 1.0],
        [[0, 0, 1.0], [1.0, 0, 0], [0, 1.0, 0]],
    )
    bg = t64([0.0, 0.0, 0.0])
    image, alpha = render_reference(means, quats, scales, ops, cols, identity_view(), K, width, height, background=bg)
    torch.testing.assert_close(image[4, 4], t64([0.99, 0.0, 0.0]), rtol=1e-12, atol=1e-15)
    assert alpha[4, 4, 0].item() == pytest.approx(0.99, rel=1e-12)

    # Off-centre no cut-off triggers: the plain three-layer composite.
    aC = _alpha_alone(means, quats, scales, ops, K, width, height, 0)
    aA = _alpha_alone(means, quats, scales, ops, K, width, height, 1)
    aB = _alpha_alone(means, quats, scales, ops, K, width, height, 2)
    full = aA * cols[1] + (1 - aA) * aB * cols[2] + (1 - aA) * (1 - aB) * aC * cols[0]
    t_final = (1 - aA) * (1 - aB) * (1 - aC)
    live = (1 - aA) * (1 - aB) > 1e-4
    assert not live[4, 4, 0] and live.sum() > 10
    torch.testing.assert_close(image[live[..., 0]], full[live[..., 0]], rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(alpha[live], 1 - t_final[live], rtol=1e-12, atol=1e-14)


def test_skipped_faint_splat_leaves_transmittance_untouched():
    # A faint front splat whose α is below 1/255 everywhere except near its centre, in front of
    # an opaque-ish back splat: where it is skipped, the result is the back splat alone.
    width, height = 21, 5
    K = intrinsics(20, 20, 10.5, 2.5)
    means, quats, scales, ops, cols = scene(
        [[0, 0, 2.0], [0, 0, 5.0]], [[0.1], [3.0]], [0.02, 0.8], [[1.0, 0.0], [0.0, 1.0]]
    )
    image, alpha = render_reference(means, quats, scales, ops, cols, identity_view(), K, width, height)
    a_front = _alpha_alone(means, quats, scales, ops, K, width, height, 0)
    a_back = _alpha_alone(means, quats, scales, ops, K, width, height, 1)
    skipped = a_front[..., 0] == 0
    assert skipped.any() and (~skipped).any()
    torch.testing.assert_close(image[skipped], (a_back * cols[1])[skipped], rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(
        image[~skipped], (a_front * cols[0] + (1 - a_front) * a_back * cols[1])[~skipped], rtol=1e-12, atol=1e-15
    )


def test_depth_is_alpha_weighted_camera_z():
    width, height = 15, 11
    K = intrinsics(18, 18, 7.2, 5.4)
    means, quats, scales, ops, cols = scene(
        [[0.0, 0.0, 6.0], [0.1, 0.05, 3.0]], [[0.8], [0.3]], [0.7, 0.6], [[1.0], [1.0]]
    )
    view = view_from(Rotation.from_euler("xyz", [0.05, -0.03, 0.02]), [0.02, -0.01, 0.5])
    _, alpha, depth = render_reference(means, quats, scales, ops, cols, view, K, width, height, render_depth=True)
    z = (means @ view[:3, :3].T + view[:3, 3])[:, 2]
    image_z, _ = render_reference(means, quats, scales, ops, z[:, None], view, K, width, height)
    has = alpha > 0
    assert has.any() and (~has).any()
    torch.testing.assert_close(depth[has], (image_z / alpha)[has], rtol=1e-12, atol=0)
    assert torch.all(depth[~has] == 0)


# --------------------------------------------------------------------------- projection


def _fit_gaussian(alpha: np.ndarray):
    """Mean and conic of the exact 2D Gaussian behind the unclamped, unskipped pixels."""
    height, width = alpha.shape
    xs, ys = pixel_grid(width, height)
    use = (alpha > 0) & (alpha < 0.999)
    x, y, v = xs[use], ys[use], np.log(alpha[use])
    A = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], -1)
    k, *_ = np.linalg.lstsq(A, v, rcond=None)
    H = np.array([[2 * k[3], k[4]], [k[4], 2 * k[5]]])
    mean = -np.linalg.solve(H, k[1:3])
    return mean, -H, use.sum()


def test_projection_lands_at_K_R_p_plus_T():
    rot = Rotation.from_euler("zyx", [0.4, -0.3, 0.2])
    trans = np.array([0.3, -0.2, 4.0])
    view = view_from(rot, trans)
    fx, fy, cx, cy = 31.0, 27.0, 20.3, 15.6
    width, height = 41, 31
    p = np.array([0.2, 0.1, -0.3])
    q_xyzw = Rotation.from_rotvec([0.3, 0.8, -0.5]).as_quat()
    quat = np.array([q_xyzw[3], *q_xyzw[:3]])
    s = np.array([0.12, 0.05, 0.08])

    means, quats, scales, ops, cols = scene(p, s, [0.8], [1.0], quats=quat)
    _, alpha = render_reference(means, quats, scales, ops, cols, view, intrinsics(fx, fy, cx, cy), width, height)

    t = rot.as_matrix() @ p + trans
    expected_mean = np.array([fx * t[0] / t[2] + cx, fy * t[1] / t[2] + cy])
    mean, conic, used = _fit_gaussian(alpha[..., 0].numpy())
    assert used > 20
    np.testing.assert_allclose(mean, expected_mean, atol=1e-8)
    assert np.argmax(alpha[..., 0].numpy()) == int(expected_mean[1]) * width + int(expected_mean[0])

    # the shape: EWA with the Jacobian of the pinhole map (here from autograd) and the low-pass
    def pix(tc):
        return torch.stack([fx * tc[0] / tc[2] + cx, fy * tc[1] / tc[2] + cy])

    J = torch.autograd.functional.jacobian(pix, t64(t)).numpy()
    Rq = Rotation.from_quat(q_xyzw).as_matrix()
    sigma_cam = rot.as_matrix() @ Rq @ np.diag(s**2) @ Rq.T @ rot.as_matrix().T
    cov2d = J @ sigma_cam @ J.T + 0.3 * np.eye(2)
    np.testing.assert_allclose(conic, np.linalg.inv(cov2d), rtol=1e-7)


def test_jacobian_is_clamped_outside_the_widened_frustum():
    # A wide splat whose centre is far to the right of the view (x/z = 2·tan(fov_x/2)): its
    # tail in the image is shaped by the Jacobian at x clamped to 1.3·tan(fov_x/2)·z.
    width, height, f, z = 20, 10, 20.0, 2.0
    cx, cy = 10.0, 5.0
    tan_x = 0.5 * width / f
    x = 2.0 * tan_x * z
    s = np.array([0.9, 0.3, 0.5])
    means, quats, scales, ops, cols = scene([x, 0.2, z], s, [0.9], [1.0])
    _, alpha = render_reference(means, quats, scales, ops, cols, identity_view(), intrinsics(f, f, cx, cy), width, height)

    def expected_for(xj):
        J = np.array([[f / z, 0, -f * xj / z**2], [0, f / z, -f * 0.2 / z**2]])
        cov = J @ np.diag(s**2) @ J.T + 0.3 * np.eye(2)
        return single_splat_alpha(cov, (f * x / z + cx, f * 0.2 / z + cy), 0.9, width, height)

    clamped = expected_for(1.3 * tan_x * z)
    assert clamped.max() > 0.05
    np.testing.assert_allclose(alpha[..., 0].numpy(), clamped, rtol=1e-12, atol=1e-15)
    assert np.abs(expected_for(x) - clamped).max() > 1e-2


def test_quaternion_is_normalised_and_matches_scipy():
    gen = np.random.default_rng(0)
    q = gen.normal(size=(8, 4)) * gen.uniform(0.1, 5.0, size=(8, 1))
    R = quat_to_rotmat(t64(q)).numpy()
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    np.testing.assert_allclose(R, Rotation.from_quat(qn[:, [1, 2, 3, 0]]).as_matrix(), atol=1e-12)


def test_float32_inputs_render_in_float64_and_get_gradients():
    means, quats, scales, ops, cols = (x.float().requires_grad_() for x in scene([0, 0, 4], [0.5], [0.6], [1.0]))
    image, alpha = render_reference(means, quats, scales, ops, cols, identity_view().float(), intrinsics(20, 20, 8, 6), 16, 12)
    assert image.dtype == F64
    image.sum().backward()
    assert means.grad is not None and means.grad.dtype == torch.float32
    assert ops.grad.item() > 0 and cols.grad.item() > 0


# --------------------------------------------------------------------------- gradients


def _smooth_scene(seed: int, n: int, channels: int = 3):
    """Wide splats, moderate opacities, well-separated depths: no cut-off is near any pixel."""
    gen = np.random.default_rng(seed)
    z = np.linspace(3.0, 6.0, n)
    gen.shuffle(z)
    means = np.stack([gen.uniform(-0.2, 0.2, n) * z / 4, gen.uniform(-0.15, 0.15, n) * z / 4, z], -1)
    quats = gen.normal(size=(n, 4))
    scales = gen.uniform(1.6, 2.6, size=(n, 3)) * z[:, None] / 4
    ops = gen.uniform(0.25, 0.65, n)
    cols = gen.uniform(0, 1, size=(n, channels))
    bg = gen.uniform(0, 1, size=channels)
    return [t64(v).requires_grad_() for v in (means, quats, scales, ops, cols, bg)]


@pytest.mark.parametrize("seed,n", [(0, 3), (1, 5)])
def test_gradcheck_wrt_splats_and_background(seed, n):
    means, quats, scales, ops, cols, bg = _smooth_scene(seed, n)
    width, height = 12, 10
    K = intrinsics(11.0, 10.5, 6.2, 4.9)
    view = view_from(Rotation.from_euler("xyz", [0.04, -0.05, 0.03]), [0.05, 0.02, 0.1])

    # the scene really is in the smooth regime the finite differences need
    with torch.no_grad():
        _, alpha = render_reference(means, quats, scales, ops, cols, view, K, width, height)
        proj = project_reference(means, quats, scales, ops, view, K, width, height)
    assert torch.all(proj.radii > 0)
    xs, ys = (t64(v) for v in pixel_grid(width, height))
    for (mx, my), (a, b, c), o in zip(proj.means2d, proj.conics, ops):
        dx, dy = xs - mx, ys - my
        raw = o * torch.exp(-0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy)
        assert raw.min() > 4 / 255 and raw.max() < 0.99
    assert alpha.max() < 0.999

    def f(means, quats, scales, ops, cols, bg):
        image, alpha, depth = render_reference(
            means, quats, scales, ops, cols, view, K, width, height, background=bg, render_depth=True
        )
        return torch.cat([image, alpha, depth], -1)

    args = (means, quats, scales, ops, cols, bg)
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-7, rtol=1e-5, fast_mode=n > 3)


def test_gradcheck_wrt_viewmat():
    means, quats, scales, ops, cols, bg = (x.detach() for x in _smooth_scene(2, 4, channels=2))
    width, height = 12, 10
    K = intrinsics(11.0, 10.5, 6.2, 4.9)
    view = view_from(Rotation.from_euler("xyz", [0.02, 0.03, -0.04]), [-0.03, 0.02, 0.05]).requires_grad_()

    def f(view):
        image, alpha = render_reference(means, quats, scales, ops, cols, view, K, width, height, background=bg)
        return torch.cat([image, alpha], -1)

    assert torch.autograd.gradcheck(f, (view,), eps=1e-6, atol=1e-7, rtol=1e-5)
    g = torch.autograd.grad(f(view).sum(), view)[0]
    assert g[:3].abs().max() > 1e-3  # rotation and translation rows are live
