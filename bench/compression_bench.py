"""Compression experiments: train and encode a grid of compression presets, λ values and
ablations on one dataset; print the rate–distortion table, the per-attribute sizes and an
RD plot.

    python bench/compression_bench.py                        # lego, the default grid
    python bench/compression_bench.py --runs gsplat-png,gscodec --iterations 3000
    python bench/compression_bench.py --lambdas 0.0005,0.002,0.008
    python bench/compression_bench.py --table-only           # tabulate finished runs again

Every *trained* experiment is the `gscc train` command a user would type (its own process,
one after the other, each with the whole machine): ``--preset`` (cpu-fast) with
``--compression`` and ``--set`` settings. The *post-training* ablations change only how the
trained gscodec scene is encoded, so they re-encode that run (gscc.train.trainer.reencode)
instead of training again. Quality is that of the decoded `scene.gsc` on the held-out
views. Runs go to bench/results/compression/NAME/; the table to
bench/results/compression_bench.json, the plot to bench/results/compression_bench.png.
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
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
DEFAULT_SCENE = REPO_ROOT.parent / "shared" / "data" / "lego"
RESULTS = REPO_ROOT / "bench" / "results"
BASELINE = "gsplat-png"


@dataclass(frozen=True)
class Experiment:
    name: str
    what: str  # one line for the table
    compression: str = "gscodec"
    settings: tuple[str, ...] = ()
    reencode_of: str | None = None  # post-training ablation: re-encode this experiment's run
    group: str = "ablation"


EXPERIMENTS = [
    Experiment("gsplat-png", "baseline: MCMC + gsplat PNG compression", "gsplat-png", group="preset"),
    Experiment("gscodec", "noise quant + factorized + learnable SH mask + pruning + learned coding", group="preset"),
    Experiment("gscodec-6bit", "gscodec with 6-bit attributes (simulated and coded at 6 bits)",
               settings=("codec_bits=6",), group="preset"),
    # switches of the training modules (each trains again)
    Experiment("ste", "STE rounding instead of noise", settings=("quantizer=ste",)),
    Experiment("gaussian", "hash-grid Gaussian instead of factorized", settings=("entropy_model=gaussian",)),
    Experiment("gradient-mask", "gradient-threshold instead of learnable mask", settings=("mask=gradient",)),
    Experiment("no-mask", "no SH mask", settings=("mask=none",)),
    # no simulation (no quantizer, entropy model or mask) trains exactly the baseline's MCMC
    # model, so it is the baseline's run encoded with gscodec's codec (default preset)
    Experiment("no-simulation", "no simulation (no quantizer, entropy model or mask): MCMC + gscodec's codec",
               compression="gsplat-png", settings=("codec_preset=default",), reencode_of="gsplat-png"),
    Experiment("no-simulation-6bit", "no simulation, 6-bit attributes: MCMC + gscodec's codec at 6 bits",
               compression="gsplat-png", settings=("codec_preset=default", "codec_bits=6"), reencode_of="gsplat-png"),
    # switches of the post-training codec (re-encode the gscodec run)
    Experiment("6-bit", "6-bit instead of 8-bit attributes", settings=("codec_bits=6",), reencode_of="gscodec"),
    Experiment("no-pruning", "no pruning", settings=("codec_prune=0",), reencode_of="gscodec"),
    Experiment("image-coding-only", "PNG image coding only (no ANS, no learned coding)",
               settings=("codec_coder=png", "learned_coding=false"), reencode_of="gscodec"),
    Experiment("empirical-ans", "no learned coding (empirical ANS/PNG only)", settings=("learned_coding=false",),
               reencode_of="gscodec"),
    Experiment("no-post-training", "no post-training compression (no prune/sort/VQ; raw 8-bit)",
               settings=("codec_prune=0", "codec_sort=none", "codec_sh=scalar", "codec_coder=raw", "learned_coding=false"),
               reencode_of="gscodec"),
]
BY_NAME = {e.name: e for e in EXPERIMENTS}
DEFAULT_RUNS = ",".join(e.name for e in EXPERIMENTS)


def lambda_experiment(value: str) -> Experiment:
    return Experiment(f"gscodec-l{value}", f"gscodec at rate_lambda={value}", settings=(f"rate_lambda={value}",), group="lambda")


def gscc_command() -> list[str]:
    script = Path(sys.executable).with_name("gscc")
    return [str(script)] if script.is_file() else [sys.executable, "-c", "from gscc.cli import main; main()"]


def train_command(args, e: Experiment, folder: Path) -> list[str]:
    command = gscc_command() + [
        "train", str(args.scene), "-o", str(folder), "--preset", args.preset, "--compression", e.compression, "--force",
    ]
    if args.iterations:
        command += ["--iterations", str(args.iterations)]
    for item in list(args.set or []) + list(e.settings):
        command += ["--set", item]
    return command


def run_experiment(args, e: Experiment, console: Console) -> tuple[list[str] | None, float]:
    folder = args.out / e.name
    started = time.perf_counter()
    if e.reencode_of:
        from gscc.train.trainer import reencode

        source = args.out / e.reencode_of
        console.print(f"[bold]{e.name}[/bold]: re-encode {source} with {' '.join(e.settings)}", highlight=False)
        reencode(source, folder, list(e.settings), scene=args.scene, force=True, console=Console(stderr=True, quiet=True))
        return None, time.perf_counter() - started
    command = train_command(args, e, folder)
    console.print(f"[bold]{e.name}[/bold]: {shlex.join(command)}", soft_wrap=True, highlight=False)
    done = subprocess.run(command, env=os.environ.copy())
    if done.returncode != 0:
        raise RuntimeError(f"gscc train exited with {done.returncode}")
    return command, time.perf_counter() - started


def attribute_sizes(path: Path) -> dict[str, dict]:
    from gscc.info import summarize

    summary = summarize(path.read_bytes())
    sizes = {row["attribute"]: {"bytes": row["bytes"], "coding": row["coding"]} for row in summary["attributes"]}
    sizes["overhead"] = {"bytes": summary["overhead"]["bytes"], "coding": ""}
    return sizes


def result_row(e: Experiment, folder: Path, command, seconds) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    gsc = metrics["gsc"]
    return {
        "name": e.name,
        "what": e.what,
        "group": e.group,
        "command": shlex.join(command) if command else None,
        "reencode_of": e.reencode_of,
        "settings": list(e.settings),
        "iterations": metrics["iterations"],
        "training_seconds": metrics["training_seconds"],
        "wall_seconds": None if seconds is None else round(seconds, 1),
        "trained_splats": metrics["splat_count"],
        "splats": gsc["splat_count"],
        "bytes": gsc["bytes"],
        "psnr": gsc["mean"]["psnr"],
        "ssim": gsc["mean"]["ssim"],
        "trained_psnr": metrics["trained"]["mean"]["psnr"],
        "compression": metrics.get("compression"),
        "attributes": attribute_sizes(folder / "scene.gsc"),
    }


def trained_scene(folder: Path):
    """The finished run's exported scene (a DynamicSplats for a dynamic run), its learned
    distributions and its codec config (an EncodeConfig, or a DynamicEncodeConfig), from
    ``ckpt.pt`` alone (as the run's final encode makes them, without the dataset)."""
    import torch

    from gscc import model as models
    from gscc.train.checkpoint import load_checkpoint
    from gscc.train.compression import Compression
    from gscc.train.config import TrainConfig

    checkpoint = load_checkpoint(folder / "ckpt.pt")
    config = TrainConfig.from_dict(checkpoint["config"])
    shared = {name: t.numpy() for name, t in checkpoint["shared"].items()}
    model = models.from_params(config.representation, dict(checkpoint["params"]), shared, config.model_config())
    compression = Compression(config, model, torch.device("cpu"))
    compression.mask_params(model.params)
    if "compression" in checkpoint:
        compression.load_state_dict(checkpoint["compression"])
    dynamic = models.is_dynamic(config.representation)
    with torch.no_grad():
        final = compression.final_params(model.params)
        scene = model.export_dynamic(final) if dynamic else model.export_scene(final)
        distributions = compression.distributions(model.params)
    return scene, distributions, config.dynamic_codec_config() if dynamic else config.codec_config()


def coding_sizes(folder: Path) -> dict[str, dict]:
    """Per scalar-coded attribute of the run's final encode: the bytes of each empirical
    coder (``png``, ``ans``, ``jxl``) and of its learned coding (``learned``, when the run
    trained a distribution for it), and which coding the file keeps."""
    from gscc.codec.encoder import encode_tracked
    from gscc.info import summarize

    scene, distributions, codec = trained_scene(folder)
    sizes: dict[str, dict] = {}
    encoded = encode_tracked(scene, codec, distributions, sizes=sizes)
    kept = {row["attribute"]: row["coding"] for row in summarize(encoded.data)["attributes"]}
    # the ablation of ans-interp: interpolation with one table per channel, on the same
    # (lattice-quantized) planes the empirical coders coded, read back from an ans file
    from gscc.codec.interp import encode_plane
    from gscc.codec.lossless import decode_plane
    from gscc.container import unpack

    plain = unpack(encode_tracked(scene, codec.with_overrides(coder="ans"), grid=encoded.grid).data)
    shape = (plain.header["grid"]["height"], plain.header["grid"]["width"])
    for name, entry in plain.header["attributes"].items():
        if name in sizes and entry["codec"] == "scalar":
            bits = entry["quant"]["bits"]
            plane = decode_plane(plain, entry["coding"], (*shape, len(entry["quant"]["lo"])), bits)
            sizes[name]["ans-interp one table"] = sum(map(len, encode_plane(plane, bits, adaptive=False)))
            sizes[name]["context ceiling"] = round(context_ceiling(plane, bits))
    return {name: {**row, "kept": kept.get(name), "constrained": name in distributions} for name, row in sizes.items()}


def context_ceiling(plane, bits: int) -> float:
    """Bytes of a plane's residuals under ans-interp's prediction and context buckets if each
    bucket of each channel were coded with its own exact histogram (their entropy; the
    top grid, tables and stream overhead left out): a lower bound for any table family on
    these contexts, so how far better tables alone could take ans-interp."""
    import numpy as np

    from gscc.codec.interp import phases, predict, top_exponent

    total = 0.0
    for c in range(plane.shape[2]):
        q = plane[:, :, c].astype(np.int64)
        residual, buckets = [], []
        for rows, cols, offsets in phases(*q.shape, top_exponent(*q.shape)):
            mu, b = predict(q, rows, cols, offsets)
            residual.append(q[np.ix_(rows, cols)].reshape(-1) - mu)
            buckets.append(b)
        if not residual:
            continue
        r, b = np.concatenate(residual), np.concatenate(buckets)
        for k in np.unique(b):
            counts = np.bincount(r[b == k] - r.min())
            counts = counts[counts > 0]
            total += -float((counts * np.log2(counts / counts.sum())).sum()) / 8
    return total


def print_coding_table(rows: list[dict], console: Console) -> None:
    """Learned against empirical coding per attribute (runs that have ``codings``)."""
    for r in rows:
        codings = r.get("codings")
        if not codings:
            continue
        table = Table(title=f"{r['name']}: learned vs empirical coding per attribute, KB")
        columns = ("png", "ans", "jxl", "best empirical", "learned", "ans-interp one table", "ans-interp", "context ceiling")
        columns = tuple(k for k in columns if k == "best empirical" or any(c.get(k) is not None for c in codings.values()))
        for header in ("attribute", *columns, "learned vs best", "ans-interp vs best", "kept"):
            table.add_column(header, justify="left" if header in ("attribute", "kept") else "right")
        totals = dict.fromkeys(columns, 0)
        for name, c in codings.items():
            row = dict(c)
            row["best empirical"] = min(c[k] for k in EMPIRICAL if c.get(k) is not None)
            if c.get("constrained") and c.get("learned") is not None:  # the total compares codable planes
                for k in columns:
                    totals[k] += row.get(k) or 0
            table.add_row(
                name + (" *" if c.get("constrained") else ""),
                *(fmt(None if row.get(k) is None else row[k] / 1000, ",.1f") for k in columns),
                relative(row.get("learned"), row["best empirical"]), relative(row.get("ans-interp"), row["best empirical"]),
                str(c.get("kept") or ""),
            )
        if totals["best empirical"]:
            table.add_row(
                "constrained (*) total, learned codable", *(f"{totals[k] / 1000:,.1f}" for k in columns),
                relative(totals.get("learned"), totals["best empirical"]), relative(totals.get("ans-interp"), totals["best empirical"]), "",
            )
        console.print(table)


EMPIRICAL = ("png", "ans", "jxl")  # the codings `auto` chose from before ans-interp (format 1.5)


def relative(value, base) -> str:
    return "—" if not value or not base else f"{100.0 * (value / base - 1.0):+.1f}%"


def fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def print_tables(rows: list[dict], console: Console) -> None:
    base = next((r for r in rows if r["name"] == BASELINE), None)
    table = Table(title="compression experiments: decoded scene.gsc on the held-out views")
    for header in ("experiment", "KB", "B/splat", "splats", "PSNR", "SSIM", "trained PSNR", f"bytes vs {BASELINE}", "ΔPSNR"):
        table.add_column(header, justify="left" if header == "experiment" else "right")
    for r in rows:
        ratio = dpsnr = None
        if base is not None:
            ratio = f"{100.0 * (r['bytes'] / base['bytes'] - 1.0):+.1f}%"
            dpsnr = f"{r['psnr'] - base['psnr']:+.2f}"
        table.add_row(
            r["name"], f"{r['bytes'] / 1000:,.1f}", f"{r['bytes'] / r['splats']:.2f}", f"{r['splats']:,}",
            fmt(r["psnr"], ".2f"), fmt(r["ssim"], ".4f"), fmt(r["trained_psnr"], ".2f"), ratio or "—", dpsnr or "—",
        )
    console.print(table)
    names = []
    for r in rows:
        for name in r["attributes"]:
            if name not in names:
                names.append(name)
    sizes = Table(title="size per attribute, KB (coding)")
    sizes.add_column("experiment")
    for name in names:
        sizes.add_column(name, justify="right")
    for r in rows:
        cells = []
        for name in names:
            a = r["attributes"].get(name)
            cells.append("—" if a is None else f"{a['bytes'] / 1000:,.1f}" + (f" ({a['coding']})" if a["coding"] else ""))
        sizes.add_row(r["name"], *cells)
    console.print(sizes)
    for r in rows:
        how = f"; {r['command']}" if r["command"] else f"; re-encoded {r['reencode_of']} with {' '.join(r['settings'])}"
        note = f" (note: {r['note']})" if r.get("note") else ""
        console.print(f"{r['name']}: {r['what']}{how}{note}", soft_wrap=True, markup=False, highlight=False)


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    lam = sorted((r for r in rows if r["group"] == "lambda" or r["name"] == "gscodec"), key=lambda r: r["bytes"])
    if len(lam) > 1:
        ax.plot([r["bytes"] / 1e6 for r in lam], [r["psnr"] for r in lam], "-", color="tab:blue", alpha=0.5, label="gscodec, λ sweep")
    for r in rows:
        style = {"preset": ("o", "tab:red" if r["name"] == BASELINE else "tab:blue"), "lambda": ("s", "tab:blue")}.get(r["group"], ("^", "tab:gray"))
        ax.plot(r["bytes"] / 1e6, r["psnr"], style[0], color=style[1])
        ax.annotate(r["name"], (r["bytes"] / 1e6, r["psnr"]), textcoords="offset points", xytext=(4, 3), fontsize=8)
    ax.set_xlabel("scene.gsc size (MB)")
    ax.set_ylabel("held-out PSNR of the decoded scene (dB)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(lam) > 1:
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", type=Path, default=DEFAULT_SCENE, help="dataset folder (default: shared lego)")
    parser.add_argument("--preset", default="cpu-fast", help="training preset (default: cpu-fast)")
    parser.add_argument("--runs", default=DEFAULT_RUNS, help=f"experiments, comma-separated (from: {DEFAULT_RUNS})")
    parser.add_argument("--lambdas", default="", help="extra gscodec runs at these rate_lambda values, comma-separated")
    parser.add_argument("--iterations", type=int, help="override the preset's iterations (the same for every run)")
    parser.add_argument("--set", action="append", help="KEY=VALUE passed to every trained run (gscc train --set)")
    parser.add_argument("--out", type=Path, default=RESULTS / "compression", help="folder of the run folders")
    parser.add_argument("--json", type=Path, default=RESULTS / "compression_bench.json")
    parser.add_argument("--plot", type=Path, default=RESULTS / "compression_bench.png")
    parser.add_argument("--table-only", action="store_true", help="only tabulate runs already in --out")
    parser.add_argument(
        "--codings", action="store_true",
        help="also re-encode each run with trained distributions to tabulate learned vs empirical coding per attribute",
    )
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 200)

    try:
        chosen = [BY_NAME[name] for name in args.runs.split(",") if name]
    except KeyError as exc:
        parser.error(f"unknown experiment {exc.args[0]!r}; choose from {DEFAULT_RUNS}")
    chosen += [lambda_experiment(v.strip()) for v in args.lambdas.split(",") if v.strip()]
    previous = {}
    if args.json.is_file():
        previous = {row["name"]: row for row in json.loads(args.json.read_text()).get("runs", [])}
    rows = []
    for e in chosen:
        folder = args.out / e.name
        if args.table_only:
            if (folder / "metrics.json").is_file():
                old = previous.get(e.name, {})
                command = old.get("command") or (None if e.reencode_of else shlex.join(train_command(args, e, folder)))
                kept = {"note": old["note"]} if "note" in old else {}  # a remark added to the JSON by hand
                rows.append(result_row(e, folder, None, old.get("wall_seconds")) | {"command": command} | kept)
            continue
        try:
            command, seconds = run_experiment(args, e, console)
        except Exception as exc:  # one failed experiment must not lose the others
            console.print(f"{e.name}: failed ({exc}); left out of the table", markup=False)
            continue
        rows.append(result_row(e, folder, command, seconds))
        write_json(args, rows, previous)
    if not rows:
        return 1
    if args.codings:
        for r in rows:
            folder = args.out / r["name"]
            if (r.get("compression") or {}).get("entropy_model", "none") != "none" and (folder / "ckpt.pt").is_file():
                console.print(f"{r['name']}: coding sizes of every candidate per attribute", highlight=False)
                r["codings"] = coding_sizes(folder)
    print_tables(rows, console)
    print_coding_table(rows, console)
    write_json(args, rows, previous)
    title = f"{args.scene.name}: {args.preset}" + (f", {args.iterations} steps" if args.iterations else "")
    plot(list({**previous, **{r['name']: r for r in rows}}.values()) if not args.table_only else rows, args.plot, title)
    console.print(f"results written to {args.json} and {args.plot}")
    return 0


def write_json(args, rows: list[dict], previous: dict) -> None:
    merged = dict(previous)
    merged.update({row["name"]: row for row in rows})
    args.json.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "environment": {"machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "scene": str(args.scene),
        "preset": args.preset,
        "iterations": args.iterations,
        "runs": list(merged.values()),
    }
    args.json.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
