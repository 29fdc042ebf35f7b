"""Raw coding: the plane's integers, little-endian, row-major (uint8 up to 8 bits, else uint16)."""

from __future__ import annotations

import math

import numpy as np

from ..container import VERSION
from ..errors import HeaderError, PayloadError


def raw_dtype(bits: int) -> np.dtype:
    return np.dtype("u1") if bits <= 8 else np.dtype("<u2")


class RawCoder:
    name = "raw"
    chunk_type = "raw"
    since = VERSION
    param_keys = ()

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        return {}, [np.ascontiguousarray(plane, dtype=raw_dtype(bits)).tobytes()]

    def decode(self, params: dict, chunks: list[bytes], shape: tuple[int, int, int], bits: int) -> np.ndarray:
        dtype = raw_dtype(bits)
        if len(chunks) != 1:
            raise HeaderError(f"raw plane needs 1 chunk, header lists {len(chunks)}")
        if len(chunks[0]) != math.prod(shape) * dtype.itemsize:
            raise PayloadError("raw plane has the wrong length")
        return np.frombuffer(chunks[0], dtype=dtype).reshape(shape).astype(np.uint16)
