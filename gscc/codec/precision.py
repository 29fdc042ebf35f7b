"""Bit depths chosen from the scene itself: the ``adaptive`` precision of the default preset.

With ``EncodeConfig.precision == "fixed"`` every attribute is coded at its configured bit
depth. With ``"adaptive"`` the configured depths are ceilings, and each attribute gets the
depth that lands the file at about one render quality whatever the scene -- a video
encoder's constant-quality default rather than a fixed bit depth -- from the scene's own
statistics (encoder only: the decoder reads the depths from the file as always):

- **positions** (after sign-log): ``MIN_POSITION_BITS`` over each channel's range, one
  more per doubling of the scene's extent beyond one unit (SPZ's fixed point keeps
  ``2**-MIN_POSITION_BITS`` units whatever the scene: a large scene is rendered from
  further away but its splats are as sharp), and more while the step exceeds
  ``POSITION_STEP_PER_SIZE`` of the typical splat (the median over splats of the
  geometric mean of its axes, divided by the sign-log slope ``1 + |x|`` at its centre):
  an object of unit extent whose splats tile its surface gets the floor.
- **scales** (natural log): a step of at most ``1 / SCALE_LEVELS_PER_LN`` (SPZ's
  precision: 6 % of a splat's size) over the channels' range, at least
  ``MIN_SCALE_BITS``.
- **rotations**: ``ROTATION_BITS`` (smallest-three components: 0.6° steps).
- **opacities**: the configured depth (an 8-bit input comes back exactly).
- **colours** (``sh0``): colours already quantized (a ``.splat`` file's bytes: every
  channel on a lattice) start at ``COLOR_BITS``, every fifth level of that lattice;
  continuous ones (a trained scene) at SPZ's step (``SPZ_COLOR_STEP``) over their range.
  Then one bit more at a time while that bit costs at most ``CHEAP_COLOR_BITS`` per
  splat (measured with the JPEG XL coder at its fastest effort): smooth colours -- an
  object with few distinct colours -- are kept at full precision because it is nearly
  free, noisy ones pay only for what renders see.
- everything else (higher-order SH, MLP features, a dynamic scene's planes): as
  configured.

The constants were set on the shared splats (bench/README.md, "The adaptive default"):
on the phone capture ``plant`` they give 12/7/7/8/6, on the mesh objects 12/6/7/8/8,
each file's render PSNR above SPZ's.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .lossless import CODERS  # noqa: F401  (loads .jxl after .lossless, which .jxl imports)
from .jxl import encode_image
from .quantize import fit_lattice_quantizer, quantize

MIN_POSITION_BITS = 12
POSITION_STEP_PER_SIZE = 0.25
SCALE_LEVELS_PER_LN = 16
MIN_SCALE_BITS = 6
ROTATION_BITS = 7
COLOR_BITS = 6
SPZ_COLOR_STEP = 1.0 / (0.15 * 255)  # SPZ's sh0 step: 8 bits of sh0 * 0.15 * 255 + 127.5
CHEAP_COLOR_BITS = 1.0  # bits per splat one more colour bit may cost
CHEAP_EFFORT = 3  # libjxl effort of the cost estimate


def bits_to_hold(span: float, step: float) -> int:
    """The fewest bits whose levels, ``step`` apart, cover ``span``."""
    if span <= 0 or step <= 0:
        return 1
    return max(1, math.ceil(math.log2(span / step + 1.0)))


def position_bits(means: np.ndarray, log_scales: np.ndarray, ceiling: int) -> int:
    """Bits of the sign-log ``means`` (N, 3): MIN_POSITION_BITS plus one per doubling of
    the scene's extent beyond one unit, and more while the step exceeds
    POSITION_STEP_PER_SIZE of the typical splat size (``log_scales``: (N, 3) natural
    logs); at most ``ceiling``."""
    size = np.exp(np.mean(log_scales, axis=1))[:, None]
    linear = np.sign(means) * np.expm1(np.abs(means))  # back to scene units
    extent = float(np.max(linear.max(axis=0) - linear.min(axis=0)))
    by_extent = MIN_POSITION_BITS + max(0, math.ceil(math.log2(extent))) if extent > 0 else MIN_POSITION_BITS
    step = POSITION_STEP_PER_SIZE * np.median(size / (1.0 + np.abs(linear)), axis=0)
    span = means.max(axis=0) - means.min(axis=0)
    by_size = max(bits_to_hold(float(s), float(t)) for s, t in zip(span, step))
    return int(min(ceiling, max(by_extent, by_size)))


def scale_bits(log_scales: np.ndarray, ceiling: int) -> int:
    span = float(np.max(log_scales.max(axis=0) - log_scales.min(axis=0)))
    return int(min(ceiling, max(MIN_SCALE_BITS, bits_to_hold(span, 1.0 / SCALE_LEVELS_PER_LN))))


def color_bits(cells: np.ndarray, shape: tuple[int, int], ceiling: int, cost: Callable[[np.ndarray, int], int]) -> int:
    """COLOR_BITS for colours on a lattice, SPZ's step over the range for continuous ones,
    and one more while the coded plane of ``cells`` (one row per grid cell) grows by at
    most CHEAP_COLOR_BITS per cell; ``cost(plane, bits)``: coded bytes."""
    base = COLOR_BITS if on_lattice(cells) else bits_to_hold(float(np.ptp(cells, axis=0).max()), SPZ_COLOR_STEP)
    bits = min(max(COLOR_BITS, base), ceiling)
    size = None
    while bits < ceiling:
        if size is None:
            size = cost(colour_plane(cells, shape, bits), bits)
        finer = cost(colour_plane(cells, shape, bits + 1), bits + 1)
        if (finer - size) * 8 > CHEAP_COLOR_BITS * len(cells):
            break
        bits, size = bits + 1, finer
    return bits


def on_lattice(cells: np.ndarray) -> bool:
    """Whether every channel of ``cells`` lies on a uniform lattice of at most 256 points
    (an 8-bit input: fit_lattice_quantizer keeps it)."""
    quant = fit_lattice_quantizer(cells, 8)
    back = quant.lo + np.rint((cells - quant.lo) / np.where(np.asarray(quant.step) > 0, quant.step, 1.0)) * quant.step
    return bool(np.all(np.abs(back - cells) <= 1e-6 * np.maximum(1.0, np.abs(cells))))


def colour_plane(cells: np.ndarray, shape: tuple[int, int], bits: int) -> np.ndarray:
    return quantize(cells, fit_lattice_quantizer(cells, bits)).reshape(shape[0], shape[1], -1)


def jxl_cost(plane: np.ndarray, bits: int) -> int:
    """Bytes of ``plane`` as one lossless JPEG XL image at the fastest effort tried."""
    return len(encode_image(plane, bits, CHEAP_EFFORT))


def adaptive_bits(prepared: dict[str, np.ndarray], ceilings: dict[str, int]) -> dict[str, int]:
    """The depths of the attributes chosen before any is coded (``prepared``: the
    transformed (N, C) arrays; ``ceilings``: the configured depths). Colours are chosen
    on their grid plane: :func:`color_bits`."""
    chosen = {}
    if "means" in prepared and "scales" in prepared:
        chosen["means"] = position_bits(prepared["means"], prepared["scales"], ceilings["means"])
    if "scales" in prepared:
        chosen["scales"] = scale_bits(prepared["scales"], ceilings["scales"])
    if "quats" in prepared:
        chosen["quats"] = min(ROTATION_BITS, ceilings["quats"])
    return chosen
