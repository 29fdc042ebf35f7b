"""Training datasets: posed images (COLMAP or NeRF-style) at the training resolution.

>>> from gscc.data import load_dataset
>>> data = load_dataset("../shared/data/lego", downscale=4)      # doctest: +SKIP
>>> data.train[0].image.shape, data.train[0].camera.width          # doctest: +SKIP
(torch.Size([200, 200, 3]), 200)

See :mod:`gscc.data.dataset` for the splits, resolution, scene scale and bounds, and
:mod:`gscc.data.dynamic` for multi-view video datasets (Panoptic, N3DV, D-NeRF).
"""

from .dataset import Frame, SceneDataset, detect_kind, load_dataset, random_points
from .dynamic import DynamicDataset, TimedFrame, is_dynamic_dataset, load_dynamic_dataset

__all__ = [
    "DynamicDataset",
    "Frame",
    "SceneDataset",
    "TimedFrame",
    "detect_kind",
    "is_dynamic_dataset",
    "load_dataset",
    "load_dynamic_dataset",
    "random_points",
]
