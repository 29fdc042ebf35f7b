"""Tile-based rasterisation of projected 2D Gaussians on the CPU, in Taichi, with a
hand-written backward pass.

:func:`rasterize_2d` composites splats that are already projected to the image plane
(``means2d``, ``conics``, ``radii`` from :mod:`gscc.render.projection`) following the
"Compositing" rules of :mod:`gscc.render`, and is differentiable by torch autograd with
respect to ``means2d``, ``conics``, ``opacities``, ``colors`` and ``background``.

How it works
    1. Binning (:func:`_bin`): the visible splats (radius > 0) are sorted by depth, ties
       by index (one numpy sort of 64-bit keys: depth bits, then index). A parallel kernel
       gathers their attributes into that order and gives each the rectangle of tiles
       holding a pixel centre inside both its bounding square ``mean2d ± radius`` and the
       bounding box of its ellipse ``α >= 1/255``. A serial counting sort then writes, tile
       by tile, the depth-ordered list of the splats touching it (the "intersections") and
       each tile's range in it.
    2. Forward (:func:`_forward_kernel`): tiles are processed in parallel, one thread per
       tile. Inside a tile the splats are visited front to back, and for each splat only
       the pixels of its ellipse (its bounding box for small splats, the exact span of
       every row for wider ones, plus a small safety margin) are evaluated, so the cost
       follows the splats' real footprint rather than the tile area; a power bound skips
       the exp where α < 1/255 is certain. The per-pixel tests are exactly the compositing
       rules, so these shortcuts never change a result. Each pixel keeps its transmittance
       T (negated once the pixel has stopped) and the 1-based position, in the tile's
       list, of the last splat it added; a tile stops once all its pixels have.
    3. Backward (:func:`_backward_kernel`): again one thread per tile, splats visited back
       to front. Per pixel only two scalars are replayed: T (divided back by 1 - α) and
       ``s = Σ_c g_c · (colour composited behind the current splat, background and the
       alpha output included)``, so ``dL/dα = T·(g·colour) - s / (1 - α)``. Per-splat
       gradients are summed over the tile's pixels in registers and written once per
       intersection (no atomics); a parallel kernel then sums each splat's intersections
       (deterministic: no floating-point atomics anywhere).

Everything heavy runs in Taichi kernels (numpy does the depth sort); torch only allocates
the buffers they share, which also keeps the cost predictable on a busy machine, where
torch's OpenMP ops slow down a lot.

Colour channels are a compile-time constant of the kernels (one compiled variant per
channel count, cached by Taichi); more than :data:`MAX_STATIC_CHANNELS` channels are
rendered in chunks of at most that many, which is exact because the colour enters the
alpha gradients linearly.
"""

from typing import Optional

import numpy as np
import torch

from ..taichi_cpu import ensure_taichi, ti  # noqa: F401  (ensure_taichi: part of this module's API)

ALPHA_MIN = 1.0 / 255.0
ALPHA_MAX = 0.999
T_MIN = 1e-4
MAX_STATIC_CHANNELS = 32
# Safety margin of the scanline spans: relative to the ellipse half-width, plus a constant
# in pixels. The per-pixel α test stays authoritative; the margin only absorbs rounding.
SPAN_REL_MARGIN = 1e-3
SPAN_ABS_MARGIN = 0.02
# Splats at most this many pixels wide (half-width) visit their whole bounding box in a
# tile; wider ones compute the exact span of every row.
SPAN_EXACT_MIN = 4.0
# Pixels with power < -ln(255·opacity) - POWER_MARGIN have α < 1/255 for certain, so they
# are skipped before the exp; the exact α test decides the rest.
POWER_MARGIN = 1e-4
# Taichi's CPU backend hands its threads parallel-for iterations in blocks of at least 512
# (whatever ti.loop_config asks), so a loop over 256 tiles would run on a single thread.
# The tile loops therefore run over tiles * TILE_STRIDE iterations and only every
# TILE_STRIDE-th does a tile's work: each block then holds one or two tiles.
TILE_STRIDE = 512

# ---------------------------------------------------------------------------------------
# Kernels. Per depth-sorted splat, ``geom`` holds mean x, mean y, conic a, b, c and
# opacity (float32, as given), and ``span`` (float64) the scanline description of its
# ellipse α >= 1/255, i.e. q = a·dx² + 2b·dx·dy + c·dy² <= t with t = 2·ln(255·opacity):
# half-height hy, b/a, t/a and det/a², so that row dy spans the centre x - (b/a)·dy ±
# sqrt(t/a - (det/a²)·dy²). Margins are added for rounding; hy < 0 marks a conic that is
# not positive definite, whose spans are the whole tile.
# ---------------------------------------------------------------------------------------

NDF32_1 = ti.types.ndarray(dtype=ti.f32, ndim=1)
NDF32_2 = ti.types.ndarray(dtype=ti.f32, ndim=2)
NDF32_3 = ti.types.ndarray(dtype=ti.f32, ndim=3)
NDF64_2 = ti.types.ndarray(dtype=ti.f64, ndim=2)
NDI32_1 = ti.types.ndarray(dtype=ti.i32, ndim=1)
NDI32_2 = ti.types.ndarray(dtype=ti.i32, ndim=2)


@ti.kernel
def _prepare_kernel(
    rank: NDI32_1,
    means2d: NDF32_2,
    conics: NDF32_2,
    opacities: NDF32_1,
    colors: NDF32_2,
    radii: NDI32_1,
    geom: NDF32_2,
    span: NDF64_2,
    colors_sorted: NDF32_2,
    rects: NDI32_2,
    width: ti.i32,
    height: ti.i32,
    tile_size: ti.i32,
):
    """Scatter the visible splats (rank >= 0) into depth order, with their ellipse spans
    and tile rectangles (x0, y0, x1, y1, inclusive; empty when x1 < x0). Reads are
    sequential and writes scattered, which is the cheaper way round."""
    for i in range(rank.shape[0]):
        r = rank[i]
        if r < 0:
            continue
        for ch in range(colors.shape[1]):
            colors_sorted[r, ch] = colors[i, ch]
        o = opacities[i]
        geom[r, 0] = means2d[i, 0]
        geom[r, 1] = means2d[i, 1]
        geom[r, 2] = conics[i, 0]
        geom[r, 3] = conics[i, 1]
        geom[r, 4] = conics[i, 2]
        geom[r, 5] = o
        mx = ti.cast(means2d[i, 0], ti.f64)
        my = ti.cast(means2d[i, 1], ti.f64)
        a = ti.cast(conics[i, 0], ti.f64)
        b = ti.cast(conics[i, 1], ti.f64)
        c = ti.cast(conics[i, 2], ti.f64)
        rad = ti.cast(radii[i], ti.f64)
        x0 = 0
        y0 = 0
        x1 = -1
        y1 = -1
        hx = ti.cast(0.0, ti.f64)
        hy = ti.cast(-1.0, ti.f64)
        thr = ti.cast(-1e30, ti.f64)
        ba = ti.cast(0.0, ti.f64)
        ta = ti.cast(0.0, ti.f64)
        da = ti.cast(0.0, ti.f64)
        finite = (ti.abs(mx) < 1e30) and (ti.abs(my) < 1e30) and (a == a) and (b == b) and (c == c)
        if rad > 0 and o >= ALPHA_MIN and finite:
            xlo = mx - rad
            xhi = mx + rad
            ylo = my - rad
            yhi = my + rad
            det = a * c - b * b
            if a > 0 and c > 0 and det > 0:
                log_o = ti.log(ti.max(255.0 * ti.cast(o, ti.f64), 1.0))
                thr = -log_o - POWER_MARGIN
                level = 2.0 * log_o * (1.0 + 1e-5) + 1e-5
                hx = ti.sqrt(level * c / det) * (1.0 + SPAN_REL_MARGIN) + SPAN_ABS_MARGIN
                hy = ti.sqrt(level * a / det) * (1.0 + SPAN_REL_MARGIN) + SPAN_ABS_MARGIN
                ba = b / a
                ta = level / a
                da = det / (a * a)
                xlo = ti.max(xlo, mx - hx)
                xhi = ti.min(xhi, mx + hx)
                ylo = ti.max(ylo, my - hy)
                yhi = ti.min(yhi, my + hy)
            # pixels whose centre (j + 0.5, i + 0.5) lies in the box, clipped to the image
            j0 = ti.max(ti.ceil(xlo - 0.5), 0.0)
            j1 = ti.min(ti.floor(xhi - 0.5), ti.cast(width - 1, ti.f64))
            i0 = ti.max(ti.ceil(ylo - 0.5), 0.0)
            i1 = ti.min(ti.floor(yhi - 0.5), ti.cast(height - 1, ti.f64))
            if j0 <= j1 and i0 <= i1:
                x0 = ti.cast(j0, ti.i32) // tile_size
                x1 = ti.cast(j1, ti.i32) // tile_size
                y0 = ti.cast(i0, ti.i32) // tile_size
                y1 = ti.cast(i1, ti.i32) // tile_size
        geom[r, 6] = ti.cast(thr, ti.f32)
        span[r, 0] = hy
        span[r, 1] = ba
        span[r, 2] = ta
        span[r, 3] = da
        span[r, 4] = hx
        rects[r, 0] = x0
        rects[r, 1] = y0
        rects[r, 2] = x1
        rects[r, 3] = y1


@ti.kernel
def _offsets_kernel(rects: NDI32_2, tile_start: NDI32_1, splat_start: NDI32_1, tiles_x: ti.i32) -> ti.i64:
    """Per-tile and per-splat exclusive prefix sums of the intersection counts; returns the
    total (the int32 arrays are only valid when it is below 2**31)."""
    for t in range(tile_start.shape[0]):
        tile_start[t] = 0
    total = ti.cast(0, ti.i64)
    splat_start[0] = 0
    ti.loop_config(serialize=True)
    for r in range(rects.shape[0]):
        count = 0
        for ty in range(rects[r, 1], rects[r, 3] + 1):
            for tx in range(rects[r, 0], rects[r, 2] + 1):
                tile_start[ty * tiles_x + tx + 1] += 1
                count += 1
        total += count
        splat_start[r + 1] = splat_start[r] + count
    ti.loop_config(serialize=True)
    for t in range(tile_start.shape[0] - 1):
        tile_start[t + 1] += tile_start[t]
    return total


@ti.kernel
def _scatter_kernel(
    rects: NDI32_2,
    tile_start: NDI32_1,
    splat_start: NDI32_1,
    cursor: NDI32_1,
    isect: NDI32_1,
    slot_of_isect: NDI32_1,
    tiles_x: ti.i32,
):
    """Stable counting-sort scatter (splats visited in depth order): ``isect`` lists each
    tile's splats front to back; ``slot_of_isect`` gives each intersection its row in the
    splat-major order (the splat's rows are splat_start[r] ..< splat_start[r + 1])."""
    for t in range(cursor.shape[0]):
        cursor[t] = tile_start[t]
    ti.loop_config(serialize=True)
    for r in range(rects.shape[0]):
        k = splat_start[r]
        for ty in range(rects[r, 1], rects[r, 3] + 1):
            for tx in range(rects[r, 0], rects[r, 2] + 1):
                t = ty * tiles_x + tx
                pos = cursor[t]
                cursor[t] = pos + 1
                isect[pos] = r
                slot_of_isect[pos] = k
                k += 1


@ti.func
def _row_range(my: ti.f32, hy: ti.f64, r0: ti.i32, r1: ti.i32):
    """Rows of [r0, r1] (inclusive) that may hold a pixel centre of the ellipse."""
    lo = r0
    hi = r1
    if hy >= 0:
        my64 = ti.cast(my, ti.f64)
        lo = ti.max(lo, ti.cast(ti.max(ti.ceil(my64 - hy - 0.5), -1.0), ti.i32))
        hi = ti.min(hi, ti.cast(ti.min(ti.floor(my64 + hy - 0.5), 1e9), ti.i32))
    return lo, hi


@ti.func
def _col_box(mx: ti.f32, hy: ti.f64, hx: ti.f64, c0: ti.i32, c1: ti.i32):
    """Columns of [c0, c1] (inclusive) that may hold a pixel centre of the ellipse."""
    lo = c0
    hi = c1
    if hy >= 0:
        mx64 = ti.cast(mx, ti.f64)
        lo = ti.max(lo, ti.cast(ti.max(ti.ceil(mx64 - hx - 0.5), -1.0), ti.i32))
        hi = ti.min(hi, ti.cast(ti.min(ti.floor(mx64 + hx - 0.5), 1e9), ti.i32))
    return lo, hi


@ti.func
def _col_range(mx: ti.f32, my: ti.f32, ba: ti.f64, ta: ti.f64, da: ti.f64, row: ti.i32, c0: ti.i32, c1: ti.i32):
    """Columns of [c0, c1] (inclusive) that may hold a pixel centre of the (positive
    definite) ellipse in ``row``."""
    dy = ti.cast(row, ti.f64) + 0.5 - ti.cast(my, ti.f64)
    shift = ba * dy
    half = ti.sqrt(ti.max(ta - da * dy * dy, 0.0))
    half = half * (1.0 + SPAN_REL_MARGIN) + SPAN_ABS_MARGIN + SPAN_REL_MARGIN * ti.abs(shift)
    xc = ti.cast(mx, ti.f64) - shift
    lo = ti.max(c0, ti.cast(ti.max(ti.ceil(xc - half - 0.5), -1.0), ti.i32))
    hi = ti.min(c1, ti.cast(ti.min(ti.floor(xc + half - 0.5), 1e9), ti.i32))
    return lo, hi


@ti.kernel
def _forward_kernel(
    C: ti.template(),
    c0: ti.i32,
    geom: NDF32_2,
    span: NDF64_2,
    colors: NDF32_2,
    background: NDF32_1,
    tile_start: NDI32_1,
    isect: NDI32_1,
    width: ti.i32,
    height: ti.i32,
    tile_size: ti.i32,
    tiles_x: ti.i32,
    stride: ti.i32,
    image: NDF32_3,
    alpha_out: NDF32_3,
    trans: NDF32_2,
    last: NDI32_2,
):
    """Composite channels [c0, c0 + C) of every tile front to back; also writes alpha, the
    final transmittance and, per pixel, how many of its tile's splats it went through."""
    for task in range((tile_start.shape[0] - 1) * stride):
        if task % stride != 0:
            continue
        tile = task // stride
        px0 = (tile % tiles_x) * tile_size
        py0 = (tile // tiles_x) * tile_size
        px1 = ti.min(px0 + tile_size, width) - 1
        py1 = ti.min(py0 + tile_size, height) - 1
        for i in range(py0, py1 + 1):
            for j in range(px0, px1 + 1):
                trans[i, j] = 1.0
                last[i, j] = 0
                for ch in ti.static(range(C)):
                    image[i, j, c0 + ch] = 0.0
        n_valid = (px1 - px0 + 1) * (py1 - py0 + 1)
        n_done = 0
        start = tile_start[tile]
        for k in range(start, tile_start[tile + 1]):
            if n_done >= n_valid:
                break
            s = isect[k]
            mx = geom[s, 0]
            my = geom[s, 1]
            a = geom[s, 2]
            b = geom[s, 3]
            c = geom[s, 4]
            o = geom[s, 5]
            hy = span[s, 0]
            ba = span[s, 1]
            ta = span[s, 2]
            da = span[s, 3]
            hx = span[s, 4]
            thr = geom[s, 6]
            col = ti.Vector.zero(ti.f32, C)
            for ch in ti.static(range(C)):
                col[ch] = colors[s, c0 + ch]
            rlo, rhi = _row_range(my, hy, py0, py1)
            blo, bhi = _col_box(mx, hy, hx, px0, px1)
            exact = hy >= 0 and hx > SPAN_EXACT_MIN
            for i in range(rlo, rhi + 1):
                dy = ti.cast(i, ti.f32) + 0.5 - my
                clo = blo
                chi = bhi
                if exact:
                    clo, chi = _col_range(mx, my, ba, ta, da, i, blo, bhi)
                for j in range(clo, chi + 1):
                    T = trans[i, j]
                    if T > 0.0:  # negative once the pixel has stopped
                        dx = ti.cast(j, ti.f32) + 0.5 - mx
                        power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
                        if power <= 0.0 and power >= thr:  # thr: a safe bound of α >= 1/255
                            alpha = ti.min(ALPHA_MAX, o * ti.exp(power))
                            if alpha >= ALPHA_MIN:
                                next_T = T * (1.0 - alpha)
                                if next_T <= T_MIN:
                                    trans[i, j] = -T
                                    n_done += 1
                                else:
                                    w = alpha * T
                                    for ch in ti.static(range(C)):
                                        image[i, j, c0 + ch] += w * col[ch]
                                    trans[i, j] = next_T
                                    last[i, j] = k - start + 1
        for i in range(py0, py1 + 1):
            for j in range(px0, px1 + 1):
                T = ti.abs(trans[i, j])
                trans[i, j] = T
                alpha_out[i, j, 0] = 1.0 - T
                for ch in ti.static(range(C)):
                    image[i, j, c0 + ch] += T * background[c0 + ch]


@ti.kernel
def _backward_kernel(
    C: ti.template(),
    c0: ti.i32,
    with_alpha: ti.i32,
    geom: NDF32_2,
    span: NDF64_2,
    colors: NDF32_2,
    background: NDF32_1,
    tile_start: NDI32_1,
    isect: NDI32_1,
    slot_of_isect: NDI32_1,
    width: ti.i32,
    height: ti.i32,
    tile_size: ti.i32,
    tiles_x: ti.i32,
    stride: ti.i32,
    last: NDI32_2,
    trans_final: NDF32_2,
    grad_image: NDF32_3,
    grad_alpha: NDF32_3,
    trans: NDF32_2,
    behind: NDF32_2,
    grads: NDF32_2,
    grad_bg_tiles: NDF32_2,
):
    """Replay every tile back to front for channels [c0, c0 + C) (and the alpha output when
    ``with_alpha``). Writes each intersection's gradient (mean x, mean y, conic a, b, c,
    opacity, colours) to its splat-major row of ``grads`` and each tile's background
    gradient to ``grad_bg_tiles``; ``trans`` and ``behind`` are per-pixel scratch."""
    for task in range((tile_start.shape[0] - 1) * stride):
        if task % stride != 0:
            continue
        tile = task // stride
        px0 = (tile % tiles_x) * tile_size
        py0 = (tile // tiles_x) * tile_size
        px1 = ti.min(px0 + tile_size, width) - 1
        py1 = ti.min(py0 + tile_size, height) - 1
        n_last = 0
        g_bg = ti.Vector.zero(ti.f32, C)
        for i in range(py0, py1 + 1):
            for j in range(px0, px1 + 1):
                n_last = ti.max(n_last, last[i, j])
                T = trans_final[i, j]
                trans[i, j] = T
                s0 = 0.0
                for ch in ti.static(range(C)):
                    g = grad_image[i, j, c0 + ch]
                    s0 += g * background[c0 + ch]
                    g_bg[ch] += T * g
                if with_alpha:
                    s0 -= grad_alpha[i, j, 0]
                behind[i, j] = T * s0
        for ch in ti.static(range(C)):
            grad_bg_tiles[tile, ch] = g_bg[ch]
        start = tile_start[tile]
        for k in range(start + n_last, tile_start[tile + 1]):
            slot = slot_of_isect[k]
            for f in range(6 + C):
                grads[slot, f] = 0.0
        for kk in range(n_last):
            pos = n_last - 1 - kk  # position in the tile's list, back to front
            k = start + pos
            s = isect[k]
            mx = geom[s, 0]
            my = geom[s, 1]
            a = geom[s, 2]
            b = geom[s, 3]
            c = geom[s, 4]
            o = geom[s, 5]
            hy = span[s, 0]
            ba = span[s, 1]
            ta = span[s, 2]
            da = span[s, 3]
            hx = span[s, 4]
            thr = geom[s, 6]
            col = ti.Vector.zero(ti.f32, C)
            for ch in ti.static(range(C)):
                col[ch] = colors[s, c0 + ch]
            g_col = ti.Vector.zero(ti.f32, C)
            g_mx = 0.0
            g_my = 0.0
            g_a = 0.0
            g_b = 0.0
            g_c = 0.0
            g_o = 0.0
            rlo, rhi = _row_range(my, hy, py0, py1)
            blo, bhi = _col_box(mx, hy, hx, px0, px1)
            exact = hy >= 0 and hx > SPAN_EXACT_MIN
            for i in range(rlo, rhi + 1):
                dy = ti.cast(i, ti.f32) + 0.5 - my
                clo = blo
                chi = bhi
                if exact:
                    clo, chi = _col_range(mx, my, ba, ta, da, i, blo, bhi)
                for j in range(clo, chi + 1):
                    if pos < last[i, j]:
                        dx = ti.cast(j, ti.f32) + 0.5 - mx
                        power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
                        if power <= 0.0 and power >= thr:
                            G = ti.exp(power)
                            raw = o * G
                            alpha = ti.min(ALPHA_MAX, raw)
                            if alpha >= ALPHA_MIN:
                                one_minus = 1.0 - alpha
                                T = trans[i, j] / one_minus  # transmittance in front of this splat
                                trans[i, j] = T
                                w = alpha * T
                                gdot = 0.0
                                for ch in ti.static(range(C)):
                                    g = grad_image[i, j, c0 + ch]
                                    gdot += g * col[ch]
                                    g_col[ch] += w * g
                                sb = behind[i, j]
                                d_alpha = T * gdot - sb / one_minus
                                behind[i, j] = sb + w * gdot
                                if raw <= ALPHA_MAX:  # the clamp has zero gradient
                                    g_o += G * d_alpha
                                    d_power = raw * d_alpha
                                    g_a += -0.5 * dx * dx * d_power
                                    g_b += -dx * dy * d_power
                                    g_c += -0.5 * dy * dy * d_power
                                    g_mx += (a * dx + b * dy) * d_power
                                    g_my += (b * dx + c * dy) * d_power
            slot = slot_of_isect[k]
            grads[slot, 0] = g_mx
            grads[slot, 1] = g_my
            grads[slot, 2] = g_a
            grads[slot, 3] = g_b
            grads[slot, 4] = g_c
            grads[slot, 5] = g_o
            for ch in ti.static(range(C)):
                grads[slot, 6 + ch] = g_col[ch]


@ti.kernel
def _reduce_kernel(
    c0: ti.i32,
    first: ti.i32,
    order: NDI32_1,
    splat_start: NDI32_1,
    grads: NDF32_2,
    g_means: NDF32_2,
    g_conics: NDF32_2,
    g_opacities: NDF32_1,
    g_colors: NDF32_2,
):
    """Sum every splat's intersection gradients into the outputs (original splat order);
    channels [c0, c0 + grads.shape[1] - 6); the geometry gradients are set when ``first``
    and accumulated otherwise. Splats that are not drawn get zeros."""
    cc = grads.shape[1] - 6
    for i in range(g_colors.shape[0]):
        if first:
            g_means[i, 0] = 0.0
            g_means[i, 1] = 0.0
            g_conics[i, 0] = 0.0
            g_conics[i, 1] = 0.0
            g_conics[i, 2] = 0.0
            g_opacities[i] = 0.0
        for ch in range(cc):
            g_colors[i, c0 + ch] = 0.0
    for r in range(order.shape[0]):
        i = order[r]
        q0 = splat_start[r]
        q1 = splat_start[r + 1]
        acc = ti.Vector.zero(ti.f32, 6)
        for q in range(q0, q1):
            for f in ti.static(range(6)):
                acc[f] += grads[q, f]
        g_means[i, 0] += acc[0]
        g_means[i, 1] += acc[1]
        g_conics[i, 0] += acc[2]
        g_conics[i, 1] += acc[3]
        g_conics[i, 2] += acc[4]
        g_opacities[i] += acc[5]
        for ch in range(cc):
            total = 0.0
            for q in range(q0, q1):
                total += grads[q, 6 + ch]
            g_colors[i, c0 + ch] = total


# ---------------------------------------------------------------------------------------
# Python side: the torch tensors only carry memory between the kernels.
# ---------------------------------------------------------------------------------------


def depth_order(depths: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """Indices (int32) of the splats with radius > 0, by depth ascending, ties by index."""
    visible = np.flatnonzero(radii.numpy() > 0)
    d = depths.numpy()[visible]
    if d.dtype == np.float32 and visible.size and visible[-1] < 2**31:
        # one sort of unique 64-bit keys (monotone depth bits, index) instead of a stable argsort
        bits = (d + np.float32(0.0)).view(np.int32).astype(np.int64)  # + 0 turns -0 into +0
        keys = ((bits ^ ((bits >> 31) & 0x7FFFFFFF)) << 32) | visible
        order = np.sort(keys) & 0xFFFFFFFF
    else:
        order = visible[np.argsort(d, kind="stable")]
    return torch.from_numpy(order.astype(np.int32))


class _Binning:
    """Depth order, depth-sorted splat data and the intersection lists of one render."""

    def __init__(self, order, geom, span, colors, tile_start, splat_start, isect, slot_of_isect, tiles_x):
        self.order = order  # (V,) int32: original index of each depth-sorted visible splat
        self.geom = geom  # (V, 7) float32: mean, conic, opacity, power threshold
        self.span = span  # (V, 5) float64: scanline description, see the kernels' comment
        self.colors = colors  # (V, C) float32
        self.tile_start = tile_start  # (tiles + 1,) int32: each tile's range in isect
        self.splat_start = splat_start  # (V + 1,) int32: each splat's range of splat-major rows
        self.isect = isect  # (M,) int32: depth rank of the splat of each intersection
        self.slot_of_isect = slot_of_isect  # (M,) int32: splat-major row of each intersection
        self.tiles_x = tiles_x

    @property
    def num_isect(self) -> int:
        return int(self.isect.shape[0])

    @property
    def stride(self) -> int:
        """Iterations per tile of the tile loops (see TILE_STRIDE), int32-safe."""
        n_tiles = int(self.tile_start.shape[0]) - 1
        return TILE_STRIDE if n_tiles * TILE_STRIDE < 2**31 else 1


def _bin(means2d, conics, opacities, colors, depths, radii, width, height, tile_size) -> _Binning:
    tiles_x = -(-width // tile_size)
    n_tiles = tiles_x * -(-height // tile_size)
    order = depth_order(depths, radii)
    v = int(order.shape[0])
    geom = torch.empty(v, 7, dtype=torch.float32)
    span = torch.empty(v, 5, dtype=torch.float64)
    colors_sorted = torch.empty(v, colors.shape[1], dtype=torch.float32)
    tile_start = torch.zeros(n_tiles + 1, dtype=torch.int32)
    splat_start = torch.zeros(v + 1, dtype=torch.int32)
    empty = torch.zeros(0, dtype=torch.int32)

    def binning(isect=empty, slot_of_isect=empty):
        return _Binning(order, geom, span, colors_sorted, tile_start, splat_start, isect, slot_of_isect, tiles_x)

    if v == 0:
        return binning()
    rank = np.full(means2d.shape[0], -1, dtype=np.int32)
    rank[order.numpy()] = np.arange(v, dtype=np.int32)
    rects = torch.empty(v, 4, dtype=torch.int32)
    _prepare_kernel(
        torch.from_numpy(rank), means2d, conics, opacities, colors, radii,
        geom, span, colors_sorted, rects, width, height, tile_size,
    )
    total = int(_offsets_kernel(rects, tile_start, splat_start, tiles_x))
    if total >= 2**31 - 1:
        raise ValueError(f"{total} splat-tile intersections exceed the int32 index range; render smaller images")
    if total == 0:
        return binning()
    isect = torch.empty(total, dtype=torch.int32)
    slot_of_isect = torch.empty(total, dtype=torch.int32)
    cursor = torch.empty(n_tiles, dtype=torch.int32)
    _scatter_kernel(rects, tile_start, splat_start, cursor, isect, slot_of_isect, tiles_x)
    return binning(isect, slot_of_isect)


def tile_intersections(means2d, conics, opacities, depths, radii, width: int, height: int, tile_size: int = 16) -> int:
    """How many (splat, tile) pairs :func:`rasterize_2d` would process (for benchmarks)."""
    n = means2d.shape[0] if means2d.ndim else -1
    m, co, o, c, _, d, r, w, h, ts = _checked_inputs(
        means2d, conics, opacities, torch.zeros(n, 1), depths, radii, width, height, None, tile_size
    )
    return _bin(m.detach(), co.detach(), o.detach(), c, d, r, w, h, ts).num_isect


def _channel_chunks(channels: int) -> list:
    step = MAX_STATIC_CHANNELS
    return [(lo, min(lo + step, channels)) for lo in range(0, channels, step)]


class _Rasterize2D(torch.autograd.Function):
    @staticmethod
    def forward(ctx, means2d, conics, opacities, colors, background, depths, radii, width, height, tile_size):
        n, channels = colors.shape
        # taichi would allocate a .grad for any tensor passed with requires_grad set
        means2d, conics, opacities, colors = (t.detach() for t in (means2d, conics, opacities, colors))
        if background is not None:
            background = background.detach()
        binning = _bin(means2d, conics, opacities, colors, depths, radii, width, height, tile_size)
        bg = background if background is not None else torch.zeros(channels, dtype=torch.float32)
        if binning.num_isect == 0:
            trans = torch.ones(height, width, dtype=torch.float32)
            last = torch.zeros(height, width, dtype=torch.int32)
            image = bg.expand(height, width, channels).clone()
            alpha = torch.zeros(height, width, 1, dtype=torch.float32)
        else:
            image = torch.empty(height, width, channels, dtype=torch.float32)
            alpha = torch.empty(height, width, 1, dtype=torch.float32)
            trans = torch.empty(height, width, dtype=torch.float32)
            last = torch.empty(height, width, dtype=torch.int32)
            for lo, hi in _channel_chunks(channels):
                _forward_kernel(
                    hi - lo, lo, binning.geom, binning.span, binning.colors, bg, binning.tile_start, binning.isect,
                    width, height, tile_size, binning.tiles_x, binning.stride, image, alpha, trans, last,
                )
        ctx.binning = binning
        ctx.sizes = (n, channels, width, height, tile_size)
        ctx.save_for_backward(trans, last, bg)
        return image, alpha

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_image, grad_alpha):
        trans, last, bg = ctx.saved_tensors
        n, channels, width, height, tile_size = ctx.sizes
        b = ctx.binning
        g_img = grad_image.to(torch.float32).contiguous()
        g_alpha = grad_alpha.to(torch.float32).contiguous()
        if b.num_isect == 0:
            zeros = [torch.zeros(n, 2), torch.zeros(n, 3), torch.zeros(n), torch.zeros(n, channels)]
            g_bg = g_img.sum(dim=(0, 1)) if ctx.needs_input_grad[4] else None
            return (*zeros, g_bg, None, None, None, None, None)
        g_means = torch.empty(n, 2, dtype=torch.float32)
        g_conics = torch.empty(n, 3, dtype=torch.float32)
        g_opac = torch.empty(n, dtype=torch.float32)
        g_colors = torch.empty(n, channels, dtype=torch.float32)
        g_bg = torch.empty(channels, dtype=torch.float32)
        scratch_t = torch.empty(height, width, dtype=torch.float32)
        scratch_s = torch.empty(height, width, dtype=torch.float32)
        n_tiles = b.tile_start.shape[0] - 1
        for lo, hi in _channel_chunks(channels):
            grads = torch.empty(b.num_isect, 6 + hi - lo, dtype=torch.float32)
            bg_tiles = torch.empty(n_tiles, hi - lo, dtype=torch.float32)
            _backward_kernel(
                hi - lo, lo, int(lo == 0), b.geom, b.span, b.colors, bg, b.tile_start, b.isect, b.slot_of_isect,
                width, height, tile_size, b.tiles_x, b.stride, last, trans, g_img, g_alpha,
                scratch_t, scratch_s, grads, bg_tiles,
            )
            _reduce_kernel(lo, int(lo == 0), b.order, b.splat_start, grads, g_means, g_conics, g_opac, g_colors)
            g_bg[lo:hi] = bg_tiles.sum(dim=0)
        return (
            g_means, g_conics, g_opac, g_colors, g_bg if ctx.needs_input_grad[4] else None,
            None, None, None, None, None,
        )


def rasterize_2d(
    means2d: torch.Tensor,
    conics: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    depths: torch.Tensor,
    radii: torch.Tensor,
    width: int,
    height: int,
    background: Optional[torch.Tensor] = None,
    tile_size: int = 16,
) -> tuple:
    """Composite projected 2D Gaussians into an image, differentiably.

    Args:
        means2d: (N, 2) pixel coordinates of the centres.
        conics: (N, 3) (a, b, c) of the inverse 2D covariance [[a, b], [b, c]].
        opacities: (N,) activated opacities.
        colors: (N, C) per-splat features, any C >= 1.
        depths: (N,) camera-space z, used only to order the splats (no gradient).
        radii: (N,) integer pixel radii of the bounding squares; 0 culls the splat.
        width, height: image size in pixels.
        background: (C,) colour behind the splats, or None for zeros.
        tile_size: edge of the square tiles in pixels.

    Returns:
        ``image`` (H, W, C) and ``alpha`` (H, W, 1), float32 CPU tensors, computed by the
        compositing rules of :mod:`gscc.render`. Gradients flow to ``means2d``,
        ``conics``, ``opacities``, ``colors`` and ``background``.
    """
    return _Rasterize2D.apply(
        *_checked_inputs(means2d, conics, opacities, colors, depths, radii, width, height, background, tile_size)
    )


def _checked_inputs(means2d, conics, opacities, colors, depths, radii, width, height, background, tile_size):
    """Validate the arguments of :func:`rasterize_2d` and bring them to the kernels' types,
    in the argument order of ``_Rasterize2D.forward``."""
    width, height, tile_size = int(width), int(height), int(tile_size)
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if tile_size < 1:
        raise ValueError(f"tile_size must be positive, got {tile_size}")
    n = means2d.shape[0] if means2d.ndim else -1
    if colors.ndim != 2 or colors.shape[0] != n or colors.shape[1] < 1:
        raise ValueError(f"colors must be (N, C) with C >= 1 and N = {n}, got {tuple(colors.shape)}")
    channels = colors.shape[1]
    expected = {
        "means2d": (means2d, (n, 2)), "conics": (conics, (n, 3)), "opacities": (opacities, (n,)),
        "colors": (colors, (n, channels)), "depths": (depths, (n,)), "radii": (radii, (n,)),
    }
    if background is not None:
        background = torch.as_tensor(background)
        if background.numel() != channels:
            raise ValueError(f"background has {background.numel()} values for {channels} channels")
        expected["background"] = (background, tuple(background.shape))
    for name, (tensor, shape) in expected.items():
        if tuple(tensor.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)}, expected {shape}")
        if tensor.device.type != "cpu":
            raise ValueError(f"{name} is on {tensor.device}; the Taichi rasterizer runs on the CPU")
    if not depths.dtype.is_floating_point or depths.dtype not in (torch.float32, torch.float64):
        depths = depths.to(torch.float64)
    ensure_taichi()
    f32 = torch.float32
    return (
        means2d.to(f32).contiguous(),
        conics.to(f32).contiguous(),
        opacities.to(f32).contiguous(),
        colors.to(f32).contiguous(),
        None if background is None else background.reshape(channels).to(f32).contiguous(),
        depths.detach().contiguous(),
        radii.detach().clamp(max=2**30).to(torch.int32).contiguous(),
        width,
        height,
        tile_size,
    )


__all__ = ["ALPHA_MAX", "ALPHA_MIN", "MAX_STATIC_CHANNELS", "T_MIN", "depth_order", "ensure_taichi", "rasterize_2d", "tile_intersections"]
