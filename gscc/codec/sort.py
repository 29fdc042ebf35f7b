"""PLAS -- Parallel Linear Assignment Sorting, with a k-d start and Taichi kernels.

Sorts N feature vectors into an H x W grid so that neighbouring cells hold
similar vectors (Morgenstern et al., "Compact 3D Scene Representation via
Self-Organizing Gaussian Grids", 2024).  Our own implementation of the
published algorithm, made about an order of magnitude cheaper:

* The grid ``X`` (H, W, C) starts from a locality-preserving arrangement
  (``init="kd"``: gscc.codec.kd_layout's median splits; ``"random"``: a seeded
  shuffle, as in the paper).
* For a radius ``r`` going from ``start_radius`` (default ``max(H, W) / 2``)
  down to ``min_radius`` (multiplied by ``radius_decay`` after each stage),
  ``max_iters_per_radius`` times:

  1. target ``T`` = ``X`` blurred by a border-normalised box filter of
     half-width ``r`` (for ``r >= 4`` computed on an ``r/2``-pooled grid and
     linearly interpolated back, so every blur costs a few passes);
  2. ``swaps_per_target`` assignment steps against ``T``: the grid's cells are
     split into groups of four, and every group takes the permutation of its
     vectors over its cells (all 24) with the smallest summed squared L2
     distance to the targets at those cells (the identity is a candidate, so
     no group gets worse).

  The groups (``groups=``):

  - ``"squares"`` (default; Taichi kernels on the CPU, gscc.codec.plas_kernels):
    the corners of ``dy`` x ``dx`` rectangles, tiled from a random offset, with
    ``dy`` and ``dx`` drawn at random up to ``r``;
  - ``"random"`` (torch, any device): the paper's -- the grid is tiled into
    square blocks (side ``min(block_size, max(4, 2r))``) at a random offset and
    each block's cells are shuffled into groups of ``group_size``; a radius also
    ends early once ``|X - T|^2`` improves by less than ``improvement_break``.

Results are deterministic for a given seed and device (one seeded
``torch.Generator``, no global RNG; the kernels work on disjoint groups and
rows).  Cost with the defaults: about 80 blurs and 500 swap steps for 1M
vectors, each a few passes over the grid.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from . import plas_kernels
from .grid import grid_shape  # noqa: F401  (re-exported: part of the sorting API)
from .kd_layout import kd_layout

__all__ = ["PlasConfig", "grid_shape", "plas_sort", "neighbour_distance"]

INITS = ("kd", "random")  # first arrangement: gscc.codec.kd_layout, or a seeded shuffle
KD_LEAF_CELLS = 16  # the k-d start stops splitting there; the swaps order the leaves' cells
GROUPS = ("squares", "random")  # swap groups: rectangle corners (Taichi, CPU), or random cells in blocks (torch)


@dataclass(frozen=True)
class PlasConfig:
    """Parameters of :func:`plas_sort`.

    block_size: side length (in cells) of the square blocks whose cells are
        shuffled into assignment groups; a vector moves at most about this far
        per iteration.  Clipped to the grid size.
    group_size: cells per assignment group; all ``group_size!`` permutations
        are evaluated (2..6; 4 -> 24 permutations).
    start_radius: first blur radius; ``None`` means ``max(H, W) / 2``.
    min_radius: last blur radius (the schedule stops below it).
    radius_decay: factor applied to the radius after every stage.
    improvement_break: leave a radius when the relative improvement of the
        mean squared distance to the blurred target falls below this.
    max_iters_per_radius: targets (blurs) per radius; with ``groups="random"``
        a bound, as a radius may end early.
    seed: seed of the torch.Generator driving all randomness.
    device: torch device to compute on (``groups="squares"``: the CPU only).
    num_threads: if set, torch intra-op threads used during the call
        (restored afterwards); ``None`` keeps torch's current setting.
    init: the first arrangement, one of INITS.
    groups: how cells are grouped for the assignment steps, one of GROUPS.
    swaps_per_target: assignment steps against each blurred target.

    block_size, group_size and improvement_break apply to ``groups="random"``
    only (squares are groups of four).
    """

    block_size: int = 32
    group_size: int = 4
    start_radius: float | None = None
    min_radius: float = 1.0
    radius_decay: float = 0.85
    improvement_break: float = 1e-4
    max_iters_per_radius: int = 2
    seed: int = 0
    device: str = "cpu"
    num_threads: int | None = None
    init: str = "kd"
    groups: str = "squares"
    swaps_per_target: int = 6


def _window_mean(src: torch.Tensor, out: torch.Tensor, r: float, dim: int) -> torch.Tensor:
    """Mean of ``src`` over a window of half-width ``r`` along ``dim``, into ``out``.

    Offsets ``<= floor(r)`` have weight 1, offset ``floor(r) + 1`` has weight
    ``frac(r)``; windows are clipped at the border and normalised by their
    weight (no border darkening).  Shift-and-add, meant for small ``r``.
    """
    length = src.shape[dim]
    out.copy_(src)
    count = torch.ones(length, dtype=src.dtype, device=src.device)
    d = 1
    while d < length and d - 1 < r - 1e-6:
        wgt = min(1.0, r - d + 1)
        out.narrow(dim, d, length - d).add_(src.narrow(dim, 0, length - d), alpha=wgt)
        out.narrow(dim, 0, length - d).add_(src.narrow(dim, d, length - d), alpha=wgt)
        count[d:] += wgt
        count[:-d] += wgt
        d += 1
    shape = [1] * src.dim()
    shape[dim] = length
    return out.div_(count.view(shape))


def _pool(x: torch.Tensor, s: int) -> torch.Tensor:
    """Means of ``s`` x ``s`` blocks of ``x`` (H, W, C); partial edge blocks allowed."""
    h, w, c = x.shape
    rb = torch.div(torch.arange(h, device=x.device), s, rounding_mode="floor")
    cb = torch.div(torch.arange(w, device=x.device), s, rounding_mode="floor")
    hs, ws = int(rb[-1]) + 1, int(cb[-1]) + 1
    rows = x.new_zeros(hs, w, c).index_add_(0, rb, x)
    out = x.new_zeros(hs, ws, c).index_add_(1, cb, rows)
    count = torch.bincount(rb).to(x.dtype)[:, None] * torch.bincount(cb).to(x.dtype)[None, :]
    return out.div_(count.unsqueeze(-1))


def _upsample(src: torch.Tensor, length: int, s: int, dim: int,
              tmp: torch.Tensor | None = None, out: torch.Tensor | None = None) -> torch.Tensor:
    """Linear interpolation of block means ``src`` back to ``length`` cells along ``dim``.

    Block ``i`` covers cells ``[i*s, min((i+1)*s, length))``; its mean is placed
    at the block centre, values are clamped beyond the first/last centre.
    """
    n, dev = src.shape[dim], src.device
    start = torch.arange(n, device=dev) * s
    centre = (start + torch.clamp(start + s, max=length) - 1).to(src.dtype) / 2
    pos = torch.arange(length, device=dev, dtype=src.dtype)
    i0 = torch.clamp(torch.searchsorted(centre, pos, right=True) - 1, 0, n - 1)
    i1 = torch.clamp(i0 + 1, max=n - 1)
    gap = torch.clamp(centre[i1] - centre[i0], min=1e-6)
    frac = torch.clamp((pos - centre[i0]) / gap, 0.0, 1.0)
    shape = [1] * src.dim()
    shape[dim] = length
    lo = torch.index_select(src, dim, i0, out=tmp) if tmp is not None else src.index_select(dim, i0)
    hi = torch.index_select(src, dim, i1, out=out) if out is not None else src.index_select(dim, i1)
    return torch.lerp(lo, hi, frac.view(shape), out=hi)


def _blur(x: torch.Tensor, r: float, tmp: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Box-blur the grid ``x`` (H, W, C) with half-width ``r`` (cells).

    ``tmp`` and ``out`` are (H, W, C) work buffers; the result is ``out``.
    Radii ``r >= 4`` are blurred on a grid average-pooled by ``s = floor(r / 2)``
    (radius ``r / s`` there) and linearly interpolated back, so the cost is a
    few passes over the grid whatever ``r`` is.
    """
    h, w, _ = x.shape
    s = max(1, min(int(r // 2), max(h, w)))
    if s == 1:
        return _window_mean(_window_mean(x, tmp, r, 0), out, r, 1)
    small = _pool(x, s)
    small = _window_mean(small, torch.empty_like(small), r / s, 0)
    small = _window_mean(small, torch.empty_like(small), r / s, 1)
    rows = _upsample(small, h, s, 0)
    return _upsample(rows, w, s, 1, tmp, out)


class _Sorter:
    """State of one PLAS run: the grid, the cell -> index map and work buffers."""

    def __init__(self, feats: torch.Tensor, hw: tuple[int, int], cfg: PlasConfig,
                 gen: torch.Generator) -> None:
        self.h, self.w = hw
        self.m = self.h * self.w
        self.cfg, self.gen, self.dev = cfg, gen, feats.device
        if cfg.init == "kd":
            self.order = torch.from_numpy(kd_layout(feats.cpu().numpy(), hw, KD_LEAF_CELLS)).to(self.dev)
        else:
            self.order = torch.randperm(self.m, generator=gen, device=self.dev)
        self.x = feats.index_select(0, self.order)  # (M, C) grid, row-major cells
        self.g = min(cfg.group_size, self.m)
        perms = list(itertools.permutations(range(self.g)))  # perms[0] = identity
        self.perms = torch.tensor(perms, dtype=torch.long, device=self.dev)
        # pick[i * g + j, p] = 1 iff permutation p sends vector i to cell j
        dtype = feats.dtype
        self.pick = torch.zeros(self.g * self.g, len(perms), dtype=dtype, device=self.dev)
        rows = torch.arange(self.g, device=self.dev) * self.g + self.perms
        self.pick[rows.T, torch.arange(len(perms), device=self.dev)] = 1.0
        self.radius = float(max(self.h, self.w))
        self.n_groups = self.m // self.g
        k = self.n_groups * self.g
        self.tmp, self.tgt = torch.empty_like(self.x), torch.empty_like(self.x)
        self.v = torch.empty(k, self.x.shape[1], dtype=dtype, device=self.dev)
        self.t = torch.empty_like(self.v)
        self.o = torch.empty(k, dtype=torch.long, device=self.dev)
        self.dots = torch.empty(self.n_groups, self.g, self.g, dtype=dtype, device=self.dev)

    def target(self, radius: float) -> torch.Tensor:
        """Blurred grid (M, C) for the current arrangement."""
        shp = (self.h, self.w, -1)
        out = _blur(self.x.view(shp), radius, self.tmp.view(shp), self.tgt.view(shp))
        return out.reshape(self.m, -1)

    def distance(self, target: torch.Tensor) -> float:
        """Mean squared distance between the grid and ``target`` (uses ``tmp``)."""
        diff = torch.sub(self.x, target, out=self.tmp)
        return float(torch.linalg.vector_norm(diff)) ** 2 / self.m

    def groups(self) -> torch.Tensor:
        """Cells of all groups (n_groups * g,): random groups inside randomly offset blocks.

        Block side: ``min(block_size, max(4, ceil(2 * radius)))``, clipped to the grid.
        """
        dev = self.dev
        # blocks shrink with the radius: late, local stages try local swaps
        b = max(2, min(max(self.h, self.w), self.cfg.block_size, max(4, math.ceil(2 * self.radius))))
        off = torch.randint(0, b, (2,), generator=self.gen, device=dev)
        by = torch.div(torch.arange(self.h, device=dev) + off[0], b, rounding_mode="floor")
        bx = torch.div(torch.arange(self.w, device=dev) + off[1], b, rounding_mode="floor")
        block_id = (by[:, None] * (self.w // b + 2) + bx[None, :]).reshape(-1)
        shuffled = torch.randperm(self.m, generator=self.gen, device=dev)
        by_block = torch.sort(block_id.index_select(0, shuffled), stable=True).indices
        cells = shuffled.index_select(0, by_block)
        return cells[: self.n_groups * self.g]  # the m % g leftover cells sit this one out

    def swap(self, target: torch.Tensor) -> None:
        """One parallel assignment step against ``target`` (updates x and order)."""
        ng, g = self.n_groups, self.g
        idx = self.groups()
        v = torch.index_select(self.x, 0, idx, out=self.v).view(ng, g, -1)
        t = torch.index_select(target, 0, idx, out=self.t).view(ng, g, -1)
        # sum_i |v_i - t_p(i)|^2 = const - 2 sum_i <v_i, t_p(i)>: maximise the dots.
        dots = torch.bmm(v, t.transpose(1, 2), out=self.dots).view(ng, g * g)
        best = (dots @ self.pick).argmax(1)
        dest = idx.view(ng, g).gather(1, self.perms.index_select(0, best)).view(-1)
        torch.index_select(self.order, 0, idx, out=self.o)
        self.order.index_copy_(0, dest, self.o)
        self.x.index_copy_(0, dest, self.v)

    def swap_squares(self, target: torch.Tensor, order: torch.Tensor) -> None:
        """One assignment step over groups of four cells at the corners of a rectangle whose
        sides (random, seeded) are at most the radius."""
        reach = max(1, round(self.radius))
        step = int(torch.randint(1, max(1, min(reach, self.h // 2)) + 1, (1,), generator=self.gen))
        step_x = int(torch.randint(1, max(1, min(reach, self.w // 2)) + 1, (1,), generator=self.gen))
        top = int(torch.randint(0, 2 * step, (1,), generator=self.gen))
        left = int(torch.randint(0, 2 * step_x, (1,), generator=self.gen))
        plas_kernels.swap_squares(self.x, target, order, (self.h, self.w), step, top, left, step_x)

    def radii(self) -> list[float]:
        """The radius schedule: from the start radius down to ``min_radius``."""
        cfg = self.cfg
        radius = cfg.start_radius if cfg.start_radius is not None else max(self.h, self.w) / 2
        radius = max(radius, cfg.min_radius)
        radii = []
        while radius >= cfg.min_radius - 1e-9:
            radii.append(radius)
            radius *= cfg.radius_decay
        return radii

    def run(self) -> torch.Tensor:
        """Full radius schedule; returns the cell -> index map."""
        if self.g < 2:
            return self.order
        return self.run_squares() if self.cfg.groups == "squares" else self.run_random()

    def run_random(self) -> torch.Tensor:
        """Random groups in blocks; a radius ends early once the grid stops approaching its target."""
        cfg = self.cfg
        for radius in self.radii():
            self.radius = radius
            prev = math.inf
            for _ in range(max(1, cfg.max_iters_per_radius)):
                target = self.target(radius)
                dist = self.distance(target)
                if prev - dist <= cfg.improvement_break * prev and prev < math.inf:
                    break
                prev = dist
                for _ in range(cfg.swaps_per_target):
                    self.swap(target)
        return self.order

    def run_squares(self) -> torch.Tensor:
        """Rectangle groups (Taichi kernels), ``max_iters_per_radius`` targets per radius."""
        if min(self.h, self.w) < 2:
            return self.order
        cfg = self.cfg
        order = self.order.to(torch.int32)
        shp = (self.h, self.w, -1)
        grid, tmp, out = self.x.view(shp), self.tmp.view(shp), self.tgt.view(shp)
        for radius in self.radii():
            self.radius = radius
            for _ in range(max(1, cfg.max_iters_per_radius)):
                target = plas_kernels.box_blur(grid, radius, tmp, out).view(self.m, -1)
                for _ in range(cfg.swaps_per_target):
                    self.swap_squares(target, order)
        return order.to(torch.int64)


def plas_sort(features: np.ndarray, shape: tuple[int, int],
              config: PlasConfig = PlasConfig(), *,
              weights: np.ndarray | None = None) -> np.ndarray:
    """Sort ``features`` (N, C) into a grid of ``shape = (H, W)``.

    Features are normalised inside: per column, subtract the mean and divide
    by the standard deviation (floored at 1e-6 times the largest column std,
    and at 1e-12), then multiply by ``weights`` (C,) if given.

    Returns ``order``: int64 array of length ``H * W``; ``order[cell]``
    (row-major cell index) is the index into the padded feature list placed
    at that cell.  The ``H * W - N`` padding entries are copies of randomly
    chosen (seeded) real rows, so they sort next to their twins, and are
    reported as indices ``N .. H*W-1``.  Every index ``0 .. H*W-1`` appears
    exactly once.  Deterministic for a given ``config.seed`` and device.
    """
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim == 1:
        feats = feats[:, None]
    if feats.ndim != 2:
        raise ValueError(f"features must be (N, C), got shape {feats.shape}")
    h, w = int(shape[0]), int(shape[1])
    n, m = feats.shape[0], h * w
    if h < 1 or w < 1 or n > m:
        raise ValueError(f"cannot place {n} vectors on a {h}x{w} grid")
    if not 2 <= config.group_size <= 6:
        raise ValueError("group_size must be in 2..6")
    if not (0.0 < config.radius_decay < 1.0 and config.min_radius > 0.0):
        raise ValueError("need 0 < radius_decay < 1 and min_radius > 0")
    if config.init not in INITS or config.groups not in GROUPS:
        raise ValueError(f"init must be one of {', '.join(INITS)} and groups one of {', '.join(GROUPS)}")
    if config.groups == "squares" and torch.device(config.device).type != "cpu":
        raise ValueError('groups="squares" runs on the CPU (Taichi); use groups="random" on other devices')
    if config.swaps_per_target < 1:
        raise ValueError("swaps_per_target must be at least 1")
    if n == 0:
        return np.arange(m, dtype=np.int64)
    mean = feats.mean(0)
    std = feats.std(0)
    std = np.maximum(std, max(1e-6 * float(std.max(initial=0.0)), 1e-12))
    feats = (feats - mean) / std
    if weights is not None:
        feats = feats * np.asarray(weights, dtype=np.float64).reshape(1, -1)

    old_threads = torch.get_num_threads()
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    try:
        with torch.no_grad():
            order = _plas(torch.from_numpy(feats.astype(np.float32)), n, (h, w), config)
    finally:
        if config.num_threads:
            torch.set_num_threads(old_threads)
    return order.cpu().numpy().astype(np.int64)


def _plas(feats: torch.Tensor, n: int, hw: tuple[int, int], cfg: PlasConfig) -> torch.Tensor:
    """Pad the normalised (N, C) features and run the sorter on ``cfg.device``."""
    dev = torch.device(cfg.device)
    m = hw[0] * hw[1]
    gen = torch.Generator(device=dev)
    gen.manual_seed(cfg.seed)
    feats = feats.to(dev)
    if m > n:  # padding rows: copies of random real rows, reported as n..m-1
        twins = torch.randint(0, n, (m - n,), generator=gen, device=dev)
        feats = torch.cat([feats, feats.index_select(0, twins)], 0)
    return _Sorter(feats, hw, cfg, gen).run()


def neighbour_distance(features: np.ndarray, order: np.ndarray, shape: tuple[int, int]) -> float:
    """Mean L2 distance between horizontally/vertically adjacent cells.

    ``features`` is the padded (H*W, C) list (or (N, C) with ``order``
    entries >= N ignored as padding: pairs touching a padding cell are skipped).
    """
    h, w = shape
    feats = np.asarray(features, dtype=np.float64)
    if feats.ndim == 1:
        feats = feats[:, None]
    order = np.asarray(order).reshape(h, w)
    valid = order < feats.shape[0]
    grid = feats[np.where(valid, order, 0)]
    dists, masks = [], []
    for a, b, va, vb in ((grid[:, 1:], grid[:, :-1], valid[:, 1:], valid[:, :-1]),
                         (grid[1:], grid[:-1], valid[1:], valid[:-1])):
        dists.append(np.linalg.norm(a - b, axis=-1).ravel())
        masks.append((va & vb).ravel())
    d, mk = np.concatenate(dists), np.concatenate(masks)
    return float(d[mk].mean()) if mk.any() else 0.0
