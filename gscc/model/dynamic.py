"""What the dynamic representations share: splats at rest plus a motion model, evaluated in
torch at a time t into the per-splat tensors of a static representation.

A dynamic model's ``params`` hold every splat at rest (the static entries of its colour
model: ``means``, ``scales``, ``quats``, ``opacities`` and ``sh0``/``shN`` or ``features``)
beside its motion entries. :meth:`DynamicModel.at_time` gives the static tensors at a
normalised time t, differentiably; the colour model (:class:`VanillaModel` for
``colour=sh``, :class:`FeatureModel` for ``colour=features``, sharing the same
``ParameterDict``) renders them with the ordinary backends. A dynamic scene at time t is a
static splat set; the model only adds time on top.

Export: :meth:`DynamicModel.export_dynamic` gives a numpy :class:`gscc.dynamic.DynamicSplats`
(the static export of the colour model at rest plus the :class:`gscc.dynamic.Motion` of the
same parameterisation), which ``.splatv`` and the dynamic ``.ply`` carry.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from ..cameras import Camera
from ..dynamic import DynamicSplats, Motion
from ..render import RenderOutput
from .base import DEFAULT_NEAR, ModelConfig, Params, Representation, to_parameter_dict
from .features import FeatureModel
from .vanilla import VanillaModel

COLOUR_MODELS: dict[str, type[Representation]] = {"sh": VanillaModel, "features": FeatureModel}
GEOMETRY = ("means", "scales", "quats", "opacities")
LOG_OPACITY_CEILING = -1e-12  # keeps log(1 - opacity) finite for a fully opaque splat


def faded_logits(logits: torch.Tensor, log_factor: torch.Tensor) -> torch.Tensor:
    """logit(sigmoid(logits) · exp(log_factor)), computed in log space (a factor near zero
    gives a very negative logit, not -inf), differentiable in both."""
    log_opacity = (torch.nn.functional.logsigmoid(logits) + log_factor).clamp(max=LOG_OPACITY_CEILING)
    return log_opacity - torch.log(-torch.expm1(log_opacity))


class DynamicModel(Representation):
    """Base of the dynamic representations (see the module docstring). Subclasses name
    their per-splat ``motion_names``, create them in :meth:`motion_tensors`, evaluate them
    in :meth:`at_time` and export them with :meth:`motion`."""

    dynamic = True
    motion_names: tuple[str, ...] = ()
    param_names = GEOMETRY  # the colour entries depend on config.colour

    def __init__(self, params: torch.nn.ParameterDict, config: ModelConfig) -> None:
        colour_cls = COLOUR_MODELS[config.colour]
        self.param_names = tuple(dict.fromkeys(colour_cls.param_names + self.motion_names))
        super().__init__(params, config)
        self.colour_model = colour_cls(params, config)  # the same ParameterDict

    @classmethod
    def create(
        cls, points: np.ndarray, colors: np.ndarray, config: ModelConfig, times: Optional[np.ndarray] = None,
        still: Optional[np.ndarray] = None,
    ) -> "DynamicModel":
        """Splats at rest at ``points`` (colour model's initialisation), each centred in time
        at its entry of ``times`` (normalised; 0.5 when None), with no motion; ``still``
        (bool per point, optional) marks points of the still background, seen at every time."""
        colour = COLOUR_MODELS[config.colour].create(points, colors, config)
        tensors = {name: p.detach().clone() for name, p in colour.params.items()}
        n = tensors["means"].shape[0]
        if times is None:
            times = np.full(n, 0.5, dtype=np.float32)
        times = np.asarray(times, dtype=np.float32).reshape(-1)
        if times.shape != (n,) or not np.isfinite(times).all():
            raise ValueError(f"initial point times must be {n} finite values, got shape {times.shape}")
        if still is None:
            still = np.zeros(n, dtype=bool)
        still = np.asarray(still, dtype=bool).reshape(-1)
        if still.shape != (n,):
            raise ValueError(f"the still-point mask has shape {still.shape}, expected ({n},)")
        tensors.update(cls.motion_tensors(n, torch.from_numpy(times.copy()), torch.from_numpy(still.copy()), config))
        model = cls(to_parameter_dict(tensors), config)
        model.load_shared_state({**colour.shared_state(), **model.initial_shared_state()})
        return model

    @classmethod
    def motion_tensors(
        cls, count: int, times: torch.Tensor, still: torch.Tensor, config: ModelConfig
    ) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def initial_shared_state(self) -> dict[str, np.ndarray]:
        return {}

    # ---- time ----------------------------------------------------------------------------

    def at_time(self, params: Params, time: float) -> dict[str, torch.Tensor]:
        """The static per-splat tensors (the colour model's entries) at normalised ``time``."""
        raise NotImplementedError

    def motion(self, params: Optional[Params] = None) -> Motion:
        """The trained motion as a numpy :class:`gscc.dynamic.Motion`."""
        raise NotImplementedError

    def render(
        self, camera: Camera, step: int, *, background, backend: str = "auto", params: Optional[Params] = None,
        time: Optional[float] = None, near: float = DEFAULT_NEAR,
    ) -> RenderOutput:
        if time is None:
            raise ValueError(f"the {self.name} representation renders at a time; none was given")
        static = self.at_time(self.values(params), float(time))
        return self.colour_model.render(camera, step, background=background, backend=backend, params=static, near=near)

    # ---- the colour model's shared weights --------------------------------------------------

    def shared_parameters(self) -> dict[str, list[torch.nn.Parameter]]:
        return self.colour_model.shared_parameters()

    def shared_learning_rates(self, lrs: dict[str, float]) -> dict[str, float]:
        return self.colour_model.shared_learning_rates(lrs)

    def shared_modules(self) -> list[torch.nn.Module]:
        return self.colour_model.shared_modules()

    def shared_state(self) -> dict[str, np.ndarray]:
        return self.colour_model.shared_state()

    def load_shared_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.colour_model.load_shared_state(arrays)

    # ---- export --------------------------------------------------------------------------

    def export(self, params: Optional[Params] = None):
        """The splats at rest as SH splats (the static part of :meth:`export_dynamic`)."""
        return self.colour_model.export(self.values(params))

    def export_scene(self, params: Optional[Params] = None):
        return self.colour_model.export_scene(self.values(params))

    def export_dynamic(self, params: Optional[Params] = None) -> DynamicSplats:
        """The trained splats at rest with their motion (see the module docstring)."""
        p = self.values(params)
        return DynamicSplats(self.colour_model.export_scene(p), self.motion(p))
