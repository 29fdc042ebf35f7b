"""MP4 (H.264) videos of rendered frames, written with PyAV, atomically."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..io.atomic import write_atomically

CODEC = "libx264"
PIXEL_FORMAT = "yuv420p"
CRF = "18"  # visually lossless-ish; the videos are for looking at, metrics come from the renders


def even_size(image: np.ndarray) -> np.ndarray:
    """The image cropped to even width and height (yuv420p needs them)."""
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2]


def write_mp4(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float) -> None:
    """Write (H, W, 3) uint8 frames as an H.264 MP4 at ``fps`` frames per second."""
    import av

    if not frames:
        raise InputError(f"{path}: no frames to write")
    if not fps > 0:
        raise InputError(f"{path}: the frame rate must be positive, got {fps}")
    first = even_size(np.asarray(frames[0]))
    if first.shape[0] < 2 or first.shape[1] < 2:
        raise InputError(f"{path}: frames of {frames[0].shape[1]}x{frames[0].shape[0]} pixels are too small for a video")

    def write(handle) -> None:
        with av.open(handle, mode="w", format="mp4") as container:
            stream = container.add_stream(CODEC, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = first.shape[1], first.shape[0]
            stream.pix_fmt = PIXEL_FORMAT
            stream.options = {"crf": CRF}
            for image in frames:
                image = even_size(np.ascontiguousarray(image, dtype=np.uint8))
                if image.shape != first.shape:
                    raise InputError(f"{path}: frames differ in size ({image.shape} after {first.shape})")
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)

    write_atomically(path, write)


def read_mp4(path: str | os.PathLike) -> list[np.ndarray]:
    """Every frame of a video as (H, W, 3) uint8 arrays."""
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
