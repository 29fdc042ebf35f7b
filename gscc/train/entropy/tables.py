"""A trained factorized model as the encoder's table source (gscc.codec.learned.TableSource).

The model was trained in the symbol units of the *training* quantizer,
``u = (y - lo_train) / step_train`` per channel. The encoder may quantize with another
quantizer (its own min/max fit, another bit depth): its bin q holds the values
``y`` in ``[lo + (q - 1/2) step, lo + (q + 1/2) step]``, which in the model's units are the
edges ``(lo + (q -+ 1/2) step - lo_train) / step_train``. The model's mass between those
edges is the probability of symbol q (the end bins take the tails).
"""

from __future__ import annotations

import numpy as np

from ...codec.quantize import QuantParams


class ModelTables:
    """Probability tables from a model with ``bin_probabilities`` (e.g. FactorizedModel)
    for any encoder quantizer of the same channels."""

    coding = "ans-table"

    def __init__(self, model, lo_train, step_train) -> None:
        self.model = model
        self.name = model.name
        self.lo_train = np.asarray(lo_train, dtype=np.float64).reshape(-1)
        self.step_train = np.asarray(step_train, dtype=np.float64).reshape(-1)
        if len(self.lo_train) != model.channels or len(self.step_train) != model.channels:
            raise ValueError(f"the training quantizer needs {model.channels} lo and step values")
        if not (np.isfinite(self.lo_train).all() and np.isfinite(self.step_train).all()) or (self.step_train < 0).any():
            raise ValueError("the training quantizer's lo and step must be finite, step >= 0")

    def probabilities(self, quant: QuantParams) -> np.ndarray:
        """(C, 2**bits) float64, rows summing to 1. A channel the encoder quantizes with
        step 0 holds only symbol 0: all its mass is there. A channel the model saw with
        step 0 (constant in training) gets a uniform table: the model knows nothing of it."""
        channels = self.model.channels
        if len(quant.lo) != channels:
            raise ValueError(f"the model has {channels} channels, the quantizer {len(quant.lo)}")
        alphabet = 1 << quant.bits
        lo, step = np.asarray(quant.lo, dtype=np.float64), np.asarray(quant.step, dtype=np.float64)
        q = np.arange(alphabet + 1, dtype=np.float64) - 0.5  # the alphabet's A + 1 bin edges
        values = lo[:, None] + q[None, :] * step[:, None]
        trained = self.step_train > 0
        edges = (values - self.lo_train[:, None]) / np.where(trained, self.step_train, 1.0)[:, None]
        # rows the model does not judge get harmless increasing edges; they are replaced below
        edges = np.where((trained & (step > 0))[:, None], edges, q[None, :])
        table = self.model.bin_probabilities(edges)
        table[~trained] = 1.0 / alphabet
        constant = step == 0
        table[constant] = 0.0
        table[constant, 0] = 1.0
        return table
