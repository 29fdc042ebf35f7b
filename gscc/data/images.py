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


def fit_pixels(pixels: np.ndarray, width: int, height: int, background: Background, where: str = "") -> np.ndarray:
    """Decoded 8-bit pixels, (h, w, 3) RGB or (h, w, 4) RGBA, as (height, width, 3) float32 in [0, 1].

    Steps 2 and 3 of the module docs (composite, then resize); ``where`` names the image in
    the error for another aspect ratio. Video frames come in here straight from the decoder.
    """
    file_height, file_width = pixels.shape[:2]
    if abs(file_width / file_height - width / height) > ASPECT_TOLERANCE * width / height:
        raise InputError(
            f"{where}: image is {file_width}x{file_height} but its camera is {width}x{height} (another aspect ratio)"
        )
    if pixels.shape[2] == 4:
        alpha = pixels[..., 3:].astype(np.float32) * np.float32(1.0 / 255.0)
        out = pixels[..., :3].astype(np.float32) * np.float32(1.0 / 255.0)
        out *= alpha
        out += np.asarray(background, dtype=np.float32) * (np.float32(1.0) - alpha)
    else:
        out = pixels[..., :3].astype(np.float32) * np.float32(1.0 / 255.0)
    if out.shape[:2] != (height, width):
        out = _resize(out, width, height)
    np.clip(out, 0.0, 1.0, out=out)
    return np.ascontiguousarray(out, dtype=np.float32)


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Float pixels in [0, 1] rounded to uint8 (error at most 1/510 per channel)."""
    return np.rint(np.asarray(pixels, dtype=np.float32) * np.float32(255.0)).astype(np.uint8)


def read_pixels(path: Path, width: int, height: int, background: Background, name: str = "") -> np.ndarray:
    """The image at ``path`` as a (height, width, 3) float32 array in [0, 1] (see module docs)."""
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
            pixels = np.asarray(image.convert("RGBA" if _has_alpha(image) else "RGB"))
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise InputError(f"{path}: not a readable image ({message}){what}") from None
    return fit_pixels(pixels, width, height, background, f"{path}{what}")


def load_image(path: Path, width: int, height: int, background: Background, name: str = "") -> torch.Tensor:
    """The image at ``path`` as a (height, width, 3) float32 tensor in [0, 1] (see module docs)."""
    return torch.from_numpy(read_pixels(path, width, height, background, name))


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
