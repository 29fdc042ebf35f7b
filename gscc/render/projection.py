"""EWA projection of 3D Gaussians to the image plane, in torch (differentiable by autograd).

Implements the "Projection" and "Opacity-aware radius" rules of the package docstring. The
result feeds the tile rasterizer; gradients flow from ``means2d`` and ``conics`` back to the
3D attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

ALPHA_MIN = 1.0 / 255.0
FOV_CLAMP = 1.3


@dataclass
class Projection:
    means2d: torch.Tensor  # (N, 2) pixel coordinates
    conics: torch.Tensor  # (N, 3) inverse 2D covariance (a, b, c)
    depths: torch.Tensor  # (N,) camera-space z
    radii: torch.Tensor  # (N,) int32, 0 for culled splats


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """(N, 4) quaternions (w, x, y, z), any norm, to (N, 3, 3) rotation matrices."""
    q = quats / quats.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(-1, 3, 3)


def covariance_3d(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """World-space covariances R diag(s^2) R^T, (N, 3, 3)."""
    m = quat_to_rotmat(quats) * scales.unsqueeze(-2)
    return m @ m.transpose(-1, -2)


def project(
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
) -> Projection:
    """Project splats with camera ``viewmat`` (4x4 world-to-camera) and intrinsics ``K``."""
    R, T = viewmat[:3, :3], viewmat[:3, 3]
    t = means @ R.T + T
    x, y, z = t.unbind(-1)
    in_depth = (z > near) & (z < far)
    z_safe = torch.where(in_depth, z, torch.ones_like(z))
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]

    lim_x = FOV_CLAMP * 0.5 * width / fx
    lim_y = FOV_CLAMP * 0.5 * height / fy
    tx = torch.clamp(x / z_safe, -lim_x, lim_x) * z_safe
    ty = torch.clamp(y / z_safe, -lim_y, lim_y) * z_safe
    zeros = torch.zeros_like(z)
    J = torch.stack(
        [fx / z_safe, zeros, -fx * tx / z_safe**2, zeros, fy / z_safe, -fy * ty / z_safe**2], dim=-1
    ).reshape(-1, 2, 3)
    cov_cam = R @ covariance_3d(quats, scales) @ R.T
    cov2d = J @ cov_cam @ J.transpose(-1, -2)
    a = cov2d[:, 0, 0] + eps2d
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + eps2d
    det = a * c - b * b
    ok = in_depth & (det > 0)
    det_safe = torch.where(ok, det, torch.ones_like(det))
    conics = torch.stack([c / det_safe, -b / det_safe, a / det_safe], dim=-1)
    means2d = torch.stack([fx * x / z_safe + cx, fy * y / z_safe + cy], dim=-1)

    with torch.no_grad():
        mid = 0.5 * (a + c)
        lam_max = mid + torch.sqrt(torch.clamp_min(mid * mid - det, 0.0))
        o = opacities.detach()
        visible = ok & (o > ALPHA_MIN)
        extent = torch.sqrt(2.0 * torch.log(torch.clamp_min(o, ALPHA_MIN) / ALPHA_MIN))
        radius = torch.ceil(extent * torch.sqrt(torch.clamp_min(lam_max, 0.0)))
        mx, my = means2d[:, 0].detach(), means2d[:, 1].detach()
        on_screen = (mx + radius > 0) & (mx - radius < width) & (my + radius > 0) & (my - radius < height)
        visible &= on_screen & (radius > 0) & torch.isfinite(radius)
        radius = torch.clamp(radius, max=float(1 << 30))  # int32-safe; binning clamps to the image
        radii = torch.where(visible, radius, torch.zeros_like(radius)).to(torch.int32)
    return Projection(means2d=means2d, conics=conics, depths=z, radii=radii)
