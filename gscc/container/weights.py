"""The model-weights chunk: named little-endian arrays for MLP-decoded representations.

Payload: a msgpack map ``{name: {"dtype": "f4"|"f2"|"i4"|"u1"..., "shape": [..], "data": bin}}``.
"""

from __future__ import annotations

import math

import msgpack
import numpy as np

from ..errors import PayloadError
from .format import load_msgpack

MAX_DIMENSIONS = 8
_DTYPES = {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"}


def pack_weights(arrays: dict[str, np.ndarray]) -> bytes:
    table = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        code = array.dtype.kind + str(array.dtype.itemsize)
        if code not in _DTYPES:
            raise ValueError(f"weights array {name!r} has unsupported dtype {array.dtype}")
        table[name] = {
            "dtype": code,
            "shape": list(array.shape),
            "data": np.ascontiguousarray(array, dtype=np.dtype("<" + code)).tobytes(),
        }
    return msgpack.packb(table, use_bin_type=True)


def unpack_weights(payload: bytes) -> dict[str, np.ndarray]:
    table = load_msgpack(payload, "weights chunk", PayloadError)
    if not isinstance(table, dict):
        raise PayloadError("corrupt weights chunk: not a map")
    arrays = {}
    for name, entry in table.items():
        if (
            not isinstance(entry, dict)
            or set(entry) != {"dtype", "shape", "data"}
            or not isinstance(entry["dtype"], str)
            or entry["dtype"] not in _DTYPES
            or not isinstance(entry["shape"], list)
            or len(entry["shape"]) > MAX_DIMENSIONS
            or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 1 << 32 for d in entry["shape"])
            or not isinstance(entry["data"], bytes)
        ):
            raise PayloadError(f"corrupt weights chunk: entry {name!r} is malformed")
        dtype = np.dtype("<" + entry["dtype"])
        if math.prod(entry["shape"]) * dtype.itemsize != len(entry["data"]):
            raise PayloadError(f"corrupt weights chunk: entry {name!r} has the wrong data length")
        arrays[name] = np.frombuffer(entry["data"], dtype=dtype).reshape(entry["shape"]).copy()
    return arrays
