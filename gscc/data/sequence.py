"""What every dynamic dataset kind reads: posed views of a sequence, one per camera and frame.

A kind module (panoptic, n3dv, dnerf) parses its metadata into a :class:`SourceSequence`:
train and test :class:`SourceView` lists over *all* frames of the source, each with its
camera at the source resolution and a reader for its pixels; nothing is decoded yet.
:mod:`gscc.data.dynamic` then picks the frame range, scales the cameras to the training size
and puts the readers behind a bounded cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..cameras.camera import Camera
from .images import Background

# (width, height, background) -> (height, width, 3) float32 in [0, 1]
PixelReader = Callable[[int, int, Background], np.ndarray]
# (width, height) -> (height, width) bool, True on the foreground
MaskReader = Callable[[int, int], np.ndarray]


@dataclass(frozen=True)
class SourceView:
    """One camera at one frame of the source sequence."""

    camera: Camera  # at the source resolution, OpenCV convention
    frame: int  # frame index in the source sequence
    name: str  # "cam00/000075"
    camera_id: str  # the physical camera ("cam00"); views of one camera share it
    read: PixelReader
    path: Optional[Path] = None  # the image or video file the pixels come from (checked to exist)
    read_mask: Optional[MaskReader] = None
    time: Optional[float] = None  # the dataset's own time in [0, 1] (D-NeRF); None: from the frame index


@dataclass(frozen=True)
class SourceSequence:
    """A dynamic dataset's views over every frame, as its metadata describes them."""

    kind: str
    train: list[SourceView]
    test: list[SourceView]
    frame_count: int  # frames in the source sequence
    fps: float
    background: Background  # the kind's default background
    near: float  # the kind's default near plane for evaluation (world units)
    monocular: bool  # one camera per time (no multi-view triangulation)
    # called with the chosen range [start, end) and the cache folder before any pixels are
    # read (a video kind decodes only that range, into a store in the cache folder);
    # None when the kind reads frames independently
    select: Optional[Callable[[int, int, Path], None]] = None
