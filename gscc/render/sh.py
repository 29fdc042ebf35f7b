"""Real spherical harmonics up to degree 3, evaluated per view (the 3DGS convention).

Coefficients are (N, K, C) with K = (degree + 1)**2, coefficient 0 being the DC term; the
colour of a splat seen along unit direction d (from the camera centre to the splat) is
``max(0, sum_k Y_k(d) * coeffs[:, k] + 0.5)``.
"""

from __future__ import annotations

import math

import torch

from ..sh_basis import sh_terms


def degree_of(num_coeffs: int) -> int:
    """The SH degree whose full basis has ``num_coeffs`` functions."""
    degree = int(round(math.sqrt(num_coeffs))) - 1
    if degree < 0 or degree > 3 or (degree + 1) ** 2 != num_coeffs:
        raise ValueError(f"{num_coeffs} SH coefficients match no degree 0..3")
    return degree


def sh_basis(degree: int, dirs: torch.Tensor) -> torch.Tensor:
    """The (N, (degree+1)**2) basis values for unit directions ``dirs`` (N, 3)."""
    x, y, z = dirs.unbind(-1)
    return torch.stack(sh_terms(degree, x, y, z), dim=-1)


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
