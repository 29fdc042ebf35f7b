"""How much renders care about each splat's coded values, and the precision classes
chosen from that (gscc.codec.refinement).

A coded value y of splat i, quantized with step d, is off by about d^2 / 12 squared; the
renders change by about S_i d^2 / 12, where S_i = sum over views and pixels of
(dI_p / dy)^2: the *sensitivity* of y. A real capture's splats differ in it by orders of
magnitude (hidden behind others, tiny, faint, or large and in front), so at equal render
error a coarser step where S is small and a finer one where it is large saves bits: the
water-filling of rate-distortion theory. S is estimated with random projections: for a
random +-1 image r, E[(d(r . I)/dy)^2] = S, so ``PROJECTIONS`` backward passes of
``r . I`` per view estimate it (Taichi CPU rasterizer, the views of
gscc.codec.static_contribution.VIEWS: all around the scene, so that a splat seen from
few directions is not taken for an unseen one). Gradients are taken with respect to the
values the encoder quantizes (each attribute after its forward transform).

A splat's class c then minimizes  -saved(c) + error_i(c) / tolerance  (bits saved
against the finest class, and the predicted extra squared render error): the tolerance
is the one knob, which the quality search (gscc.codec.target) sets from measured renders.

Needs torch (encoding only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..splats import SplatSet
from .attributes import attribute_arrays
from .config import EncodeConfig
from .quantize import fit_lattice_quantizer
from .refinement import Classes, ShiftTable
from .static_contribution import VIEWS, view_cameras

PROJECTIONS = 2  # random +-1 images per view (8: +0.05-0.09 dB on plant at the same bytes)
CLASSES = 5  # precision classes: the coarsest codes 2**(CLASSES - 1) times coarser (4 or 6: 0.5-0.7 % larger on plant)
MIN_CODED_BITS = 3  # a class leaves at least this many bits of an attribute's depth
# ...and shifts at most the bits a value of the attribute costs at the finest step, less
# this: the coarse plane of a channel that already codes in few bits (plant's 7-bit
# colours, 4.3 bits a value) loses its prediction when cut further (shift 3 there: 3 %
# larger files at the same render PSNR than shift 2; bench/README.md)
HEADROOM_BITS = 2.0


def _inverse(transform: str, y):
    """The torch counterpart of gscc.codec.quantize's inverse transforms (differentiable)."""
    import torch

    if transform == "identity":
        return y
    if transform == "signlog":
        return torch.sign(y) * torch.expm1(torch.abs(y))
    if transform == "sigmoid":
        return torch.logit(y.clamp(1e-7, 1 - 1e-7))
    if transform == "smallest3":
        index = y[:, 3].detach().round().clamp(0, 3).long()
        three = y[:, :3]
        largest = torch.sqrt(torch.clamp(1.0 - (three * three).sum(dim=1), min=1e-12))
        columns = []
        for column in range(4):
            after = three[:, column - 1] if column else largest
            before = three[:, column] if column < 3 else largest
            columns.append(torch.where(index > column, before, torch.where(index == column, largest, after)))
        return torch.stack(columns, dim=1)
    raise ValueError(f"unknown transform {transform!r}")


def coded_values(splats: SplatSet, config: EncodeConfig) -> dict[str, tuple[str, np.ndarray]]:
    """Per attribute of ``splats`` with values: its transform and (N, C) values as the encoder quantizes them."""
    from .encoder import prepared_attributes

    transforms, prepared = prepared_attributes(attribute_arrays(splats), config)
    return {name: (transforms[name], values) for name, values in prepared.items() if values.shape[1]}


def sensitivities(
    splats: SplatSet, config: EncodeConfig, size: tuple[int, int], specs: Sequence[str] = VIEWS,
    projections: int = PROJECTIONS, seed: int = 0,
) -> dict[str, np.ndarray]:
    """Per attribute, (N, C) float64: the mean over views, pixels and colour channels of
    (dI/dy)^2 for every coded value y (so S d^2 / 12 is a mean squared pixel error)."""
    import torch

    from ..render import render
    from ..render.api import Gaussians

    values = coded_values(splats, config)
    y = {name: torch.tensor(v, dtype=torch.float32, requires_grad=True) for name, (_, v) in values.items()}
    x = {name: _inverse(values[name][0], y[name]) for name in y}
    n = splats.count
    colors = x["sh0"].reshape(n, 1, 3)
    if "shN" in x:
        colors = torch.cat([colors, x["shN"].reshape(n, -1, 3)], dim=1)
    gaussians = Gaussians(x["means"], x["quats"], torch.exp(x["scales"]), torch.sigmoid(x["opacities"].reshape(n)), colors)
    total = {name: np.zeros(v.shape) for name, (_, v) in values.items()}
    generator = torch.Generator().manual_seed(seed)
    cameras = view_cameras(splats, specs, size)
    names = list(y)
    samples = 0
    for camera in cameras:
        image = render(gaussians, camera, backend="taichi").image[..., :3]
        samples += image.numel()
        for k in range(projections):
            signs = torch.randint(0, 2, image.shape, generator=generator).float() * 2 - 1
            grads = torch.autograd.grad((image * signs).sum(), [y[name] for name in names],
                                        retain_graph=True, allow_unused=True)  # the transforms' graph serves every view
            for name, g in zip(names, grads):
                if g is not None:
                    total[name] += g.double().numpy() ** 2 / projections
    return {name: s / samples for name, s in total.items()}


def coded_bits(data: bytes) -> dict[str, float]:
    """Bits per coded value of every scalar attribute of a `.gsc` file (its coding's chunks
    over cells x channels; for smallest3 over the three components)."""
    from ..container import unpack

    container = unpack(data)
    grid = container.header["grid"]
    cells = grid["height"] * grid["width"]
    out = {}
    for name, entry in container.header["attributes"].items():
        if entry["codec"] == "scalar":
            size = sum(len(container.chunks[i][1]) for i in entry["coding"]["chunks"])
            # smallest3's index channel (2 bits at most, usually about 1.5) is not shifted
            channels = len(entry["quant"]["lo"]) - (entry["transform"] == "smallest3")
            out[name] = 8.0 * size / (cells * channels)
    return out


def default_tables(config: EncodeConfig, values: dict[str, tuple[str, np.ndarray]], classes: int = CLASSES,
                   bits_per_value: dict[str, float] | None = None) -> dict[str, ShiftTable]:
    """Class c shifts every channel by c bits, at most down to ``MIN_CODED_BITS`` and at
    most ``bits_per_value`` (the attribute's cost at these depths, :func:`coded_bits`) less
    ``HEADROOM_BITS`` (smallest3's index channel never: it names a component)."""
    tables = {}
    for name, (transform, v) in values.items():
        cap = max(0, min(classes - 1, config.bits_for(name) - MIN_CODED_BITS))
        if bits_per_value is not None and name in bits_per_value:
            cap = max(0, min(cap, int(np.floor(bits_per_value[name] - HEADROOM_BITS))))
        if cap == 0:
            continue
        channels = v.shape[1]
        rows = tuple(tuple(0 if transform == "smallest3" and ch == 3 else min(c, cap) for ch in range(channels))
                     for c in range(classes))
        tables[name] = ShiftTable(rows)
    return tables


@dataclass
class ClassPlanner:
    """Precision classes for one scene: its sensitivities (rendered once) and, for a
    config's bit depths and a tolerance, each splat's class."""

    splats: SplatSet
    config: EncodeConfig
    size: tuple[int, int]
    classes: int = CLASSES

    def __post_init__(self) -> None:
        self.values = coded_values(self.splats, self.config)
        self.sensitivity = sensitivities(self.splats, self.config, self.size)

    def costs(self, config: EncodeConfig, bits_per_value: dict[str, float] | None = None
              ) -> tuple[dict[str, ShiftTable], np.ndarray, np.ndarray]:
        """The tables (:func:`default_tables`), bits saved per class (C,) and predicted
        extra squared error per splat and class (N, C) at ``config``'s bit depths."""
        tables = default_tables(config, self.values, self.classes, bits_per_value)
        saved = np.zeros(self.classes)
        extra = np.zeros((self.splats.count, self.classes))
        for name, table in tables.items():
            y = self.values[name][1]
            step = np.asarray(fit_lattice_quantizer(y, config.bits_for(name)).step)
            base = self.sensitivity[name] * step ** 2 / 12.0  # (N, C)
            shifts = np.asarray(table.shifts, np.float64)  # (classes, channels)
            saved += shifts.sum(axis=1)
            extra += base @ (4.0 ** shifts - 1.0).T
        return tables, saved, extra

    def plan(self, config: EncodeConfig, extra_error: float, bits_per_value: dict[str, float] | None = None
             ) -> Classes:
        """Classes whose predicted extra squared render error is about ``extra_error``
        (each splat at the class of least ``-saved + error / tolerance``, the tolerance
        found by bisection); ``bits_per_value``: see :func:`default_tables`."""
        tables, saved, extra = self.costs(config, bits_per_value)

        def assign(tolerance: float) -> np.ndarray:
            return np.argmin(-saved[None, :] + extra / tolerance, axis=1)

        def predicted(tolerance: float) -> float:
            c = assign(tolerance)
            return float(extra[np.arange(len(c)), c].sum())

        low, high = 1e-30, 1.0
        while predicted(high) < extra_error and high < 1e30:
            high *= 1e3
        for _ in range(60):
            middle = np.sqrt(low * high)
            low, high = (middle, high) if predicted(middle) <= extra_error else (low, middle)
        return Classes(assign(low).astype(np.uint8), self.classes, tables)
