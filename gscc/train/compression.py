"""Compression in the training loop: quantization simulation, the rate term and masks.

One :class:`Compression` per run ties the chosen components together (each chosen by name in
the TrainConfig, each in its own package):

- a quantizer (gscc.train.simulation: ``noise`` or ``ste``) applied, from
  ``simulate_start``, to every attribute named in ``simulate`` that the representation
  has, in the encoder's domain and on the grid of the codec's bit depth for it (the
  codec of ``TrainConfig.simulation_codec_config``: ``simulate_preset``'s, by default the
  run's own ``codec_preset``'s);
- an entropy model per such attribute (gscc.train.entropy: ``factorized`` or
  ``gaussian``) giving the bits of its (noisy) values; from ``entropy_start`` the loss
  gains ``rate_lambda · Σ_attributes mean bits per element``;
- masks (gscc.train.mask: ``learnable`` or ``gradient`` over the higher-order SH, ``motion``
  over a dynamic splat's motion; ``mask=learnable,motion`` combines them), whose per-splat
  tensors live in the model's parameters (so strategies keep them aligned).

Dynamic representations (``stg``, ``motion-basis``) are coded by the dynamic encoder
(gscc.codec.dynamic_encoder with ``TrainConfig.dynamic_codec_config``): their static
attributes at its static bit depths, and the motion planes ``motion``, ``omega``,
``t_center``, ``t_scale`` (STG) and ``coeffs`` (motion-basis) at its motion bit depths,
under its transforms (gscc.train.simulation.domains) and per-splat factors (omega in the
canonical rotation frame, the motion window: gscc.train.simulation.motion_frame). A motion
plane the codec vector-quantizes (``vq_planes``) is not simulated; the shared motion basis
travels as float32 weights and is not simulated either. Where the ``motion`` mask is on
(and the codec's static-splat mask, ``static_motion`` > 0), the grid of a motion plane
spans the splats that keep their motion (the codec's moving splats), only those are
simulated, and their rate counts weighted by the mask.

The trainer calls :meth:`prepare` once per step (what to render, and the rate), and
:meth:`after_backward`; at the end :meth:`export` gives the scene with the masks made
binary, and the learned distributions the encoder may code the attributes with.
Nothing here changes the trained parameters in place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from ..errors import InputError
from .simulation import QUANTIZERS, SymbolGrid, from_coded, symbol_grid, to_coded
from .simulation.domains import signlog
from .simulation.motion_frame import MotionFrame

# the attributes compression may act on, in the codec's order (a dynamic scene's motion
# planes after its static ones: omega's coded frame depends on the simulated quats)
STATIC_ATTRIBUTES = ("means", "scales", "quats", "opacities", "sh0", "shN", "features")
MOTION_ATTRIBUTES = ("motion", "omega", "t_center", "t_scale", "coeffs")
ATTRIBUTES = STATIC_ATTRIBUTES + MOTION_ATTRIBUTES


def attribute_list(text: str) -> tuple[str, ...]:
    """``"scales, sh0"`` -> ("scales", "sh0"); unknown names are an error."""
    names = tuple(part.strip() for part in str(text).split(",") if part.strip())
    unknown = [n for n in names if n not in ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown attribute {unknown[0]!r} to simulate; choose from {', '.join(ATTRIBUTES)}")
    if len(set(names)) != len(names):
        raise ValueError("an attribute is named twice in simulate")
    return names


def entropy_model_class(name: str):
    if name == "factorized":
        from .entropy.factorized import FactorizedModel

        return FactorizedModel
    if name == "gaussian":
        from .entropy.gaussian import HashGridGaussian

        return HashGridGaussian
    raise ValueError(f"unknown entropy model {name!r}; choose from none, {', '.join(ENTROPY_MODELS)}")


ENTROPY_MODELS = ("factorized", "gaussian")
# Sizes for splat scenes of 10^4..10^6 splats: the hash-grid network travels in the file
# (per attribute), so it is kept to a few tens of KB (8 levels of 2^14 rows would be ~480 KB).
ENTROPY_OPTIONS = {"gaussian": {"levels": 4, "log2_table": 11, "min_resolution": 16, "max_resolution": 128, "hidden": 16}}


def position_context(means: torch.Tensor) -> torch.Tensor:
    """(N, 3) in [0, 1]: the signlog means normalised per axis to their range (the
    context of position-conditioned entropy models, gscc.train.entropy.base)."""
    y = signlog(means.detach())
    lo = y.min(dim=0).values
    span = (y.max(dim=0).values - lo).clamp_min(1e-12)
    return ((y - lo) / span).clamp(0.0, 1.0)


def learned_source(model, grid: SymbolGrid):
    """What the encoder codes an attribute with from its trained entropy model (see
    gscc.codec.learned), or None when the codec has no coding for the model's kind."""
    lo, step = grid.lo.cpu().double().numpy(), grid.step.cpu().double().numpy()
    if hasattr(model, "bin_probabilities"):  # a context-free model: one table per channel
        from .entropy.tables import ModelTables

        return ModelTables(model, lo, step)
    if hasattr(model, "export_arrays"):  # a position-conditioned one: its network travels
        from ..codec.context_coding import GaussianContextSource

        return GaussianContextSource(model.export_arrays(), tuple(float(v) for v in lo), tuple(float(v) for v in step))
    return None


@dataclass
class Prepared:
    """One step's compression: the tensors to render and the rate."""

    params: dict[str, torch.Tensor]  # every parameter, simulated/masked where it applies
    rate: Optional[torch.Tensor] = None  # rate_lambda · Σ mean bits (None: no rate term)
    bits: dict[str, float] = field(default_factory=dict)  # mean bits per element by attribute


class Compression:
    """The compression components of one run (see the module docstring)."""

    def __init__(self, config, model, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.quantizer = None if config.quantizer == "none" else QUANTIZERS[config.quantizer]()
        self.dynamic = bool(getattr(model, "dynamic", False))
        codec = config.simulation_codec_config(self.dynamic)
        static = codec.static if self.dynamic else codec
        self.names = tuple(
            n for n in attribute_list(config.simulate)
            if n in model.params and model.params[n][:1].numel() > 0  # e.g. shN at SH degree 0: nothing to code
            and not (n in MOTION_ATTRIBUTES and codec.vq_for(n) is not None)
        )
        self.bit_depth = {n: (codec if n in MOTION_ATTRIBUTES else static).bits_for(n) for n in self.names}
        # motion planes: the dynamic codec's transform (static attributes: their domain's)
        self.transforms = {n: codec.transform_for(n) for n in self.names if n in MOTION_ATTRIBUTES}
        self.frame = MotionFrame(codec, static.transform_for("quats", "smallest3")) if self.dynamic else None
        # whether the codec leaves still splats' motion out (its static-splat mask is on)
        self.skips_still = self.dynamic and codec.static_motion > 0
        self.entropy = torch.nn.ModuleDict()
        if config.entropy_model != "none":
            cls = entropy_model_class(config.entropy_model)
            options = ENTROPY_OPTIONS.get(config.entropy_model, {})
            for n in self.names:
                channels = int(self.coded(n, model.params[n].detach()[:1]).shape[1])
                self.entropy[n] = cls(channels, **options)
        self.entropy.to(device)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        if len(self.entropy):
            from .optim import adam

            self.optimizers = {
                f"entropy.{n}": adam(list(m.parameters()), config.entropy_lr, f"entropy.{n}")
                for n, m in self.entropy.items()
            }
        self.masks = config.make_masks()
        for mask in self.masks:
            if not mask.attributes(model.params):
                raise InputError(
                    f"the {mask.name} mask acts on {mask.attribute!r}, which the {model.name} representation lacks"
                )
        self.grids: dict[str, SymbolGrid] = {}

    @property
    def active(self) -> bool:
        return self.quantizer is not None or len(self.entropy) > 0 or bool(self.masks)

    # ---- the encoder's domain ----------------------------------------------------------------

    def coded(self, name: str, value: torch.Tensor, reference=None) -> torch.Tensor:
        """The (N, C) values the encoder quantizes for ``value`` of attribute ``name``
        (``reference``: the parameters giving a motion plane's per-splat factor)."""
        factor = None if reference is None or self.frame is None else self.frame.factor(name, reference)
        if factor is not None:
            value = value * factor.reshape(value.shape)
        return to_coded(name, value, self.transforms.get(name))

    def uncoded(self, name: str, y: torch.Tensor, like: torch.Tensor, reference=None, render=None) -> torch.Tensor:
        """The parameter (shaped like ``like``) the render sees for coded values ``y``."""
        value = from_coded(name, y, like, self.transforms.get(name))
        factor = None if reference is None or self.frame is None else self.frame.factor(name, reference, render)
        return value if factor is None else value / factor.reshape(value.shape)

    def coded_rows(self, name: str, params, step: Optional[int] = None) -> Optional[torch.Tensor]:
        """(N,) bool: the splats whose ``name`` the encoder codes (a masked motion plane:
        the splats that keep their motion, when any does), or None (all of them). ``step``
        None: the end of the run."""
        if not self.skips_still:
            return None
        for mask in self.masks:
            rows = mask.coded_rows(params, name, step)
            if rows is not None and bool(rows.any()):
                return rows
        return None

    def rate_weights(self, name: str, params, step: int) -> Optional[torch.Tensor]:
        """(N,) how much each splat's ``name`` counts in the rate (None: fully)."""
        if not self.skips_still:
            return None
        weights = None
        for mask in self.masks:
            w = mask.rate_weights(params, name, step)
            if w is not None:
                weights = w if weights is None else weights * w
        return weights

    # ---- the model's parameters ----------------------------------------------------------

    def mask_params(self, params) -> dict[str, tuple[torch.Tensor, float]]:
        """The per-splat tensors the masks add to a fresh model, with learning rates."""
        out: dict[str, tuple[torch.Tensor, float]] = {}
        for mask in self.masks:
            out.update(mask.init_params(params))
        return out

    # ---- one step ------------------------------------------------------------------------

    def prepare(self, params, step: int, *, training: bool = True) -> Prepared:
        """The parameters to render at ``step``, and (training only) the rate term.

        Masks apply in training and evaluation; quantization and the rate only in training
        (an evaluation renders the trained values, which the encoder will quantize)."""
        values: dict[str, torch.Tensor] = dict(params.items())
        for mask in self.masks:
            values.update(mask.apply(params, step))
        prepared = Prepared(values)
        if not training or not self.names:
            return prepared
        simulate = self.quantizer is not None and step >= self.config.simulate_start
        constrain = len(self.entropy) > 0 and step >= self.config.entropy_start and self.config.rate_lambda > 0
        if not (simulate or constrain):
            return prepared
        context = position_context(params["means"]) if constrain and self._needs_context() else None
        rows = self._rate_rows(params) if constrain else None
        total = None
        for name in self.names:
            y = self.coded(name, values[name], params)
            coded = self.coded_rows(name, params, step)
            grid = symbol_grid(y if coded is None else y[coded], self.bit_depth[name])
            self.grids[name] = grid
            noisy = self.quantizer(y, grid) if simulate else y
            if simulate:
                if coded is not None:  # splats the codec leaves out keep their (masked) values
                    noisy = torch.where(coded[:, None], noisy, y)
                values[name] = self.uncoded(name, noisy, values[name], params, values)
            if not constrain:
                continue
            if not simulate:  # the rate of the values the encoder will round: one bin of noise
                noisy = y + (torch.rand_like(y) - 0.5) * grid.step
            u = grid.to_symbols(noisy)
            ctx = context
            weights = self.rate_weights(name, params, step)
            if rows is not None:
                u = u[rows]
                ctx = None if context is None else context[rows]
                weights = None if weights is None else weights[rows]
            bits = self.entropy[name].bits(u, ctx)
            mean = bits.mean() if weights is None else (bits * weights[:, None]).mean()
            prepared.bits[name] = float(mean.detach())
            total = mean if total is None else total + mean
        if simulate and self.frame is not None and "quats" in self.names and "omega" in values and "omega" not in self.names:
            # the rendered quaternions are the simulated unit ones: omega keeps its turn relative to them
            values["omega"] = self.uncoded("omega", self.coded("omega", values["omega"], params), values["omega"], params, values)
        if total is not None:
            prepared.rate = self.config.rate_lambda * total
        return prepared

    def _needs_context(self) -> bool:
        return any(getattr(m, "needs_context", False) for m in self.entropy.values())

    def _rate_rows(self, params) -> Optional[torch.Tensor]:
        """A random subset of splats for the rate estimate (``rate_samples``), or None."""
        n = int(params["means"].shape[0])
        k = self.config.rate_samples
        if k <= 0 or k >= n:
            return None
        return torch.randperm(n, device=params["means"].device)[:k]

    def loss(self, params, step: int) -> Optional[torch.Tensor]:
        """The masks' regularisers (None without any)."""
        terms = [t for t in (mask.loss(params, step) for mask in self.masks) if t is not None]
        return sum(terms) if terms else None

    def after_backward(self, params, step: int) -> None:
        for mask in self.masks:
            mask.after_backward(params, step)

    def step_optimizers(self) -> None:
        for opt in self.optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)

    # ---- the checkpoint --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "entropy": {k: v.detach().cpu().clone() for k, v in self.entropy.state_dict().items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.entropy.load_state_dict(state.get("entropy", {}))
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])

    # ---- the end of the run ----------------------------------------------------------------

    @torch.no_grad()
    def final_params(self, params) -> dict[str, torch.Tensor]:
        """The parameters as exported: the masks made binary."""
        values = dict(params.items())
        for mask in self.masks:
            values.update(mask.finalize(params))
        return values

    @torch.no_grad()
    def distributions(self, params) -> dict[str, Any]:
        """Per constrained attribute, the learned distribution the encoder may code it with
        (gscc.codec.learned); attributes whose model the codec cannot use are left out."""
        if not len(self.entropy) or not self.config.learned_coding:
            return {}
        values = self.final_params(params)
        codec = self.config.dynamic_codec_config().static if self.dynamic else self.config.codec_config()
        sources = {}
        for name, model in self.entropy.items():
            if name == "quats" and codec.transform_for("quats", "smallest3") != "identity":
                continue  # the encoder codes smallest-three components, not the simulated ones
            y = self.coded(name, values[name], values)
            coded = self.coded_rows(name, values)
            grid = symbol_grid(y if coded is None else y[coded], self.bit_depth[name])
            source = learned_source(model, grid)
            if source is not None:
                sources[name] = source
        return sources

    def summary(self, params, last_bits: dict[str, float]) -> dict[str, Any]:
        """What metrics.json records of the run's compression: its settings, the last
        step's rate estimate and the fraction of splats whose masked attribute is kept."""
        out: dict[str, Any] = {
            "quantizer": self.config.quantizer,
            "entropy_model": self.config.entropy_model,
            "rate_lambda": self.config.rate_lambda,
            "attributes": list(self.names),
            "bits": self.bit_depth,
            "mask": self.config.mask,
            "rate_bits": dict(last_bits),
        }
        if self.masks:
            kept = {mask.name: float(mask.kept_fraction(params)) for mask in self.masks}
            out["mask_kept_fraction"] = kept[self.masks[0].name] if len(kept) == 1 else kept
        return out
