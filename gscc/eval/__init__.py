"""Evaluation: image metrics, rendering splat files for a set of cameras, comparing renders.

- ``metrics``: PSNR, SSIM (torchmetrics) and LPIPS when its weights are available offline;
- ``render_views``: load .ply/.splat/.gsc, render cameras to PNG files (with depth maps);
- ``compare``: splats vs splats, or splats vs a dataset's images, per view and on average.

The metric functions are importable from here; importing them loads torch, so they are
resolved lazily (``gscc.eval.render_views.load_splat_file`` reads a .gsc without torch).
"""

from __future__ import annotations

from importlib import import_module

_METRICS = ("lpips", "lpips_availability", "psnr", "psnr_tensor", "ssim", "ssim_tensor")

__all__ = list(_METRICS)


def __getattr__(name: str):
    if name in _METRICS:
        return getattr(import_module(".metrics", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
