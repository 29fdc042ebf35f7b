"""Video frames for training, decoded with PyAV (FFmpeg) into a compact uint8 store.

Seeking in a video is slow and imprecise (it lands on a key frame and decodes forward), and
a trainer asks for frames in random order. So the first request for a frame of a camera at
a given size decodes that camera's video once, sequentially, over the chosen frame range,
fits each frame to the size (:func:`gscc.data.images.fit_pixels`: area averaging) and writes
it into a uint8 file, ``<cache>/frames/<key>.u8``, shape (frames, height, width, 3), read
back memory-mapped: the operating system keeps what is used in memory and what is not on
disk. 20 cameras x 50 frames at 1352x1014 is 4.1 GB of disk, at 676x507 1 GB. The key hashes
the video file (path, size, modification time), the range and the size; the file is written
under a temporary name and renamed when complete, so an interrupted decode is never reused.

Frame i of a video is the i-th frame the decoder returns (constant frame rate, as N3DV's
videos are).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from .cache import cache_key, file_identity
from .images import fit_pixels, to_uint8


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    frame_count: int
    fps: float


def _error(path: Path, exc: Exception) -> InputError:
    message = " ".join(str(exc).split()) or type(exc).__name__
    return InputError(f"{path}: not a readable video ({message})")


def probe(path: Path) -> VideoInfo:
    """Size, frame count and frame rate of a video file's first video stream."""
    import av

    if not path.is_file():
        raise InputError(f"{path}: no such video")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: has no video stream")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate
            count = stream.frames
            if not count:  # not in the header: count the packets (no decoding)
                count = sum(1 for packet in container.demux(stream) if packet.size)
    except InputError:
        raise
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise _error(path, exc) from None
    if not (width and height and count):
        raise InputError(f"{path}: a video without frames or size")
    return VideoInfo(int(width), int(height), int(count), float(rate) if rate else 30.0)


class VideoFrames:
    """The frames of one video, decoded on first use into a uint8 store per size."""

    def __init__(self, path: Path, info: VideoInfo) -> None:
        self.path = path
        self.info = info
        self.range: Optional[tuple[int, int]] = None
        self.root: Optional[Path] = None
        self._stores: dict[tuple[int, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def select(self, start: int, end: int, root: Path) -> None:
        """Decode only frames start <= i < end, into stores under ``root``."""
        self.range = (start, end)
        self.root = root
        self._stores.clear()

    def frame(self, index: int, width: int, height: int) -> np.ndarray:
        """Frame ``index`` (a source frame index) as (height, width, 3) uint8."""
        if self.range is None or self.root is None:
            raise RuntimeError("VideoFrames.select must be called before frames are read")
        start, end = self.range
        if not start <= index < end:
            raise IndexError(f"frame {index} is outside the selected range {start}:{end}")
        with self._lock:
            store = self._stores.get((width, height))
            if store is None:
                store = self._stores[(width, height)] = self._open(width, height)
        return store[index - start]

    def _open(self, width: int, height: int) -> np.ndarray:
        start, end = self.range
        key = cache_key("video-frames", 1, file_identity(self.path), start, end, width, height)
        folder = self.root / "frames"
        path = folder / f"{key}.u8"
        shape = (end - start, height, width, 3)
        if not path.is_file() or path.stat().st_size != int(np.prod(shape)):
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f"{key}.{os.getpid()}.{threading.get_ident()}.part"
            try:
                store = np.memmap(partial, dtype=np.uint8, mode="w+", shape=shape)
                self._decode(store, width, height)
                store.flush()
                del store
                os.replace(partial, path)
            finally:
                partial.unlink(missing_ok=True)
        return np.memmap(path, dtype=np.uint8, mode="r", shape=shape)

    def _decode(self, store: np.ndarray, width: int, height: int) -> None:
        import av

        start, end = self.range
        where = f"{self.path}"
        decoded = 0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for index, frame in enumerate(container.decode(stream)):
                    if index >= end:
                        break
                    decoded = index + 1
                    if index >= start:
                        pixels = frame.to_ndarray(format="rgb24")
                        store[index - start] = to_uint8(fit_pixels(pixels, width, height, (0.0, 0.0, 0.0), where))
        except InputError:
            raise
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise _error(self.path, exc) from None
        if decoded < end:
            raise InputError(f"{self.path}: has {decoded} frames, fewer than the {end} the range needs")
