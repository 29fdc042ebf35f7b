"""Render benchmark: the Taichi CPU backend on the shared real splat scenes.

For every ``*.splat`` file in the data folder, one orbit camera framing the whole object
(``gscc.cameras.orbit``) renders it with ``render(..., backend="taichi")``:

- at ``--size`` (default 256x256): forward, and backward of an L1 loss against a grey
  target, with every splat attribute requiring grad;
- at ``--large-size`` (default 800x800): forward only, without grad.

Each timing is the best of ``--repeat`` runs after one warm-up run (which also compiles
the Taichi kernels). The "raster" columns time ``rasterize_2d`` alone on the same
projected splats, so the difference to the "render" columns is projection, SH and autograd
glue. "isects" is the number of (splat, tile) pairs rasterized with 16x16 tiles.

    python bench/render_bench.py [--data DIR] [--files plant,lucy_100k] [--repeat 5]
                                 [--size 256] [--large-size 800] [--torch-threads N]
                                 [--json out.json]

On a busy machine torch's OpenMP pool can slow down badly (threads waiting on each other
at every op); ``--torch-threads 1`` shows the timings without that effect.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from gscc.cameras import Camera  # noqa: E402
from gscc.cameras.orbit import OrbitSpec, orbit_around  # noqa: E402
from gscc.io import load_splats  # noqa: E402
from gscc.render.api import Gaussians, render  # noqa: E402
from gscc.render.projection import project  # noqa: E402
from gscc.render.sh import eval_sh_colors  # noqa: E402
from gscc.render.taichi_raster import ensure_taichi, rasterize_2d, tile_intersections  # noqa: E402

DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "splats"


def best_of(repeat: int, fn) -> list[float]:
    """Run ``fn`` (which returns a tuple of phase durations) once to warm up, then
    ``repeat`` times; the best of each phase."""
    fn()
    runs = [fn() for _ in range(repeat)]
    return [min(r[i] for r in runs) for i in range(len(runs[0]))]


def camera_for(splats, size: int) -> Camera:
    return orbit_around(splats, OrbitSpec(count=1), width=size, height=size)[0]


def projected(g: Gaussians, cam: Camera):
    f32 = torch.float32
    viewmat = torch.as_tensor(cam.world_to_camera, dtype=f32)
    K = torch.as_tensor(cam.K, dtype=f32)
    with torch.no_grad():
        proj = project(g.means, g.quats, g.scales, g.opacities, viewmat, K, cam.width, cam.height)
        colors = eval_sh_colors(g.colors, g.means, torch.as_tensor(cam.center, dtype=f32), g.sh_degree)
    return proj, colors


def bench_file(path: Path, size: int, large_size: int, repeat: int) -> list[dict]:
    splats = load_splats(path)
    base = Gaussians.from_splats(splats, device="cpu")
    leaves = [t.detach().clone().requires_grad_(True) for t in (base.means, base.quats, base.scales, base.opacities, base.colors)]
    g_train = Gaussians(*leaves)
    rows = []
    for res, backward in ((size, True), (large_size, False)):
        if res <= 0:
            continue
        cam = camera_for(splats, res)
        proj, colors = projected(base, cam)
        isects = tile_intersections(proj.means2d, proj.conics, base.opacities, proj.depths, proj.radii, res, res)
        target = torch.full((res, res, colors.shape[1]), 0.5)

        def full_render():
            for t in leaves:
                t.grad = None
            t0 = time.perf_counter()
            if backward:
                out = render(g_train, cam, backend="taichi")
            else:
                with torch.no_grad():
                    out = render(base, cam, backend="taichi")
            t1 = time.perf_counter()
            if backward:
                (out.image - target).abs().mean().backward()
            return t1 - t0, time.perf_counter() - t1

        raster_inputs = [t.detach().clone() for t in (proj.means2d, proj.conics, base.opacities, colors)]

        def raster_only():
            ins = [t.clone().requires_grad_(backward) for t in raster_inputs]
            t0 = time.perf_counter()
            image, _ = rasterize_2d(*ins, proj.depths, proj.radii, res, res)
            t1 = time.perf_counter()
            if backward:
                (image - target).abs().mean().backward()
            return t1 - t0, time.perf_counter() - t1

        fwd, bwd = best_of(repeat, full_render)
        rfwd, rbwd = best_of(repeat, raster_only)
        rows.append(
            {
                "file": path.stem,
                "splats": splats.count,
                "resolution": f"{res}x{res}",
                "intersections": isects,
                "render_forward_s": fwd,
                "render_backward_s": bwd if backward else None,
                "raster_forward_s": rfwd,
                "raster_backward_s": rbwd if backward else None,
            }
        )
        print_row(rows[-1])
    return rows


HEADER = f"{'file':<14}{'splats':>8}{'resolution':>12}{'isects':>10}{'fwd s':>8}{'bwd s':>8}{'total s':>9}   {'raster fwd':>10}{'raster bwd':>11}"


def fmt(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_row(r: dict) -> None:
    total = r["render_forward_s"] + (r["render_backward_s"] or 0.0)
    print(
        f"{r['file']:<14}{r['splats']:>8}{r['resolution']:>12}{r['intersections']:>10}"
        f"{fmt(r['render_forward_s']):>8}{fmt(r['render_backward_s']):>8}{fmt(total):>9}   "
        f"{fmt(r['raster_forward_s']):>10}{fmt(r['raster_backward_s']):>11}",
        flush=True,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--files", default="", help="comma-separated file stems (default: every *.splat)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (best is kept)")
    parser.add_argument("--size", type=int, default=256, help="forward+backward resolution (0 skips)")
    parser.add_argument("--large-size", type=int, default=800, help="forward-only resolution (0 skips)")
    parser.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: leave as is)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    files = sorted(args.data.glob("*.splat"))
    if args.files:
        wanted = {f.strip() for f in args.files.split(",") if f.strip()}
        files = [f for f in files if f.stem in wanted]
    if not files:
        print(f"no .splat files to benchmark in {args.data}", file=sys.stderr)
        return 1
    ensure_taichi()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
        f"{torch.get_num_threads()}, load average {load:.2f}; best of {args.repeat}"
    )
    print(HEADER)
    rows = []
    for path in files:
        rows.extend(bench_file(path, args.size, args.large_size, args.repeat))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"repeat": args.repeat, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
