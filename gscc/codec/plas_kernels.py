"""Taichi CPU kernels for PLAS on a grid: a box blur of any radius and a swap step over
square groups of four cells.

Both are data-parallel over disjoint work (rows of the blur, groups of the swap), so their
results do not depend on the thread count: the sorter stays deterministic.
"""

import itertools
import math

import numpy as np

from ..taichi_cpu import ensure_taichi, ti  # imported there without Taichi's banner

__all__ = ["box_blur", "swap_squares", "warm_up"]

PERMUTATIONS = list(itertools.permutations(range(4)))  # [0] is the identity
F32_2 = ti.types.ndarray(dtype=ti.f32, ndim=2)
F32_3 = ti.types.ndarray(dtype=ti.f32, ndim=3)
I32_1 = ti.types.ndarray(dtype=ti.i32, ndim=1)


LANES = 16  # channels one thread carries along a line at once


@ti.kernel
def _window_mean(src: F32_3, dst: F32_3, whole: ti.i32, frac: ti.f32):
    """Mean along axis 1 of (A, L, B) over offsets ``<= whole`` (weight 1) and ``whole + 1``
    (weight ``frac``), clipped at the ends and normalised by the weight inside."""
    length, depth = src.shape[1], src.shape[2]
    for a, lane in ti.ndrange(src.shape[0], (depth + LANES - 1) // LANES):
        b0 = lane * LANES
        core = ti.Vector.zero(ti.f64, LANES)  # sums over offsets -whole..whole around i
        for j in range(ti.min(whole, length - 1) + 1):
            for k in ti.static(range(LANES)):
                if b0 + k < depth:
                    core[k] += src[a, j, b0 + k]
        for i in range(length):
            total = core
            weight = ti.f64(ti.min(i + whole, length - 1) - ti.max(i - whole, 0) + 1)
            before, after = i - whole - 1, i + whole + 1
            if before >= 0:
                weight += frac
            if after < length:
                weight += frac
            for k in ti.static(range(LANES)):
                if b0 + k < depth:
                    if before >= 0:
                        total[k] += frac * src[a, before, b0 + k]
                    if after < length:
                        total[k] += frac * src[a, after, b0 + k]
                        core[k] += src[a, after, b0 + k]
                    if i - whole >= 0:
                        core[k] -= src[a, i - whole, b0 + k]
                    dst[a, i, b0 + k] = ti.f32(total[k] / weight)


@ti.kernel
def _pool(src: F32_3, dst: F32_3, size: ti.i32):
    """Means of ``size`` x ``size`` blocks of ``src`` (H, W, C); edge blocks may be partial."""
    h, w = src.shape[0], src.shape[1]
    for py, px in ti.ndrange(dst.shape[0], dst.shape[1]):
        y1, x1 = ti.min((py + 1) * size, h), ti.min((px + 1) * size, w)
        inverse = 1.0 / ti.f32((y1 - py * size) * (x1 - px * size))
        for k in range(src.shape[2]):
            total = ti.f32(0.0)
            for y in range(py * size, y1):
                for x in range(px * size, x1):
                    total += src[y, x, k]
            dst[py, px, k] = total * inverse


@ti.func
def _between(i: ti.i32, size: ti.i32, length: ti.i32, blocks: ti.i32):
    """The blocks around cell ``i`` and the weight of the second: linear interpolation
    between block centres, clamped beyond the first and last centre."""
    centre = (ti.f32(i) - 0.5 * ti.f32(size - 1)) / ti.f32(size)
    b0 = ti.max(0, ti.min(blocks - 1, ti.i32(ti.floor(centre))))
    b1 = ti.min(b0 + 1, blocks - 1)
    c0 = 0.5 * ti.f32(b0 * size + ti.min((b0 + 1) * size, length) - 1)
    c1 = 0.5 * ti.f32(b1 * size + ti.min((b1 + 1) * size, length) - 1)
    weight = ti.f32(0.0)
    if b1 != b0:
        weight = ti.max(0.0, ti.min(1.0, (ti.f32(i) - c0) / (c1 - c0)))
    return b0, b1, weight


@ti.kernel
def _upsample(src: F32_3, dst: F32_3, size: ti.i32):
    """Linear interpolation of block means ``src`` back to the grid ``dst`` (H, W, C)."""
    h, w = dst.shape[0], dst.shape[1]
    for y, x in ti.ndrange(h, w):
        y0, y1, fy = _between(y, size, h, src.shape[0])
        x0, x1, fx = _between(x, size, w, src.shape[1])
        for k in range(dst.shape[2]):
            upper = src[y0, x0, k] + fx * (src[y0, x1, k] - src[y0, x0, k])
            lower = src[y1, x0, k] + fx * (src[y1, x1, k] - src[y1, x0, k])
            dst[y, x, k] = upper + fy * (lower - upper)


def _blur_here(grid: np.ndarray, radius: float, tmp: np.ndarray, out: np.ndarray) -> np.ndarray:
    h, w, c = grid.shape
    whole = int(math.floor(radius + 1e-9))
    frac = max(0.0, radius - whole)
    _window_mean(grid, tmp, whole, frac)
    _window_mean(tmp.reshape(1, h, w * c), out.reshape(1, h, w * c), whole, frac)
    return out


def box_blur(grid: np.ndarray, radius: float, tmp: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``grid`` (H, W, C) blurred with a box of half-width ``radius`` cells (the last cell
    weighted by its fraction), border-normalised, into ``out``; ``tmp`` is a work buffer
    of the same shape. Radii of 4 cells and more are blurred on a grid of
    ``size`` x ``size`` block means (``size = floor(radius / 2)``, radius
    ``radius / size`` there) and interpolated linearly between block centres, so a blur
    costs a few passes over the grid whatever the radius. (gscc.codec.plas_torch's
    blur computes the same.)"""
    ensure_taichi()
    h, w, c = grid.shape
    size = max(1, min(int(radius // 2), max(h, w)))
    if size == 1:
        return _blur_here(grid, radius, tmp, out)
    small = np.empty((-(-h // size), -(-w // size), c), dtype=grid.dtype)
    _pool(grid, small, size)
    _upsample(_blur_here(small, radius / size, np.empty_like(small), np.empty_like(small)), out, size)
    return out


@ti.func
def _square(g: ti.i32, width: ti.i32, step: ti.i32, top: ti.i32, left: ti.i32, across: ti.i32, step_x: ti.i32):
    """The four cells of group ``g``: corners of a ``step`` x ``step_x`` rectangle."""
    r, c = g // across, g % across
    y = top + (r // step) * 2 * step + r % step
    x = left + (c // step_x) * 2 * step_x + c % step_x
    base = y * width + x
    return ti.Vector([base, base + step_x, base + step * width, base + step * width + step_x])


@ti.kernel
def _swap(x: F32_2, order: I32_1, t: F32_2, width: ti.i32, step: ti.i32, top: ti.i32, left: ti.i32,
          across: ti.i32, groups: ti.i32, step_x: ti.i32):
    """For every group, move its vectors (and their row indices) to the permutation over
    its cells with the largest summed dot product with the targets ``t`` there (= the
    smallest squared distance). Groups are disjoint, so each is rearranged in place by
    one thread."""
    for g in range(groups):
        cell = _square(g, width, step, top, left, across, step_x)
        dots = ti.Matrix.zero(ti.f32, 4, 4)
        for k in range(x.shape[1]):
            xv = ti.Vector([x[cell[0], k], x[cell[1], k], x[cell[2], k], x[cell[3], k]])
            tv = ti.Vector([t[cell[0], k], t[cell[1], k], t[cell[2], k], t[cell[3], k]])
            dots += xv.outer_product(tv)
        top_score = dots[0, 0] + dots[1, 1] + dots[2, 2] + dots[3, 3]
        choice = 0
        dest = cell
        for p in ti.static(range(1, len(PERMUTATIONS))):
            perm = PERMUTATIONS[p]
            score = dots[0, perm[0]] + dots[1, perm[1]] + dots[2, perm[2]] + dots[3, perm[3]]
            if score > top_score:
                top_score = score
                choice = p
                dest = ti.Vector([cell[perm[0]], cell[perm[1]], cell[perm[2]], cell[perm[3]]])
        if choice != 0:
            rows = ti.Vector([order[cell[0]], order[cell[1]], order[cell[2]], order[cell[3]]])
            for i in ti.static(range(4)):
                order[dest[i]] = rows[i]
            for k in range(x.shape[1]):
                v = ti.Vector([x[cell[0], k], x[cell[1], k], x[cell[2], k], x[cell[3], k]])
                for i in ti.static(range(4)):
                    x[dest[i], k] = v[i]


def swap_squares(x: np.ndarray, target: np.ndarray, order: np.ndarray,
                 shape: tuple[int, int], step: int, top: int, left: int, step_x: int | None = None) -> None:
    """One parallel assignment step, in place: the grid (H*W, C) ``x`` and its cell -> row
    map ``order`` (int32) are rearranged within square groups of four cells
    ``(y, x), (y, x+step), (y+step, x), (y+step, x+step)``, tiled from ``(top, left)`` in
    blocks of ``2*step`` cells; each group takes the arrangement closest to ``target``.
    ``target`` is (H*W, C), e.g. the grid's :func:`box_blur`."""
    ensure_taichi()
    h, w = shape
    step_x = step if step_x is None else step_x
    down, across = (h - top) // (2 * step) * step, (w - left) // (2 * step_x) * step_x
    if down * across:
        _swap(x, order, target, w, step, top, left, across, down * across, step_x)


def warm_up() -> None:
    """Compile every kernel now (Taichi compiles one on its first call; tiny grids suffice),
    e.g. on a thread while the caller prepares the real grid."""
    grid = np.zeros((4, 4, 1), np.float32)
    box_blur(grid, 1.0, np.empty_like(grid), np.empty_like(grid))  # the direct blur
    box_blur(grid, 4.0, np.empty_like(grid), np.empty_like(grid))  # the pooled one
    rows = grid.reshape(16, 1)
    swap_squares(rows, rows.copy(), np.arange(16, dtype=np.int32), (4, 4), 1, 0, 0)
