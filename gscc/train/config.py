"""The trainer's typed configuration, its named presets and ``key=value`` overrides.

A config is built once, from a preset and overrides (:func:`build_config`), and saved with
the run (``config.json``, :meth:`TrainConfig.to_dict`); :meth:`TrainConfig.from_dict` reads
it back. Strategy settings live in ``strategy_options``, one map per strategy name, checked
against the fields of that strategy's class (``gscc.train.strategy``); an override
``strategy.FIELD=VALUE`` sets a field of the strategy chosen by the config.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..errors import InputError

# What a strategy starts its splats with unless the config says otherwise (as gsplat's
# simple_trainer): (opacity, scale factor on the mean neighbour distance).
STRATEGY_INIT = {"default": (0.1, 1.0), "mcmc": (0.5, 0.1)}
BACKENDS = ("auto", "taichi", "gsplat", "reference")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run (see the field comments; learning rates as 3DGS)."""

    # the run
    iterations: int = 30_000
    time_budget: float = 0.0  # seconds of optimisation steps after which the run ends early (0: none)
    seed: int = 0
    representation: str = "vanilla"  # gscc.model.REPRESENTATIONS
    strategy: str = "default"  # gscc.train.strategy.STRATEGIES
    strategy_options: dict = field(default_factory=dict)  # {strategy name: {field: value}}
    backend: str = "auto"  # renderer backend
    # the data
    downscale: float = 1.0  # divide the image size by this (4: 800x800 becomes 200x200)
    resolution: Optional[int] = None  # or: image width in pixels (height follows the aspect)
    background: tuple = (1.0, 1.0, 1.0)  # composited behind the images and the renders
    test_every: int = 8  # every N-th view is held out for evaluation
    max_views: Optional[int] = None  # use at most this many views (before the split)
    init_points: int = 100_000  # random initial points when the dataset has none
    init_opacity: Optional[float] = None  # None: by strategy (STRATEGY_INIT)
    init_scale: Optional[float] = None  # None: by strategy (STRATEGY_INIT)
    # the loss
    ssim_lambda: float = 0.2  # (1 - λ)·L1 + λ·(1 - SSIM)
    # the representation
    sh_degree: int = 3
    sh_degree_interval: int = 1000
    feature_dim: int = 8
    mlp_hidden: int = 64
    mlp_layers: int = 2
    view_sh_degree: int = 3
    bake_sh_degree: int = 3
    bake_directions: int = 64
    colour: str = "sh"  # dynamic representations: sh | features (STG's features and MLP)
    motion_degree: int = 3  # stg: polynomial motion degree (3: 9 coefficients)
    init_t_scale: float = 0.0  # stg: initial log temporal scale (0: one segment long)
    basis_count: int = 10  # motion-basis: shared trajectories
    basis_knots: int = 0  # motion-basis: knots per trajectory (0: one every 5 frames of the segment)
    # dynamic scenes (multi-view video)
    frames: Optional[str] = None  # START:END (either may be empty), the frame range trained (None: every frame)
    gof: int = 0  # groups of frames: segments of this many frames, trained independently (0: one)
    init: str = "auto"  # initial points of a dynamic dataset: auto | triangulate | random | none (gscc.data.dynamic)
    init_every: int = 10  # triangulate the cameras of every N-th frame of the range
    eval_near: Optional[float] = None  # near plane of the evaluation renders (None: the dataset's default)
    eval_frame_stride: int = 10  # periodic evaluations score every N-th test frame (the final one all)
    video_fps: float = 0.0  # frame rate of the test-camera videos (0: the dataset's)
    # learning rates (Adam, one per parameter)
    means_lr: float = 1.6e-4  # times the scene scale, decaying exponentially...
    means_lr_final: float = 0.01  # ...to this fraction at the last iteration
    scales_lr: float = 5e-3
    quats_lr: float = 1e-3
    opacities_lr: float = 5e-2
    sh0_lr: float = 2.5e-3
    shN_lr: float = 2.5e-3 / 20
    features_lr: float = 5e-3
    mlp_lr: float = 2e-3  # the feature decoder, decaying exponentially...
    mlp_lr_final: float = 0.1  # ...to this fraction at the last iteration
    motion_lr: float = 2.8e-4  # stg polynomial motion, times the scene scale
    omega_lr: float = 1e-4  # stg angular velocity
    t_center_lr: float = 1e-4  # stg temporal centre
    t_scale_lr: float = 0.03  # stg log temporal scale
    coeffs_lr: float = 5e-3  # motion-basis coefficients (decays as the means')
    basis_lr: float = 8e-4  # motion-basis trajectories, times the scene scale (decays as the means')
    # evaluation and outputs
    eval_every: int = 7_000  # evaluate on the held-out views every N steps (0: only at the end)
    save_every: int = 7_000  # write ckpt.pt every N steps (0: only at the end)
    test_renders: int = 32  # at most this many held-out views written to renders/ next to their ground truth
    codec_preset: str = "default"  # gscc.codec.config preset for scene.gsc...
    codec_sort: Optional[str] = None  # ...with this sort instead of the preset's (plas, none)
    codec_bits: Optional[int] = None  # ...with this bit depth for every attribute but positions (4..8)
    codec_prune: Optional[float] = None  # ...pruning splats below this opacity (0: none)
    codec_coder: Optional[str] = None  # ...with this lossless coder (auto, png, ans, raw)
    codec_sh: Optional[str] = None  # ...with this SH codec (vq, scalar)
    simulate_preset: Optional[str] = None  # codec preset whose bit depths and domains quantization is simulated at (None: codec_preset)
    learned_coding: bool = True  # code entropy-constrained attributes with their learned distributions
    # compression in the loop (gscc.train.compression); all off by default
    quantizer: str = "none"  # none | noise | ste: quantization simulated at the codec's bit depths...
    simulate: str = "scales,quats,opacities,sh0,shN,features,motion,omega,t_center,t_scale,coeffs"  # ...on these attributes (those the model has)
    simulate_start: int = 0  # ...from this step
    entropy_model: str = "none"  # none | factorized | gaussian: bits of the simulated attributes...
    rate_lambda: float = 0.0  # ...weighted into the loss: rate_lambda · Σ mean bits per element...
    entropy_start: int = 0  # ...from this step
    entropy_lr: float = 1e-3  # Adam learning rate of the entropy models
    rate_samples: int = 0  # splats drawn per step for the rate estimate (0: all)
    mask: str = "none"  # none | learnable | gradient (higher-order SH) | motion (dynamic), or several: learnable,motion (gscc.train.mask)
    mask_options: dict = field(default_factory=dict)  # {mask name: {field: value}}; CLI: mask.FIELD=VALUE

    def __post_init__(self) -> None:
        opacity, scale = STRATEGY_INIT.get(self.strategy, STRATEGY_INIT["default"])
        if self.init_opacity is None:
            object.__setattr__(self, "init_opacity", opacity)
        if self.init_scale is None:
            object.__setattr__(self, "init_scale", scale)
        _validate(self)
        object.__setattr__(self, "background", tuple(float(v) for v in self.background))
        options = {str(k): dict(v) for k, v in dict(self.strategy_options).items()}
        _check_strategy_options(options)
        # the chosen strategy's settings in full, so that config.json shows every value
        options[self.strategy] = strategy_settings(_strategy_class(self.strategy)(**options.get(self.strategy, {})))
        object.__setattr__(self, "strategy_options", options)
        masks = {str(k): dict(v) for k, v in dict(self.mask_options).items()}
        _check_component_options(masks, _mask_class, "mask")
        names = representation_entries(self.representation, self.colour)
        for name in mask_names(self.mask):
            mask = _mask_class(name)(**masks.get(name, {}))
            masks[name] = strategy_settings(mask)
            if not mask.attributes(names):
                raise InputError(f"the {name} mask acts on {mask.attribute!r}, which the {self.representation} representation lacks")
        object.__setattr__(self, "mask_options", masks)

    def learning_rates(self, scene_scale: float) -> dict[str, float]:
        """Initial learning rate per parameter name (``means`` scaled by the scene)."""
        return {
            "means": self.means_lr * scene_scale,
            "scales": self.scales_lr,
            "quats": self.quats_lr,
            "opacities": self.opacities_lr,
            "sh0": self.sh0_lr,
            "shN": self.shN_lr,
            "features": self.features_lr,
            "mlp": self.mlp_lr,
            "motion": self.motion_lr * scene_scale,
            "omega": self.omega_lr,
            "t_center": self.t_center_lr,
            "t_scale": self.t_scale_lr,
            "coeffs": self.coeffs_lr,
            "basis": self.basis_lr * scene_scale,
        }

    def model_config(self):
        from ..model import ModelConfig

        return ModelConfig(
            sh_degree=self.sh_degree,
            sh_degree_interval=self.sh_degree_interval,
            init_opacity=self.init_opacity,
            init_scale=self.init_scale,
            feature_dim=self.feature_dim,
            mlp_hidden=self.mlp_hidden,
            mlp_layers=self.mlp_layers,
            view_sh_degree=self.view_sh_degree,
            bake_sh_degree=self.bake_sh_degree,
            bake_directions=self.bake_directions,
            colour=self.colour,
            motion_degree=self.motion_degree,
            init_t_scale=self.init_t_scale,
            basis_count=self.basis_count,
            basis_knots=max(self.basis_knots, 1),
        )

    def frame_range(self) -> Optional[tuple[int, Optional[int]]]:
        """``frames`` as (start, end), end exclusive (None: to the last frame), or None."""
        from ..data.dynamic import parse_frames

        return None if self.frames is None else parse_frames(self.frames)

    def codec_config(self, name: Optional[str] = None):
        """The encoder settings for scene.gsc (or those of codec preset ``name``, with the
        same overrides)."""
        from ..codec.config import preset

        return preset(name or self.codec_preset).with_overrides(**self._codec_overrides())

    def dynamic_codec_config(self, name: Optional[str] = None):
        """The dynamic encoder's settings for a dynamic run's scene.gsc: the dynamic preset
        of the same name (gscc.codec.dynamic_config) with the same codec overrides (the bit
        depth ``codec_bits`` sets the static attributes' but positions', as for static runs);
        or those of dynamic codec preset ``name``."""
        from ..codec.dynamic_config import dynamic_preset

        config = dynamic_preset(name or self.codec_preset).with_overrides(**self._codec_overrides())
        # likewise it codes the motion plane as simulated, not as the probe renders would choose
        return config.with_overrides(motion_choices=()) if self.quantizer != "none" else config

    def simulation_codec_config(self, dynamic: bool):
        """The codec settings whose bit depths and domains compression in the loop simulates:
        ``simulate_preset``'s, by default the run's own codec's."""
        name = self.simulate_preset or self.codec_preset
        return self.dynamic_codec_config(name) if dynamic else self.codec_config(name)

    def _codec_overrides(self) -> dict[str, Any]:
        bits = {}
        if self.codec_bits is not None:
            bits = {name: self.codec_bits for name in ("scale_bits", "rotation_bits", "opacity_bits", "color_bits", "sh_bits")}
        # a run that simulates quantization codes at the bit depths it simulated, not at the
        # adaptive default's scene-chosen ones (gscc.codec.precision)
        simulated = "fixed" if self.quantizer != "none" else None
        return dict(sort=self.codec_sort, coder=self.codec_coder, sh_codec=self.codec_sh,
                    opacity_threshold=self.codec_prune, precision=simulated, **bits)

    def strategy_fields(self) -> dict[str, Any]:
        """The options of the chosen strategy given by this config."""
        return dict(self.strategy_options.get(self.strategy, {}))

    def make_strategy(self):
        """An instance of the chosen strategy with its options."""
        return _strategy_class(self.strategy)(**self.strategy_fields())

    def make_masks(self) -> list:
        """The chosen mask components with their options (none: empty)."""
        return [_mask_class(name)(**self.mask_options.get(name, {})) for name in mask_names(self.mask)]

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["background"] = list(self.background)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        if not isinstance(data, dict):
            raise InputError("a training config must be a JSON object")
        unknown = sorted(set(data) - set(FIELDS))
        if unknown:
            raise InputError(f"unknown config key {unknown[0]!r}")
        values = dict(data)
        if "background" in values:
            values["background"] = tuple(values["background"])
        return cls(**values)

    def differences(self, other: "TrainConfig") -> list[str]:
        """Names of the fields whose values differ between two configs."""
        a, b = self.to_dict(), other.to_dict()
        return [name for name in FIELDS if a[name] != b[name]]


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(TrainConfig)}
_HINTS = typing.get_type_hints(TrainConfig)


def _validate(c: TrainConfig) -> None:
    from ..model import REPRESENTATIONS

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise InputError(message)

    need(c.iterations >= 1, f"iterations must be at least 1, got {c.iterations}")
    need(math.isfinite(c.time_budget) and c.time_budget >= 0, f"time_budget must be a number of seconds >= 0, got {c.time_budget}")
    need(c.representation in REPRESENTATIONS, f"unknown representation {c.representation!r}; choose from {', '.join(REPRESENTATIONS)}")
    strategies = _strategies()
    need(c.strategy in strategies, f"unknown strategy {c.strategy!r}; choose from {', '.join(strategies)}")
    need(c.backend in BACKENDS, f"unknown backend {c.backend!r}; choose from {', '.join(BACKENDS)}")
    need(math.isfinite(c.downscale) and c.downscale >= 1, f"downscale must be at least 1 (no upsampling), got {c.downscale}")
    need(c.resolution is None or 1 <= c.resolution <= 1 << 15, f"resolution must be 1..32768 pixels, got {c.resolution}")
    need(c.resolution is None or c.downscale == 1.0, "give either downscale or resolution, not both")
    need(len(tuple(c.background)) == 3, "background needs three values (r, g, b)")
    need(all(0.0 <= float(v) <= 1.0 for v in c.background), "background values must lie in 0..1")
    need(c.test_every >= 0, f"test_every must not be negative, got {c.test_every}")
    need(c.max_views is None or c.max_views >= 2, f"max_views must be at least 2, got {c.max_views}")
    need(c.init_points >= 1, f"init_points must be at least 1, got {c.init_points}")
    need(0.0 <= c.ssim_lambda <= 1.0, f"ssim_lambda must lie in 0..1, got {c.ssim_lambda}")
    c.frame_range()
    need(c.gof >= 0, f"gof must not be negative, got {c.gof}")
    need(c.init in ("auto", "triangulate", "random", "none"), f"unknown init {c.init!r}; choose from auto, triangulate, random, none")
    need(c.init_every >= 1, f"init_every must be at least 1, got {c.init_every}")
    need(c.eval_near is None or (math.isfinite(c.eval_near) and c.eval_near > 0), f"eval_near must be a positive number, got {c.eval_near}")
    need(c.eval_frame_stride >= 1, f"eval_frame_stride must be at least 1, got {c.eval_frame_stride}")
    need(math.isfinite(c.video_fps) and c.video_fps >= 0, f"video_fps must be a number >= 0, got {c.video_fps}")
    need(c.basis_knots >= 0, f"basis_knots must not be negative, got {c.basis_knots}")
    for name in ("means_lr", "scales_lr", "quats_lr", "opacities_lr", "sh0_lr", "shN_lr", "features_lr", "mlp_lr",
                 "motion_lr", "omega_lr", "t_center_lr", "t_scale_lr", "coeffs_lr", "basis_lr"):
        value = getattr(c, name)
        need(math.isfinite(value) and value >= 0, f"{name} must be a finite number >= 0, got {value}")
    for name in ("means_lr_final", "mlp_lr_final"):
        value = getattr(c, name)
        need(0 < value <= 1, f"{name} must lie in (0, 1], got {value}")
    for name in ("eval_every", "save_every", "test_renders"):
        need(getattr(c, name) >= 0, f"{name} must not be negative, got {getattr(c, name)}")
    from ..codec.config import PRESETS as CODEC_PRESETS
    from ..codec.dynamic_config import DYNAMIC_PRESETS as DYNAMIC_CODEC_PRESETS

    dynamic = getattr(REPRESENTATIONS.get(c.representation), "dynamic", False)
    codec_presets = DYNAMIC_CODEC_PRESETS if dynamic else CODEC_PRESETS
    def known_preset(key: str) -> None:
        need(getattr(c, key) in codec_presets, f"unknown {key.replace('_', ' ')} {getattr(c, key)!r} for "
             f"{'dynamic' if dynamic else 'static'} scenes; choose from {', '.join(codec_presets)}")

    known_preset("codec_preset")
    if c.simulate_preset is not None:
        known_preset("simulate_preset")
    from ..codec.config import SORTERS

    need(c.codec_sort is None or c.codec_sort in SORTERS, f"unknown codec sort {c.codec_sort!r}; choose from {', '.join(SORTERS)}")
    from ..codec.config import CODER_CHOICES, SH_CODECS

    need(c.codec_bits is None or 4 <= c.codec_bits <= 8, f"codec_bits must lie in 4..8, got {c.codec_bits}")
    need(c.codec_prune is None or 0.0 <= c.codec_prune < 1.0, f"codec_prune must lie in [0, 1), got {c.codec_prune}")
    need(c.codec_coder is None or c.codec_coder in CODER_CHOICES, f"unknown codec coder {c.codec_coder!r}; choose from {', '.join(CODER_CHOICES)}")
    need(c.codec_sh is None or c.codec_sh in SH_CODECS, f"unknown codec SH codec {c.codec_sh!r}; choose from {', '.join(SH_CODECS)}")
    from .compression import ENTROPY_MODELS, attribute_list
    from .simulation import QUANTIZERS

    need(c.quantizer == "none" or c.quantizer in QUANTIZERS, f"unknown quantizer {c.quantizer!r}; choose from none, {', '.join(QUANTIZERS)}")
    need(c.entropy_model == "none" or c.entropy_model in ENTROPY_MODELS, f"unknown entropy model {c.entropy_model!r}; choose from none, {', '.join(ENTROPY_MODELS)}")
    masks = _masks()
    chosen = mask_names(c.mask)
    unknown = [name for name in chosen if name not in masks]
    need(not unknown, f"unknown mask {unknown[0] if unknown else ''!r}; choose from none, {', '.join(masks)} (or several: NAME,NAME)")
    need(len(set(chosen)) == len(chosen), f"a mask is named twice in {c.mask!r}")
    try:
        attribute_list(c.simulate)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    need(math.isfinite(c.rate_lambda) and c.rate_lambda >= 0, f"rate_lambda must be a finite number >= 0, got {c.rate_lambda}")
    need(math.isfinite(c.entropy_lr) and c.entropy_lr > 0, f"entropy_lr must be a finite number > 0, got {c.entropy_lr}")
    for name in ("simulate_start", "entropy_start", "rate_samples"):
        need(getattr(c, name) >= 0, f"{name} must not be negative, got {getattr(c, name)}")
    need(c.rate_lambda == 0 or c.entropy_model != "none", "rate_lambda needs an entropy_model")
    c.model_config()  # checks the representation's settings


def _strategies() -> dict:
    from .strategy import STRATEGIES

    return STRATEGIES


def _masks() -> dict:
    from .mask import MASKS

    return {name: cls for name, cls in MASKS.items() if name != "none" and cls is not None}


def mask_names(text: str) -> tuple[str, ...]:
    """``"learnable,motion"`` -> ("learnable", "motion"); ``"none"`` -> ()."""
    if str(text).strip() == "none":
        return ()
    return tuple(part.strip() for part in str(text).split(",") if part.strip())


def representation_entries(representation: str, colour: str) -> tuple[str, ...]:
    """The per-splat entries of a representation (a dynamic one's with its colour model's)."""
    from ..model import REPRESENTATIONS
    from ..model.dynamic import COLOUR_MODELS

    cls = REPRESENTATIONS[representation]
    if getattr(cls, "dynamic", False) and colour in COLOUR_MODELS:
        return tuple(COLOUR_MODELS[colour].param_names) + tuple(cls.motion_names)
    return tuple(cls.param_names)


def _mask_class(name: str):
    masks = _masks()
    if name not in masks:
        raise InputError(f"unknown mask {name!r}; choose from {', '.join(masks)}")
    return masks[name]


def _strategy_class(name: str):
    strategies = _strategies()
    if name not in strategies:
        raise InputError(f"unknown strategy {name!r}; choose from {', '.join(strategies)}")
    return strategies[name]


def strategy_field_types(name: str) -> dict[str, Any]:
    """Field name -> type annotation (or the default's type) of strategy ``name``."""
    return component_field_types(_strategy_class(name))


def component_field_types(cls) -> dict[str, Any]:
    """Field name -> type annotation (or the default's type) of a component class."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        hints = {}
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        defaults = {
            f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
        }
    else:
        parameters = list(inspect.signature(cls).parameters.values())
        names = [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        defaults = {p.name: p.default for p in parameters if p.default is not p.empty}
    return {n: hints.get(n, type(defaults[n]) if n in defaults and defaults[n] is not None else str) for n in names}


def strategy_settings(strategy) -> dict[str, Any]:
    """Every setting of a strategy object, by field name."""
    if dataclasses.is_dataclass(strategy):
        return {f.name: getattr(strategy, f.name) for f in dataclasses.fields(strategy) if f.init}
    parameters = inspect.signature(type(strategy)).parameters.values()
    return {p.name: getattr(strategy, p.name) for p in parameters if hasattr(strategy, p.name)}


def _check_strategy_options(options: dict) -> None:
    _check_component_options(options, _strategy_class, "strategy")


def _check_component_options(options: dict, lookup, kind: str) -> None:
    """Every {name: {field: value}} entry names a component and valid settings of it."""
    for name, values in options.items():
        cls = lookup(name)
        types = component_field_types(cls)
        for key in values:
            if key not in types:
                raise InputError(f"unknown {name} {kind} setting {key!r}; choose from {', '.join(types)}")
        try:
            cls(**values)
        except (TypeError, ValueError) as exc:
            raise InputError(f"invalid {name} {kind} settings: {exc}") from None


# ---- presets -----------------------------------------------------------------------------

# Each preset is a set of overrides of the TrainConfig defaults.
PRESETS: dict[str, dict[str, Any]] = {
    # 3DGS as published: 30k iterations at full resolution, 100k random points for
    # NeRF-synthetic scenes, adaptive density control with gsplat's default schedule.
    "default": {},
    # 3DGS-MCMC (Kheradmand et al., 2024) as gsplat runs it: up to a million splats.
    "mcmc": {"strategy": "mcmc", "strategy_options": {"mcmc": {"cap_max": 1_000_000}}},
    # This kind of machine (2 CPU cores, no GPU): images 200 pixels wide, fewer points and
    # a shorter schedule sized for about half an hour; works with either strategy.
    "cpu-fast": {
        "iterations": 6_000,
        "resolution": 200,
        "init_points": 20_000,
        "sh_degree_interval": 500,
        "eval_every": 1_000,
        "save_every": 1_000,
        "strategy_options": {
            "default": {"refine_start": 300, "refine_stop": 4_000, "reset_every": 2_000, "cap_max": 150_000},
            "mcmc": {"cap_max": 150_000, "refine_start": 300, "refine_stop": 4_500},
        },
    },
}


# The presets of dynamic scenes (multi-view video; chosen when the dataset is dynamic).
DYNAMIC_PRESETS: dict[str, dict[str, Any]] = {
    # Spacetime Gaussians on a GPU: full resolution, GOF 50, STG's densify-then-prune.
    "default": {
        "representation": "stg",
        "strategy": "stg",
        "iterations": 25_000,
        "gof": 50,
        "sh_degree": 3,
        "eval_every": 5_000,
        "save_every": 5_000,
    },
    # This kind of machine (2 CPU cores): 320 px wide (basketball at 320x180), GOF 50;
    # 4,500 steps at the 2.5-3.5 steps/s of one Taichi thread on basketball 0:50 (5,000-
    # 100,000 splats) take about 30 minutes per segment when the machine is not shared (at
    # 3,000 steps the test PSNR still rose 1 dB per 1,000; densification still stops at
    # 2,000). SH degree 0 (colour=sh):
    # in so short a schedule every training view is seen about twice, and view-dependent SH
    # fits the 27 training cameras at the held-out ones' cost: the degree-1 run scored 23.82
    # dB on the test cameras, and 24.06 dB with its degree-1 bands dropped (bench/README.md).
    "cpu-fast": {
        "representation": "stg",
        "strategy": "stg",
        "iterations": 4_500,
        "resolution": 320,
        "gof": 50,
        "sh_degree": 0,
        "sh_degree_interval": 500,
        "eval_every": 1_000,
        "save_every": 500,
        "strategy_options": {
            "stg": {"refine_start": 300, "refine_stop": 2_000, "prune_stop": 3_900, "cap_max": 150_000},
            "mcmc": {"cap_max": 150_000, "refine_start": 300, "refine_stop": 2_500},
        },
    },
}


# Compression presets: a second axis over the training presets (the schedule suits the
# machine; these choose what compression is trained and coded). Steps are given as
# fractions of the run's iterations (resolved by compression_overrides).
COMPRESSION_PRESETS: dict[str, dict[str, Any]] = {
    # no compression in the loop; the codec of the training preset (default)
    "none": {},
    # the baseline: plain MCMC training, gsplat's PNG compression (codec preset gsplat-png)
    "gsplat-png": {"strategy": "mcmc", "codec_preset": "gsplat-png"},
    # GSCodec Studio's static pipeline: MCMC; from half-way uniform-noise quantization at
    # the codec's bit depths, a factorized entropy model per attribute and its rate term;
    # a learnable mask of the higher-order SH; the default codec (pruning, PLAS, SH VQ)
    # with the learned distributions for ANS. SH rest is VQ-coded, so it is masked but not
    # rate-constrained.
    "gscodec": {
        "strategy": "mcmc",
        "quantizer": "noise",
        "simulate": "scales,quats,opacities,sh0,features",
        "simulate_start": 0.5,
        "entropy_model": "factorized",
        "rate_lambda": 0.0005,  # lego at 2,000 steps: 0.0005 costs 0.03 dB, 0.002 0.55 dB (bench/README.md)
        "entropy_start": 0.5,
        "rate_samples": 8192,
        "mask": "learnable",
        "mask_options": {
            "learnable": {"start_step": 0.5, "end_step": 0.9, "hard_step": 0.9},
            "gradient": {"start_step": 0.6, "interval": 0.15, "stop_step": 0.9},  # the mask=gradient ablation
        },
        "codec_preset": "default",
    },
}
# The compression presets of dynamic scenes (chosen when the dataset is dynamic), with the
# same names: the dynamic codec (gscc.codec.dynamic_config's preset of ``codec_preset``)
# writes the run's scene.gsc.
DYNAMIC_COMPRESSION_PRESETS: dict[str, dict[str, Any]] = {
    "none": {},
    # the baseline: no compression in the loop; the dynamic gsplat-png codec (16-bit PNG planes)
    "gsplat-png": {"codec_preset": "gsplat-png"},
    # Dynamic GSCodec: Spacetime Gaussians with STG's feature colour (features + MLP) and
    # STG's density control; from half-way uniform-noise quantization at the dynamic
    # codec's bit depths of every per-splat attribute but positions (its static ones and
    # its motion planes), a factorized entropy model per attribute and its rate term; the
    # learnable motion mask (the codec's static splats); the dynamic gscodec codec (pruning by
    # contribution over the training cameras, coarser bit depths) with the learned
    # distributions for ANS. For SH colour (colour=sh) add the SH mask:
    # mask=learnable,motion.
    "gscodec": {
        "representation": "stg",
        "strategy": "stg",
        "colour": "features",
        "quantizer": "noise",
        "simulate": "scales,quats,opacities,sh0,features,motion,omega,t_center,t_scale,coeffs",
        "simulate_start": 0.5,
        "entropy_model": "factorized",
        "rate_lambda": 0.0005,  # the static preset's value
        "entropy_start": 0.5,
        "rate_samples": 8192,
        "mask": "motion",
        "mask_options": {
            "motion": {"start_step": 0.5, "end_step": 0.9, "hard_step": 0.9},
            "learnable": {"start_step": 0.5, "end_step": 0.9, "hard_step": 0.9},
            "gradient": {"start_step": 0.6, "interval": 0.15, "stop_step": 0.9},
        },
        "codec_preset": "gscodec",
        # simulated at the default codec's finer bit depths: simulating uniform noise at the
        # gscodec codec's cost 1.3 dB of test PSNR on basketball 0:50 (22.83 against 24.14),
        # coding the trained model at them afterwards 0.14 dB (bench/README.md)
        "simulate_preset": "default",
    },
}
_FRACTION_KEYS = ("simulate_start", "entropy_start")
_MASK_FRACTION_KEYS = ("start_step", "end_step", "hard_step", "interval", "stop_step")


def compression_overrides(name: str, iterations: int, dynamic: bool = False) -> dict[str, Any]:
    """The config values of compression preset ``name`` (of dynamic scenes when
    ``dynamic``) for a run of ``iterations`` steps."""
    presets = DYNAMIC_COMPRESSION_PRESETS if dynamic else COMPRESSION_PRESETS
    try:
        values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in presets[name].items()}
    except KeyError:
        raise InputError(f"unknown compression preset {name!r}; choose from {', '.join(presets)}") from None
    for key in _FRACTION_KEYS:
        if key in values:
            values[key] = int(round(values[key] * iterations))
    masks = {}
    for mask, options in values.get("mask_options", {}).items():
        masks[mask] = {
            k: (max(1, int(round(v * iterations))) if k in _MASK_FRACTION_KEYS and v is not None else v)
            for k, v in options.items()
        }
    if masks:
        values["mask_options"] = masks
    return values


def machine_preset() -> str:
    """The preset for a run that names none: ``default`` (the 3DGS schedule) where CUDA is,
    ``cpu-fast`` on a CPU-only machine, where the full schedule would take days."""
    import torch

    return "default" if torch.cuda.is_available() else "cpu-fast"


def preset_overrides(name: str, dynamic: bool = False) -> dict[str, Any]:
    presets = DYNAMIC_PRESETS if dynamic else PRESETS
    try:
        return presets[name]
    except KeyError:
        kind = "dynamic training" if dynamic else "training"
        raise InputError(f"unknown {kind} preset {name!r}; choose from {', '.join(presets)}") from None


# ---- key=value overrides ------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def parse_value(text: str, annotation: Any, key: str) -> Any:
    """``text`` converted to ``annotation`` (int, float, bool, str, Optional[...], tuple)."""
    text = text.strip()
    origin = typing.get_origin(annotation)
    if origin is Union:
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if text.lower() in ("none", "null") and type(None) in typing.get_args(annotation):
            return None
        annotation = inner[0] if len(inner) == 1 else str
        origin = typing.get_origin(annotation)
    try:
        if annotation is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if annotation is int:
            value = float(text)
            if not value.is_integer():
                raise ValueError
            return int(value)
        if annotation is float:
            return float(text)
        if annotation is tuple or origin is tuple:
            return tuple(float(part) for part in text.split(","))
        if annotation is str or annotation is Any:
            return text
    except ValueError:
        name = getattr(annotation, "__name__", str(annotation))
        raise InputError(f"setting {key}: {text!r} is not a valid {name}") from None
    raise InputError(f"setting {key} cannot be set from the command line")


def parse_assignments(items: list[str]) -> list[tuple[str, str]]:
    """``["key=value", ...]`` as (key, value) pairs; an item without ``=`` is an error."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"setting {item!r}: expected key=value")
        pairs.append((key.strip(), value))
    return pairs


def _background(text: str) -> tuple:
    from ..eval.render_views import parse_background

    return parse_background(text)


def apply_assignments(values: dict[str, Any], pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Typed config values with ``key=value`` pairs applied (plain keys, then ``strategy.*``)."""
    values = dict(values)
    nested_kinds = {"strategy.": ("strategy", "strategy_options", _strategy_class), "mask.": ("mask", "mask_options", _mask_class)}
    plain = [(k, v) for k, v in pairs if not k.startswith(tuple(nested_kinds))]
    hidden = ("strategy_options", "mask_options")
    for key, text in plain:
        if key not in FIELDS or key in hidden:
            choices = ", ".join(n for n in FIELDS if n not in hidden)
            raise InputError(f"unknown setting {key!r}; choose from {choices}, strategy.FIELD or mask.FIELD")
        values[key] = _background(text) if key == "background" else parse_value(text, _HINTS[key], key)
    for prefix, (kind, options_key, lookup) in nested_kinds.items():
        options = {k: dict(v) for k, v in dict(values.get(options_key, {})).items()}
        nested = [(k, v) for k, v in pairs if k.startswith(prefix)]
        if nested:
            chosen = values.get(kind, getattr(TrainConfig, kind))
            if chosen == "none":
                raise InputError(f"{nested[0][0]}: no {kind} is chosen; set {kind}=NAME first")
            # several masks: a setting applies to each chosen one that has it
            components = mask_names(chosen) if kind == "mask" else (chosen,)
            types = {component: component_field_types(lookup(component)) for component in components}
            for key, text in nested:
                name = key[len(prefix):]
                targets = [component for component in components if name in types[component]]
                if not targets:
                    fields = sorted({f for t in types.values() for f in t})
                    raise InputError(f"unknown {chosen} {kind} setting {name!r}; choose from {', '.join(fields)}")
                for component in targets:
                    options.setdefault(component, {})[name] = parse_value(text, types[component][name], key)
        values[options_key] = options
    return values


def build_config(
    preset: Optional[str] = "default",
    assignments: Optional[list[str]] = None,
    *,
    base: Optional[TrainConfig] = None,
    compression: Optional[str] = None,
    dynamic: bool = False,
    **overrides: Any,
) -> TrainConfig:
    """A config from a preset (of dynamic scenes when ``dynamic``; or from ``base``, a config to change), a compression preset
    on top (see COMPRESSION_PRESETS), typed ``overrides`` (None values ignored), then
    ``key=value`` ``assignments`` (see :func:`apply_assignments`)."""
    if base is not None:
        values = base.to_dict()
        values["background"] = tuple(values["background"])
    else:
        chosen = preset_overrides(preset or "default", dynamic)
        values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in chosen.items()}
    if compression is not None:
        iterations = overrides.get("iterations") or values.get("iterations", TrainConfig.iterations)
        for key, text in parse_assignments(assignments or []):
            if key == "iterations":  # the fractions of the compression preset are of the final count
                iterations = parse_value(text, int, key)
        extra = compression_overrides(compression, int(iterations), dynamic)
        mask_options = extra.pop("mask_options", None)
        values.update(extra)
        if mask_options:
            merged = {k: dict(v) for k, v in values.get("mask_options", {}).items()}
            for mask, options in mask_options.items():
                merged.setdefault(mask, {}).update(options)
            values["mask_options"] = merged
    for key in ("strategy_options", "mask_options"):
        values[key] = {k: dict(v) for k, v in values.get(key, {}).items()}
    for key, value in overrides.items():
        if key not in FIELDS:
            raise InputError(f"unknown setting {key!r}")
        if value is not None:
            values[key] = value
    if overrides.get("downscale") is not None and overrides.get("resolution") is None:
        values["resolution"] = None  # a downscale given replaces the preset's image size
    if overrides.get("resolution") is not None and overrides.get("downscale") is None:
        values["downscale"] = 1.0
    values = apply_assignments(values, parse_assignments(assignments or []))
    return TrainConfig(**values)
