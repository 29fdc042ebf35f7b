"""Bit depths chosen from the scene itself: the ``adaptive`` precision of the default preset.

With ``EncodeConfig.precision == "fixed"`` every attribute is coded at its configured bit
depth. With ``"adaptive"`` the configured depths are ceilings, and each attribute gets the
depth that lands the file at about one render quality whatever the scene -- a video
encoder's constant-quality default rather than a fixed bit depth -- from the scene's own
statistics (encoder only: the decoder reads the depths from the file as always):

- **positions** (after sign-log): the quantization step is what moves a splat, and what
  a displacement costs in a render depends on the splat's size. The step must stay within
  ``POSITION_STEP_PER_SIZE`` of the typical splat size (the median over splats of the
  geometric mean of its axes, divided by the sign-log slope ``1 + |x|`` at its centre),
  and never coarser than ``MIN_POSITION_BITS`` over the scene's range: a scene whose
  splats are small against its extent (a large captured scene) gets more bits, an object
  whose splats tile its surface the floor.
- **scales** (natural log): a step of at most ``1 / SCALE_LEVELS_PER_LN`` (SPZ's
  precision: 6 % of a splat's size) over the channels' range, at least
  ``MIN_SCALE_BITS``.
- **rotations**: ``ROTATION_BITS`` (smallest-three components: 0.6° steps).
- **opacities**: the configured depth (an 8-bit input comes back exactly).
- **colours** (``sh0``): ``COLOR_BITS`` (a ``.splat`` file's 8-bit colours on every
  fifth level of their lattice), and one bit more at a time while that bit costs at most
  ``CHEAP_COLOR_BITS`` per splat (measured with the JPEG XL coder at its fastest
  effort): smooth colours -- an object with few distinct colours -- are kept at full
  precision because it is nearly free, noisy ones pay only for what renders see.
- everything else (higher-order SH, MLP features, a dynamic scene's planes): as
  configured.

The constants were set on the shared splats (bench/README.md, "The adaptive default"):
on the phone capture ``plant`` they give 12/7/7/8/6, on the mesh objects 12/7/7/8/8,
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
CHEAP_COLOR_BITS = 1.0  # bits per splat one more colour bit may cost
CHEAP_EFFORT = 3  # libjxl effort of the cost estimate


def bits_to_hold(span: float, step: float) -> int:
    """The fewest bits whose levels, ``step`` apart, cover ``span``."""
    if span <= 0 or step <= 0:
        return 1
    return max(1, math.ceil(math.log2(span / step + 1.0)))


def position_bits(means: np.ndarray, log_scales: np.ndarray, ceiling: int) -> int:
    """Bits of the sign-log ``means`` (N, 3) whose step stays within
    POSITION_STEP_PER_SIZE of the typical splat size (``log_scales``: (N, 3) natural logs),
    between MIN_POSITION_BITS and ``ceiling``."""
    size = np.exp(np.mean(log_scales, axis=1))[:, None]
    linear = np.sign(means) * np.expm1(np.abs(means))  # back to scene units for the slope
    step = POSITION_STEP_PER_SIZE * np.median(size / (1.0 + np.abs(linear)), axis=0)
    span = means.max(axis=0) - means.min(axis=0)
    needed = max(bits_to_hold(float(s), float(t)) for s, t in zip(span, step))
    return int(min(ceiling, max(MIN_POSITION_BITS, needed)))


def scale_bits(log_scales: np.ndarray, ceiling: int) -> int:
    span = float(np.max(log_scales.max(axis=0) - log_scales.min(axis=0)))
    return int(min(ceiling, max(MIN_SCALE_BITS, bits_to_hold(span, 1.0 / SCALE_LEVELS_PER_LN))))


def color_bits(cells: np.ndarray, shape: tuple[int, int], ceiling: int, cost: Callable[[np.ndarray, int], int]) -> int:
    """COLOR_BITS, and one more while the coded plane of ``cells`` (one row per grid cell)
    grows by at most CHEAP_COLOR_BITS per cell; ``cost(plane, bits)``: coded bytes."""
    bits = min(COLOR_BITS, ceiling)
    size = None
    while bits < ceiling:
        if size is None:
            size = cost(colour_plane(cells, shape, bits), bits)
        finer = cost(colour_plane(cells, shape, bits + 1), bits + 1)
        if (finer - size) * 8 > CHEAP_COLOR_BITS * len(cells):
            break
        bits, size = bits + 1, finer
    return bits


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
