"""Rendering jobs: splat files seen by a list of cameras, written as PNG files.

A folder of renders holds ``NNNN.png`` (8-bit RGB) per camera, in camera order, and with
depth ``NNNN_depth.png``: the expected depth colour-mapped (turbo), near to far normalised
over the pixels the splats cover, blended onto black by the rendered alpha. Every file is
written atomically, so an interrupted job leaves whole PNGs only.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Optional

import numpy as np

from ..cameras import Camera
from ..errors import FormatError, GsccError, InputError
from ..io.atomic import write_atomically
from ..splats import FeatureSplats, SplatSet

Progress = Callable[[int, int], None]  # (views done, views in all)
Background = tuple[float, float, float]

BACKGROUNDS = {"black": (0.0, 0.0, 0.0), "white": (1.0, 1.0, 1.0)}
DEPTH_COLORMAP = "turbo"
DEPTH_ALPHA_MIN = 0.5  # pixels at least this opaque set the near..far range of a depth map


def load_splat_file(path: str | os.PathLike) -> SplatSet | FeatureSplats:
    """Read a ``.ply``, ``.splat`` or ``.gsc`` file (decoding a .gsc needs no torch); an
    MLP-coloured ``.gsc`` (format 1.1) gives its FeatureSplats, which :class:`Renderer`
    renders as the feature model does."""
    path = Path(path)
    if path.suffix.lower() != ".gsc":
        from ..io import load_splats

        return load_splats(path)
    from ..codec.decoder import decode_scene

    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    try:
        return decode_scene(path.read_bytes())
    except FormatError as exc:
        raise FormatError(f"{path}: {exc}") from None


def parse_background(text: str) -> Background:
    """``white``, ``black`` or ``r,g,b`` with each value in 0..1 (or 0..255 integers)."""
    name = text.strip().lower()
    if name in BACKGROUNDS:
        return BACKGROUNDS[name]
    parts = name.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or not all(np.isfinite(values)):
        raise InputError(f"background {text!r}: expected white, black or r,g,b")
    if any(v > 1.0 for v in values):
        if not all(v == int(v) and 0 <= v <= 255 for v in values):
            raise InputError(f"background {text!r}: values are either 0..1 or whole numbers 0..255")
        values = [v / 255.0 for v in values]
    if any(v < 0.0 for v in values):
        raise InputError(f"background {text!r}: values must not be negative")
    return (values[0], values[1], values[2])


def resolve_backend(backend: str) -> str:
    """The backend name ``render`` will use for CPU or CUDA tensors here, or a GsccError."""
    import torch

    from ..render.backends import resolve

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return resolve(backend, device)
    except (ValueError, RuntimeError) as exc:
        raise GsccError(str(exc)) from None


class Renderer:
    """Splats on the render device, rendered one camera at a time without gradients.

    SH splats render with their SH; MLP-coloured splats (FeatureSplats) as the feature model
    renders them: features alpha-blended per pixel, then the colour MLP per pixel with the
    pixel's viewing direction (not through baked SH)."""

    def __init__(
        self, splats: SplatSet | FeatureSplats, *, backend: str = "auto", background: Background = (0.0, 0.0, 0.0),
        near: Optional[float] = None,
    ):
        from ..render import Gaussians

        self.backend = resolve_backend(backend)
        self.background = background
        self.options = {} if near is None else {"near": float(near)}  # the renderer's default near plane otherwise
        self.model = None
        if isinstance(splats, FeatureSplats):
            from ..model.features import FeatureModel

            self.model = FeatureModel.from_scene(splats)
            self.gaussians = self.model.gaussians(0)
        else:
            self.gaussians = Gaussians.from_splats(splats)

    def render(self, camera: Camera, *, depth: bool = False):
        """(image (H, W, 3) float32 in [0, 1], alpha (H, W), depth (H, W) or None) as numpy."""
        import torch

        from ..render import render

        with torch.no_grad():
            if self.model is not None:
                out = self.model.render(camera, 0, background=self.background, backend=self.backend, **self.options)
                if depth:  # the depth of the same splats (the feature render has none)
                    out.depth = render(
                        self.gaussians, camera, backend=self.backend, render_depth=True, **self.options
                    ).depth
            else:
                out = render(
                    self.gaussians, camera, backend=self.backend, background=self.background, render_depth=depth,
                    **self.options,
                )
            image = out.image.clamp(0.0, 1.0).float().cpu().numpy()
            alpha = out.alpha[..., 0].float().cpu().numpy()
            z = out.depth[..., 0].float().cpu().numpy() if depth and out.depth is not None else None
        return image, alpha, z


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] to 8-bit, rounding to nearest."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _colormaps():
    try:
        from matplotlib import colormaps
    except ImportError:
        raise GsccError("depth maps need matplotlib (pip install matplotlib)") from None
    return colormaps


def colorize_depth(depth: np.ndarray, alpha: np.ndarray, colormap: str = DEPTH_COLORMAP) -> np.ndarray:
    """(H, W, 3) uint8: depth near..far through ``colormap``, blended onto black by alpha.

    The range is the min..max depth over pixels with alpha >= 0.5 (all covered pixels if
    none is that opaque); nothing covered gives a black image.
    """
    colormaps = _colormaps()
    depth = np.asarray(depth, dtype=np.float64)
    alpha = np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0)
    covered = (alpha > 0) & np.isfinite(depth) & (depth > 0)
    solid = covered & (alpha >= DEPTH_ALPHA_MIN)
    basis = solid if solid.any() else covered
    if not basis.any():
        return np.zeros(depth.shape + (3,), dtype=np.uint8)
    near, far = float(depth[basis].min()), float(depth[basis].max())
    t = np.clip((depth - near) / (far - near), 0.0, 1.0) if far > near else np.zeros_like(depth)
    rgb = colormaps[colormap](t)[..., :3]
    rgb = rgb * np.where(covered, alpha, 0.0)[..., None]
    return to_uint8(rgb)


def write_png(path: Path, pixels: np.ndarray) -> None:
    """Write an 8-bit RGB (H, W, 3) array as a PNG, atomically."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="RGB").save(buffer, format="PNG")
    data = buffer.getvalue()
    write_atomically(path, lambda handle: handle.write(data))


def check_output_folder(folder: Path, force: bool) -> None:
    """Refuse a non-empty folder without ``force``, a file in its place, or a missing parent."""
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise InputError(f"{folder}: folder is not empty; pass --force to write into it")
    if not folder.exists() and not folder.parent.exists():
        raise InputError(f"{folder.parent}: no such folder")


def frame_names(count: int) -> list[str]:
    """``0000``, ``0001``, ... (wider when there are more than 10,000 views)."""
    width = max(4, len(str(count - 1)))
    return [f"{index:0{width}d}" for index in range(count)]


def render_to_folder(
    splats: SplatSet,
    cameras: Sequence[Camera],
    folder: str | os.PathLike,
    *,
    backend: str = "auto",
    background: Background = (0.0, 0.0, 0.0),
    depth: bool = False,
    force: bool = False,
    progress: Optional[Progress] = None,
) -> list[Path]:
    """Render every camera into ``folder`` (see the module docstring); the paths written."""
    folder = Path(folder)
    if not cameras:
        raise InputError("no cameras to render")
    check_output_folder(folder, force)
    if depth:
        _colormaps()  # fail before writing anything
    renderer = Renderer(splats, backend=backend, background=background)
    created = not folder.exists()
    folder.mkdir(exist_ok=True)
    written: list[Path] = []
    try:
        for index, (name, camera) in enumerate(zip(frame_names(len(cameras)), cameras)):
            image, alpha, z = renderer.render(camera, depth=depth)
            target = folder / f"{name}.png"
            write_png(target, to_uint8(image))
            written.append(target)
            if depth:
                target = folder / f"{name}_depth.png"
                write_png(target, colorize_depth(z, alpha))
                written.append(target)
            if progress is not None:
                progress(index + 1, len(cameras))
    except BaseException:
        if created and not written:
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    return written
