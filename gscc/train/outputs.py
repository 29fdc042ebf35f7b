"""What a finished run leaves in its folder, besides ``config.json`` and ``ckpt.pt``:

- ``splats.ply``: the trained splats (a feature model's with baked SH colours);
- ``scene.gsc``: the trained scene encoded with the config's codec settings (``default``
  preset): SH splats, or for a feature model its features and colour decoder (format 1.1);
- ``metrics.json``: PSNR/SSIM per held-out view and their means for the trained model
  (``trained``), for a feature model also for its exported splats with baked SH
  (``exported``: what a `.ply` viewer shows), and for the decoded ``scene.gsc`` (``gsc``,
  rendered as the file describes it — a feature model's features through its colour MLP —
  with its size in bytes and splat count); the splat
  count, training time, iterations and the periodic evaluations (``history``);
- ``renders/NAME.png``: a few held-out views, the trained render left of the ground truth.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..codec.decoder import decode_scene
from ..codec.encoder import encode
from ..data import Frame
from ..eval.render_views import to_uint8, write_png
from ..io import write_ply
from ..io.atomic import write_bytes_atomically
from ..splats import FeatureSplats, SplatSet
from .evaluation import RenderFn, score_views, splat_renderer

PLY_NAME = "splats.ply"
GSC_NAME = "scene.gsc"
METRICS_NAME = "metrics.json"
RENDERS_DIR = "renders"


def write_json(path: Path, data: Any) -> None:
    write_bytes_atomically(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def safe_name(name: str, index: int) -> str:
    """A file name for a view: its name without an image extension, anything but letters,
    digits, - and _ replaced (``view0003`` when nothing is left)."""
    base = Path(name).name if name else ""
    if Path(base).suffix.lower() in IMAGE_SUFFIXES:
        base = Path(base).stem
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", base).strip("_")
    return cleaned or f"view{index:04d}"


@torch.no_grad()
def write_renders(folder: Path, render_fn: RenderFn, frames: list[Frame]) -> list[str]:
    """``NAME.png`` per frame: the render and the ground truth side by side."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, frame in enumerate(frames):
        image = render_fn(frame).clamp(0.0, 1.0).float().cpu().numpy()
        pair = np.concatenate([image, frame.image.float().cpu().numpy()], axis=1)
        path = folder / f"{safe_name(frame.name, index)}.png"
        write_png(path, to_uint8(pair))
        written.append(path.name)
    return written


def scene_renderer(
    scene: SplatSet | FeatureSplats, background, backend: str, device: torch.device, near: Optional[float] = None
) -> RenderFn:
    """Renders of a decoded scene as its file describes it: SH splats as they are; an
    MLP-coloured scene (format 1.1) as the feature model renders it (features blended per
    pixel, then the colour MLP), not through its baked SH (``near``: the near plane,
    default the renderer's)."""
    if isinstance(scene, SplatSet):
        return splat_renderer(scene, background, backend, device, near)
    from ..model.features import FeatureModel

    model = FeatureModel.from_scene(scene)
    model.params.to(device)
    model.decoder.to(device)
    options = {} if near is None else {"near": near}

    def fn(frame: Frame) -> torch.Tensor:
        return model.render(frame.camera, 0, background=background, backend=backend, **options).image

    return fn


def export_run(
    folder: Path,
    scene: SplatSet | FeatureSplats,
    *,
    trained: RenderFn,
    frames: list[Frame],
    background,
    backend: str,
    device: torch.device,
    codec,
    render_count: int,
    summary: dict,
    distributions: Optional[dict] = None,
) -> dict:
    """Write splats.ply, scene.gsc, renders/ and metrics.json; returns the metrics."""
    exported_differs = isinstance(scene, FeatureSplats)  # the .ply has baked colours
    splats = scene.baked() if exported_differs else scene
    write_ply(splats, folder / PLY_NAME)
    data = encode(scene, codec, distributions=distributions) if distributions else encode(scene, codec)
    write_bytes_atomically(folder / GSC_NAME, data)
    decoded = decode_scene(data)

    metrics: dict[str, Any] = dict(summary)
    metrics["splat_count"] = splats.count
    metrics["ply_bytes"] = (folder / PLY_NAME).stat().st_size
    metrics["trained"] = score_views(trained, frames)
    if exported_differs:
        metrics["exported"] = score_views(splat_renderer(splats, background, backend, device), frames)
    gsc_scores = score_views(scene_renderer(decoded, background, backend, device), frames)
    metrics["gsc"] = {"bytes": len(data), "splat_count": decoded.count, "codec": codec.to_dict(), **gsc_scores}
    metrics["renders"] = write_renders(folder / RENDERS_DIR, trained, frames[:render_count])
    write_json(folder / METRICS_NAME, metrics)
    return metrics
