"""Vector quantization of the higher-order SH coefficients.

Encoder: k-means (gscc.codec.kmeans) over the per-splat vectors; the codebook is
quantized to 8 bits per dimension and coded as a (K, D, 1) plane, the labels as an
(H, W, 1) grid plane of ceil(log2 K) bits. Decoder: ``value = codebook[label]`` (numpy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..container import Container
from ..errors import HeaderError, NonFiniteError, PayloadError
from .header_fields import check_keys, int_field
from .lossless import decode_plane, encode_plane
from .quantize import QuantParams, dequantize, fit_quantizer, quantize

MAX_CODEBOOK = 1 << 16


@dataclass(frozen=True)
class VqConfig:
    codebook_size: int = 0  # 0: adapt to the splat count
    codebook_bits: int = 8
    seed: int = 0


def label_bits(size: int) -> int:
    return max(1, math.ceil(math.log2(size)))


def encode_vq(
    container: Container, values: np.ndarray, grid: tuple[int, int], config: VqConfig, coder: str
) -> dict:
    """Code (H*W, D) vectors laid out on ``grid``; return the attribute's header entry."""
    from .kmeans import KMeansConfig, codebook_size_for, kmeans

    size = config.codebook_size or codebook_size_for(len(values))
    size = max(1, min(size, len(values), MAX_CODEBOOK))
    codebook, labels = kmeans(values.astype(np.float32), size, KMeansConfig(seed=config.seed))
    quant = fit_quantizer(codebook.astype(np.float64), config.codebook_bits)
    codebook_plane = quantize(codebook.astype(np.float64), quant).reshape(size, -1, 1)
    bits = label_bits(size)
    label_plane = labels.astype(np.uint16).reshape(grid[0], grid[1], 1)
    return {
        "codec": "vq",
        "codebook": {
            "size": size,
            "quant": quant.to_header(),
            "coding": encode_plane(container, codebook_plane, config.codebook_bits, coder),
        },
        "labels": {"bits": bits, "coding": encode_plane(container, label_plane, bits, coder)},
    }


def decode_vq(container: Container, entry: dict, grid: tuple[int, int], dims: int) -> np.ndarray:
    """(H*W, dims) float64 vectors from a header entry made by :func:`encode_vq`."""
    book = check_keys(entry["codebook"], "vq codebook", ("size", "quant", "coding"))
    labels = check_keys(entry["labels"], "vq labels", ("bits", "coding"))
    size = int_field(book, "size", 1, MAX_CODEBOOK, what="vq codebook")
    quant = QuantParams.from_header(book["quant"], dims)
    bits = label_bits(size)
    if int_field(labels, "bits", 1, 16, what="vq labels") != bits:
        raise HeaderError("vq label bit depth does not match the codebook size")
    codebook_q = decode_plane(container, book["coding"], (size, dims, 1), quant.bits)
    with np.errstate(all="ignore"):
        codebook = dequantize(codebook_q.reshape(size, dims), quant)
    if not np.isfinite(codebook.astype(np.float32)).all():
        raise NonFiniteError("vq codebook dequantizes to values that are not finite")
    index = decode_plane(container, labels["coding"], (grid[0], grid[1], 1), bits).reshape(-1)
    if index.size and int(index.max()) >= size:
        raise PayloadError("vq label refers past the end of the codebook")
    return codebook[index.astype(np.int64)]
