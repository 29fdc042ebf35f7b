"""PLAS with the paper's random groups, in torch (any device): gscc.codec.sort's
``groups="random"``.

The grid's cells are tiled into square blocks (side ``min(block_size, max(4, 2r))``) at a
random offset and each block's cells are shuffled into groups of ``group_size``; every
group takes the permutation of its vectors with the smallest summed squared distance to
the blurred grid (``_blur``: the same border-normalised box blur as
gscc.codec.plas_kernels.box_blur). A radius ends early once ``|X - T|^2`` improves by less
than ``improvement_break``. Deterministic for a seed and device (one seeded
``torch.Generator``). Only this sorter needs torch; the default one
(gscc.codec.sort, ``groups="squares"``) runs in numpy and Taichi.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from .kd_layout import kd_layout
from .sort import KD_LEAF_CELLS, PlasConfig, radii


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
    """State of one PLAS run with random groups: the grid, the cell -> index map and work buffers."""

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

    def run(self) -> torch.Tensor:
        """The full radius schedule; returns the cell -> index map."""
        if self.g < 2:
            return self.order
        return self.run_random()

    def run_random(self) -> torch.Tensor:
        """Random groups in blocks; a radius ends early once the grid stops approaching its target."""
        cfg = self.cfg
        for radius in radii(self.h, self.w, cfg):
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


def plas_random(feats: np.ndarray, n: int, hw: tuple[int, int], cfg: PlasConfig) -> np.ndarray:
    """``order`` (H*W,) int64 for the normalised float32 (N, C) ``feats``: padding rows are
    copies of random (seeded) real rows, reported as ``n .. H*W-1``."""
    old_threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        with torch.no_grad():
            dev = torch.device(cfg.device)
            m = hw[0] * hw[1]
            gen = torch.Generator(device=dev)
            gen.manual_seed(cfg.seed)
            x = torch.from_numpy(feats).to(dev)
            if m > n:  # padding rows: copies of random real rows, reported as n..m-1
                twins = torch.randint(0, n, (m - n,), generator=gen, device=dev)
                x = torch.cat([x, x.index_select(0, twins)], 0)
            order = _Sorter(x, hw, cfg, gen).run()
    finally:
        if cfg.num_threads:
            torch.set_num_threads(old_threads)
    return order.cpu().numpy().astype(np.int64)
