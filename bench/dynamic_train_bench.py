"""Dynamic training benchmark: `gscc train` on a multi-view video (Panoptic basketball) with
each dynamic representation, and a static 3DGS of the middle frame as the per-frame reference.

    python bench/dynamic_train_bench.py                       # frames 0:50, cpu-fast, all four runs
    python bench/dynamic_train_bench.py --runs stg-sh,static-middle --set time_budget=1800
    python bench/dynamic_train_bench.py --table-only          # tabulate finished runs again
    python bench/dynamic_train_bench.py --table-only --folder stg-sh=runs/bb-stg-sh

Runs (one after another, each a separate process; the table is read from metrics.json):

- ``stg-sh``: ``gscc train SCENE -o OUT/stg-sh --frames 0:50`` (the cpu-fast dynamic preset:
  stg with SH colour at degree 0, STG density control, 320x180, GOF 50, 4,500 steps);
- ``stg-features``: the same with ``--set colour=features`` (STG's features and MLP);
- ``motion-basis``: ``--representation motion-basis``;
- ``static-middle``: the static trainer (vanilla 3DGS with SH degree 1, the static cpu-fast
  density control, as many steps as the dynamic preset) on the middle frame's training views alone, from the same initial points as the dynamic runs,
  scored on that frame's test views with the same near plane.

Every figure is for the 4 test cameras: the dynamic runs over every frame of the range, the
static run on its one frame. Results also go to bench/results/dynamic_train_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from train_bench import gscc_command

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCENE = REPO_ROOT.parent / "shared" / "data" / "dynamic" / "panoptic-basketball"
RESULTS = REPO_ROOT / "bench" / "results"
DYNAMIC_RUNS = {
    "stg-sh": [],
    "stg-features": ["--set", "colour=features"],
    "motion-basis": ["--representation", "motion-basis"],
}
ALL_RUNS = (*DYNAMIC_RUNS, "static-middle")


def dynamic_command(args, name: str, folder: Path, runs: dict = DYNAMIC_RUNS) -> list[str]:
    """``gscc train`` of run ``name`` (its flags in ``runs``) over the chosen frames."""
    command = gscc_command() + ["train", str(args.scene), "-o", str(folder), "--frames", args.frames,
                                "--preset", args.preset, "--force", *runs[name]]
    for item in args.set or []:
        command += ["--set", item]
    return command


def train_static_middle(args, folder: Path) -> None:
    """The static reference (see the module docstring), in this process."""
    from gscc.data import Frame, SceneDataset
    from gscc.data.dynamic import load_dynamic_dataset, parse_frames
    from gscc.train.config import DYNAMIC_PRESETS, build_config
    from gscc.train.trainer import train

    start, end = parse_frames(args.frames)
    data = load_dynamic_dataset(args.scene, frames=(start, end), resolution=320)
    middle = (start + end) // 2
    frames = {split: [Frame(f.camera, f.image(), f.name) for f in getattr(data, split) if f.frame == middle]
              for split in ("train", "test")}
    dataset = SceneDataset(f"{data.kind} frame {middle}", frames["train"], frames["test"], data.points, data.colors,
                           data.scale, data.background, data.bounds)
    steps = DYNAMIC_PRESETS[args.preset]["iterations"]  # as many steps as a dynamic run
    settings = [f"eval_near={data.near}", "resolution=None", f"iterations={steps}", *(args.set or [])]
    config = build_config(args.preset, settings, representation="vanilla", strategy="default", sh_degree=1)
    torch.set_num_threads(1)
    train(args.scene, folder, config, force=True, dataset=dataset)


def parameter_count(folder: Path) -> int:
    checkpoint = torch.load(folder / "ckpt.pt", map_location="cpu", weights_only=True)
    return sum(int(t.numel()) for t in checkpoint["params"].values()) + sum(
        int(t.numel()) for t in checkpoint.get("shared", {}).values())


def summary_row(name: str, folder: Path, command: list[str], wall) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    scores = metrics.get("test") or metrics.get("trained") or {}
    return {
        "run": name,
        "folder": str(folder),
        "command": shlex.join(command) if command else None,
        "representation": metrics.get("representation"),
        "iterations": metrics.get("iterations"),
        "stopped_by_time_budget": metrics.get("stopped_by_time_budget"),
        "resolution": metrics.get("resolution"),
        "frames": metrics.get("frames"),
        "training_seconds": metrics.get("training_seconds"),
        "wall_seconds": wall,
        "splat_count": metrics.get("splat_count"),
        "parameter_count": metrics.get("parameter_count") or parameter_count(folder),
        "test_images": len(scores.get("views", [])),
        "psnr": scores.get("mean", {}).get("psnr"),
        "ssim": scores.get("mean", {}).get("ssim"),
        "eval_near": metrics.get("eval_near"),
    }


def fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def print_table(rows: list[dict], console: Console) -> None:
    table = Table(title="gscc train, dynamic: test cameras (mean over cameras and frames)")
    for header in ("run", "iters", "train s", "splats", "parameters", "test images", "PSNR", "SSIM"):
        table.add_column(header, justify="left" if header == "run" else "right")
    for r in rows:
        table.add_row(r["run"], fmt(r["iterations"], ","), fmt(r["training_seconds"], ".0f"), fmt(r["splat_count"], ","),
                      fmt(r["parameter_count"], ","), str(r["test_images"]), fmt(r["psnr"], ".2f"), fmt(r["ssim"], ".4f"))
    console.print(table)


def bench_arguments(doc: str, runs, out: Path, json_path: Path, more=None) -> argparse.Namespace:
    """The command line of a dynamic benchmark over named ``runs`` (``args.names``: those
    chosen, ``args.folders``: where each is); ``more(parser)`` adds a benchmark's own options."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if more is not None:
        more(parser)
    parser.add_argument("--scene", type=Path, default=DEFAULT_SCENE)
    parser.add_argument("--frames", default="0:50")
    parser.add_argument("--preset", default="cpu-fast")
    parser.add_argument("--runs", default=",".join(runs), help=f"comma-separated, of {', '.join(runs)}")
    parser.add_argument("--set", action="append", help="KEY=VALUE passed to every run")
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--folder", action="append", default=[], help="NAME=PATH: the run NAME is in PATH")
    parser.add_argument("--json", type=Path, default=json_path)
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    args.names = [n for n in args.runs.split(",") if n]
    unknown = [n for n in args.names if n not in runs]
    if unknown:
        parser.error(f"unknown runs {', '.join(unknown)}")
    args.folders = {n: args.out / n for n in args.names} | dict(item.split("=", 1) for item in args.folder)
    return args


def run_benches(args, console: Console, command_for, local: dict | None = None):
    """Train each chosen run (unless ``--table-only``): ``local[name](args, folder)`` in this
    process, else the ``gscc train`` command ``command_for(args, name, folder)``; yields
    (name, folder, command, wall seconds) of every run with a metrics.json."""
    for name in args.names:
        folder = Path(args.folders[name])
        command, wall = [], None
        if not args.table_only:
            started = time.perf_counter()
            if name in (local or {}):
                local[name](args, folder)
            else:
                command = command_for(args, name, folder)
                console.print(f"{name}: {shlex.join(command)}", soft_wrap=True, markup=False, highlight=False)
                if subprocess.run(command, env=os.environ.copy()).returncode != 0:
                    console.print(f"{name}: gscc train failed; left out of the table")
                    continue
            wall = round(time.perf_counter() - started, 1)
        if (folder / "metrics.json").is_file():
            yield name, folder, command, wall


def write_results(args, rows: list[dict]) -> None:
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"scene": str(args.scene), "frames": args.frames, "preset": args.preset,
                                     "runs": rows}, indent=2) + "\n")


def main() -> int:
    args = bench_arguments(__doc__, ALL_RUNS, RESULTS / "dynamic_train", RESULTS / "dynamic_train_bench.json")
    console = Console(width=None if sys.stdout.isatty() else 160)
    runs = run_benches(args, console, dynamic_command, {"static-middle": train_static_middle})
    rows = [summary_row(*run) for run in runs]
    if rows:
        print_table(rows, console)
        write_results(args, rows)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
