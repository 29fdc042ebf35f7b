"""Choosing how a segment's motion plane is coded by what the probe renders see.

Motion coefficients are heavy-tailed: sign-log coding spends its levels where most values
are (small motions, fine steps) and widens them towards the largest values, so a fast
splat near a camera can lose its place; identity coding (one step for every value) keeps
the fast splats but its steps are coarse for the many small motions. Which one a file
needs is a matter of its renders (bench/README.md, the worst render), so the encoder can
try each candidate coding ``(transform, bits)`` of ``DynamicEncodeConfig.motion_choices``
on the splats it keeps: the probe views of pruning by contribution (the scene's cameras
and orbit views, at ``contribution_times`` times) are rendered with only the motion plane
decoded as the candidate codes it, against the same splats with exact motion.

The rule: a candidate is *acceptable* when its worst probe render (camera x time) stays at
or above ``motion_choice_psnr`` dB; of the acceptable ones the one whose segment codes to
the fewest bytes wins; when none is acceptable, the one with the best worst render.

Needs torch (encoding only; decoding never renders).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..cameras import Camera
from ..dynamic import DynamicSplats
from ..dynamic.registry import motion_from_arrays
from .contribution import probe_cameras, probe_renders
from .dynamic_config import BITS_FIELDS, DynamicEncodeConfig
from .quantize import dequantize, fit_quantizer, forward_transform, inverse_transform, quantize


@dataclass(frozen=True)
class MotionCandidate:
    """One candidate coding of the motion plane and how it fared."""

    transform: str
    bits: int
    worst_psnr: float  # dB, worst probe render against exact motion (inf: no change)
    bytes: int | None = None  # the segment's coded size (measured only when needed)


def coded_values(values: np.ndarray, transform: str, bits: int) -> np.ndarray:
    """The float32 values a scalar-coded plane of ``values`` decodes to (its quantizer
    fitted as the encoder fits it)."""
    y = forward_transform(transform, values)
    quant = fit_quantizer(y, bits)
    return inverse_transform(transform, dequantize(quantize(y, quant), quant)).astype(np.float32)


def with_motion_coded(splats: DynamicSplats, plane: str, moving: np.ndarray, transform: str, bits: int) -> DynamicSplats:
    """``splats`` with only motion plane ``plane`` as a file decodes it when coded with
    ``transform`` at ``bits``: the moving splats' values quantized, the others' zero."""
    arrays = splats.motion.arrays()
    values = arrays[plane].reshape(splats.count, -1)
    coded = np.zeros_like(values, dtype=np.float32)
    if moving.any():
        coded[moving] = coded_values(values[moving], transform, bits)
    arrays[plane] = coded.reshape(arrays[plane].shape)
    return DynamicSplats(splats.static, motion_from_arrays(splats.motion.kind, arrays))


def worst_psnr(renders: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """The lowest PSNR (dB, data range 1; inf for identical images) of ``renders`` against
    ``reference``, pairwise."""
    from ..eval.metrics import psnr

    return min((psnr(a, b) for a, b in zip(renders, reference)), default=math.inf)


def motion_plane(splats: DynamicSplats) -> str | None:
    """The per-splat plane of ``splats``' motion model coded at ``motion_bits`` (STG:
    ``motion``, a motion basis: ``coeffs``), or None."""
    return next((name for name in splats.motion.per_splat if BITS_FIELDS.get(name) == "motion_bits"), None)


def choose_motion(
    splats: DynamicSplats,
    moving: np.ndarray,
    config: DynamicEncodeConfig,
    cameras: Sequence[Camera],
    coded_size: Callable[[DynamicEncodeConfig], int],
) -> tuple[DynamicEncodeConfig, list[MotionCandidate]]:
    """``config`` with the motion plane's transform and bit depth set to the candidate of
    ``config.motion_choices`` the rule (module docstring) picks for ``splats`` (the splats a
    segment keeps, ``moving`` marking those that code motion), and every candidate's
    figures. ``cameras``: the scene's own views (joined by ``contribution_views`` orbit
    views); ``coded_size(config)``: the segment's bytes coded with ``config``."""
    plane = motion_plane(splats)
    choices = config.motion_choices
    if not choices or plane is None or not moving.any():
        return config, []
    configs = [config.with_motion_coding(plane, transform, bits) for transform, bits in choices]
    if len(choices) == 1:
        return configs[0], [MotionCandidate(*choices[0], math.nan)]
    probe = probe_cameras(splats, cameras, config.contribution_views)
    times = np.linspace(0.0, 1.0, config.contribution_times)
    reference = probe_renders(splats, probe, times)
    scored = [
        MotionCandidate(transform, bits, worst_psnr(
            probe_renders(with_motion_coded(splats, plane, moving, transform, bits), probe, times), reference))
        for transform, bits in choices
    ]
    acceptable = [i for i, c in enumerate(scored) if c.worst_psnr >= config.motion_choice_psnr]
    if len(acceptable) > 1:
        for i in acceptable:
            scored[i] = replace(scored[i], bytes=coded_size(configs[i]))
        best = min(acceptable, key=lambda i: (scored[i].bytes, i))
    elif acceptable:
        best = acceptable[0]
    else:
        best = max(range(len(scored)), key=lambda i: (scored[i].worst_psnr, -i))
    return configs[best], scored
