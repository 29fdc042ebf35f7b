"""Attribute errors between an original splat set and a decoded one (numpy only)."""

from __future__ import annotations

import numpy as np

from .splats import SH_C0, SplatSet


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x.astype(np.float64)))


def _unit(q: np.ndarray) -> np.ndarray:
    q = q.astype(np.float64)
    return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)


def scene_extent(means: np.ndarray) -> float:
    """The diagonal of the bounding box of the splat centres."""
    return float(np.linalg.norm(means.max(axis=0).astype(np.float64) - means.min(axis=0)))


def attribute_errors(original: SplatSet, decoded: SplatSet) -> dict[str, float]:
    """Errors between matching splats (``decoded[i]`` is a copy of ``original[i]``).

    position: centre distance relative to the scene extent (bounding-box diagonal);
    colour: absolute error of the base colour 0.5 + C0 * sh0 in [0, 1] units;
    opacity: absolute error of sigmoid(opacity); scale: relative error of exp(scale);
    rotation: angle between the unit quaternions, in degrees; sh_rest: RMS error.
    """
    if original.count != decoded.count:
        raise ValueError("splat sets differ in size")
    extent = max(scene_extent(original.means), 1e-12)
    position = np.linalg.norm(decoded.means.astype(np.float64) - original.means, axis=1) / extent
    colour = np.abs((decoded.sh0.astype(np.float64) - original.sh0) * SH_C0)
    opacity = np.abs(_sigmoid(decoded.opacities) - _sigmoid(original.opacities))
    scale = np.abs(np.expm1(decoded.scales.astype(np.float64) - original.scales))
    dot = np.abs(np.sum(_unit(decoded.quats) * _unit(original.quats), axis=1))
    angle = np.degrees(2.0 * np.arccos(np.clip(dot, 0.0, 1.0)))
    result = {
        "position_rel_mean": float(position.mean()),
        "position_rel_max": float(position.max()),
        "colour_mean": float(colour.mean()),
        "opacity_mean": float(opacity.mean()),
        "scale_rel_mean": float(scale.mean()),
        "rotation_deg_mean": float(angle.mean()),
    }
    if original.shN.shape[1]:
        result["sh_rest_rms"] = float(np.sqrt(np.mean((decoded.shN.astype(np.float64) - original.shN) ** 2)))
    return result
