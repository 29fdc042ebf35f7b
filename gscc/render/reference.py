"""The reference renderer: a deliberately simple, dense, float64 implementation in pure torch.

This is the test oracle for the fast backends. It is the executable form of the
conventions in the docstring of :mod:`gscc.render` and shares no code with them: its own
quaternion-to-rotation, covariance, EWA projection, culling, sorting and compositing. Every
splat is evaluated at every pixel (cost N·H·W), so it is meant for tiny scenes only.

Everything is differentiable by torch autograd with respect to ``means``, ``quats``,
``scales``, ``opacities``, ``colors``, ``background`` and ``viewmat``; as in the fast
backends, gradients ignore the discontinuities of the cut-offs (culling, the 1/255 skip,
the 0.999 clamp, the transmittance stop, the Jacobian clamp).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
FOV_CLAMP = 1.3


class ReferenceProjection(NamedTuple):
    """Per-splat projection results (all length N; culled splats have ``radii == 0``).

    ``means2d``, ``conics`` and ``depths`` are only meaningful where ``radii > 0``; they are
    zero elsewhere.
    """

    means2d: torch.Tensor  # (N, 2) pixel coordinates
    conics: torch.Tensor  # (N, 3) (a, b, c) of the inverse 2D covariance [[a, b], [b, c]]
    depths: torch.Tensor  # (N,) camera-space z
    radii: torch.Tensor  # (N,) int64 pixel radius of the bounding square, 0 if culled
    cov2d: torch.Tensor  # (N, 3) (xx, xy, yy) of the 2D covariance, low-pass included


def _f64(x) -> torch.Tensor:
    return torch.as_tensor(x).to(torch.float64)


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """(N, 4) quaternions w, x, y, z (any norm) to (N, 3, 3) rotation matrices."""
    q = quats / torch.linalg.vector_norm(quats, dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    rows = [
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ]
    return torch.stack(rows, -2)


def project_reference(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    viewmat: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    *,
    near: float = 0.01,
    far: float = 1e10,
    eps2d: float = 0.3,
) -> ReferenceProjection:
    """EWA projection, opacity-aware radius and culling for every splat, in float64."""
    means, quats, scales, opacities = _f64(means), _f64(quats), _f64(scales), _f64(opacities)
    viewmat, K = _f64(viewmat), _f64(K)
    n = means.shape[0]
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]

    R, T = viewmat[:3, :3], viewmat[:3, 3]
    t_all = means @ R.T + T  # (N, 3) camera space
    z_all = t_all[:, 2]

    # Stage 1: near/far culling. Later stages work on the survivors only, so that culled
    # splats never produce inf/nan that could leak into gradients.
    keep = (z_all > near) & (z_all < far)
    idx = torch.nonzero(keep).flatten()
    t = t_all[idx]
    x, y, z = t.unbind(-1)

    Rq = quat_to_rotmat(quats[idx])
    s2 = scales[idx] ** 2
    sigma = Rq @ torch.diag_embed(s2) @ Rq.transpose(-1, -2)  # world covariance
    sigma_cam = R @ sigma @ R.T

    # EWA Jacobian of the perspective projection, evaluated at x, y clamped to the
    # frustum widened by 30% (as in 3DGS).
    lim_x = FOV_CLAMP * (0.5 * width / fx)
    lim_y = FOV_CLAMP * (0.5 * height / fy)
    xc = z * torch.clamp(x / z, -lim_x, lim_x)
    yc = z * torch.clamp(y / z, -lim_y, lim_y)
    zeros = torch.zeros_like(z)
    J = torch.stack(
        [
            torch.stack([fx / z, zeros, -fx * xc / z**2], -1),
            torch.stack([zeros, fy / z, -fy * yc / z**2], -1),
        ],
        -2,
    )  # (M, 2, 3)
    cov = J @ sigma_cam @ J.transpose(-1, -2)
    cov_xx = cov[:, 0, 0] + eps2d
    cov_xy = cov[:, 0, 1]
    cov_yy = cov[:, 1, 1] + eps2d
    det = cov_xx * cov_yy - cov_xy**2
    mean2d = torch.stack([fx * x / z + cx, fy * y / z + cy], -1)

    # Stage 2: determinant culling, then the conic.
    ok_det = det > 0
    idx = idx[ok_det]
    cov_xx, cov_xy, cov_yy, det = cov_xx[ok_det], cov_xy[ok_det], cov_yy[ok_det], det[ok_det]
    mean2d, z = mean2d[ok_det], z[ok_det]
    conic = torch.stack([cov_yy / det, -cov_xy / det, cov_xx / det], -1)

    # Stage 3: opacity-aware radius (not differentiable) and the bounding-square cull.
    with torch.no_grad():
        op = opacities[idx]
        visible = op >= ALPHA_MIN
        half_tr = 0.5 * (cov_xx + cov_yy)
        lam_max = half_tr + torch.sqrt(torch.clamp(half_tr**2 - det, min=0.0))
        extent = torch.sqrt(2.0 * torch.log(torch.clamp(255.0 * op, min=1.0))) * torch.sqrt(lam_max)
        radius = torch.ceil(extent)
        mx, my = mean2d[:, 0], mean2d[:, 1]
        on_image = (
            (mx + radius > 0) & (mx - radius < width) & (my + radius > 0) & (my - radius < height)
        )
        ok = visible & (radius > 0) & on_image

    means2d_out = torch.zeros(n, 2, dtype=torch.float64)
    conics_out = torch.zeros(n, 3, dtype=torch.float64)
    depths_out = torch.zeros(n, dtype=torch.float64)
    cov2d_out = torch.zeros(n, 3, dtype=torch.float64)
    radii_out = torch.zeros(n, dtype=torch.int64)
    final = idx[ok]
    means2d_out = means2d_out.index_put((final,), mean2d[ok])
    conics_out = conics_out.index_put((final,), conic[ok])
    depths_out = depths_out.index_put((final,), z[ok])
    cov2d_out = cov2d_out.index_put((final,), torch.stack([cov_xx, cov_xy, cov_yy], -1)[ok])
    radii_out[final] = radius[ok].to(torch.int64)
    return ReferenceProjection(means2d_out, conics_out, depths_out, radii_out, cov2d_out)


def render_reference(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmat: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    *,
    background: torch.Tensor | None = None,
    near: float = 0.01,
    far: float = 1e10,
    eps2d: float = 0.3,
    render_depth: bool = False,
) -> tuple[torch.Tensor, ...]:
    """Render splats densely in float64.

    Returns ``(image (H, W, C), alpha (H, W, 1))``, and with ``render_depth=True`` also
    ``depth (H, W, 1)``: the alpha-composited camera z divided by alpha (0 where alpha is 0).
    ``background`` (C,) is blended in with weight 1 - alpha; it does not affect depth.
    """
    width, height = int(width), int(height)
    colors = _f64(colors)
    opacities = _f64(opacities)
    n, channels = colors.shape
    proj = project_reference(
        means, quats, scales, opacities, viewmat, K, width, height, near=near, far=far, eps2d=eps2d
    )

    # Depth order (ascending camera z, ties by index): a stable sort of the visible splats.
    visible = torch.nonzero(proj.radii > 0).flatten()
    order = visible[torch.sort(proj.depths[visible].detach(), stable=True).indices]

    feats = colors
    if render_depth:
        feats = torch.cat([colors, proj.depths[:, None]], -1)

    ys = torch.arange(height, dtype=torch.float64) + 0.5
    xs = torch.arange(width, dtype=torch.float64) + 0.5
    py, px = torch.meshgrid(ys, xs, indexing="ij")  # (H, W) pixel centres

    T = torch.ones(height, width, dtype=torch.float64)
    acc = torch.zeros(height, width, feats.shape[1], dtype=torch.float64)
    done = torch.zeros(height, width, dtype=torch.bool)
    for i in order.tolist():
        a, b, c = proj.conics[i].unbind()
        dx = px - proj.means2d[i, 0]
        dy = py - proj.means2d[i, 1]
        power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
        alpha = torch.clamp(opacities[i] * torch.exp(power), max=ALPHA_MAX)
        use = (power <= 0) & (alpha >= ALPHA_MIN) & ~done
        next_T = T * (1.0 - alpha)
        stop = use & (next_T <= T_MIN)
        done = done | stop
        use = use & ~stop
        weight = torch.where(use, alpha * T, torch.zeros_like(T))
        acc = acc + weight[..., None] * feats[i]
        T = torch.where(use, next_T, T)

    alpha_img = (1.0 - T)[..., None]
    image = acc[..., :channels]
    if background is not None:
        image = image + T[..., None] * _f64(background)
    if not render_depth:
        return image, alpha_img
    depth_acc = acc[..., channels:]
    has = alpha_img > 0
    depth = torch.where(has, depth_acc / torch.where(has, alpha_img, torch.ones_like(alpha_img)), 0.0)
    return image, alpha_img, depth


__all__ = ["ReferenceProjection", "project_reference", "quat_to_rotmat", "render_reference"]
