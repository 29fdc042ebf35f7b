"""Rasterizer backends, chosen by name: each turns 3D splats with per-splat features into
an image for one camera, following the conventions of the package docstring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from . import gsplat_backend
from .projection import project


@dataclass
class Rasterized:
    image: torch.Tensor  # (H, W, C)
    alpha: torch.Tensor  # (H, W, 1)
    means2d: Optional[torch.Tensor]  # (N, 2), its .grad is the view-space gradient
    radii: Optional[torch.Tensor]  # (N,) int


@dataclass(frozen=True)
class RasterSettings:
    width: int
    height: int
    near: float = 0.01
    far: float = 1e10
    eps2d: float = 0.3


RasterFn = Callable[..., Rasterized]


def _taichi(means, quats, scales, opacities, colors, viewmat, K, background, s: RasterSettings) -> Rasterized:
    from .taichi_raster import rasterize_2d

    f32 = torch.float32
    proj = project(
        means.to(f32), quats.to(f32), scales.to(f32), opacities.to(f32), viewmat.to(f32), K.to(f32),
        s.width, s.height, near=s.near, far=s.far, eps2d=s.eps2d,
    )
    image, alpha = rasterize_2d(
        proj.means2d, proj.conics, opacities.to(f32), colors.to(f32), proj.depths.detach(), proj.radii,
        s.width, s.height, background=None if background is None else background.to(f32),
    )
    return Rasterized(image, alpha, proj.means2d, proj.radii)


def _reference(means, quats, scales, opacities, colors, viewmat, K, background, s: RasterSettings) -> Rasterized:
    from .reference import render_reference

    image, alpha = render_reference(
        means, quats, scales, opacities, colors, viewmat, K, s.width, s.height,
        background=background, near=s.near, far=s.far, eps2d=s.eps2d,
    )
    return Rasterized(image, alpha, None, None)


def _gsplat(means, quats, scales, opacities, colors, viewmat, K, background, s: RasterSettings) -> Rasterized:
    image, alpha, means2d, radii = gsplat_backend.rasterize(
        means, quats, scales, opacities, colors, viewmat, K, background,
        s.width, s.height, near=s.near, far=s.far, eps2d=s.eps2d,
    )
    return Rasterized(image, alpha, means2d, radii)


def _always() -> tuple[bool, str]:
    return True, ""


# name -> (rasterize, availability check); a new backend is one entry here
BACKENDS: dict[str, tuple[RasterFn, Callable[[], tuple[bool, str]]]] = {
    "taichi": (_taichi, _always),
    "gsplat": (_gsplat, gsplat_backend.availability),
    "reference": (_reference, _always),
}


def available_backends() -> dict[str, str]:
    """Every backend name mapped to "" when usable here, else the reason it is not."""
    return {name: ("" if ok else why) for name, (_, check) in BACKENDS.items() for ok, why in [check()]}


def resolve(name: str, device: torch.device) -> str:
    """The backend to use: ``auto`` means gsplat for CUDA tensors, the Taichi CPU backend otherwise."""
    if name == "auto":
        return "gsplat" if device.type == "cuda" else "taichi"
    if name not in BACKENDS:
        raise ValueError(f"unknown render backend {name!r}; choose from auto, {', '.join(BACKENDS)}")
    ok, why = BACKENDS[name][1]()
    if not ok:
        raise RuntimeError(f"render backend {name!r} is unavailable: {why}")
    return name


def rasterize(name: str, *args, **kwargs) -> Rasterized:
    return BACKENDS[name][0](*args, **kwargs)
