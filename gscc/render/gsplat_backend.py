"""gsplat's CUDA rasterizer, used when a CUDA device is present.

gsplat is imported only after CUDA is known to be usable: on a machine with a CUDA compiler
but no GPU, importing its CUDA path tries to build or load kernels and raises.
"""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=1)
def availability() -> tuple[bool, str]:
    if not torch.cuda.is_available():
        return False, "no CUDA device (the taichi backend renders on the CPU)"
    try:
        from gsplat import rasterization  # noqa: F401
    except Exception as exc:  # any import failure means: not usable here
        return False, f"gsplat cannot be imported ({type(exc).__name__}: {exc})".splitlines()[0]
    return True, ""


def rasterize(means, quats, scales, opacities, colors, viewmat, K, background, width, height, *, near, far, eps2d):
    ok, why = availability()
    if not ok:
        raise RuntimeError(f"render backend 'gsplat' is unavailable: {why}")
    from gsplat import rasterization

    images, alphas, info = rasterization(
        means, quats, scales, opacities, colors,
        viewmat[None], K[None], width, height,
        near_plane=near, far_plane=far, eps2d=eps2d, packed=False,
        backgrounds=None if background is None else background[None],
        render_mode="RGB",
    )
    means2d = info.get("means2d")
    radii = info.get("radii")
    if radii is not None:
        radii = radii[0]
        if radii.ndim == 2:  # per-axis radii in newer gsplat
            radii = radii.max(dim=-1).values
    # means2d stays batched (1, N, 2): it is the tensor the image was computed from, so only
    # it receives a .grad (a slice of it would not)
    return images[0], alphas[0], means2d, radii
