"""PNG coding of integer planes with Pillow.

Up to 8 bits: the plane's channels are cut into groups of at most four, each one 8-bit
PNG (1 channel: greyscale, 2: greyscale+alpha, 3: RGB, 4: RGBA). Over 8 bits: one 16-bit
greyscale PNG per channel. Chunks follow channel order.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from ..container import VERSION
from ..errors import FormatError
from .lossless import channel_groups

_MODES_8 = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _groups(channels: int, bits: int) -> list[tuple[int, int]]:
    return channel_groups(channels, 4 if bits <= 8 else 1)


def _encode_image(array: np.ndarray, bits: int) -> bytes:
    height, width, channels = array.shape
    if bits <= 8:
        raw = np.ascontiguousarray(array, dtype=np.uint8).tobytes()
        image = Image.frombytes(_MODES_8[channels], (width, height), raw)
    else:
        raw = np.ascontiguousarray(array[:, :, 0], dtype="<u2").tobytes()
        image = Image.frombytes("I;16", (width, height), raw)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True, compress_level=9)
    return out.getvalue()


def _decode_image(data: bytes, height: int, width: int, channels: int, bits: int) -> np.ndarray:
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG"])
        if image.size != (width, height):
            raise FormatError(f"PNG chunk is {image.size[0]}x{image.size[1]}, expected {width}x{height}")
        expected = (_MODES_8[channels],) if bits <= 8 else ("I;16", "I;16B", "I")
        if image.mode not in expected:
            raise FormatError(f"PNG chunk has mode {image.mode}, expected {' or '.join(expected)}")
        array = np.asarray(image)
    except FormatError:
        raise
    except Exception as exc:  # Pillow raises many types for broken images
        raise FormatError(f"corrupt PNG chunk: {exc}") from None
    if array.size != height * width * channels:
        raise FormatError("PNG chunk holds the wrong number of samples")
    return array.reshape(height, width, channels).astype(np.uint16)


class PngCoder:
    name = "png"
    chunk_type = "png"
    since = VERSION

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        return {}, [_encode_image(plane[:, :, a:b], bits) for a, b in _groups(plane.shape[2], bits)]

    def decode(self, params: dict, chunks: list[bytes], shape: tuple[int, int, int], bits: int) -> np.ndarray:
        height, width, channels = shape
        groups = _groups(channels, bits)
        if len(chunks) != len(groups):
            raise FormatError(f"PNG plane needs {len(groups)} chunks, header lists {len(chunks)}")
        parts = [_decode_image(c, height, width, b - a, bits) for c, (a, b) in zip(chunks, groups)]
        return np.concatenate(parts, axis=2)
