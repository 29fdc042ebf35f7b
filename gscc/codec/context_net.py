"""The fixed-point context network: per-splat Gaussian parameters from decoded positions.

A hash-grid entropy model (gscc.train.entropy.gaussian, HAC-style) predicts, per splat and
channel, the mean ``mu`` and the scale level ``s`` of a discretised Gaussian over an
attribute's symbols, from the splat's position. Encoder and decoder must obtain exactly the
same parameters, and floating-point evaluation is not reproducible across platforms (BLAS
summation order, libm), so the codec evaluates a fixed-point integer copy of the trained
network: int64 numpy arithmetic only, exact, the same on every platform.

Evaluation (:meth:`ContextNetwork.predict`), for positions ``q`` (N, 3), the decoded integer
means plane, 0 <= q <= M = 2**position_bits - 1:

- Hash grid, per level l of resolution R: ``n = q * R``, cell ``i0 = min(n // M, R - 1)``,
  remainder ``e = n - i0 * M`` (0..M; the position is x = q / M, its scaled value x * R =
  i0 + e / M exactly), weight ``w = (e * 2**(WEIGHT_BITS+1) + M) // (2 M)`` = round(e / M *
  4096), half up. Each of the 8 corners ``i0 + (dx, dy, dz)`` gets the product of ``w`` (for
  a 1 offset) or ``4096 - w`` (for a 0 offset) over the three axes and indexes the level's
  int16 table by :func:`corner_index`. The level's F features are
  ``round_shift(sum over corners of weight * table[index], 3 * WEIGHT_BITS)``.
  Bound: each axis weight is in [0, 2**12], so a corner weight is <= 2**36, and the eight
  weights sum to exactly 2**36 (the per-axis pairs sum to 2**12); a table entry is an
  int16, |t| <= 2**15, so |sum| <= 2**36 * 2**15 = 2**51 and the rounded feature is again
  within the int16 range. Every intermediate (n < 2**32, e * 2**13 < 2**29) is far below
  2**63.
- MLP, three layers k = 0, 1, 2 of int16 weights ``W`` (out, in), int64 biases ``B`` and
  per-output right shifts ``r`` (0..62): ``acc = W @ a + B``;
  hidden layers: ``a' = max(round_shift(acc, r), 0)``; last layer: ``out = round_shift(acc, r)``.
  Bound: :func:`check_bounds` computes, exactly in Python integers, every accumulator's
  worst case ``sum_j |W_ij| * A + |B_i|`` for the worst-case input magnitude A of the layer
  (2**15 for the features, then the worst case of the previous layer's outputs) and rejects
  a network whose bound reaches 2**62; adding the rounding term 2**(r-1) <= 2**61 then stays
  below 2**63, so no int64 operation of ``predict`` can overflow for any input.
- ``round_shift(x, r) = floor((x + 2**(r-1)) / 2**r)`` for r > 0 (round half up; floor
  division, so it is defined for negative x), and ``x`` for r = 0.
- Outputs, per channel c of C: ``mu = clamp(out[c], 0, 2**bits - 1)`` (an integer symbol)
  and ``level = clamp(out[C + c], 0, LEVELS - 1)``; the Gaussian's standard deviation is
  ``SIGMA_MIN * 2**(level / LEVELS_PER_OCTAVE)`` symbols.

Byte layout (:meth:`ContextNetwork.to_bytes`), little-endian, layout version 1:

    u8   version (1)
    u8   L   grid levels, 1..32
    u8   F   features per level, 1..8
    u8   T   log2 of the table size, 1..24
    u8   B   symbol bits, 1..16
    u16  H   hidden width, 1..1024
    u16  C   channels, 1..256
    L x u16  resolutions R_l, 1..65535
    per level: rows_l x F i16, the table (rows_l = table_rows(R_l, T)), row-major
    per layer k = 0, 1, 2 with (in, out) = (L*F, H), (H, H), (H, 2C):
        out x in i16 weights (row-major), out i64 biases, out u8 shifts (0..62)

The data must end right after the last layer.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import PayloadError

# The scale levels shared with the trainer's model: sigma = SIGMA_MIN * 2**(s / LEVELS_PER_OCTAVE).
SIGMA_MIN = 0.11
LEVELS_PER_OCTAVE = 4
LEVELS = 64

HASH_PRIMES = (1, 2654435761, 805459861)
WEIGHT_BITS = 12  # fractional bits of the per-axis interpolation weights
LAYOUT_VERSION = 1

INT16_MAX = (1 << 15) - 1
ACCUMULATOR_LIMIT = 1 << 62
ACTIVATION_BITS = 31  # hidden activations are scaled so that their float worst case is < 2**31
BLOCK = 1 << 14  # splats evaluated at a time (bounds the temporary memory)

MAX_LEVELS = 32
MAX_FEATURES = 8
MAX_LOG2_TABLE = 24
MAX_RESOLUTION = 65535
MAX_HIDDEN = 1024
MAX_CHANNELS = 256
MAX_SYMBOL_BITS = 16
MAX_POSITION_BITS = 16
MAX_SHIFT = 62
LAYER_COUNT = 3
# Work limit of one ans-context plane (spec/validation.md): cells x multiply-adds per cell.
MAX_CONTEXT_WORK = 1 << 36

_HEADER = struct.Struct("<BBBBBHH")


# ---------------------------------------------------------------------------- the grid layout
def level_resolutions(levels: int, min_resolution: int, max_resolution: int) -> tuple[int, ...]:
    """R_l = floor(min_resolution * b**l), b = exp((ln max - ln min) / (levels - 1)), with a
    1e-9 tolerance so that the last level is max_resolution. The resolutions travel in the
    network's bytes, so the codec never recomputes them."""
    if levels < 1 or not 1 <= min_resolution <= max_resolution:
        raise ValueError(f"bad hash grid levels {levels} / resolutions {min_resolution}..{max_resolution}")
    if levels == 1:
        return (int(min_resolution),)
    growth = math.exp((math.log(max_resolution) - math.log(min_resolution)) / (levels - 1))
    return tuple(int(math.floor(min_resolution * growth**level + 1e-9)) for level in range(levels))


def is_dense(resolution: int, log2_table: int) -> bool:
    """A level indexes its corners densely when all (R+1)**3 of them fit the table."""
    return (resolution + 1) ** 3 <= 1 << log2_table


def table_rows(resolution: int, log2_table: int) -> int:
    """Rows of a level's table: (R+1)**3 for a dense level, 2**log2_table for a hashed one."""
    return (resolution + 1) ** 3 if is_dense(resolution, log2_table) else 1 << log2_table


def corner_index(i, j, k, resolution: int, log2_table: int):
    """Table rows of grid corners (i, j, k), integer arrays (numpy or torch, int64) with
    0 <= i, j, k <= R: dense ``i + j (R+1) + k (R+1)**2``, or the spatial hash
    ``(i * 1 XOR j * 2654435761 XOR k * 805459861) mod 2**log2_table`` with the products
    taken modulo 2**32."""
    if is_dense(resolution, log2_table):
        side = resolution + 1
        return i + j * side + k * (side * side)
    mask = 0xFFFFFFFF
    p0, p1, p2 = HASH_PRIMES
    hashed = ((i * p0) & mask) ^ ((j * p1) & mask) ^ ((k * p2) & mask)
    return hashed & ((1 << log2_table) - 1)


def work_per_cell(levels: int, features: int, hidden: int, channels: int) -> int:
    """Multiply-adds per evaluated cell: 8 corners per grid feature, then the three layers
    (spec/validation.md, L1, bounds cells x this)."""
    inputs = levels * features
    return 8 * inputs + inputs * hidden + hidden * hidden + hidden * 2 * channels


def declared_work_per_cell(data: bytes) -> int | None:
    """:func:`work_per_cell` from a network chunk's fixed fields alone (None when the chunk
    is too short to hold them), so that the limit is checked before anything is read."""
    if len(data) < _HEADER.size:
        return None
    _, levels, features, _, _, hidden, channels = _HEADER.unpack_from(data)
    return work_per_cell(levels, features, hidden, channels)


# ---------------------------------------------------------------------------- integer helpers
def round_shift(x: np.ndarray, shift) -> np.ndarray:
    """floor((x + 2**(r-1)) / 2**r) for r > 0, x for r = 0 (int64; ``shift`` broadcasts)."""
    shift = np.asarray(shift, dtype=np.int64)
    half = np.where(shift > 0, np.left_shift(np.int64(1), np.maximum(shift - 1, 0)), 0)
    return np.floor_divide(x + half, np.left_shift(np.int64(1), shift))


def _round_shift_int(x: int, shift: int) -> int:
    return (x + (1 << (shift - 1))) >> shift if shift > 0 else x


def _power_of_two_shift(magnitude: float, limit: int) -> int:
    """The largest s with round(magnitude * 2**s) <= limit (magnitude > 0)."""
    shift = math.floor(math.log2(limit / magnitude))
    while round(magnitude * 2.0**shift) > limit:
        shift -= 1
    return shift


@dataclass(frozen=True)
class FixedLayer:
    """acc = weight @ a + bias; then a rounding right shift per output."""

    weight: np.ndarray  # (out, in) int64 holding int16 values
    bias: np.ndarray  # (out,) int64
    shift: np.ndarray  # (out,) int64 in 0..MAX_SHIFT


def check_bounds(tables: tuple[np.ndarray, ...], layers: tuple[FixedLayer, ...]) -> None:
    """Raise FormatError unless every accumulator of :meth:`ContextNetwork.predict` stays
    below 2**62 in magnitude for every input (exact worst case, Python integers)."""
    bound = max((int(np.abs(t).max(initial=0)) for t in tables), default=0)
    for number, layer in enumerate(layers):
        row_sums = np.abs(layer.weight).sum(axis=1)  # <= 2**15 * 1024: no overflow
        worst = 0
        for row_sum, bias, shift in zip(row_sums.tolist(), np.abs(layer.bias).tolist(), layer.shift.tolist()):
            accumulator = row_sum * bound + bias
            if accumulator >= ACCUMULATOR_LIMIT:
                raise PayloadError(f"context network layer {number} could overflow 64-bit integers")
            worst = max(worst, _round_shift_int(accumulator, shift))
        bound = worst


# ---------------------------------------------------------------------------- the network
@dataclass(frozen=True)
class ContextNetwork:
    """A hash grid plus a three-layer MLP in fixed point (see the module docstring)."""

    bits: int  # symbol bits of the attribute: mu is clamped to 0 .. 2**bits - 1
    log2_table: int
    resolutions: tuple[int, ...]
    tables: tuple[np.ndarray, ...]  # per level (rows, F) int64 holding int16 values
    layers: tuple[FixedLayer, ...]

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def features(self) -> int:
        return self.tables[0].shape[1]

    @property
    def hidden(self) -> int:
        return self.layers[0].weight.shape[0]

    @property
    def channels(self) -> int:
        return self.layers[-1].weight.shape[0] // 2

    @property
    def work_per_cell(self) -> int:
        return work_per_cell(len(self.resolutions), self.features, self.hidden, self.channels)

    # ---------------------------------------------------------------- conversion
    @classmethod
    def from_float(cls, arrays: dict, *, bits: int, train_lo, train_step, enc_lo, enc_step) -> "ContextNetwork":
        """The fixed-point copy of a trained network (``HashGridGaussian.export_arrays()``),
        with the change of symbol units from the training quantizer (``train_lo``,
        ``train_step`` per channel) to the encoder's (``enc_lo``, ``enc_step``, ``bits``)
        folded into the last layer. Scales are powers of two chosen from the weights:
        the tables share one, each weight row has its own, hidden activations are scaled
        so that their float worst case is below 2**31."""
        levels, features = int(arrays["levels"]), int(arrays["features"])
        log2_table = int(arrays["log2_table"])
        resolutions = tuple(int(r) for r in arrays["resolutions"])
        if len(resolutions) != levels:
            raise ValueError(f"{levels} levels but {len(resolutions)} resolutions")
        grid = [np.asarray(arrays[f"grid.{level}"], dtype=np.float64) for level in range(levels)]
        weights = [np.asarray(arrays[f"layers.{k}.weight"], dtype=np.float64) for k in range(LAYER_COUNT)]
        biases = [np.asarray(arrays[f"layers.{k}.bias"], dtype=np.float64) for k in range(LAYER_COUNT)]
        channels = weights[-1].shape[0] // 2
        if any(t.shape[1:] != (features,) for t in grid) or weights[-1].shape[0] != 2 * channels:
            raise ValueError("network arrays do not match their hyperparameters")
        if not all(np.all(np.isfinite(a)) for a in grid + weights + biases):
            raise ValueError("network arrays hold non-finite values")
        weights[-1], biases[-1] = fold_units(
            weights[-1], biases[-1], train_lo=train_lo, train_step=train_step, enc_lo=enc_lo, enc_step=enc_step
        )

        table_max = max(float(np.abs(t).max(initial=0.0)) for t in grid)
        scale = min(_power_of_two_shift(table_max, INT16_MAX), 40) if table_max > 0 else 0
        tables = tuple(np.rint(t * 2.0**scale).astype(np.int64) for t in grid)
        bound, int_bound = table_max, max(int(np.abs(t).max(initial=0)) for t in tables)
        layers = []
        for k, (weight, bias) in enumerate(zip(weights, biases)):
            last = k == LAYER_COUNT - 1
            worst = float((np.abs(weight).sum(axis=1) * bound + np.abs(bias)).max(initial=0.0))
            out_scale = 0 if last else math.floor(math.log2((2.0**ACTIVATION_BITS - 1) / max(worst, 2.0**-60)))
            row_max = np.abs(weight).max(axis=1, initial=0.0)
            row_scale = [_power_of_two_shift(m, INT16_MAX) if m > 0 else out_scale - scale for m in row_max]
            if not last:
                out_scale = min(out_scale, scale + min(row_scale))
            layer = _quantize_layer(weight, bias, row_scale, scale, out_scale, int_bound)
            if layer.shift.min() < 0:
                raise ValueError(f"layer {k} weights are too large for the fixed-point format")
            layers.append(layer)
            scale, bound = out_scale, worst
            int_bound = max(
                _round_shift_int(int(s) * int_bound + int(abs(b)), int(r))
                for s, b, r in zip(np.abs(layer.weight).sum(axis=1), layer.bias, layer.shift)
            )
        return cls(bits=int(bits), log2_table=log2_table, resolutions=resolutions, tables=tables, layers=tuple(layers))

    # ---------------------------------------------------------------- evaluation
    def grid_features(self, q_means: np.ndarray, position_bits: int) -> np.ndarray:
        """(N, L*F) int64 interpolated features (at the tables' fixed-point scale)."""
        q = _positions(q_means, position_bits)
        top = (1 << position_bits) - 1
        one = 1 << WEIGHT_BITS
        corners = np.array([[(c >> axis) & 1 for axis in range(3)] for c in range(8)], dtype=np.int64)
        out = np.empty((len(q), len(self.resolutions) * self.features), dtype=np.int64)
        for level, (resolution, table) in enumerate(zip(self.resolutions, self.tables)):
            scaled = q * resolution
            cell = np.minimum(scaled // top, resolution - 1)
            rest = scaled - cell * top
            w = (rest * (2 * one) + top) // (2 * top)  # round(rest / top * 2**12), 0..2**12
            axis_w = np.where(corners[None, :, :] == 1, w[:, None, :], one - w[:, None, :])  # (N, 8, 3)
            weight = axis_w[:, :, 0] * axis_w[:, :, 1] * axis_w[:, :, 2]  # (N, 8), sum 2**36
            at = cell[:, None, :] + corners[None, :, :]
            rows = corner_index(at[:, :, 0], at[:, :, 1], at[:, :, 2], resolution, self.log2_table)
            total = np.einsum("nc,ncf->nf", weight, table[rows])
            out[:, level * self.features : (level + 1) * self.features] = round_shift(total, 3 * WEIGHT_BITS)
        return out

    def predict(self, q_means: np.ndarray, position_bits: int) -> tuple[np.ndarray, np.ndarray]:
        """Per splat and channel: ``mu`` (N, C) int64 symbols in 0..2**bits-1 and ``level``
        (N, C) int64 in 0..LEVELS-1, from the decoded means plane values (N, 3)."""
        q = _positions(q_means, position_bits)
        c = self.channels
        mu = np.empty((len(q), c), dtype=np.int64)
        level = np.empty((len(q), c), dtype=np.int64)
        for start in range(0, len(q), BLOCK):
            a = self.grid_features(q[start : start + BLOCK], position_bits)
            for k, layer in enumerate(self.layers):
                a = round_shift(np.matmul(a, layer.weight.T) + layer.bias, layer.shift)
                if k < len(self.layers) - 1:
                    a = np.maximum(a, 0)
            mu[start : start + BLOCK] = np.clip(a[:, :c], 0, (1 << self.bits) - 1)
            level[start : start + BLOCK] = np.clip(a[:, c:], 0, LEVELS - 1)
        return mu, level

    # ---------------------------------------------------------------- bytes
    def to_bytes(self) -> bytes:
        out = bytearray(_HEADER.pack(
            LAYOUT_VERSION, len(self.resolutions), self.features, self.log2_table, self.bits, self.hidden, self.channels
        ))
        out += np.asarray(self.resolutions, dtype="<u2").tobytes()
        for table in self.tables:
            out += table.astype("<i2").tobytes()
        for layer in self.layers:
            out += layer.weight.astype("<i2").tobytes()
            out += layer.bias.astype("<i8").tobytes()
            out += layer.shift.astype("u1").tobytes()
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ContextNetwork":
        """Inverse of :meth:`to_bytes`; raises FormatError for malformed data."""
        data = bytes(data)
        if len(data) < _HEADER.size:
            raise PayloadError("context network is truncated")
        version, levels, features, log2_table, bits, hidden, channels = _HEADER.unpack_from(data)
        if version != LAYOUT_VERSION:
            raise PayloadError(f"context network layout version {version} is not supported")
        for name, value, high in (("levels", levels, MAX_LEVELS), ("features", features, MAX_FEATURES),
                                  ("log2 table size", log2_table, MAX_LOG2_TABLE), ("symbol bits", bits, MAX_SYMBOL_BITS),
                                  ("hidden width", hidden, MAX_HIDDEN), ("channels", channels, MAX_CHANNELS)):
            if not 1 <= value <= high:
                raise PayloadError(f"context network {name} {value} is out of range 1..{high}")
        pos = _HEADER.size
        if len(data) < pos + 2 * levels:
            raise PayloadError("context network is truncated")
        resolutions = tuple(int(r) for r in np.frombuffer(data, "<u2", levels, pos))
        pos += 2 * levels
        if min(resolutions) < 1:
            raise PayloadError("context network has a grid resolution of 0")
        rows = [table_rows(r, log2_table) for r in resolutions]
        shapes = _layer_shapes(levels * features, hidden, channels)
        expected = pos + 2 * features * sum(rows) + sum(i * o * 2 + o * 9 for i, o in shapes)
        if len(data) != expected:
            raise PayloadError(f"context network is {len(data)} bytes, its header implies {expected}")

        def take(dtype: str, count: int) -> np.ndarray:
            nonlocal pos
            array = np.frombuffer(data, dtype, count, pos).astype(np.int64)
            pos += count * np.dtype(dtype).itemsize
            return array

        tables = tuple(take("<i2", n * features).reshape(n, features) for n in rows)
        layers = []
        for n_in, n_out in shapes:
            weight = take("<i2", n_in * n_out).reshape(n_out, n_in)
            layers.append(FixedLayer(weight=weight, bias=take("<i8", n_out), shift=take("u1", n_out)))
        return cls(bits=bits, log2_table=log2_table, resolutions=resolutions, tables=tables, layers=tuple(layers))


def _quantize_layer(weight, bias, row_scale, in_scale, out_scale, in_bound) -> FixedLayer:
    """Integer rows ``round(w * 2**row_scale)``, biases at the accumulator scale
    ``2**(in_scale + row_scale)`` and shifts down to ``2**out_scale``; a row whose
    accumulator could reach 2**61 for inputs up to ``in_bound`` (or whose shift would
    exceed MAX_SHIFT) gets a coarser scale."""
    rows_w, rows_b, shifts = [], [], []
    for w, b, rs in zip(weight, bias, row_scale):
        while True:
            shift = in_scale + rs - out_scale
            w_int = np.rint(w * 2.0**rs).astype(np.int64)
            b_int = int(np.rint(b * 2.0 ** (in_scale + rs)))
            if shift <= MAX_SHIFT and int(np.abs(w_int).sum()) * in_bound + abs(b_int) < ACCUMULATOR_LIMIT // 2:
                break
            rs -= 1
        rows_w.append(w_int)
        rows_b.append(b_int)
        shifts.append(shift)
    return FixedLayer(weight=np.stack(rows_w), bias=np.array(rows_b, dtype=np.int64), shift=np.array(shifts, dtype=np.int64))


def fold_units(weight: np.ndarray, bias: np.ndarray, *, train_lo, train_step, enc_lo, enc_step):
    """The last layer re-expressed in the encoder's symbol units: per channel c, with
    g = step_train / step_enc, ``mu_enc = (lo_train - lo_enc) / step_enc + g mu_train`` and
    ``s_enc = s_train + LEVELS_PER_OCTAVE log2 g``. A channel with step_enc = 0 (never coded)
    predicts mu = 0, s = 0; one with step_train = 0 predicts its constant, s = 0."""
    weight, bias = np.array(weight, dtype=np.float64), np.array(bias, dtype=np.float64)
    c = weight.shape[0] // 2
    train_lo, train_step, enc_lo, enc_step = (
        np.broadcast_to(np.asarray(v, dtype=np.float64), (c,)) for v in (train_lo, train_step, enc_lo, enc_step)
    )
    for ch in range(c):
        mu_row, s_row = ch, c + ch
        if enc_step[ch] <= 0:
            weight[[mu_row, s_row]] = 0.0
            bias[[mu_row, s_row]] = 0.0
            continue
        offset = (train_lo[ch] - enc_lo[ch]) / enc_step[ch]
        if train_step[ch] <= 0:
            weight[[mu_row, s_row]] = 0.0
            bias[mu_row], bias[s_row] = offset, 0.0
            continue
        gain = train_step[ch] / enc_step[ch]
        weight[mu_row] *= gain
        bias[mu_row] = offset + gain * bias[mu_row]
        bias[s_row] += LEVELS_PER_OCTAVE * math.log2(gain)
    return weight, bias


def _layer_shapes(inputs: int, hidden: int, channels: int) -> list[tuple[int, int]]:
    return [(inputs, hidden), (hidden, hidden), (hidden, 2 * channels)]


def _positions(q_means: np.ndarray, position_bits: int) -> np.ndarray:
    q = np.asarray(q_means)
    if not 1 <= position_bits <= MAX_POSITION_BITS:
        raise ValueError(f"position bits {position_bits} out of range 1..{MAX_POSITION_BITS}")
    if q.ndim != 2 or q.shape[1] != 3 or q.dtype.kind not in "iu":
        raise ValueError("positions must be an (N, 3) integer array")
    q = q.astype(np.int64)
    if q.size and (q.min() < 0 or q.max() >= 1 << position_bits):
        raise ValueError(f"positions outside 0..2**{position_bits}-1")
    return q


def _validate(net: ContextNetwork) -> None:
    """Shapes, value ranges and the overflow bound; FormatError when anything is off."""
    levels = len(net.resolutions)
    if not 1 <= levels <= MAX_LEVELS or len(net.tables) != levels:
        raise PayloadError(f"context network needs 1..{MAX_LEVELS} grid levels, one table each")
    if not 1 <= net.bits <= MAX_SYMBOL_BITS or not 1 <= net.log2_table <= MAX_LOG2_TABLE:
        raise PayloadError("context network symbol bits or table size out of range")
    if not all(1 <= r <= MAX_RESOLUTION for r in net.resolutions):
        raise PayloadError(f"context network resolutions must be 1..{MAX_RESOLUTION}")
    features = net.tables[0].shape[1] if net.tables[0].ndim == 2 else 0
    if not 1 <= features <= MAX_FEATURES:
        raise PayloadError(f"context network features per level must be 1..{MAX_FEATURES}")
    for resolution, table in zip(net.resolutions, net.tables):
        if table.shape != (table_rows(resolution, net.log2_table), features):
            raise PayloadError("context network table has the wrong shape")
        if table.size and (table.min() < -INT16_MAX - 1 or table.max() > INT16_MAX):
            raise PayloadError("context network table values exceed 16 bits")
    if len(net.layers) != LAYER_COUNT:
        raise PayloadError(f"context network needs {LAYER_COUNT} layers")
    hidden = net.layers[0].weight.shape[0]
    channels = net.layers[-1].weight.shape[0] // 2
    if not 1 <= hidden <= MAX_HIDDEN or not 1 <= channels <= MAX_CHANNELS:
        raise PayloadError("context network hidden width or channel count out of range")
    for layer, shape in zip(net.layers, _layer_shapes(levels * features, hidden, channels)):
        if layer.weight.shape != shape[::-1] or layer.bias.shape != (shape[1],) or layer.shift.shape != (shape[1],):
            raise PayloadError("context network layer has the wrong shape")
        if layer.weight.min() < -INT16_MAX - 1 or layer.weight.max() > INT16_MAX:
            raise PayloadError("context network weights exceed 16 bits")
        if layer.shift.min() < 0 or layer.shift.max() > MAX_SHIFT:
            raise PayloadError(f"context network shifts must be 0..{MAX_SHIFT}")
    check_bounds(net.tables, net.layers)
