"""Scores on held-out views: PSNR and SSIM per view and their means.

A score set is ``{"views": [{"name", "psnr", "ssim"}, ...], "mean": {"psnr", "ssim"}}``
(JSON-ready: an infinite PSNR is written as None and left out of the mean).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Optional

import torch

from ..data import Frame
from ..eval.metrics import psnr, ssim
from ..render import Gaussians, render
from ..splats import SplatSet

RenderFn = Callable[[Frame], torch.Tensor]  # a frame to its (H, W, 3) render


def splat_renderer(
    splats: SplatSet, background, backend: str, device: torch.device, near: Optional[float] = None
) -> RenderFn:
    """Renders of a SplatSet (e.g. the exported or decoded splats) with all its SH
    (``near``: the near plane, default the renderer's)."""
    gaussians = Gaussians.from_splats(splats, device=device)
    options = {} if near is None else {"near": near}

    def fn(frame: Frame) -> torch.Tensor:
        return render(gaussians, frame.camera, backend=backend, background=background, **options).image

    return fn


@torch.no_grad()
def score_views(render_fn: RenderFn, frames: Sequence[Frame]) -> dict:
    views = []
    for frame in frames:
        image = render_fn(frame).clamp(0.0, 1.0).float().cpu()
        target = frame.image.float().cpu()
        views.append({"name": frame.name, "psnr": _finite(psnr(image, target)), "ssim": ssim(image, target)})
    return {"views": views, "mean": mean_scores(views)}


def mean_scores(views: list[dict]) -> dict:
    finite = [v["psnr"] for v in views if v["psnr"] is not None]
    return {
        "psnr": sum(finite) / len(finite) if finite else None,
        "ssim": sum(v["ssim"] for v in views) / len(views) if views else None,
    }


def _finite(value: float) -> Optional[float]:
    return value if math.isfinite(value) else None
