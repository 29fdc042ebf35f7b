"""The interface every entropy model of the trainer implements (as CompressAI separates the
likelihood model from the coder: a model here only gives likelihoods; turning them into
bytes is the codec's job, gscc.codec.learned).

Units. An attribute's values ``y`` (N, C) are taken in the domain the encoder quantizes
(after its forward transform, e.g. log-scales, sigmoid opacities); the trainer maps them to
*symbol units* ``u = (y - lo) / step`` with the per-channel quantizer (``lo``, ``step``) of
the bit depth used at encode time, so that one quantization bin is one unit wide and the
integer symbols are 0 .. 2**bits - 1. A model gives, per element, the probability mass of
the unit-wide bin centred on ``u`` (``u`` is noisy or rounded, see gscc.train.simulation):

    P(u) = F(u + 1/2) - F(u - 1/2)        bits(u) = -log2 P(u)

Context. Models that condition on the splat's position (``needs_context``) get
``context`` (N, 3): the positions as the encoder quantizes them, normalised per axis to
[0, 1] (signlog of the means, minus the per-axis minimum, over the per-axis range).
"""

from __future__ import annotations

from typing import Optional

import torch

# Probabilities are floored here before the log: a bin never costs more than ~30 bits.
MIN_PROBABILITY = 1e-9


def bits_from_probability(p: torch.Tensor) -> torch.Tensor:
    """``-log2(max(p, MIN_PROBABILITY))``, elementwise."""
    return -torch.log2(p.clamp_min(MIN_PROBABILITY))


class EntropyModel(torch.nn.Module):
    """Likelihoods of one attribute's C channels, in symbol units.

    Subclasses set ``name`` and ``needs_context`` and implement :meth:`bits`. They are
    ``torch.nn.Module``s: their trainable tensors are ``parameters()`` (the trainer gives
    them one Adam), their state is ``state_dict()`` (the checkpoint).
    """

    name = ""
    needs_context = False

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"an entropy model needs at least one channel, got {channels}")
        self.channels = int(channels)

    def bits(self, u: torch.Tensor, context: Optional[torch.Tensor] = None) -> torch.Tensor:
        """(N, C) bits of the bins centred on ``u`` (N, C); differentiable in ``u`` and in
        the model's parameters."""
        raise NotImplementedError
