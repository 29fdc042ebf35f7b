"""What every representation shares: its settings, the initial splat geometry and the
interface the trainer talks to (see :class:`Representation`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import numpy as np
import torch

from ..cameras import Camera
from ..errors import InputError
from ..render import Gaussians, RenderOutput
from ..render.backends import RasterSettings
from ..splats import FeatureSplats, SplatSet

DEFAULT_NEAR = RasterSettings.near

# The per-splat tensors of a representation by name: its ParameterDict, or a plain dict of
# tensors standing in for it (see Representation.values).
Params = Mapping[str, torch.Tensor]

COLOURS = ("sh", "features")  # the colour models a dynamic representation can carry

# Nearest neighbours averaged for the initial scale of a splat (as 3DGS: the three closest).
INIT_NEIGHBOURS = 3


@dataclass(frozen=True)
class ModelConfig:
    """The settings of a representation (a part of the trainer's ``TrainConfig``)."""

    sh_degree: int = 3  # vanilla: the highest SH degree trained
    sh_degree_interval: int = 1000  # one more SH degree every this many steps, from 0
    init_opacity: float = 0.1  # initial opacity of every splat (activated)
    init_scale: float = 1.0  # initial scale: this times the mean distance to the neighbours
    feature_dim: int = 8  # features: channels per splat
    mlp_hidden: int = 64  # features: width of the decoder's hidden layers
    mlp_layers: int = 2  # features: number of hidden layers
    view_sh_degree: int = 3  # features: view direction encoded by the SH basis up to this degree
    bake_sh_degree: int = 3  # features: SH degree of the exported (baked) colours
    bake_directions: int = 64  # features: directions the colour is sampled at for baking
    colour: str = "sh"  # dynamic models: per-splat SH ("sh") or features with the MLP ("features")
    motion_degree: int = 3  # stg: degree of the polynomial motion (3: 9 coefficients)
    init_t_scale: float = 0.0  # stg: initial log temporal scale (0: the segment's length)
    basis_count: int = 10  # motion-basis: shared trajectories
    basis_knots: int = 50  # motion-basis: knots per trajectory over [0, 1]

    def __post_init__(self) -> None:
        if not 0 <= self.sh_degree <= 3:
            raise InputError(f"sh_degree must lie in 0..3, got {self.sh_degree}")
        if self.sh_degree_interval < 1:
            raise InputError(f"sh_degree_interval must be at least 1, got {self.sh_degree_interval}")
        if not 0.0 < self.init_opacity < 1.0:
            raise InputError(f"init_opacity must lie strictly between 0 and 1, got {self.init_opacity}")
        if not self.init_scale > 0:
            raise InputError(f"init_scale must be positive, got {self.init_scale}")
        if self.feature_dim < 1 or self.mlp_hidden < 1 or self.mlp_layers < 1:
            raise InputError("feature_dim, mlp_hidden and mlp_layers must be at least 1")
        for name in ("view_sh_degree", "bake_sh_degree"):
            if not 0 <= getattr(self, name) <= 3:
                raise InputError(f"{name} must lie in 0..3, got {getattr(self, name)}")
        if self.colour not in COLOURS:
            raise InputError(f"colour must be one of {', '.join(COLOURS)}, got {self.colour!r}")
        if not 0 <= self.motion_degree <= 3:
            raise InputError(f"motion_degree must lie in 0..3, got {self.motion_degree}")
        if not np.isfinite(self.init_t_scale):
            raise InputError(f"init_t_scale must be finite, got {self.init_t_scale}")
        if self.basis_count < 1 or self.basis_knots < 1:
            raise InputError("basis_count and basis_knots must be at least 1")
        if self.bake_directions < (self.bake_sh_degree + 1) ** 2:
            raise InputError(
                f"bake_directions must be at least {(self.bake_sh_degree + 1) ** 2} for SH degree {self.bake_sh_degree}"
            )


def mean_neighbour_distance(points: np.ndarray, k: int = INIT_NEIGHBOURS) -> np.ndarray:
    """(M,) root mean squared distance of each point to its ``k`` nearest other points."""
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64)
    m = len(points)
    if m < 2:
        return np.full(m, 0.01)
    k = min(k, m - 1)
    distances, _ = cKDTree(points).query(points, k=k + 1)
    d2 = np.square(distances[:, 1:]).mean(axis=1)
    d = np.sqrt(d2)
    floor = max(float(np.median(d)) * 1e-3, 1e-7)  # duplicated points: keep the log finite
    return np.maximum(d, floor)


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


def geometry_params(points: np.ndarray, config: ModelConfig) -> dict[str, torch.Tensor]:
    """Initial ``means``, ``scales`` (log), ``quats`` (identity) and ``opacities`` (logit)."""
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 2 or points.shape[1] != 3 or len(points) == 0:
        raise InputError(f"initial points must be a non-empty (M, 3) array, got shape {points.shape}")
    if not np.isfinite(points).all():
        raise InputError("initial points hold non-finite values")
    n = len(points)
    scale = np.log(mean_neighbour_distance(points) * config.init_scale).astype(np.float32)
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1.0
    return {
        "means": torch.from_numpy(points.copy()),
        "scales": torch.from_numpy(np.repeat(scale[:, None], 3, axis=1)),
        "quats": quats,
        "opacities": torch.full((n,), logit(config.init_opacity)),
    }


def check_colors(colors: np.ndarray, count: int) -> np.ndarray:
    colors = np.asarray(colors, dtype=np.float32)
    if colors.shape != (count, 3):
        raise InputError(f"initial colours have shape {colors.shape}, expected ({count}, 3)")
    return np.clip(colors, 0.0, 1.0)


def to_parameter_dict(tensors: dict[str, torch.Tensor]) -> torch.nn.ParameterDict:
    return torch.nn.ParameterDict(
        {name: torch.nn.Parameter(t.detach().clone().float().contiguous()) for name, t in tensors.items()}
    )


class Representation:
    """Splats being trained: per-splat ``params`` plus, for some, shared modules (an MLP).

    The trainer relies on exactly this interface:

    - ``params``: the per-splat ``ParameterDict`` (see :mod:`gscc.train`); strategies
      add, remove and relocate its rows.
    - :meth:`learning_rates`: the initial learning rate of every entry of ``params``.
    - :meth:`shared_parameters` / :meth:`shared_learning_rates`: trainable tensors that are
      not per splat (one optimizer per name, untouched by the strategies).
    - ``position_entries``: the names, per splat or shared, whose learning rates decay as the
      positions' (``means``); the other shared ones decay as the colour decoder's.
    - :meth:`render`: an RGB render of one camera at a training step, with its render info.
    - :meth:`export`: a :class:`SplatSet` for ``splats.ply`` and the codec.
    - :meth:`shared_state` / :meth:`load_shared_state`: named float32 arrays of the shared
      modules (the checkpoint; later the ``.gsc`` weights chunk).
    """

    name = ""
    # names of the per-splat entries, in the order they are created
    param_names: tuple[str, ...] = ()
    # entries (per-splat or shared) that place splats in space: their learning rates follow
    # the position schedule of ``means`` (exponential decay to ``means_lr_final``)
    position_entries: tuple[str, ...] = ("means",)

    def __init__(self, params: torch.nn.ParameterDict, config: ModelConfig) -> None:
        missing = [n for n in self.param_names if n not in params]
        if missing:
            raise ValueError(f"{self.name} parameters lack {', '.join(missing)}")
        self.params = params
        self.config = config

    @property
    def count(self) -> int:
        return int(self.params["means"].shape[0])

    def sh_degree_at(self, step: int) -> int:
        """The SH degree in use at ``step`` (0-based): one more every interval, up to the max."""
        return min(step // self.config.sh_degree_interval, self.config.sh_degree)

    def values(self, params: Optional[Params] = None) -> Params:
        """``params`` (the tensors to render or export instead of the trained ones, e.g.
        with compression simulation or masks applied: same names and shapes) or, when
        None, the trained ``self.params``."""
        return self.params if params is None else params

    def geometry(self, params: Optional[Params] = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Activated means, quats, scales (exp) and opacities (sigmoid)."""
        p = self.values(params)
        return p["means"], p["quats"], torch.exp(p["scales"]), torch.sigmoid(p["opacities"])

    def gaussians(self, step: int, params: Optional[Params] = None) -> Gaussians:
        raise NotImplementedError

    def render(
        self, camera: Camera, step: int, *, background, backend: str = "auto", params: Optional[Params] = None,
        time: Optional[float] = None, near: float = DEFAULT_NEAR,
    ) -> RenderOutput:
        """``time``: the normalised time of a dynamic model (static models ignore it);
        ``near``: the near plane (splats closer to the camera are not drawn)."""
        raise NotImplementedError

    def shared_modules(self) -> list[torch.nn.Module]:
        """The torch modules holding the shared parameters (moved with the model)."""
        return []

    def learning_rates(self, lrs: dict[str, float]) -> dict[str, float]:
        """The learning rate of every entry of ``params``, taken from ``lrs`` by name."""
        missing = [n for n in self.params if n not in lrs]
        if missing:
            raise ValueError(f"no learning rate for {', '.join(missing)}")
        return {n: float(lrs[n]) for n in self.params}

    def shared_parameters(self) -> dict[str, list[torch.nn.Parameter]]:
        return {}

    def shared_learning_rates(self, lrs: dict[str, float]) -> dict[str, float]:
        return {}

    def shared_state(self) -> dict[str, np.ndarray]:
        return {}

    def load_shared_state(self, arrays: dict[str, np.ndarray]) -> None:
        if arrays:
            raise ValueError(f"{self.name} has no shared weights, got {', '.join(arrays)}")

    def export(self, params: Optional[Params] = None) -> SplatSet:
        """The trained splats as a standard SH SplatSet (what a `.ply` holds)."""
        raise NotImplementedError

    def export_scene(self, params: Optional[Params] = None) -> SplatSet | FeatureSplats:
        """The trained splats as the `.gsc` file should carry them (default: :meth:`export`)."""
        return self.export(params)

    def geometry_arrays(self, params: Optional[Params] = None) -> dict[str, np.ndarray]:
        p = self.values(params)
        return {name: array(p[name]) for name in ("means", "scales", "quats", "opacities")}


def array(t: torch.Tensor) -> np.ndarray:
    """A tensor as a float32 numpy array (detached, on the CPU)."""
    return t.detach().cpu().float().numpy()


def render_background(background, channels: int) -> Optional[torch.Tensor]:
    if background is None:
        return None
    bg = torch.as_tensor(background, dtype=torch.float32).reshape(-1)
    if bg.numel() == 1:
        bg = bg.expand(channels)
    return bg
