"""The colour decoder of MLP-coloured scenes, in numpy (no torch): features and a view
direction in, RGB out; and the SH baking that turns such a scene into a standard one.

The network (spec/static.md, "MLP colour"): the input is the splat's feature vector (F
values) followed by the real SH basis up to ``view_sh_degree`` V of the unit viewing
direction ((V + 1)² values, :mod:`gscc.sh_basis`); then ``len(layers)`` affine layers
``x = W x + b``, each but the last followed by ReLU, the last (3 outputs) by a sigmoid.
It is the same network the trainer learns (``gscc.model.features.ColorDecoder``).

Baking fits, per splat, SH coefficients of degree D to the colours the network gives the
splat's own features along ``directions`` Fibonacci-lattice directions, by least squares:
``coeffs = pinv(B) (rgb - 0.5)`` with B the (directions, (D + 1)²) basis matrix, so that
the 3DGS colour rule ``Σ Y_k(d) c_k + 0.5`` reproduces the network's colours as closely as
degree D allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sh_basis import sh_basis_np, sphere_directions

MAX_LAYERS = 16
MAX_WIDTH = 1024
BAKE_CHUNK = 4096  # splats baked at a time (bounds the memory of the activations)


@dataclass(frozen=True)
class ColorMLP:
    """Affine layers ``(W (out, in), b (out,))`` as float32 and the view encoding's degree."""

    layers: tuple[tuple[np.ndarray, np.ndarray], ...]
    view_sh_degree: int

    def __post_init__(self) -> None:
        if not 0 <= self.view_sh_degree <= 3:
            raise ValueError(f"view SH degree must lie in 0..3, got {self.view_sh_degree}")
        if not 1 <= len(self.layers) <= MAX_LAYERS:
            raise ValueError(f"the colour MLP must have 1..{MAX_LAYERS} layers, has {len(self.layers)}")
        layers = []
        width = None
        for index, (weight, bias) in enumerate(self.layers):
            weight = np.ascontiguousarray(weight, dtype=np.float32)
            bias = np.ascontiguousarray(bias, dtype=np.float32)
            if weight.ndim != 2 or bias.shape != (weight.shape[0],):
                raise ValueError(f"layer {index}: weight {weight.shape} and bias {bias.shape} do not match")
            if width is not None and weight.shape[1] != width:
                raise ValueError(f"layer {index} takes {weight.shape[1]} inputs, the layer before gives {width}")
            if max(weight.shape) > MAX_WIDTH or min(weight.shape) < 1:
                raise ValueError(f"layer {index} has shape {weight.shape}; widths must lie in 1..{MAX_WIDTH}")
            if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
                raise ValueError(f"layer {index} has non-finite weights")
            layers.append((weight, bias))
            width = weight.shape[0]
        if width != 3:
            raise ValueError(f"the colour MLP must end in 3 outputs, ends in {width}")
        if self.feature_dim < 1:
            raise ValueError(f"the first layer takes {layers[0][0].shape[1]} inputs, fewer than the view encoding's {self.view_dim} + 1")
        object.__setattr__(self, "layers", tuple(layers))

    @property
    def view_dim(self) -> int:
        return (self.view_sh_degree + 1) ** 2

    @property
    def feature_dim(self) -> int:
        return int(self.layers[0][0].shape[1]) - self.view_dim

    # ---- the weights chunk's arrays ----------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """``layers.{i}.weight`` and ``layers.{i}.bias`` (the names torch gives them)."""
        arrays = {}
        for index, (weight, bias) in enumerate(self.layers):
            arrays[f"layers.{index}.weight"] = weight
            arrays[f"layers.{index}.bias"] = bias
        return arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], view_sh_degree: int) -> "ColorMLP":
        count = len(arrays) // 2
        expected = {f"layers.{i}.{part}" for i in range(count) for part in ("weight", "bias")}
        if set(arrays) != expected:  # an odd count never matches
            raise ValueError(f"weights name {sorted(arrays)}, expected layers.0..{count - 1}.weight/bias")
        layers = []
        for i in range(count):
            weight, bias = arrays[f"layers.{i}.weight"], arrays[f"layers.{i}.bias"]
            if weight.dtype != np.float32 or bias.dtype != np.float32:
                raise ValueError(f"layer {i} weights are not float32")
            layers.append((weight, bias))
        return cls(tuple(layers), view_sh_degree)

    # ---- evaluation --------------------------------------------------------------------

    def _first_layer(self, features: np.ndarray, view: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Layer 0's affine map split into its feature part (P, out), bias included, and
        its view part (Q, out): the pre-activation of a feature row seen along a view row
        is their sum."""
        weight, bias = (a.astype(np.float64) for a in self.layers[0])
        f = self.feature_dim
        return np.asarray(features, dtype=np.float64) @ weight[:, :f].T + bias, view @ weight[:, f:].T

    def _rest(self, x: np.ndarray) -> np.ndarray:
        for weight, bias in self.layers[1:]:
            x = np.maximum(x, 0.0) @ weight.astype(np.float64).T + bias.astype(np.float64)
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))

    def colors(self, features: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """(P, 3) float64 RGB of feature rows (P, F) seen along unit directions (P, 3)."""
        per_splat, per_view = self._first_layer(features, sh_basis_np(self.view_sh_degree, directions))
        return self._rest(per_splat + per_view)

    def bake(self, features: np.ndarray, sh_degree: int, directions: int) -> np.ndarray:
        """(N, (sh_degree + 1)², 3) float32 SH coefficients fitted to each splat's colours
        (see the module docstring)."""
        dirs = sphere_directions(directions)
        basis = sh_basis_np(sh_degree, dirs)  # (K, M)
        solve = np.linalg.pinv(basis)  # (M, K)
        view = sh_basis_np(self.view_sh_degree, dirs)  # (K, V)
        out = np.empty((features.shape[0], basis.shape[1], 3), dtype=np.float32)
        for lo in range(0, features.shape[0], BAKE_CHUNK):
            per_splat, per_view = self._first_layer(features[lo : lo + BAKE_CHUNK], view)
            rgb = self._rest(per_splat[:, None, :] + per_view[None, :, :])  # (P, K, 3)
            out[lo : lo + BAKE_CHUNK] = np.einsum("mk,pkc->pmc", solve, rgb - 0.5)
        return out
