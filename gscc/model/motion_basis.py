"""Shared motion bases (DynMF / Shape of Motion style): ``basis_count`` trajectories shared
by every splat, each splat moving by its own mix of them (``--representation motion-basis``).

Per-splat entries beside the colour model's (see :mod:`.dynamic`): ``coeffs`` (N, B). The
shared ``basis`` (B, K, 3) samples each trajectory's displacement at K = ``basis_knots``
uniform knots over [0, 1], linear in between, as :class:`gscc.dynamic.MotionBasis`
evaluates it: means = rest + coeffs @ basis(t). Rotation and opacity do not change over
time. The basis starts at zero and the coefficients small and random (the torch RNG), so
that both receive gradients from the first step.

Training (see :data:`MotionBasisModel.position_entries` and :func:`knots_for_frames`): the
basis and the coefficients place splats in space, so their learning rates decay with the
positions'; a segment's trajectories get a knot every few frames, not one per frame.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..dynamic import MotionBasis
from ..dynamic.motion_basis import knot_weights
from .base import ModelConfig, Params, array
from .dynamic import DynamicModel

INIT_COEFF_STD = 0.1
BASIS = "basis"
KNOT_SPACING = 5  # frames between two knots of a trajectory when the knot count is not given


def knots_for_frames(frames: int) -> int:
    """The knot count of a segment of ``frames`` frames: one knot every ``KNOT_SPACING``
    frames, both ends included (a segment of one frame: one knot).

    Each knot is trained only by the views of the frames around it, so a knot per frame
    leaves every knot a few dozen noisy single-view updates and the shared trajectories
    jitter from frame to frame, moving every splat with them; a knot every few frames
    averages the views of those frames and keeps the trajectories smooth (linear between
    the knots), as smooth as STG's per-splat cubic polynomials over a segment are."""
    if frames <= 1:
        return 1
    return -(-(frames - 1) // KNOT_SPACING) + 1


class BasisModule(torch.nn.Module):
    def __init__(self, count: int, knots: int) -> None:
        super().__init__()
        self.basis = torch.nn.Parameter(torch.zeros(count, knots, 3))

    def trajectories(self, time: float) -> torch.Tensor:
        """(B, 3) every trajectory's displacement at ``time``."""
        lo, hi, w = knot_weights(time, self.basis.shape[1])
        return (1.0 - w) * self.basis[:, lo] + w * self.basis[:, hi]


class MotionBasisModel(DynamicModel):
    name = "motion-basis"
    motion_names = ("coeffs",)
    # a splat's place at t is rest + coeffs @ basis(t): all three decay as positions do
    position_entries = ("means", "coeffs", BASIS)

    def __init__(self, params: torch.nn.ParameterDict, config: ModelConfig) -> None:
        super().__init__(params, config)
        if params["coeffs"].shape[1:] != (config.basis_count,):
            raise ValueError(f"coeffs have shape {tuple(params['coeffs'].shape)}, expected (N, {config.basis_count})")
        self.basis = BasisModule(config.basis_count, config.basis_knots)

    @classmethod
    def motion_tensors(
        cls, count: int, times: torch.Tensor, still: torch.Tensor, config: ModelConfig
    ) -> dict[str, torch.Tensor]:
        coeffs = torch.randn(count, config.basis_count) * INIT_COEFF_STD
        coeffs[still] = 0.0  # the still background starts still
        return {"coeffs": coeffs}

    def at_time(self, params: Params, time: float) -> dict[str, torch.Tensor]:
        static = dict(params.items())
        static["means"] = params["means"] + params["coeffs"] @ self.basis.trajectories(time)
        return static

    def motion(self, params: Optional[Params] = None) -> MotionBasis:
        return MotionBasis(array(self.values(params)["coeffs"]), array(self.basis.basis))

    # the basis is a shared weight beside the colour model's
    def shared_parameters(self) -> dict[str, list[torch.nn.Parameter]]:
        return {**super().shared_parameters(), BASIS: [self.basis.basis]}

    def shared_learning_rates(self, lrs: dict[str, float]) -> dict[str, float]:
        return {**super().shared_learning_rates(lrs), BASIS: float(lrs[BASIS])}

    def shared_modules(self) -> list[torch.nn.Module]:
        return super().shared_modules() + [self.basis]

    def shared_state(self) -> dict[str, np.ndarray]:
        return {**super().shared_state(), BASIS: array(self.basis.basis).copy()}

    def load_shared_state(self, arrays: dict[str, np.ndarray]) -> None:
        arrays = dict(arrays)
        basis = arrays.pop(BASIS, None)
        super().load_shared_state(arrays)
        if basis is not None:
            basis = torch.as_tensor(np.asarray(basis, dtype=np.float32))
            if basis.shape != self.basis.basis.shape:
                raise ValueError(f"basis has shape {tuple(basis.shape)}, expected {tuple(self.basis.basis.shape)}")
            with torch.no_grad():
                self.basis.basis.copy_(basis)
