"""Differentiable rendering of Gaussian splats, on the CPU (Taichi) and on CUDA (gsplat).

Conventions shared by every backend (the reference oracle in ``reference.py`` is the
executable form of this text):

Cameras
    OpenCV convention: camera x right, y down, z forward. ``viewmat`` is the 4x4
    world-to-camera matrix, ``K`` the 3x3 pinhole intrinsics in pixels. The centre of pixel
    (row i, column j) sits at (j + 0.5, i + 0.5) in those pixel coordinates.

Inputs (torch tensors, float32 for the fast backends, float64 allowed for the oracle)
    means (N, 3) world positions; quats (N, 4) w x y z, normalised inside the renderer;
    scales (N, 3) *activated* standard deviations (exp of the .ply value); opacities (N,)
    *activated* (sigmoid of the .ply logit); colors (N, C) per-splat features for this view
    (spherical harmonics are evaluated before rasterisation, see ``sh.py``).

Projection (EWA splatting)
    t = R @ mean + T (camera space). Splats with t.z <= near or t.z >= far are culled.
    Σ = R_q diag(s²) R_qᵀ; Σ_cam = R Σ Rᵀ; J = [[fx/z, 0, -fx·x/z²], [0, fy/z, -fy·y/z²]]
    evaluated at x, y clamped to ±1.3·tan(half-fov)·z (as in 3DGS); Σ2d = J Σ_cam Jᵀ + eps2d·I
    (eps2d = 0.3, the low-pass filter). mean2d = (fx·x/z + cx, fy·y/z + cy). conic = Σ2d⁻¹
    stored as (a, b, c) for [[a, b], [b, c]]. A splat whose Σ2d determinant is <= 0 is culled.

Opacity-aware radius
    radius = ceil(sqrt(2·ln(255·opacity)) · sqrt(λ_max(Σ2d))) pixels; splats with
    opacity < 1/255 (radius undefined) or whose square [mean2d ± radius] misses the image
    are culled (radius 0). Outside that square α < 1/255 always holds, so culling by the
    square is exact and does not depend on the tiling.

Compositing (per pixel p, splats sorted by camera depth z ascending, ties by index)
    d = p - mean2d; power = -0.5·(a·dx² + c·dy²) - b·dx·dy; skip if power > 0;
    α = min(0.999, opacity·exp(power)); skip if α < 1/255;
    next_T = T·(1 - α); if next_T <= 1e-4: stop (this splat is not added);
    C += colors·α·T; T = next_T. Start with T = 1. Output image = C + T·background,
    alpha = 1 - T. Gradients ignore the discontinuities of these cut-offs.

Depth
    Expected depth is rendered as one more feature channel equal to camera-space z, and
    reported as that channel divided by alpha (0 where alpha is 0).
"""

from .api import Gaussians, RenderOutput, render
from .backends import available_backends

__all__ = ["Gaussians", "RenderOutput", "available_backends", "render"]
