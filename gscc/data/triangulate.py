"""Points triangulated from image features with known camera poses (pycolmap), for one frame.

For the cameras of one frame of a multi-view sequence (poses and intrinsics known), as
Spacetime Gaussians initialises from COLMAP's ``point_triangulator`` per frame:

1. the images are written as PNG at the triangulation size into a work folder;
2. SIFT features are extracted (pycolmap, CPU) with a low peak threshold (0.001 instead of
   COLMAP's 0.0067) and domain-size pooling: real multi-view captures such as Panoptic have
   few strong corners, and COLMAP's defaults find ~550 features per 640x360 basketball image;
3. features are matched exhaustively between all pairs and verified geometrically;
4. a reconstruction is set up with the known cameras (PINHOLE, the dataset's intrinsics) and
   poses, and ``pycolmap.triangulate_points`` triangulates the verified tracks without
   moving the cameras (tracks seen by at least 3 cameras, reprojection error under 4 px);
5. each point gets its colour from the images and, where the views have foreground masks,
   a foreground flag: the majority vote of the masks at the point's observations.

Figures for Panoptic basketball, 27 cameras at 640x360 on this project's 2-core CPU machine:
1,045-1,237 points per frame (about 20 % of them on the people), ~35 s of feature extraction
and ~17 s of matching per frame when the machine is otherwise quiet; the dome's white
panels have few features, so its points are sparse.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..cameras.camera import Camera
from .images import Background, to_uint8
from .sequence import SourceView

PEAK_THRESHOLD = 0.001
MAX_FEATURES = 8192


@dataclass(frozen=True)
class Triangulated:
    points: np.ndarray  # (M, 3) float64
    colors: np.ndarray  # (M, 3) float32 in [0, 1]
    foreground: Optional[np.ndarray]  # (M,) bool, None when no view has a mask
    features: int  # features extracted over all images


def triangulation_camera(camera: Camera, width: Optional[int]) -> Camera:
    """The camera at the triangulation width (never wider than the source)."""
    if width is None or width >= camera.width:
        return camera
    return camera.scaled(width / camera.width)


@contextlib.contextmanager
def _quiet():
    """COLMAP logs (glog) every step to stderr: errors only while it runs, unless
    ``GSCC_COLMAP_LOG`` is set."""
    import pycolmap

    if os.environ.get("GSCC_COLMAP_LOG"):
        yield
        return
    previous = pycolmap.logging.minloglevel
    pycolmap.logging.minloglevel = 2
    try:
        yield
    finally:
        pycolmap.logging.minloglevel = previous


def triangulate_frame(
    views: Sequence[SourceView],
    *,
    width: Optional[int] = None,
    background: Background = (0.0, 0.0, 0.0),
    threads: int = -1,
    workdir: Optional[Path] = None,
) -> Triangulated:
    """Points triangulated from ``views`` (the cameras of one frame; see the module docs)."""
    import pycolmap
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="gscc-tri-", dir=workdir) as tmp:
        folder = Path(tmp)
        images = folder / "images"
        images.mkdir()
        cameras: dict[str, Camera] = {}
        masks: dict[str, Optional[np.ndarray]] = {}
        for index, view in enumerate(views):
            camera = triangulation_camera(view.camera, width)
            name = f"{index:04d}.png"
            Image.fromarray(to_uint8(view.read(camera.width, camera.height, background))).save(images / name)
            cameras[name] = camera
            masks[name] = None if view.read_mask is None else view.read_mask(camera.width, camera.height)
        database = folder / "database.db"
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.num_threads = threads
        extraction.sift.peak_threshold = PEAK_THRESHOLD
        extraction.sift.domain_size_pooling = True
        extraction.sift.max_num_features = MAX_FEATURES
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "PINHOLE"
        matching = pycolmap.FeatureMatchingOptions()
        matching.num_threads = threads
        with _quiet():
            pycolmap.extract_features(
                database, images, image_names=sorted(cameras), camera_mode=pycolmap.CameraMode.PER_IMAGE,
                reader_options=reader, extraction_options=extraction, device=pycolmap.Device.cpu,
            )
            pycolmap.match_exhaustive(database, matching_options=matching, device=pycolmap.Device.cpu)
            reconstruction = pycolmap.Reconstruction()
            db = pycolmap.Database.open(database)
            try:
                features = int(db.num_keypoints())
                for image in db.read_all_images():
                    camera = cameras[image.name]
                    known = pycolmap.Camera(
                        model="PINHOLE", width=camera.width, height=camera.height,
                        params=[camera.fx, camera.fy, camera.cx, camera.cy], camera_id=image.camera_id,
                    )
                    db.update_camera(known)
                    reconstruction.add_camera_with_trivial_rig(known)
                    posed = pycolmap.Image(name=image.name, camera_id=image.camera_id, image_id=image.image_id)
                    reconstruction.add_image_with_trivial_frame(posed, pycolmap.Rigid3d(camera.world_to_camera[:3, :4]))
            finally:
                db.close()
            output = folder / "sparse"
            output.mkdir()
            options = pycolmap.IncrementalPipelineOptions()
            options.num_threads = threads
            result = pycolmap.triangulate_points(reconstruction, database, images, output, options=options)

        ids = sorted(result.points3D)
        points = np.array([result.points3D[i].xyz for i in ids], dtype=np.float64).reshape(-1, 3)
        colors = np.array([result.points3D[i].color for i in ids], dtype=np.float32).reshape(-1, 3) / 255.0
        foreground = None
        if any(m is not None for m in masks.values()):
            foreground = np.zeros(len(ids), dtype=bool)
            for row, point_id in enumerate(ids):
                votes = []
                for element in result.points3D[point_id].track.elements:
                    image = result.images[element.image_id]
                    mask = masks[image.name]
                    if mask is None:
                        continue
                    x, y = image.points2D[element.point2D_idx].xy
                    r = min(max(int(y), 0), mask.shape[0] - 1)
                    c = min(max(int(x), 0), mask.shape[1] - 1)
                    votes.append(bool(mask[r, c]))
                foreground[row] = bool(votes) and 2 * sum(votes) > len(votes)
        return Triangulated(points, colors, foreground, features)
