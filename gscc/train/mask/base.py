"""The interface of an adaptive mask component, and ``none`` (no masking).

A mask switches off one per-splat attribute (``attribute``: the higher-order SH ``shN``
(N, K, 3) of the vanilla representation by default; ``features`` would work the same way)
for the splats that do not need it, so that the codec can drop it there. A mask is a
dataclass of settings; everything that changes during training is a per-splat entry of the
model's ``ParameterDict`` (see :mod:`gscc.train`), so the densification strategies keep it
aligned with its splats (:mod:`gscc.train.strategy.ops` treats every entry alike) and the
checkpoint carries it with the other parameters. One mask object can drive several runs.

The trainer calls exactly this::

    for name, (tensor, lr) in mask.init_params(params).items():   # once, for a fresh run
        params[name] = Parameter(tensor, requires_grad=lr > 0)     # + an Adam when lr > 0
    ...every step:
        render with params overridden by mask.apply(params, step)
        loss = ... (+ mask.loss(params, step) unless None)
        loss.backward()
        mask.after_backward(params, step)     # gradients still there
        ...every optimizer steps, then the strategy's step_post_backward...
    ...at export:
        params overridden by mask.finalize(params); mask.kept_fraction(params) for metrics

Entry names are derived from the attribute: prefix ``sh`` for ``shN``, the attribute's own
name otherwise (``sh_mask``, ``features_mask``, ...). Non-trained entries (learning rate
0.0) are buffers: ``requires_grad=False``, no optimizer; a mask updates them in place under
``torch.no_grad``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

import torch
from torch import Tensor

Params = torch.nn.ParameterDict

# geometry is never masked: multiplying a position or a log-scale by zero means nothing
GEOMETRY = ("means", "scales", "quats", "opacities")


@dataclass
class Mask:
    """Base class: the settings every mask shares and the no-op behaviour of ``none``."""

    name: ClassVar[str] = ""

    attribute: str = "shN"  # the per-splat entry masked row by row

    def __post_init__(self) -> None:
        if not isinstance(self.attribute, str) or not self.attribute:
            raise ValueError(f"attribute must be the name of a per-splat entry, got {self.attribute!r}")
        if self.attribute in GEOMETRY:
            raise ValueError(f"attribute {self.attribute!r} is geometry and cannot be masked")

    @property
    def prefix(self) -> str:
        """The prefix of this mask's entry names: ``sh`` for ``shN``, else the attribute."""
        return "sh" if self.attribute == "shN" else self.attribute

    def attributes(self, names) -> tuple[str, ...]:
        """The per-splat entries among ``names`` this mask acts on (none: it cannot act on
        a representation with these entries)."""
        return (self.attribute,) if self.attribute in names else ()

    # ---- the interface -----------------------------------------------------------------

    def init_params(self, params: Params) -> dict[str, tuple[Tensor, float]]:
        """Per-splat tensors to add to ``params``, each with its learning rate (0.0: a
        buffer, ``requires_grad=False``, no optimizer). ``params`` itself is not changed."""
        return {}

    def apply(self, params: Params, step: int) -> dict[str, Tensor]:
        """Replacements of entries of ``params`` for the render of ``step``: differentiable,
        never changing ``params``; empty when the mask is not active at ``step``."""
        return {}

    def loss(self, params: Params, step: int) -> Optional[Tensor]:
        """A regulariser to add to the training loss at ``step``, or None."""
        return None

    def after_backward(self, params: Params, step: int) -> None:
        """After ``loss.backward()``, before the optimizers step (the gradients are there);
        may update this mask's buffers in ``params`` in place."""

    def finalize(self, params: Params) -> dict[str, Tensor]:
        """Replacements for export: the attribute with the masked splats' rows zeroed
        (detached); empty when nothing is masked by construction."""
        return {}

    def kept_fraction(self, params: Params) -> float:
        """The fraction of splats whose attribute :meth:`finalize` keeps (1.0 for none)."""
        return 1.0

    def coded_rows(self, params: Params, name: str, step: Optional[int]) -> Optional[Tensor]:
        """(N,) bool: the splats whose entry ``name`` the codec will code at all (a mask the
        codec turns into a plane that leaves the others out), or None (this mask does not
        say). ``step`` None: at export. Compression fits the quantization grid to them."""
        return None

    def rate_weights(self, params: Params, name: str, step: int) -> Optional[Tensor]:
        """(N,) differentiable weights of each splat's entry ``name`` in the rate term (a
        splat the codec leaves out costs nothing), or None (every splat counts fully)."""
        return None

    # ---- helpers for subclasses --------------------------------------------------------

    def target(self, params: Params) -> Tensor:
        """``params[attribute]``, with a clear error when the representation lacks it."""
        if self.attribute not in params:
            raise ValueError(
                f"{self.name} mask: params have no {self.attribute!r} to mask (entries: {', '.join(params)})"
            )
        return params[self.attribute]

    def entry(self, params: Params, name: str) -> Tensor:
        """``params[name]`` for one of this mask's entries, with a clear error when missing."""
        if name not in params:
            raise ValueError(f"{self.name} mask: params lack {name!r}; add the entries of init_params first")
        return params[name]

    def zeros(self, params: Params) -> Tensor:
        """A float32 (N,) zero tensor on the attribute's device."""
        t = self.target(params)
        return torch.zeros(t.shape[0], dtype=torch.float32, device=t.device)


def rowwise(values: Tensor, like: Tensor) -> Tensor:
    """(N,) ``values`` shaped to broadcast over the rows of ``like`` (N, ...)."""
    return values.reshape(-1, *([1] * (like.ndim - 1)))


def fraction(keep: Tensor) -> float:
    """The fraction of true entries of a bool (N,) tensor; 1.0 when N is 0."""
    return float(keep.float().mean()) if keep.numel() else 1.0


@dataclass
class NoMask(Mask):
    """``none``: no entries, no replacements, no loss; everything is kept."""

    name: ClassVar[str] = "none"
