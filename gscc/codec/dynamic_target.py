"""Constant-quality encoding of dynamic scenes: the contribution-pruning threshold chosen so
that renders of the decoded scene, at several times, reach a target PSNR against renders
of the input at the fewest bytes (the dynamic counterpart of gscc.codec.target).

On trained STG models most of what renders can spare is whole splats, not bits: pruning by
contribution (gscc.codec.contribution) halves a file at a few dB where lowering bit depths
costs more per byte saved (bench/README.md, dynamic codec). So the search keeps the
config's bit depths and tries pruning thresholds from ``CONTRIBUTION_LEVELS`` (pixels of
a 320-pixel probe view, up to 5): a binary search for the largest threshold whose file still
reaches the target (the error grows with the threshold), each threshold one encode (the
contributions are rendered once) and one probe.

The quality of a file is measured by a :class:`DynamicQualityProbe`: the scene's own
cameras (``scene.extra["cameras"]``) and ``PROBE_VIEWS`` orbit cameras around the input at
mid-scene, each at ``PROBE_TIMES`` times evenly spread over [0, 1], small images
(``PROBE_SIZE``), the Taichi CPU rasterizer; PSNR pooled over all views
(``10 log10(1 / mean squared error)``). The chosen file records it in the informative
``encoder`` map (``quality``: spec/container.md), as a static encode to a target does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..dynamic import DynamicScene, DynamicSplats
from .contribution import probe_renders
from .dynamic_config import DynamicEncodeConfig
from .dynamic_decoder import decode_dynamic
from .dynamic_encoder import DynamicEncoded, encode_dynamic_tracked
from .target import PROBE_BACKEND, PROBE_SIZE, PROBE_VIEWS, pooled_error, pooled_psnr, with_quality

__all__ = ["CONTRIBUTION_LEVELS", "DynamicQualityProbe", "DynamicTargetResult", "encode_dynamic_for_psnr"]

# pruning thresholds the search tries (pixels of peak blending weight), weakest first
CONTRIBUTION_LEVELS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
PROBE_TIMES = 6


class DynamicQualityProbe:
    """Renders of a dynamic scene from its own cameras and a few orbit cameras at a few
    times, and the PSNR of other scenes against them (pooled over views)."""

    def __init__(
        self,
        reference: DynamicScene,
        views: int = PROBE_VIEWS,
        times: int = PROBE_TIMES,
        size: tuple[int, int] = PROBE_SIZE,
        backend: str = PROBE_BACKEND,
    ) -> None:
        from ..cameras import load_cameras

        self.views, self.size, self.backend = views, size, backend
        self.times = np.linspace(0.0, 1.0, int(times)) if times >= 2 else np.array([0.5])
        own = [c.scaled(size[0] / c.width) for c in reference.extra.get("cameras", ())]
        orbit = load_cameras(f"orbit:{views}", splats=reference.at(0.5), width=size[0], height=size[1]) if views else []
        self.cameras = own + orbit
        if not self.cameras:
            raise ValueError("a quality probe needs cameras: the scene's own or at least one orbit view")
        self.reference = self._render(reference)

    def _render(self, scene: DynamicScene) -> list[np.ndarray]:
        return probe_renders(scene, self.cameras, self.times, self.backend)

    def squared_error(self, scene: DynamicScene) -> float:
        """Mean squared pixel error of ``scene``'s renders against the reference's."""
        return pooled_error(self._render(scene), self.reference)

    def record(self) -> dict:
        """How the quality was measured, for the file's ``encoder`` map."""
        return {"views": len(self.cameras), "width": self.size[0], "height": self.size[1],
                "cameras": "scene+orbit" if len(self.cameras) > self.views else "orbit", "times": len(self.times)}


@dataclass(frozen=True)
class DynamicTargetResult:
    encoded: DynamicEncoded  # its data records the quality in the encoder map
    config: DynamicEncodeConfig
    psnr: float  # achieved (pooled over the probe's views and times)
    reached: bool  # False: even without contribution pruning the file stays below the target


def encode_dynamic_for_psnr(
    scene: DynamicScene | DynamicSplats,
    config: DynamicEncodeConfig,
    target_psnr: float,
    probe: DynamicQualityProbe | None = None,
    progress: Callable[[str], None] | None = None,
) -> DynamicTargetResult:
    """Encode ``scene`` with ``config``'s settings but the contribution-pruning threshold
    chosen to reach ``target_psnr`` (dB) at the fewest bytes; see the module docs."""
    if not math.isfinite(target_psnr) or target_psnr <= 0:
        raise ValueError(f"target PSNR must be a positive number of dB, got {target_psnr}")
    if isinstance(scene, DynamicSplats):
        scene = DynamicScene.single(scene)
    report = progress or (lambda stage: None)
    report("rendering the input")
    probe = probe or DynamicQualityProbe(scene)
    memo: dict = {}
    tried: dict[float, tuple[DynamicEncoded, float]] = {}

    def trial(level: float) -> tuple[DynamicEncoded, float]:
        if level not in tried:
            report(f"trying contribution pruning at {level:g} px")
            encoded = encode_dynamic_tracked(scene, config.with_overrides(prune_contribution=level), memo=memo)
            tried[level] = (encoded, probe.squared_error(decode_dynamic(encoded.data)))
        return tried[level]

    target_error = 10.0 ** (-target_psnr / 10.0)
    levels = CONTRIBUTION_LEVELS
    if trial(levels[0])[1] > target_error:  # even keeping every splat misses
        return _finish(config, levels[0], *trial(levels[0]), probe, target_psnr, reached=False)
    low, high = 0, len(levels) - 1  # levels[low] reaches the target; find the last one that does
    while low < high:
        middle = (low + high + 1) // 2
        if trial(levels[middle])[1] <= target_error:
            low = middle
        else:
            high = middle - 1
    return _finish(config, levels[low], *trial(levels[low]), probe, target_psnr, reached=True)


def _finish(
    config: DynamicEncodeConfig, level: float, encoded: DynamicEncoded, error: float,
    probe: DynamicQualityProbe, target_psnr: float, reached: bool,
) -> DynamicTargetResult:
    """The chosen file with its quality recorded in the encoder map (and its settings)."""
    psnr = pooled_psnr(error)
    data = with_quality(encoded.data, target_psnr, psnr, probe.record())
    return DynamicTargetResult(dataclasses.replace(encoded, data=data), config.with_overrides(prune_contribution=level),
                               psnr, reached)
