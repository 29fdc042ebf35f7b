"""JPEG XL lossless coding of integer planes (format 1.4), with libjxl through imagecodecs.

The plane's channels are cut into consecutive groups of at most ``group`` channels (the
``group`` parameter, 1..4); each group is one lossless JPEG XL image (1 channel:
greyscale, 2: greyscale + alpha, 3: RGB, 4: RGBA) with 8-bit samples for planes of up to
8 bits and 16-bit samples above, as a JPEG XL file (ISO/IEC 18181: a bare codestream or
the box container; libjxl writes 16-bit images in the container). Chunks follow channel
order. The encoder picks the grouping and the effort instead of trying them all: the
grouping (one channel per image, or up to four) whose images are smaller at libjxl's
fastest effort (``PROBE_EFFORT``: a few milliseconds per 100k cells), ties to one channel;
then one encode at effort 3 for planes over 8 bits and 5 for the rest
(:func:`effort_for`). JPEG XL's reversible colour transforms and context model pay off
on correlated channels (colours of mesh-derived scenes), separate images on uncorrelated
ones (positions). On the shared splats (25 planes) these choices give exactly the bytes
of trying both groupings at both efforts (what the encoder did before) at about a quarter
of the cost: effort 5 is smaller on colours, scales, rotations and opacities, effort 3 on
12- and 13-bit positions (5 is 0.4-0.9 % larger there and five times slower). See
spec/codecs.md, "`jxl`".
"""

from __future__ import annotations

import numpy as np

from ..container import JXL_VERSION
from ..errors import FormatError, HeaderError, PayloadError
from .lossless import channel_groups

EFFORTS = (3, 5)  # libjxl efforts the encoder codes with (effort_for); any effort decodes the same
GROUPS = (1, 4)  # channels per image the encoder chooses between
PROBE_EFFORT = 1  # the effort of the trial encodes that choose the grouping


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


def effort_for(bits: int) -> int:
    """The libjxl effort a plane of ``bits``-bit samples is coded at: 3 over 8 bits, else 5."""
    return EFFORTS[0] if bits > 8 else EFFORTS[1]


def choose_group(plane: np.ndarray, bits: int) -> int:
    """The grouping (one of GROUPS) whose images of ``plane`` are smallest at PROBE_EFFORT
    (ties: the first)."""
    if plane.shape[2] == 1:
        return GROUPS[0]
    sizes = [
        sum(len(encode_image(plane[:, :, a:b], bits, PROBE_EFFORT)) for a, b in channel_groups(plane.shape[2], group))
        for group in GROUPS
    ]
    return GROUPS[sizes.index(min(sizes))]


class JxlCoder:
    name = "jxl"
    chunk_type = "jxl"
    since = JXL_VERSION
    param_keys = ("group",)

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        group = choose_group(plane, bits)
        effort = effort_for(bits)
        return {"group": group}, [encode_image(plane[:, :, a:b], bits, effort) for a, b in channel_groups(plane.shape[2], group)]

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
