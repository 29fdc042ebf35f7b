"""Compression in the training loop: quantization simulation, the rate term and masks.

One :class:`Compression` per run ties the chosen components together (each chosen by name in
the TrainConfig, each in its own package):

- a quantizer (gscc.train.simulation: ``noise`` or ``ste``) applied, from
  ``simulate_start``, to every attribute named in ``simulate`` that the representation
  has, in the encoder's domain and on the grid of the codec's bit depth for it;
- an entropy model per such attribute (gscc.train.entropy: ``factorized`` or
  ``gaussian``) giving the bits of its (noisy) values; from ``entropy_start`` the loss
  gains ``rate_lambda · Σ_attributes mean bits per element``;
- a mask (gscc.train.mask: ``learnable`` or ``gradient``) over the higher-order SH, whose
  per-splat tensors live in the model's parameters (so strategies keep them aligned).

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

# the attributes compression may act on, in the codec's order
ATTRIBUTES = ("means", "scales", "quats", "opacities", "sh0", "shN", "features")


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
        codec = config.codec_config()
        self.names = tuple(n for n in attribute_list(config.simulate) if n in model.params)
        self.bit_depth = {n: codec.bits_for(n) for n in self.names}
        self.entropy = torch.nn.ModuleDict()
        if config.entropy_model != "none":
            cls = entropy_model_class(config.entropy_model)
            options = ENTROPY_OPTIONS.get(config.entropy_model, {})
            for n in self.names:
                channels = int(to_coded(n, model.params[n].detach()[:1]).shape[1])
                self.entropy[n] = cls(channels, **options)
        self.entropy.to(device)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        if len(self.entropy):
            from .optim import adam

            self.optimizers = {
                f"entropy.{n}": adam(list(m.parameters()), config.entropy_lr, f"entropy.{n}")
                for n, m in self.entropy.items()
            }
        self.mask = config.make_mask()
        if self.mask is not None and self.mask.attribute not in model.params:
            raise InputError(
                f"the {config.mask} mask acts on {self.mask.attribute!r}, which the {model.name} representation lacks"
            )
        self.grids: dict[str, SymbolGrid] = {}

    @property
    def active(self) -> bool:
        return self.quantizer is not None or len(self.entropy) > 0 or self.mask is not None

    # ---- the model's parameters ----------------------------------------------------------

    def mask_params(self, params) -> dict[str, tuple[torch.Tensor, float]]:
        """The per-splat tensors the mask adds to a fresh model, with learning rates."""
        return {} if self.mask is None else self.mask.init_params(params)

    # ---- one step ------------------------------------------------------------------------

    def prepare(self, params, step: int, *, training: bool = True) -> Prepared:
        """The parameters to render at ``step``, and (training only) the rate term.

        Masks apply in training and evaluation; quantization and the rate only in training
        (an evaluation renders the trained values, which the encoder will quantize)."""
        values: dict[str, torch.Tensor] = dict(params.items())
        if self.mask is not None:
            values.update(self.mask.apply(params, step))
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
            y = to_coded(name, values[name])
            grid = symbol_grid(y, self.bit_depth[name])
            self.grids[name] = grid
            noisy = self.quantizer(y, grid) if simulate else y
            if simulate:
                values[name] = from_coded(name, noisy, values[name])
            if not constrain:
                continue
            if not simulate:  # the rate of the values the encoder will round: one bin of noise
                noisy = y + (torch.rand_like(y) - 0.5) * grid.step
            u = grid.to_symbols(noisy)
            ctx = context
            if rows is not None:
                u = u[rows]
                ctx = None if context is None else context[rows]
            bits = self.entropy[name].bits(u, ctx)
            mean = bits.mean()
            prepared.bits[name] = float(mean.detach())
            total = mean if total is None else total + mean
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
        """The mask's regulariser (None without one)."""
        return None if self.mask is None else self.mask.loss(params, step)

    def after_backward(self, params, step: int) -> None:
        if self.mask is not None:
            self.mask.after_backward(params, step)

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
        if self.mask is not None:
            values.update(self.mask.finalize(params))
        return values

    @torch.no_grad()
    def distributions(self, params) -> dict[str, Any]:
        """Per constrained attribute, the learned distribution the encoder may code it with
        (gscc.codec.learned); attributes whose model the codec cannot use are left out."""
        if not len(self.entropy) or not self.config.learned_coding:
            return {}
        values = self.final_params(params)
        codec = self.config.codec_config()
        sources = {}
        for name, model in self.entropy.items():
            if name == "quats" and codec.transform_for("quats", "smallest3") != "identity":
                continue  # the encoder codes smallest-three components, not the simulated ones
            y = to_coded(name, values[name])
            grid = symbol_grid(y, self.bit_depth[name])
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
        if self.mask is not None:
            out["mask_kept_fraction"] = float(self.mask.kept_fraction(params))
        return out
