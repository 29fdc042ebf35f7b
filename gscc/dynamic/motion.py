"""The motion-model interface and its registry.

A motion model holds per-splat arrays (one row per splat, kept aligned with the static
attributes when splats are selected) and shared arrays (the same for every splat, e.g. a
motion basis). Evaluated at a time t it returns what changes: a position offset, a rotation
offset (added to the rest quaternion, then normalised) and an opacity factor in [0, 1].
A new model is one file defining a :class:`Motion` subclass plus one line in ``MOTIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar, Optional

import numpy as np


@dataclass
class MotionAt:
    """What a motion model gives at one time: each ``None`` means "unchanged"."""

    offset: Optional[np.ndarray] = None  # (N, 3) added to the rest means
    rotation: Optional[np.ndarray] = None  # (N, 4) added to the rest quaternions
    opacity: Optional[np.ndarray] = None  # (N,) factor in [0, 1] on the rest opacity


class Motion:
    """Base class: subclasses are dataclasses whose fields are arrays.

    ``per_splat`` names the fields with one row per splat; every other field is shared.
    """

    kind: ClassVar[str] = ""
    per_splat: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        for f in fields(self):
            setattr(self, f.name, np.ascontiguousarray(getattr(self, f.name), dtype=np.float32))
        self.validate()

    # -- to implement -------------------------------------------------------------------
    def validate(self) -> None:
        """Raise ValueError for arrays of the wrong shape."""
        raise NotImplementedError

    def evaluate(self, t: float) -> MotionAt:
        raise NotImplementedError

    def describe(self) -> dict:
        """The model's settings as plain values (e.g. motion degree, basis size)."""
        raise NotImplementedError

    # -- shared behaviour ---------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(getattr(self, self.per_splat[0]).shape[0])

    def arrays(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def subset(self, index: np.ndarray) -> "Motion":
        values = self.arrays()
        for name in self.per_splat:
            values[name] = values[name][index]
        return type(self)(**values)

    def finite_rows(self) -> np.ndarray:
        """(N,) bool: splats whose per-splat motion values are all finite."""
        ok = np.ones(self.count, dtype=bool)
        for name in self.per_splat:
            a = getattr(self, name)
            ok &= np.isfinite(a.reshape(len(a), -1)).all(axis=1)
        return ok

    def shared_finite(self) -> bool:
        return all(bool(np.isfinite(v).all()) for k, v in self.arrays().items() if k not in self.per_splat)

    def visibility(self, times: np.ndarray) -> np.ndarray:
        """(N,) the largest opacity factor over ``times`` (1 for models without one)."""
        best = np.zeros(self.count, dtype=np.float32)
        for t in np.asarray(times, dtype=np.float64).reshape(-1):
            factor = self.evaluate(float(t)).opacity
            if factor is None:
                return np.ones(self.count, dtype=np.float32)
            best = np.maximum(best, factor)
        return best
