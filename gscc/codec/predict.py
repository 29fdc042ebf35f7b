"""Spatial predictors for integer planes, with exact vectorised inverses.

A predictor maps a channel ``q`` (H, W) of integers in [0, 2**bits) to residual symbols in
[0, 2**bits): the difference to the prediction, taken modulo 2**bits, as a signed value in
[-2**(bits-1), 2**(bits-1)), zigzag-mapped (0, -1, 1, -2, 2, ... -> 0, 1, 2, 3, 4, ...).
Neighbours outside the plane count as 0.

- ``none``:  the symbol is q itself (no zigzag).
- ``left``:  prediction q[r, c-1].
- ``up``:    prediction q[r-1, c].
- ``plane``: prediction q[r, c-1] + q[r-1, c] - q[r-1, c-1].

Each inverse is a cumulative sum, so decoding is vectorised.
"""

from __future__ import annotations

import numpy as np

PREDICTORS = ("none", "left", "up", "plane")


def _zigzag(v: np.ndarray) -> np.ndarray:
    return np.where(v >= 0, 2 * v, -2 * v - 1)


def _unzigzag(s: np.ndarray) -> np.ndarray:
    return np.where(s % 2 == 0, s // 2, -(s + 1) // 2)


def _wrap(v: np.ndarray, bits: int) -> np.ndarray:
    half = 1 << (bits - 1)
    return ((v + half) % (1 << bits)) - half


def residuals(q: np.ndarray, predictor: str, bits: int) -> np.ndarray:
    """Residual symbols (int64, same shape as ``q``) for ``predictor``."""
    q = q.astype(np.int64)
    if predictor == "none":
        return q
    if predictor == "left":
        d = np.diff(q, axis=1, prepend=0)
    elif predictor == "up":
        d = np.diff(q, axis=0, prepend=0)
    elif predictor == "plane":
        d = np.diff(np.diff(q, axis=0, prepend=0), axis=1, prepend=0)
    else:
        raise ValueError(f"unknown predictor {predictor!r}")
    return _zigzag(_wrap(d, bits))


def reconstruct(symbols: np.ndarray, predictor: str, bits: int) -> np.ndarray:
    """Inverse of :func:`residuals`."""
    s = symbols.astype(np.int64)
    if predictor == "none":
        return s
    d = _unzigzag(s)
    if predictor == "left":
        q = np.cumsum(d, axis=1)
    elif predictor == "up":
        q = np.cumsum(d, axis=0)
    elif predictor == "plane":
        q = np.cumsum(np.cumsum(d, axis=0), axis=1)
    else:
        raise ValueError(f"unknown predictor {predictor!r}")
    return q % (1 << bits)
