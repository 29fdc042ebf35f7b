"""PNG coding of integer planes with Pillow.

Up to 8 bits: the plane's channels are cut into groups of at most four, each one 8-bit
PNG (1 channel: greyscale, 2: greyscale+alpha, 3: RGB, 4: RGBA). Over 8 bits: one 16-bit
greyscale PNG per channel. Chunks follow channel order.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
from PIL import Image

from ..container import VERSION
from ..errors import FormatError, HeaderError, PayloadError
from .lossless import channel_groups

_MODES_8 = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def check_structure(data: bytes, height: int, width: int, channels: int, bits: int) -> None:
    """The chunk structure spec/validation.md requires before any pixel is decoded: the
    signature, IHDR first with the plane's size, bit depth (8, or 16 for planes over 8
    bits) and colour type, every chunk's CRC, and nothing after IEND."""
    if not data.startswith(_SIGNATURE):
        raise PayloadError("PNG chunk lacks the PNG signature")
    pos, first = len(_SIGNATURE), True
    while True:
        if pos + 12 > len(data):
            raise PayloadError("PNG chunk is truncated")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise PayloadError("PNG chunk is truncated")
        body = data[pos + 8 : pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack_from(">I", data, end - 4)[0]:
            raise PayloadError(f"PNG chunk: CRC mismatch in its {kind!r} chunk")
        if first:
            if kind != b"IHDR" or length != 13:
                raise PayloadError("PNG chunk does not start with IHDR")
            w, h, depth, color, compression, filtering, interlace = struct.unpack_from(">IIBBBBB", body)
            if compression != 0 or filtering != 0 or interlace not in (0, 1):
                raise PayloadError("PNG chunk has an unknown compression, filter or interlace method")
            if (w, h) != (width, height):
                raise PayloadError(f"PNG chunk is {w}x{h}, expected {width}x{height}")
            expected = (8, _COLOR_TYPES[channels]) if bits <= 8 else (16, 0)
            if (depth, color) != expected:
                raise PayloadError(f"PNG chunk has bit depth {depth} and colour type {color}, expected {expected[0]} and {expected[1]}")
            first = False
        pos = end
        if kind == b"IEND":
            break
    if pos != len(data):
        raise PayloadError("PNG chunk has bytes after IEND")


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
    check_structure(data, height, width, channels, bits)
    try:
        with warnings.catch_warnings():  # sizes are checked above; a large grid is no bomb
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG"])
            image.load()
        if image.size != (width, height):
            raise PayloadError(f"PNG chunk is {image.size[0]}x{image.size[1]}, expected {width}x{height}")
        expected = (_MODES_8[channels],) if bits <= 8 else ("I;16", "I;16B", "I")
        if image.mode not in expected:
            raise PayloadError(f"PNG chunk has mode {image.mode}, expected {' or '.join(expected)}")
        array = np.asarray(image)
    except FormatError:
        raise
    except Exception as exc:  # Pillow raises many types for broken images
        raise PayloadError(f"corrupt PNG chunk: {exc}") from None
    if array.size != height * width * channels:
        raise PayloadError("PNG chunk holds the wrong number of samples")
    return array.reshape(height, width, channels).astype(np.uint16)


class PngCoder:
    name = "png"
    chunk_type = "png"
    since = VERSION
    param_keys = ()

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        return {}, [_encode_image(plane[:, :, a:b], bits) for a, b in _groups(plane.shape[2], bits)]

    def decode(self, params: dict, chunks: list[bytes], shape: tuple[int, int, int], bits: int) -> np.ndarray:
        height, width, channels = shape
        groups = _groups(channels, bits)
        if len(chunks) != len(groups):
            raise HeaderError(f"PNG plane needs {len(groups)} chunks, header lists {len(chunks)}")
        parts = [_decode_image(c, height, width, b - a, bits) for c, (a, b) in zip(chunks, groups)]
        return np.concatenate(parts, axis=2)
