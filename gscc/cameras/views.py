"""A posed view from a dataset: the camera and, where the dataset has one, its image file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .camera import Camera


@dataclass(frozen=True)
class View:
    """A camera and the path of the image it saw (None for synthetic cameras such as orbits).

    ``image_path`` is where the dataset says the image is; it need not exist (a COLMAP model
    is often shipped without its images). ``camera.name`` holds a short, human-readable name.
    """

    camera: Camera
    image_path: Optional[Path] = None

    def scaled(self, factor: float) -> "View":
        return View(self.camera.scaled(factor), self.image_path)
