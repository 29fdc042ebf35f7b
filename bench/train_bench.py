"""Training benchmark: `gscc train` on a NeRF-synthetic scene for each strategy and
representation, and the held-out quality each reaches.

Every run is the `gscc train` command a user would type, in its own process, one after the
other (each gets the whole machine); the table is read from the runs' metrics.json:

    python bench/train_bench.py                      # lego, cpu-fast, all four combinations
    python bench/train_bench.py --runs default:vanilla,mcmc:vanilla --iterations 4000
    python bench/train_bench.py --set strategy.cap_max=100000 --scene DIR --preset cpu-fast
    python bench/train_bench.py --table-only         # print the table of finished runs again

Runs go to bench/results/train/STRATEGY-REPRESENTATION/ (``--out``); the table is also
written as JSON (bench/results/train_bench.json). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SCENE = REPO_ROOT.parent / "shared" / "data" / "lego"
RESULTS = REPO_ROOT / "bench" / "results"
ALL_RUNS = ("default:vanilla", "mcmc:vanilla", "default:features", "mcmc:features")


def gscc_command() -> list[str]:
    """The installed `gscc` next to this Python (the venv's), else the module."""
    script = Path(sys.executable).with_name("gscc")
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from gscc.cli import main; main()"]


def run_command(args, strategy: str, representation: str, folder: Path) -> list[str]:
    command = gscc_command() + [
        "train", str(args.scene), "-o", str(folder), "--preset", args.preset,
        "--strategy", strategy, "--representation", representation, "--force",
    ]
    if args.iterations:
        command += ["--iterations", str(args.iterations)]
    for item in args.set or []:
        command += ["--set", item]
    return command


def summary_row(name: str, folder: Path, command: list[str], wall: float | None) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())

    def mean(key: str) -> dict:
        return (metrics.get(key) or {}).get("mean", {})

    return {
        "run": name,
        "command": shlex.join(command) if command else None,
        "strategy": metrics["strategy"],
        "representation": metrics["representation"],
        "iterations": metrics["iterations"],
        "resolution": metrics["resolution"],
        "train_views": metrics["train_views"],
        "test_views": metrics["test_views"],
        "training_seconds": metrics["training_seconds"],
        "wall_seconds": wall,
        "splat_count": metrics["splat_count"],
        "trained": mean("trained"),
        "exported": mean("exported") or None,
        "gsc": {"bytes": metrics["gsc"]["bytes"], "splat_count": metrics["gsc"]["splat_count"], **mean("gsc")},
        "history": metrics.get("history", []),
    }


def fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def print_table(rows: list[dict], console: Console) -> None:
    table = Table(title="gscc train: held-out views (mean)")
    for header in ("run", "iters", "train s", "splats", "PSNR", "SSIM", "exported PSNR", "gsc PSNR", "gsc SSIM", "gsc KB"):
        table.add_column(header, justify="left" if header == "run" else "right")
    for r in rows:
        table.add_row(
            r["run"], f"{r['iterations']:,}", f"{r['training_seconds']:.0f}", f"{r['splat_count']:,}",
            fmt(r["trained"].get("psnr"), ".2f"), fmt(r["trained"].get("ssim"), ".4f"),
            fmt((r["exported"] or {}).get("psnr"), ".2f"),
            fmt(r["gsc"].get("psnr"), ".2f"), fmt(r["gsc"].get("ssim"), ".4f"), f"{r['gsc']['bytes'] / 1000:,.0f}",
        )
    console.print(table)
    for r in rows:
        if r["command"]:
            console.print(f"{r['run']}: {r['command']}", soft_wrap=True, markup=False, highlight=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", type=Path, default=DEFAULT_SCENE, help="dataset folder (default: shared lego)")
    parser.add_argument("--preset", default="cpu-fast", help="training preset (default: cpu-fast)")
    parser.add_argument("--runs", default=",".join(ALL_RUNS), help="STRATEGY:REPRESENTATION pairs, comma-separated")
    parser.add_argument("--iterations", type=int, help="override the preset's iterations")
    parser.add_argument("--set", action="append", help="KEY=VALUE passed to every run (gscc train --set)")
    parser.add_argument("--out", type=Path, default=RESULTS / "train", help="folder of the run folders")
    parser.add_argument("--json", type=Path, default=RESULTS / "train_bench.json")
    parser.add_argument("--table-only", action="store_true", help="only tabulate runs already in --out")
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 160)  # a log keeps whole columns

    runs = [tuple(item.split(":")) for item in args.runs.split(",") if item]
    if any(len(r) != 2 for r in runs):
        parser.error("--runs takes STRATEGY:REPRESENTATION pairs")
    previous = {}
    if args.json.is_file():
        previous = {row["run"]: row for row in json.loads(args.json.read_text()).get("runs", [])}
    rows = []
    for strategy, representation in runs:
        name = f"{strategy}-{representation}"
        folder = args.out / name
        if args.table_only:
            if (folder / "metrics.json").is_file():
                old = previous.get(name, {})
                rows.append(summary_row(name, folder, [], old.get("wall_seconds")) | {"command": old.get("command")})
            continue
        command = run_command(args, strategy, representation, folder)
        console.print(f"[bold]{name}[/bold]: {shlex.join(command)}", soft_wrap=True, highlight=False)
        started = time.perf_counter()
        done = subprocess.run(command, env=os.environ.copy())
        wall = time.perf_counter() - started
        if done.returncode != 0:
            console.print(f"{name}: gscc train exited with {done.returncode}; left out of the table")
            continue
        rows.append(summary_row(name, folder, command, round(wall, 1)))
        write_json(args.json, args, rows, previous)  # after every run: an interrupted bench keeps what it has
    if rows:
        print_table(rows, console)
        write_json(args.json, args, rows, previous)
        console.print(f"results written to {args.json}")
    return 0 if rows else 1


def write_json(path: Path, args, rows: list[dict], previous: dict) -> None:
    merged = dict(previous)
    merged.update({row["run"]: row for row in rows})
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "environment": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "scene": str(args.scene),
        "preset": args.preset,
        "runs": list(merged.values()),
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
