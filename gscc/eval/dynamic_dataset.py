"""Scores of dynamic splats against a dynamic dataset's test images (``gscc eval SOURCE -c
DATASET``): what a dynamic training run reports, computed again for any dynamic source and
any near plane.

Every test frame of the dataset (each test camera at each frame of the range) is compared
with the render of the scene at that frame's normalised time, seen by that camera, over the
dataset's background, with splats closer to the camera than ``near`` left out (default: the
dataset's near plane, e.g. Panoptic's 0.5). The range and the image width default to those a
training run recorded (its ``scene.json`` and ``config.json``) when the source is a run
folder, else the whole sequence (or the range given) at the images' own size. A run's scene
spans the range it was trained on, so times are normalised over that range; a narrower
range given for a run only selects which of its frames are scored. Scores are PSNR and SSIM per view,
named ``cam00/000012``, and their mean over views, as the trainer's ``metrics.json`` gives
them (LPIPS too where it can run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Container, Optional

import numpy as np

from ..dynamic import DynamicScene
from ..errors import InputError
from . import metrics
from .compare import Comparison, score_view
from .dynamic_views import SCENE_FILE
from .render_views import Progress, Renderer

CONFIG_FILE = "config.json"


def _run_folder(source: str | os.PathLike) -> Optional[Path]:
    path = Path(source)
    if path.is_dir() and (path / SCENE_FILE).is_file():
        return path
    if path.name == SCENE_FILE and path.is_file():
        return path.parent
    return None


def run_frames(source: str | os.PathLike) -> Optional[tuple[int, int]]:
    """The frame range a training run covered (its scene.json), or None for other sources."""
    folder = _run_folder(source)
    if folder is None:
        return None
    try:
        start, end = json.loads((folder / SCENE_FILE).read_text())["frames"]
        return int(start), int(end)
    except (OSError, ValueError, KeyError, TypeError):
        raise InputError(f"{folder / SCENE_FILE}: no frame range in this run description") from None


def run_resolution(source: str | os.PathLike) -> Optional[int]:
    """The image width a training run used (its config.json ``resolution``), or None."""
    folder = _run_folder(source)
    if folder is None or not (folder / CONFIG_FILE).is_file():
        return None
    try:
        value = json.loads((folder / CONFIG_FILE).read_text()).get("resolution")
    except (OSError, ValueError, AttributeError):
        return None
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def compare_to_dynamic_dataset(
    scene: DynamicScene,
    dataset,
    *,
    near: Optional[float] = None,
    backend: str = "auto",
    progress: Optional[Progress] = None,
    frames: Optional[Container[int]] = None,
) -> Comparison:
    """Scores of ``scene`` against every test frame of a :class:`gscc.data.dynamic.DynamicDataset`
    (or those whose source frame number is in ``frames``); the scene spans the dataset's range."""
    frames = [f for f in dataset.test if frames is None or int(f.frame) in frames]
    if not frames:
        raise InputError(f"{dataset.kind} dataset has no test views to compare with")
    near = float(dataset.near if near is None else near)
    available, reason = metrics.lpips_availability()
    result: Optional[Comparison] = None
    by_time: dict[float, list] = {}
    for frame in frames:
        by_time.setdefault(float(frame.time), []).append(frame)
    done = 0
    for t, group in by_time.items():
        renderer = Renderer(scene.at(t), backend=backend, background=dataset.background, near=near)
        if result is None:
            result = Comparison("images", renderer.backend, lpips_reason=reason)
        for frame in group:
            image, _, _ = renderer.render(frame.camera)
            truth = frame.image_uint8().astype(np.float32) / np.float32(255.0)
            result.views.append(score_view(frame.name, image, truth, available))
            done += 1
            if progress is not None:
                progress(done, len(frames))
    assert result is not None
    return result


__all__ = ["compare_to_dynamic_dataset", "run_frames", "run_resolution"]
