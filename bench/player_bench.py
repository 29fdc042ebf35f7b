"""Player benchmark: `gscc view` in headless Chromium with software WebGL2 (SwiftShader).

For 10k and 100k seeded random splats (SH degree 3), static and dynamic (STG motion), and
for the real ``spinach_4.splatv`` when ../shared/data is present, it starts ``gscc view`` on
the file, opens the page at ``--width`` x ``--height`` and reports:

- ms per frame: the splat pass and the composite pass drawn ``--frames`` times at one state,
  each frame waited for on the GPU (``window.gscc.measureFrames``); median and best;
- sort ms: the worker's depth sort (motion evaluated at t, invisible splats dropped, radix
  sort) for ``--sorts`` different times (dynamic) or camera positions (static); median.

Software GL is what this machine has; on a real GPU the same page runs at display rate.

    python bench/player_bench.py [--counts 10000,100000] [--width 640] [--height 360]
                                 [--frames 3] [--sorts 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import tempfile
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from gscc.cameras import Camera  # noqa: E402
from gscc.cameras.orbit import look_at  # noqa: E402
from gscc.dynamic import DynamicSplats  # noqa: E402
from gscc.io import write_dynamic_ply, write_ply  # noqa: E402
from gscc.player.headless import PlayerPage, browser, view_server  # noqa: E402
from gscc.synthetic import random_dynamic_splats, random_splats  # noqa: E402

SPINACH = REPO_ROOT.parent / "shared" / "data" / "splatv" / "spinach_4.splatv"
LARGER = 1.0  # random_splats' axes (about 0.02) times e: a pixel or a few at this distance


def camera(width: int, height: int, eye=(3.0, -2.0, -11.0)) -> Camera:
    """A 60-degree camera at ``eye`` looking at the origin, world -y up on screen."""
    return Camera.from_fov(width, height, math.radians(60.0), look_at(eye, up=(0.0, -1.0, 0.0)))


def scenes(counts: list[int], folder: Path) -> list[tuple[str, Path, bool]]:
    out = []
    for n in counts:
        static = random_splats(n, sh_degree=3, seed=1)
        path = folder / f"static-{n}.ply"
        write_ply(dataclasses.replace(static, scales=static.scales + LARGER), path)
        out.append((f"static {n // 1000}k", path, False))
        dynamic = random_dynamic_splats(n, seed=2, kind="stg", sh_degree=3)
        dynamic = DynamicSplats(dataclasses.replace(dynamic.static, scales=dynamic.static.scales + LARGER), dynamic.motion)
        path = folder / f"dynamic-{n}.ply"
        write_dynamic_ply(dynamic, path)
        out.append((f"dynamic {n // 1000}k", path, True))
    if SPINACH.exists():
        out.append(("spinach_4.splatv (62k, STG)", SPINACH, None))
    return out


def measure(chromium, name: str, path: Path, dynamic, args) -> dict:
    with view_server(path) as url:
        page = PlayerPage(chromium, url, args.width, args.height)
        try:
            page.call("window.gscc.pause()")
            if dynamic is not None:  # synthetic scenes: a camera that frames them
                page.set_camera(camera(args.width, args.height))
            sorts = []
            for i in range(args.sorts):
                if dynamic is False:
                    page.set_camera(camera(args.width, args.height, eye=(3.0 + 0.2 * i, -2.0, -11.0)))
                else:
                    page.call(f"window.gscc.setTime({0.1 + 0.8 * i / max(args.sorts - 1, 1)})")
                sorts.append(page.settle()["sortMs"])
            page.call("window.gscc.measureFrames(1)")  # warm-up
            frames = page.call(f"window.gscc.measureFrames({args.frames})")
            state = page.state()
        finally:
            page.close()
    return {
        "scene": name, "splats": state["splats"], "drawn": state["visible"],
        "frame_ms_median": statistics.median(frames), "frame_ms_best": min(frames),
        "sort_ms_median": statistics.median(sorts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="10000,100000")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--sorts", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, browser() as chromium:
        for name, path, dynamic in scenes(counts, Path(tmp)):
            row = measure(chromium, name, path, dynamic, args)
            rows.append(row)
            print(f"{row['scene']:<30} {row['splats']:>8,} splats ({row['drawn']:,} drawn)  "
                  f"frame {row['frame_ms_median']:8.1f} ms median ({row['frame_ms_best']:.1f} best)  "
                  f"sort {row['sort_ms_median']:6.1f} ms", flush=True)
    print(f"headless Chromium, SwiftShader WebGL2, {args.width}x{args.height}")
    if args.json:
        args.json.write_text(json.dumps({"width": args.width, "height": args.height, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
