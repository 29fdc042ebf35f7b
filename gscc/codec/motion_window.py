"""The motion window (spec/dynamic.md, "Motion window"): a per-splat rescaling of the
motion planes that suits what renders see.

An STG splat is visible only within a few temporal scales of its centre (its opacity is
multiplied by exp(-(dt / s)^2), s = exp(t_scale)), so its motion polynomial only matters
for |dt| up to about 2 s, and never beyond the segment (|dt| <= 1). With the splat's
half-window w = clip(width * s, floor, 1), the dt^k coefficient is coded as c_k * w^k
(omega as omega * w): a uniform quantizer then makes the same *displacement* error over
the time each splat is seen, instead of spending levels on splats that vanish quickly.
The decoder divides back, using the window of the decoded t_scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import HeaderError

MAX_WIDTH = 1e6


@dataclass(frozen=True)
class MotionWindow:
    width: float  # half-window in temporal scales
    floor: float  # smallest half-window, in local time

    def __post_init__(self) -> None:
        if not (np.isfinite(self.width) and 0.0 < self.width <= MAX_WIDTH):
            raise ValueError(f"motion window width must lie in (0, {MAX_WIDTH:g}]")
        if not (np.isfinite(self.floor) and 0.0 < self.floor <= 1.0):
            raise ValueError("motion window floor must lie in (0, 1]")

    def to_header(self) -> dict:
        return {"width": float(self.width), "floor": float(self.floor)}

    @staticmethod
    def from_header(entry: object) -> "MotionWindow":
        if not isinstance(entry, dict) or set(entry) != {"width", "floor"} or not all(
                isinstance(entry[k], float) for k in ("width", "floor")):
            raise HeaderError("motion window must be a map of the floats width and floor")
        try:
            return MotionWindow(entry["width"], entry["floor"])
        except ValueError as exc:
            raise HeaderError(str(exc)) from None

    def half_window(self, log_scale: np.ndarray) -> np.ndarray:
        """(N,) float64 half-windows of splats whose decoded (float32) log temporal
        scales are ``log_scale``."""
        with np.errstate(over="ignore"):
            s = np.exp(np.asarray(log_scale, np.float32).reshape(-1).astype(np.float64))
        return np.clip(self.width * s, self.floor, 1.0)

    def apply(self, values: np.ndarray, powers: tuple[int, ...], window: np.ndarray) -> np.ndarray:
        """Encoder side: (N, C) values times window^power per channel (float64)."""
        return np.asarray(values, np.float64) * window[:, None] ** np.asarray(powers, np.float64)[None, :]

    def remove(self, coded: np.ndarray, powers: tuple[int, ...], window: np.ndarray) -> np.ndarray:
        """Decoder side: decoded (float32) values divided by window^power, as float32."""
        scale = window[:, None] ** np.asarray(powers, np.float64)[None, :]
        return (np.asarray(coded, np.float32).astype(np.float64) / scale).astype(np.float32)
