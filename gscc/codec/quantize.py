"""Per-attribute transforms and per-channel uniform scalar quantization.

Decoding is pure numpy in float64: ``value = lo + q * step`` for each channel, then the
transform's inverse, then rounding to float32 (spec/codecs.md, "Scalar quantization").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import HeaderError

_LOGIT_EPS = 2.0**-24


def _signlog(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _signexp(y: np.ndarray) -> np.ndarray:
    return np.sign(y) * np.expm1(np.abs(y))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _logit(y: np.ndarray) -> np.ndarray:
    y = np.clip(y, _LOGIT_EPS, 1.0 - _LOGIT_EPS)
    return np.log(y) - np.log1p(-y)


def _canonical_quat(x: np.ndarray) -> np.ndarray:
    """Normalise quaternions (w, x, y, z) and flip their sign so that w >= 0."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.where(norm > 0, x / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0, 0.0, 0.0]))
    return np.where(unit[:, :1] < 0, -unit, unit)


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _smallest_three(x: np.ndarray) -> np.ndarray:
    """Unit quaternions as (a, b, c, i): the three components other than the largest in
    magnitude (in w, x, y, z order, the largest made positive) and the index i of the
    largest (ties: the lowest index)."""
    unit = _canonical_quat(x)
    index = np.argmax(np.abs(unit), axis=1)
    sign = np.where(np.take_along_axis(unit, index[:, None], axis=1) < 0, -1.0, 1.0)
    unit = unit * sign
    keep = np.ones_like(unit, dtype=bool)
    keep[np.arange(len(unit)), index] = False
    return np.concatenate([unit[keep].reshape(-1, 3), index[:, None].astype(np.float64)], axis=1)


def _from_smallest_three(y: np.ndarray) -> np.ndarray:
    index = np.clip(np.rint(y[:, 3]), 0, 3).astype(np.int64)
    three = y[:, :3]
    largest = np.sqrt(np.maximum(0.0, 1.0 - np.sum(three * three, axis=1)))
    out = np.empty((len(y), 4), dtype=np.float64)
    for column in range(4):  # the stored components fill the columns other than the largest's, in order
        after = three[:, column - 1] if column else largest
        before = three[:, column] if column < 3 else largest
        out[:, column] = np.where(index > column, before, np.where(index == column, largest, after))
    return out


# name -> (forward, inverse). The inverse is what the decoder applies.
TRANSFORMS = {
    "identity": (_identity, _identity),
    "signlog": (_signlog, _signexp),
    "sigmoid": (_sigmoid, _logit),
    "smallest3": (_smallest_three, _from_smallest_three),
}


def forward_transform(name: str, x: np.ndarray) -> np.ndarray:
    return TRANSFORMS[name][0](np.asarray(x, dtype=np.float64))


def inverse_transform(name: str, y: np.ndarray) -> np.ndarray:
    if not isinstance(name, str) or name not in TRANSFORMS:
        raise HeaderError(f"unknown transform {name!r}")
    return TRANSFORMS[name][1](y)


@dataclass(frozen=True)
class QuantParams:
    """Per-channel uniform quantizer: ``value = lo[c] + q * step[c]``, q in [0, 2**bits)."""

    bits: int
    lo: tuple[float, ...]
    step: tuple[float, ...]

    def to_header(self) -> dict:
        return {"bits": self.bits, "lo": list(self.lo), "step": list(self.step)}

    @staticmethod
    def from_header(entry: object, channels: int, max_bits: int = 16) -> "QuantParams":
        from .header_fields import check_keys

        check_keys(entry, "quantizer", ("bits", "lo", "step"))
        bits, lo, step = entry["bits"], entry["lo"], entry["step"]
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= max_bits:
            raise HeaderError(f"quantizer bit depth {bits!r} is out of range 1..{max_bits}")
        for name, values in (("lo", lo), ("step", step)):
            if (
                not isinstance(values, list)
                or len(values) != channels
                or not all(isinstance(v, float) and np.isfinite(v) for v in values)
            ):
                raise HeaderError(f"quantizer {name} must be {channels} finite floats")
        if any(s < 0 for s in step):
            raise HeaderError("quantizer step must not be negative")
        return QuantParams(bits, tuple(lo), tuple(step))


def fit_quantizer(y: np.ndarray, bits: int) -> QuantParams:
    """Per-channel min/max quantizer for values ``y`` of shape (N, C)."""
    lo = y.min(axis=0)
    hi = y.max(axis=0)
    levels = (1 << bits) - 1
    step = np.where(hi > lo, (hi - lo) / levels, 0.0)
    return QuantParams(bits, tuple(float(v) for v in lo), tuple(float(v) for v in step))


# A channel counts as lying on a lattice when each of its distinct values is within this
# fraction of a lattice step of a lattice point (float32 inputs through float64 transforms).
LATTICE_TOLERANCE = 1e-3
LATTICE_SAMPLE = 4096  # values looked at first: a continuous channel is rejected on them


def _on_lattice(distinct: np.ndarray, lo: float, spacing: float) -> np.ndarray | None:
    """The lattice indices of sorted ``distinct`` values on ``lo + k * spacing``, or None."""
    index = (distinct - lo) / spacing
    return np.rint(index) if np.abs(index - np.rint(index)).max() <= LATTICE_TOLERANCE else None


def _lattice(values: np.ndarray, levels: int, grid: tuple[float, float]) -> tuple[float, float] | None:
    """(lo, step) of the uniform quantizer whose levels are the lattice ``values`` (one
    channel) lie on (its spacing: the smallest gap between distinct values) -- or every
    m-th point of it, the smallest m that fits ``levels`` levels -- or None when they lie
    on none (or take more than 65536 distinct values), or when the min/max quantizer's
    ``grid`` (lo, step) already holds every value exactly."""
    sample = values[:: max(1, len(values) // LATTICE_SAMPLE)]
    if len(sample) < len(values) and _lattice(sample, levels, (grid[0], 0.0)) is None:  # most inputs: seen at once
        return None
    distinct = np.unique(values)
    if len(distinct) < 2 or len(distinct) > 1 << 16:
        return None
    if grid[1] > 0 and _on_lattice(distinct, *grid) is not None:
        return None
    index = _on_lattice(distinct, distinct[0], float(np.diff(distinct).min()))
    if index is None:
        return None
    step, lo = np.polyfit(index, distinct, 1)  # the lattice the float values were rounded from
    if not (np.isfinite(step) and np.isfinite(lo) and step > 0):
        return None
    every = max(1, int(np.ceil(index[-1] / (levels - 1))))
    return float(lo), float(step * every)


def fit_lattice_quantizer(y: np.ndarray, bits: int) -> QuantParams:
    """Like :func:`fit_quantizer`, but a channel whose values already lie on a uniform
    lattice (an input quantized before, e.g. the 8-bit colours and opacities of a
    ``.splat`` file) gets that lattice's points as its levels (every m-th point when the
    lattice has more than ``2**bits`` in the channel's range): an 8-bit input coded at 8
    bits comes back exactly, with no more distinct integers than the input had values.
    A channel the min/max quantizer already holds exactly keeps it.
    The decoder is the same: ``value = lo + q * step``."""
    fitted = fit_quantizer(y, bits)
    lo, step = list(fitted.lo), list(fitted.step)
    for channel in range(y.shape[1]):
        lattice = _lattice(y[:, channel], 1 << bits, (lo[channel], step[channel]))
        if lattice is not None:
            lo[channel], step[channel] = lattice
    return QuantParams(bits, tuple(lo), tuple(step))


def quantize(y: np.ndarray, params: QuantParams, shift: np.ndarray | None = None) -> np.ndarray:
    """Integers (N, C) uint16 in [0, 2**bits) nearest to ``y`` under ``params``. ``shift``
    (same shape as ``y``; precision classes, gscc.codec.refinement): each value the nearest
    multiple of ``2**shift`` instead (the largest one at most ``2**bits - 1`` at the top)."""
    lo = np.asarray(params.lo)
    step = np.asarray(params.step)
    safe = np.where(step > 0, step, 1.0)
    top = (1 << params.bits) - 1
    if shift is None:
        q = np.floor((y - lo) / safe + 0.5)
    else:
        unit = np.ldexp(1.0, shift)
        q = np.floor((y - lo) / safe / unit + 0.5) * unit
        top = np.floor(top / unit) * unit
    q = np.where(step > 0, q, 0.0)
    return np.clip(q, 0, top).astype(np.uint16)


def dequantize(q: np.ndarray, params: QuantParams) -> np.ndarray:
    """float64 values ``lo + q * step`` per channel."""
    return np.asarray(params.lo) + q.astype(np.float64) * np.asarray(params.step)
