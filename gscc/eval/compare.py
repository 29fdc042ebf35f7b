"""Comparing renders: splats A against splats B, or splats against a dataset's images.

Both sides are seen by the same cameras. Per view the scores are PSNR, SSIM and LPIPS (when
it can run here, see ``metrics.py``); the summary is their mean over views, as papers
report it (mean of per-view PSNRs, not the PSNR of the mean error). Renders are compared
as floats clamped to [0, 1]; dataset images as their 8-bit values / 255, RGBA images
composited over the chosen background (``rgb * a + background * (1 - a)``, white for
NeRF-synthetic by convention), then resized to the camera's size (antialiased bilinear)
when the cameras were scaled.
"""

from __future__ import annotations

import dataclasses

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..cameras import Camera, View
from ..errors import InputError
from ..splats import SplatSet
from . import metrics
from .render_views import Background, Progress, Renderer

ASPECT_TOLERANCE = 0.01


@dataclass(frozen=True)
class ViewScore:
    name: str
    psnr: float  # inf for identical images
    ssim: float
    lpips: Optional[float]  # None when LPIPS cannot run here


@dataclass
class Comparison:
    """Per-view scores and what was compared."""

    reference: str  # "splats" or "images"
    backend: str
    views: list[ViewScore] = field(default_factory=list)
    lpips_reason: str = ""  # why LPIPS is missing; "" when it ran

    def mean(self) -> dict[str, Optional[float]]:
        if not self.views:
            raise ValueError("no views were compared")
        lpips = [v.lpips for v in self.views]
        return {
            "psnr": float(np.mean([v.psnr for v in self.views])),
            "ssim": float(np.mean([v.ssim for v in self.views])),
            "lpips": None if any(x is None for x in lpips) else float(np.mean(lpips)),
        }

    def at_time(self, t: float) -> "Comparison":
        """The same scores with each view named for time ``t`` (dynamic splats)."""
        views = [dataclasses.replace(v, name=f"{v.name} @ t={t:g}") for v in self.views]
        return dataclasses.replace(self, views=views)

    def merged(self, others: list["Comparison"]) -> "Comparison":
        """One comparison holding these views and those of ``others`` (same reference kind)."""
        views = list(self.views) + [v for other in others for v in other.views]
        return dataclasses.replace(self, views=views)

    def to_json(self) -> dict:
        """A JSON-ready summary; an infinite PSNR (identical images) is written as null."""

        def number(x: Optional[float]) -> Optional[float]:
            return None if x is None or not math.isfinite(x) else x

        mean = self.mean()
        return {
            "reference": self.reference,
            "backend": self.backend,
            "views": [
                {"name": v.name, "psnr": number(v.psnr), "ssim": v.ssim, "lpips": v.lpips} for v in self.views
            ],
            "mean": {"psnr": number(mean["psnr"]), "ssim": mean["ssim"], "lpips": mean["lpips"]},
            "lpips": {"available": not self.lpips_reason, "reason": self.lpips_reason or None},
            "psnr_infinite": [v.name for v in self.views if math.isinf(v.psnr)],
        }


def load_ground_truth(path: Path, camera: Camera, background: Background) -> np.ndarray:
    """A dataset image as (H, W, 3) float32 in [0, 1] at the camera's size (see module docs)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise InputError(f"{path}: no such image (the ground truth of view {camera.name!r})")
    try:
        with Image.open(path) as image:
            image.load()
            rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    rgb, alpha = rgba[..., :3], rgba[..., 3:]
    pixels = rgb * alpha + np.asarray(background, dtype=np.float32) * (1.0 - alpha)
    height, width = pixels.shape[:2]
    if (width, height) == (camera.width, camera.height):
        return pixels
    if abs(width / height - camera.width / camera.height) > ASPECT_TOLERANCE * camera.width / camera.height:
        raise InputError(
            f"{path}: image is {width}x{height} but its camera is {camera.width}x{camera.height} (another aspect ratio)"
        )
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    resized = torch.nn.functional.interpolate(
        tensor, size=(camera.height, camera.width), mode="bilinear", antialias=True, align_corners=False
    )
    return resized[0].permute(1, 2, 0).clamp(0.0, 1.0).numpy()


def score_view(name: str, a: np.ndarray, b: np.ndarray, with_lpips: bool) -> ViewScore:
    """PSNR, SSIM and (``with_lpips``) LPIPS of render ``a`` against reference ``b``."""
    return ViewScore(name, metrics.psnr(a, b), metrics.ssim(a, b), metrics.lpips(a, b) if with_lpips else None)


def compare_splats(
    a: SplatSet,
    b: SplatSet,
    cameras: Sequence[Camera],
    *,
    backend: str = "auto",
    background: Background = (0.0, 0.0, 0.0),
    progress: Optional[Progress] = None,
) -> Comparison:
    """Scores of renders of ``a`` against renders of ``b`` (the reference) per camera."""
    if not cameras:
        raise InputError("no cameras to compare with")
    first = Renderer(a, backend=backend, background=background)
    second = Renderer(b, backend=backend, background=background)
    available, reason = metrics.lpips_availability()
    result = Comparison("splats", first.backend, lpips_reason=reason)
    for index, camera in enumerate(cameras):
        image_a, _, _ = first.render(camera)
        image_b, _, _ = second.render(camera)
        result.views.append(score_view(camera.name or f"view {index}", image_a, image_b, available))
        if progress is not None:
            progress(index + 1, len(cameras))
    return result


def compare_to_images(
    splats: SplatSet,
    views: Sequence[View],
    *,
    backend: str = "auto",
    background: Background = (1.0, 1.0, 1.0),
    progress: Optional[Progress] = None,
) -> Comparison:
    """Scores of renders of ``splats`` against each view's dataset image."""
    if not views:
        raise InputError("no views to compare with")
    for view in views:
        if view.image_path is None:
            raise InputError(f"view {view.camera.name!r} has no image to compare with")
        if not view.image_path.is_file():
            raise InputError(f"{view.image_path}: no such image (the ground truth of view {view.camera.name!r})")
    renderer = Renderer(splats, backend=backend, background=background)
    available, reason = metrics.lpips_availability()
    result = Comparison("images", renderer.backend, lpips_reason=reason)
    for index, view in enumerate(views):
        truth = load_ground_truth(view.image_path, view.camera, background)
        image, _, _ = renderer.render(view.camera)
        result.views.append(score_view(view.camera.name or f"view {index}", image, truth, available))
        if progress is not None:
            progress(index + 1, len(views))
    return result
