"""Precision classes: splats that renders hardly see are coded at a coarser step.

A file may give every grid cell a *precision class* c in 0..C-1 (a class plane, coded
like any other plane). A scalar attribute then has a *shift table*: for each class and
channel, how many of the plane's low bits s (0..R, R the channel's largest shift) that
class leaves at zero: a cell of class c holds a value that is a multiple of 2^s, i.e. the
attribute quantized 2^s times coarser there. The plane travels in two parts:

- the *coarse plane*: each value shifted right by its channel's R, coded by any
  lossless coder at the attribute's bit depth;
- the *refinement*: for each channel in order, then each cell in row-major order, the
  R - s bits of the value between its coarse part and its zero low bits, most
  significant first, packed into one raw chunk (the last byte's unused low bits zero).

The decoder rebuilds ``value = (coarse << R) | (refinement << s)``. At the step of the
finest class (a few bits above the noise of a real capture's planes) those low bits are
incompressible anyway, so a cell of class c costs s bits per channel less than at the
finest step, and a cell's render error grows 4^s times: the encoder gives coarse classes
to the splats whose attributes renders are least sensitive to (gscc.codec.sensitivity).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import HeaderError, PayloadError

MAX_CLASSES = 16
MAX_SHIFT = 8


@dataclass(frozen=True)
class ShiftTable:
    """``shifts[c][ch]``: the zero low bits of class c's values in channel ch."""

    shifts: tuple[tuple[int, ...], ...]

    @property
    def classes(self) -> int:
        return len(self.shifts)

    @property
    def refined(self) -> np.ndarray:
        """(channels,) R: each channel's largest shift (the bits the coarse plane drops)."""
        return np.asarray(self.shifts, np.int64).max(axis=0)

    def per_cell(self, cell_class: np.ndarray) -> np.ndarray:
        """(cells, channels) the shift of every cell of a plane, by its class."""
        return np.asarray(self.shifts, np.int64)[cell_class.reshape(-1)]

    def to_header(self) -> list[list[int]]:
        return [list(row) for row in self.shifts]

    @staticmethod
    def from_header(entry: object, classes: int, channels: int, bits: int) -> "ShiftTable":
        """The table of an attribute's ``shifts`` entry: ``classes`` rows of ``channels``
        integers in 0..min(MAX_SHIFT, bits - 1), not all zero."""
        if not isinstance(entry, list) or len(entry) != classes:
            raise HeaderError(f"refinement shifts must be a list of {classes} rows (one per class)")
        top = min(MAX_SHIFT, bits - 1)
        rows = []
        for row in entry:
            if (not isinstance(row, list) or len(row) != channels
                    or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= top for s in row)):
                raise HeaderError(f"a refinement shift row must be {channels} integers in 0..{top}")
            rows.append(tuple(row))
        table = ShiftTable(tuple(rows))
        if not table.refined.any():
            raise HeaderError("refinement shifts are all zero")
        return table


def split(plane: np.ndarray, cell_class: np.ndarray, table: ShiftTable) -> tuple[np.ndarray, bytes]:
    """The coarse plane (H, W, C) and the refinement payload of ``plane``, whose values
    are multiples of their cell's ``2**shift`` (ValueError otherwise)."""
    height, width, channels = plane.shape
    q = plane.reshape(-1, channels).astype(np.int64)
    shift = table.per_cell(cell_class)
    refined = table.refined
    if (q & ((1 << shift) - 1)).any():
        raise ValueError("a value has bits below its class's shift")
    coarse = q >> refined
    parts = []
    for ch in np.flatnonzero(refined):
        r = int(refined[ch])
        low = (q[:, ch] & ((1 << r) - 1)) >> shift[:, ch]
        width_bits = r - shift[:, ch]
        # MSB first: bit j of a value (j < its width) is (low >> (width - 1 - j)) & 1
        j = np.arange(r)
        keep = j[None, :] < width_bits[:, None]
        bits = (low[:, None] >> np.maximum(width_bits[:, None] - 1 - j[None, :], 0)) & 1
        parts.append(bits[keep].astype(np.uint8))
    stream = np.concatenate(parts) if parts else np.zeros(0, np.uint8)
    return coarse.reshape(height, width, channels).astype(np.uint16), np.packbits(stream).tobytes()


def join(coarse: np.ndarray, payload: bytes, cell_class: np.ndarray, table: ShiftTable, bits: int) -> np.ndarray:
    """Inverse of :func:`split`: the plane at ``bits`` bits. PayloadError when a coarse
    value does not fit ``bits - R`` bits, or the payload's length or padding is wrong."""
    height, width, channels = coarse.shape
    if table.refined.shape != (channels,):
        raise HeaderError(f"refinement shifts have {table.refined.shape[0]} channels, the plane {channels}")
    q = coarse.reshape(-1, channels).astype(np.int64)
    refined = table.refined
    if (q >> np.maximum(bits - refined, 0)).any():
        raise PayloadError(f"a coarse value does not fit the {bits}-bit plane once refined")
    shift = table.per_cell(cell_class)
    widths = refined[None, :] - shift
    total = int(widths.sum())
    if len(payload) != (total + 7) // 8:
        raise PayloadError(f"refinement chunk holds {len(payload)} bytes, expected {(total + 7) // 8}")
    stream = np.unpackbits(np.frombuffer(payload, np.uint8))
    if stream[total:].any():
        raise PayloadError("refinement chunk's padding bits are not zero")
    out = q << refined
    at = 0
    last = max(len(stream) - 1, 0)
    for ch in np.flatnonzero(refined):
        width_bits = widths[:, ch].astype(np.int32)
        start = at + np.cumsum(width_bits, dtype=np.int64) - width_bits  # each cell's first bit
        at += int(width_bits.sum())
        low = np.zeros(len(q), np.int64)
        for j in range(int(refined[ch])):  # most significant first: bit j of the cells that have it
            has = width_bits > j
            bit = stream[np.minimum(start + j, last)] if len(stream) else np.zeros(len(q), np.uint8)
            low = np.where(has, (low << 1) | bit, low)
        out[:, ch] |= low << shift[:, ch]
    return out.reshape(height, width, channels).astype(np.uint16)


def class_bits(count: int) -> int:
    """The bit depth of a class plane of ``count`` classes."""
    return max(1, int(count - 1).bit_length())


@dataclass(frozen=True)
class Classes:
    """What an encoder is told: each splat's class and each refined attribute's table."""

    per_splat: np.ndarray  # (N,) integers in 0..count-1
    count: int
    tables: dict[str, ShiftTable]

    def __post_init__(self) -> None:
        if not 2 <= self.count <= MAX_CLASSES:
            raise ValueError(f"{self.count} precision classes; a file has 2..{MAX_CLASSES}")
        if len(self.per_splat) and not 0 <= int(self.per_splat.min()) <= int(self.per_splat.max()) < self.count:
            raise ValueError("a splat's precision class is out of range")
        if any(t.classes != self.count for t in self.tables.values()):
            raise ValueError("every shift table needs one row per class")

    def subset(self, index: np.ndarray) -> "Classes":
        return Classes(self.per_splat[index], self.count, self.tables)
