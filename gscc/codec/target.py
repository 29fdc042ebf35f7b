"""Constant-quality encoding: the bit depth of every attribute chosen so that renders of
the decoded scene reach a target PSNR against renders of the input, at the fewest bytes
(a video encoder's constant-quality mode, for splats).

The quality of a file is measured by a :class:`QualityProbe`: a few orbit cameras around
the input (small images, the Taichi CPU rasterizer), the input rendered once as the
reference, and the PSNR of the decoded scene's renders pooled over all views
(``10 log10(1 / mean squared error)``, pixels in [0, 1]).

The search (:func:`encode_for_psnr`) sorts once and then, treating the render error of the
attributes as additive (each attribute's coarser quantization adds its own squared
error):

1. measures the file at the base settings (the most bits the config's ranges allow: the
   first of ``BIT_LEVELS``) and, for every attribute, files with only that attribute
   coarser -- their bytes and extra squared error -- at the depths a binary search for
   the coarsest acceptable depth visits;
2. picks the combination of bit depths with the fewest bytes whose summed extra error
   stays within what the target allows (all combinations are tried: a few thousand sums);
3. encodes that combination and checks it with the probe; if it misses the target (the
   errors are not exactly additive), the allowance shrinks and step 2 runs again;
4. refines the combination it keeps with measured files alone: each field one level
   coarser, the others as they are; of the files still within the target the smallest
   is kept, and the same is tried again from there (a field whose coarser level missed
   the target is not tried again), until no coarser level fits or saves bytes.

The result records the achieved PSNR in the file's informative ``encoder`` map
(``quality``: spec/container.md), which ``gscc info`` shows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..container import pack, unpack
from ..splats import FeatureSplats, SplatSet
from .config import EncodeConfig
from .decoder import decode_scene
from .encoder import Encoded, encode_tracked

__all__ = ["QualityProbe", "TargetResult", "encode_for_psnr", "BIT_LEVELS"]

# The bit depths the search tries per config field, best first (EncodeConfig's ranges).
BIT_LEVELS: dict[str, tuple[int, ...]] = {
    "position_bits": (16, 15, 14, 13, 12, 11, 10, 9, 8),
    "scale_bits": (8, 7, 6, 5, 4),
    "rotation_bits": (8, 7, 6, 5, 4),
    "opacity_bits": (8, 7, 6, 5, 4),
    "color_bits": (8, 7, 6, 5, 4),
    "sh_bits": (8, 7, 6, 5, 4),
}
PROBE_VIEWS = 4
PROBE_SIZE = (256, 192)
PROBE_BACKEND = "taichi"
SHRINK = 0.6  # the error allowance after a combination missed the target
MAX_ROUNDS = 6


def pooled_psnr(squared_error: float) -> float:
    return math.inf if squared_error <= 0 else -10.0 * math.log10(squared_error)


class QualityProbe:
    """Renders of the input from a few orbit cameras, and the PSNR of other scenes
    against them (pooled over views)."""

    def __init__(
        self,
        reference: SplatSet | FeatureSplats,
        views: int = PROBE_VIEWS,
        size: tuple[int, int] = PROBE_SIZE,
        backend: str = PROBE_BACKEND,
    ) -> None:
        from ..cameras import load_cameras

        self.views, self.size, self.backend = views, size, backend
        anchor = reference.baked() if isinstance(reference, FeatureSplats) else reference
        self.cameras = load_cameras(f"orbit:{views}", splats=anchor, width=size[0], height=size[1])
        self.reference = self._render(reference)

    def _render(self, scene: SplatSet | FeatureSplats) -> list[np.ndarray]:
        from ..eval.render_views import Renderer

        renderer = Renderer(scene, backend=self.backend)
        return [renderer.render(camera)[0].astype(np.float64) for camera in self.cameras]

    def squared_error(self, scene: SplatSet | FeatureSplats) -> float:
        """Mean squared pixel error of ``scene``'s renders against the reference's."""
        return pooled_error(self._render(scene), self.reference)

    def psnr(self, scene: SplatSet | FeatureSplats) -> float:
        return pooled_psnr(self.squared_error(scene))

    def record(self) -> dict:
        """How the quality was measured, for the file's ``encoder`` map."""
        return {"views": self.views, "width": self.size[0], "height": self.size[1], "cameras": "orbit"}


@dataclass(frozen=True)
class TargetResult:
    encoded: Encoded  # its data records the quality in the encoder map
    config: EncodeConfig
    psnr: float  # achieved (pooled over the probe's views)
    reached: bool  # False: even the base settings stay below the target


@dataclass
class _Trial:
    config: EncodeConfig
    encoded: Encoded
    error: float


def fields_for(splats: SplatSet | FeatureSplats) -> list[str]:
    """The bit-depth fields that matter for this scene."""
    fields = ["position_bits", "scale_bits", "rotation_bits", "opacity_bits", "color_bits"]
    if isinstance(splats, SplatSet) and splats.shN.shape[1] > 0:
        fields.append("sh_bits")
    return fields


def allocate(
    base_bytes: int, costs: dict[str, dict[int, tuple[int, float]]], allowance: float
) -> dict[str, int]:
    """The bit depth per field with the fewest estimated bytes whose summed extra squared
    error stays within ``allowance``. ``costs[field][bits] = (bytes change, extra error)``
    relative to the base (whose bits are the first of each field's levels)."""
    fields = list(costs)
    options = [sorted(costs[f].items(), key=lambda item: -item[0]) for f in fields]
    best, best_bytes = {f: opts[0][0] for f, opts in zip(fields, options)}, base_bytes
    for combo in itertools.product(*options):
        error = sum(max(0.0, extra) for _, (_, extra) in combo)
        size = base_bytes + sum(delta for _, (delta, _) in combo)
        if error <= allowance and size < best_bytes:
            best, best_bytes = {f: bits for f, (bits, _) in zip(fields, combo)}, size
    return best


def measure_field(
    field: str,
    trial: Callable[[EncodeConfig], _Trial],
    base: _Trial,
    base_config: EncodeConfig,
    allowance: float,
    report: Callable[[str], None],
) -> dict[int, tuple[int, float]]:
    """(bytes change, extra squared error) of coarser depths of one field, the others at
    the base: a binary search for the coarsest depth whose extra error alone stays within
    ``allowance`` (the error grows as the bits fall), measuring only the depths it visits."""
    levels = BIT_LEVELS[field]
    costs = {levels[0]: (0, 0.0)}
    low, high = 0, len(levels) - 1  # levels[low] is within the allowance; find the last one
    while low < high:
        middle = (low + high + 1) // 2
        bits = levels[middle]
        report(f"measuring {field.replace('_', ' ')} = {bits}")
        t = trial(replace(base_config, **{field: bits}))
        costs[bits] = (len(t.encoded.data) - len(base.encoded.data), t.error - base.error)
        if costs[bits][1] <= allowance:
            low = middle
        else:
            high = middle - 1
    return costs


def encode_for_psnr(
    splats: SplatSet | FeatureSplats,
    config: EncodeConfig,
    target_psnr: float,
    probe: QualityProbe | None = None,
    progress: Callable[[str], None] | None = None,
) -> TargetResult:
    """Encode ``splats`` with ``config``'s settings but the bit depths chosen to reach
    ``target_psnr`` (dB, renders of the decoded file against renders of ``splats``) at the
    fewest bytes; see the module docs."""
    if not math.isfinite(target_psnr) or target_psnr <= 0:
        raise ValueError(f"target PSNR must be a positive number of dB, got {target_psnr}")
    report = progress or (lambda stage: None)
    report("rendering the input")
    probe = probe or QualityProbe(splats)
    fields = fields_for(splats)
    base_config = replace(config, precision="fixed", **{f: BIT_LEVELS[f][0] for f in fields})
    first = encode_tracked(splats, base_config, progress=report)
    grid = first.grid

    measured: dict[EncodeConfig, _Trial] = {}

    def trial(cfg: EncodeConfig) -> _Trial:
        if cfg not in measured:
            encoded = first if cfg == base_config else encode_tracked(splats, cfg, grid=grid)
            measured[cfg] = _Trial(cfg, encoded, probe.squared_error(decode_scene(encoded.data)))
        return measured[cfg]

    report("measuring the base settings")
    base = trial(base_config)
    target_error = 10.0 ** (-target_psnr / 10.0)
    if base.error > target_error:  # even the most bits miss: keep them
        return _finish(base, probe, target_psnr, reached=False)
    costs = {field: measure_field(field, trial, base, base_config, target_error - base.error, report) for field in fields}
    allowance = target_error - base.error
    chosen = base
    for _ in range(MAX_ROUNDS):
        bits = allocate(len(base.encoded.data), costs, allowance)
        report("checking " + ", ".join(f"{f.replace('_bits', '')} {b}" for f, b in bits.items()))
        candidate = trial(replace(base_config, **bits))
        if candidate.error <= target_error:
            chosen = candidate
            break
        allowance *= SHRINK
    chosen = refine(chosen, fields, trial, target_error, report)
    return _finish(chosen, probe, target_psnr, reached=True)


def refine(
    chosen: _Trial,
    fields: list[str],
    trial: Callable[[EncodeConfig], _Trial],
    target_error: float,
    report: Callable[[str], None],
) -> _Trial:
    """Step 4 of the search (module docs): one level coarser per field while the measured
    file stays within ``target_error`` and gets smaller."""
    open_fields = list(fields)
    while True:
        best = None
        for field in list(open_fields):
            levels = BIT_LEVELS[field]
            index = levels.index(getattr(chosen.config, field))
            if index + 1 >= len(levels):
                open_fields.remove(field)
                continue
            report(f"refining: {field.replace('_', ' ')} = {levels[index + 1]}")
            candidate = trial(replace(chosen.config, **{field: levels[index + 1]}))
            if candidate.error > target_error:
                open_fields.remove(field)
            elif best is None or len(candidate.encoded.data) < len(best.encoded.data):
                best = candidate
        if best is None or len(best.encoded.data) >= len(chosen.encoded.data):
            return chosen
        chosen = best


def with_quality(data: bytes, target_psnr: float, psnr: float, probe_record: dict) -> bytes:
    """``data`` (a `.gsc` file) with the quality an encode to ``target_psnr`` reached
    recorded in its encoder map (informative: spec/container.md)."""
    container = unpack(data)
    container.header["encoder"]["quality"] = {
        "target_psnr": float(target_psnr),
        "psnr": float(psnr) if math.isfinite(psnr) else None,  # None: renders identical
        **probe_record,
    }
    return pack(container)


def pooled_error(images: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Mean squared pixel error of ``images`` against ``reference``, pooled over views."""
    return float(np.mean([np.mean((a - b) ** 2) for a, b in zip(images, reference)]))


def _finish(chosen: _Trial, probe: QualityProbe, target_psnr: float, reached: bool) -> TargetResult:
    """The chosen file with its quality recorded in the encoder map."""
    psnr = pooled_psnr(chosen.error)
    encoded = replace(chosen.encoded, data=with_quality(chosen.encoded.data, target_psnr, psnr, probe.record()))
    return TargetResult(encoded, chosen.config, psnr, reached)
