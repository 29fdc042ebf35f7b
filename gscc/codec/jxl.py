"""JPEG XL lossless coding of integer planes (format 1.4), with libjxl through imagecodecs.

The plane's channels are cut into consecutive groups of at most ``group`` channels (the
``group`` parameter, 1..4); each group is one lossless JPEG XL image (1 channel:
greyscale, 2: greyscale + alpha, 3: RGB, 4: RGBA) with 8-bit samples for planes of up to
8 bits and 16-bit samples above, as a JPEG XL file (ISO/IEC 18181: a bare codestream or
the box container; libjxl writes 16-bit images in the container). Chunks follow channel
order. The encoder tries one channel per image and up to four per image, each at libjxl
efforts 3 and 5, and keeps the smallest (ties: the first tried): JPEG XL's reversible
colour transforms and context model pay off on correlated channels (colours of
mesh-derived scenes), separate images on uncorrelated ones (positions); and no one effort
is smallest on every plane (measured on the shared splats: effort 3 for positions, 5 for
colours and rotations; 7, libjxl's default, is slower and rarely smaller). See
spec/codecs.md, "`jxl`".
"""

from __future__ import annotations

import numpy as np

from ..container import JXL_VERSION
from ..errors import FormatError, HeaderError, PayloadError
from .lossless import channel_groups

EFFORTS = (3, 5)  # libjxl efforts the encoder tries; any effort decodes the same
GROUPS = (1, 4)  # channels per image the encoder tries


def _imagecodecs():
    try:
        import imagecodecs
    except ImportError:  # pragma: no cover - a declared dependency
        raise FormatError("JPEG XL coding needs the imagecodecs package: pip install imagecodecs") from None
    return imagecodecs


def _sample_type(bits: int) -> type:
    return np.uint8 if bits <= 8 else np.uint16


def encode_image(array: np.ndarray, bits: int, effort: int = EFFORTS[0]) -> bytes:
    """One lossless JPEG XL image of an (H, W, G) array of ``bits``-bit integers."""
    samples = np.ascontiguousarray(array, dtype=_sample_type(bits))
    if samples.shape[2] == 1:
        samples = samples[:, :, 0]
    return bytes(_imagecodecs().jpegxl_encode(samples, lossless=True, effort=effort, numthreads=1))


def decode_image(data: bytes, height: int, width: int, channels: int, bits: int) -> np.ndarray:
    """The (H, W, channels) samples of one chunk. libjxl decodes into a buffer of exactly
    that shape and sample type and refuses any other image, so a chunk that declares a
    huge image is rejected before anything of its size is allocated."""
    codecs = _imagecodecs()
    out = np.empty((height, width) if channels == 1 else (height, width, channels), _sample_type(bits))
    try:
        codecs.jpegxl_decode(data, numthreads=1, out=out)
    except ValueError as exc:  # the image does not fit ``out``
        raise PayloadError(
            f"JPEG XL chunk is not a {width}x{height} image of {channels} channel(s) with "
            f"{np.dtype(_sample_type(bits)).itemsize * 8}-bit samples ({exc})"
        ) from None
    except Exception as exc:  # libjxl reports every broken stream as a RuntimeError
        raise PayloadError(f"corrupt JPEG XL chunk: {exc}") from None
    return out.reshape(height, width, channels).astype(np.uint16)


class JxlCoder:
    name = "jxl"
    chunk_type = "jxl"
    since = JXL_VERSION
    param_keys = ("group",)

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        best = None
        for group in GROUPS if plane.shape[2] > 1 else GROUPS[:1]:
            for effort in EFFORTS:
                chunks = [encode_image(plane[:, :, a:b], bits, effort) for a, b in channel_groups(plane.shape[2], group)]
                if best is None or sum(map(len, chunks)) < sum(map(len, best[1])):
                    best = ({"group": group}, chunks)
        return best

    def decode(self, params: dict, chunks: list[bytes], shape: tuple[int, int, int], bits: int) -> np.ndarray:
        height, width, channels = shape
        group = params.get("group")
        if not isinstance(group, int) or isinstance(group, bool) or not 1 <= group <= 4:
            raise HeaderError(f"JPEG XL group {group!r} is not an integer in 1..4")
        groups = channel_groups(channels, group)
        if len(chunks) != len(groups):
            raise HeaderError(f"JPEG XL plane needs {len(groups)} chunks, header lists {len(chunks)}")
        parts = [decode_image(c, height, width, b - a, bits) for c, (a, b) in zip(chunks, groups)]
        return np.concatenate(parts, axis=2)
