"""Training images: decoded, composited over the background and resized to the camera.

An image becomes (H, W, 3) float32 in [0, 1] at its camera's size:

1. decoded with Pillow; a JPEG that is to be shrunk is decoded at a reduced scale straight
   away (``Image.draft``, a power of two that keeps it at least as large as the target);
2. an image with transparency (RGBA, LA, a palette or colour key with transparency) is
   composited over the background, ``rgb * a + background * (1 - a)``, in float32 —
   before resizing, as 3DGS does, so the edges of objects blend with the background
   exactly as they would have at full size;
3. resized in float32 with Pillow's BOX filter, which is area averaging for any factor
   (OpenCV's INTER_AREA, what gsplat uses): no ringing, values stay in [0, 1].

The image file may have another size than its camera (e.g. a dataset whose JSON gives the
original size but ships smaller images) as long as the aspect ratio is the same to 1 %; it
is resized to the camera's size like any other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError

Background = tuple[float, float, float]

ASPECT_TOLERANCE = 0.01
MAX_WORKERS = 8
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _has_alpha(image) -> bool:
    return image.mode in ALPHA_MODES or "transparency" in image.info


def _resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """(h, w, 3) float32 resized to (height, width, 3) by area averaging (Pillow BOX, float mode)."""
    from PIL import Image

    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c]), mode="F").resize((width, height), Image.BOX))
        for c in range(pixels.shape[2])
    ]
    return np.stack(channels, axis=-1)


def load_image(path: Path, width: int, height: int, background: Background, name: str = "") -> torch.Tensor:
    """The image at ``path`` as a (height, width, 3) float32 tensor in [0, 1] (see module docs)."""
    from PIL import Image, UnidentifiedImageError

    what = f" (view {name!r})" if name else ""
    if not path.is_file():
        raise InputError(f"{path}: no such image{what}")
    try:
        with Image.open(path) as image:
            file_width, file_height = image.size
            if abs(file_width / file_height - width / height) > ASPECT_TOLERANCE * width / height:
                raise InputError(
                    f"{path}: image is {file_width}x{file_height} but its camera is {width}x{height} "
                    f"(another aspect ratio){what}"
                )
            if file_width > width and file_height > height:
                image.draft("RGB", (width, height))  # JPEG only: decode at a reduced scale
            if _has_alpha(image):
                rgba = np.asarray(image.convert("RGBA"))
            else:
                rgba = None
                rgb8 = np.asarray(image.convert("RGB"))
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: not a readable image ({message}){what}") from None

    if rgba is not None:
        alpha = rgba[..., 3:].astype(np.float32) * np.float32(1.0 / 255.0)
        pixels = rgba[..., :3].astype(np.float32) * np.float32(1.0 / 255.0)
        pixels *= alpha
        pixels += np.asarray(background, dtype=np.float32) * (np.float32(1.0) - alpha)
    else:
        pixels = rgb8.astype(np.float32) * np.float32(1.0 / 255.0)
    if pixels.shape[:2] != (height, width):
        pixels = _resize(pixels, width, height)
    np.clip(pixels, 0.0, 1.0, out=pixels)
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))


def load_images(
    jobs: Sequence[tuple[Path, int, int, str]], background: Background, workers: int | None = None
) -> list[torch.Tensor]:
    """:func:`load_image` for each ``(path, width, height, name)``, in order, on a few threads.

    Pillow and numpy release the GIL while decoding and resizing, so threads scale.
    """
    if workers is None:
        workers = min(MAX_WORKERS, os.cpu_count() or 1)
    if workers <= 1 or len(jobs) <= 1:
        return [load_image(path, w, h, background, name) for path, w, h, name in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(load_image, path, w, h, background, name) for path, w, h, name in jobs]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()
