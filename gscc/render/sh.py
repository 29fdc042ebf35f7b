"""Real spherical harmonics up to degree 3, evaluated per view (the 3DGS convention).

Coefficients are (N, K, C) with K = (degree + 1)**2, coefficient 0 being the DC term; the
colour of a splat seen along unit direction d (from the camera centre to the splat) is
``max(0, sum_k Y_k(d) * coeffs[:, k] + 0.5)``.
"""

from __future__ import annotations

import math

import torch

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def degree_of(num_coeffs: int) -> int:
    """The SH degree whose full basis has ``num_coeffs`` functions."""
    degree = int(round(math.sqrt(num_coeffs))) - 1
    if degree < 0 or degree > 3 or (degree + 1) ** 2 != num_coeffs:
        raise ValueError(f"{num_coeffs} SH coefficients match no degree 0..3")
    return degree


def sh_basis(degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """The (N, (degree+1)**2) basis values for unit directions ``dirs`` (N, 3)."""
    if not 0 <= degree <= 3:
        raise ValueError(f"SH degree must lie in 0..3, got {degree}")
    x, y, z = dirs.unbind(-1)
    out = [torch.full_like(x, C0)]
    if degree >= 1:
        out += [-C1 * y, C1 * z, -C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [
            C2[0] * x * y,
            C2[1] * y * z,
            C2[2] * (2.0 * zz - xx - yy),
            C2[3] * x * z,
            C2[4] * (xx - yy),
        ]
    if degree >= 3:
        out += [
            C3[0] * y * (3.0 * xx - yy),
            C3[1] * x * y * z,
            C3[2] * y * (4.0 * zz - xx - yy),
            C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
            C3[4] * x * (4.0 * zz - xx - yy),
            C3[5] * z * (xx - yy),
            C3[6] * x * (xx - 3.0 * yy),
        ]
    return torch.stack(out, dim=-1)


def eval_sh_colors(coeffs: torch.Tensor, means: torch.Tensor, camera_center: torch.Tensor, degree: int) -> torch.Tensor:
    """View-dependent colours (N, C) of splats at ``means`` seen from ``camera_center``.

    Only the first (degree + 1)**2 coefficients are used (progressive SH training).
    """
    available = degree_of(coeffs.shape[1])
    if degree > available:
        raise ValueError(f"asked for SH degree {degree} but the splats carry degree {available}")
    k = (degree + 1) ** 2
    dirs = means - camera_center
    dirs = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    basis = sh_basis(degree, dirs)  # (N, k)
    colors = (basis.unsqueeze(-1) * coeffs[:, :k, :]).sum(dim=1)
    return torch.clamp_min(colors + 0.5, 0.0)
