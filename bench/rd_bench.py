"""Rate-distortion benchmark: bytes per splat against render quality, gscc vs SPZ vs SOG.

For every splat file in the data folder this converts the source to a 3DGS ``.ply`` (the
one input every codec gets), places orbit cameras around it, renders it, and then, for
each codec point, encodes, decodes and renders the decoded splats with the same cameras,
background and renderer. Quality is the mean PSNR and SSIM over the views against the
original's renders; rate is the file size over the input splat count.

Codec families:

- ``gscc``: gscc presets at several bit depths (``--points``);
- ``gsplat-png``: gscc's ``gsplat-png`` preset (gsplat's PNG recipe, see bench/README.md);
- ``spz``: SPZ v3 written and read by gsply (12 fractional position bits);
- ``sog``: PlayCanvas SOG through ``@playcanvas/splat-transform`` (bench/sog.py), when it
  can be installed and run here; otherwise reported as unavailable with the reason.

    python bench/rd_bench.py [--data DIR] [--files a,b] [--views 8] [--width 256]
                             [--height 256] [--points default,default+p14,...]
                             [--codecs gscc,gsplat-png,spz,sog] [--json F] [--plot F]

See bench/README.md ("Rate-distortion benchmark") for the details.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ helpers, when imported

import sog  # noqa: E402  (bench/sog.py)
from codec_bench import SPZ_FRACTIONAL_BITS, from_gsdata, to_gsdata  # noqa: E402

from gscc.cameras import Camera, load_cameras  # noqa: E402
from gscc.codec.config import EncodeConfig, preset  # noqa: E402
from gscc.codec.decoder import decode  # noqa: E402
from gscc.codec.encoder import encode_tracked  # noqa: E402
from gscc.eval.metrics import psnr, ssim  # noqa: E402
from gscc.eval.render_views import Renderer, parse_background  # noqa: E402
from gscc.io import load_splats, write_ply  # noqa: E402
from gscc.splats import SplatSet  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "splats"
RESULTS = REPO_ROOT / "bench" / "results"
DEFAULT_JSON = RESULTS / "rd_bench.json"
DEFAULT_PLOT = RESULTS / "rd_bench.png"
SPLAT_SUFFIXES = (".splat", ".ply")
FAMILIES = ("gscc", "gsplat-png", "spz", "sog")
# gscc rate points: preset name, then +pN (position bits) and/or +bN (every other attribute)
DEFAULT_POINTS = (
    "high",
    "default",
    "default+p14",
    "default+b6",
    "default+p14+b6",
    "small",
    "small+p12",
    "small+p12+b5",
)
TARGET_RATIO_VS_SPZ = 0.7
SPZ_VERSION = 3

console = Console(width=None if sys.stdout.isatty() else 160)


# --------------------------------------------------------------------------- codec points


def parse_point(spec: str) -> EncodeConfig:
    """``preset[+pN][+bN]``: a preset with N position bits and/or N bits for the rest."""
    name, *mods = spec.strip().split("+")
    config = preset(name)
    for mod in mods:
        kind, digits = mod[:1], mod[1:]
        if kind not in ("p", "b") or not digits.isdigit():
            raise ValueError(f"rate point {spec!r}: expected preset[+pN][+bN], got {mod!r}")
        bits = int(digits)
        if kind == "p":
            config = config.with_overrides(position_bits=bits)
        else:
            config = config.with_overrides(
                scale_bits=bits, rotation_bits=bits, opacity_bits=bits, color_bits=bits, sh_bits=bits
            )
    return config


@dataclass
class Point:
    """One codec setting applied to one file."""

    family: str
    label: str
    file_bytes: int
    input_count: int
    kept: int
    encode_s: float
    decode_s: float
    psnr: list[float]
    ssim: list[float]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def bytes_per_splat(self) -> float:
        return self.file_bytes / self.input_count

    @property
    def psnr_mean(self) -> float:
        return float(np.mean(self.psnr))

    @property
    def ssim_mean(self) -> float:
        return float(np.mean(self.ssim))

    def to_dict(self, spz_bytes: Optional[int]) -> dict[str, Any]:
        return {
            **asdict(self),
            "bytes_per_splat": self.bytes_per_splat,
            "ratio_vs_spz": self.file_bytes / spz_bytes if spz_bytes else None,
            "psnr_mean": self.psnr_mean,
            "ssim_mean": self.ssim_mean,
        }


@dataclass
class FileResult:
    name: str
    count: int
    sh_degree: int
    render_s: float
    points: list[Point]
    notes: list[str] = field(default_factory=list)

    def point(self, label: str) -> Optional[Point]:
        return next((p for p in self.points if p.label == label), None)

    @property
    def spz_bytes(self) -> Optional[int]:
        spz = self.point("spz")
        return spz.file_bytes if spz else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.name,
            "count": self.count,
            "sh_degree": self.sh_degree,
            "original_render_s": self.render_s,
            "notes": self.notes,
            "points": [p.to_dict(self.spz_bytes) for p in self.points],
        }


# --------------------------------------------------------------------------- measuring


class Reference:
    """The original's renders and the settings every codec is rendered with."""

    def __init__(self, splats: SplatSet, cameras: list[Camera], backend: str, background: tuple[float, float, float]):
        self.cameras = cameras
        self.backend = backend
        self.background = background
        start = time.perf_counter()
        self.images = self.render(splats)
        self.seconds = time.perf_counter() - start

    def render(self, splats: SplatSet) -> list[np.ndarray]:
        renderer = Renderer(splats, backend=self.backend, background=self.background)
        return [renderer.render(camera)[0] for camera in self.cameras]

    def score(self, splats: SplatSet) -> tuple[list[float], list[float]]:
        """PSNR and SSIM of each view of ``splats`` against the original's."""
        images = self.render(splats)
        return (
            [psnr(image, ref) for image, ref in zip(images, self.images)],
            [ssim(image, ref) for image, ref in zip(images, self.images)],
        )


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def measure_gscc(family: str, label: str, splats: SplatSet, config: EncodeConfig, ref: Reference) -> Point:
    encoded, encode_s = timed(lambda: encode_tracked(splats, config))
    decoded, decode_s = timed(lambda: decode(encoded.data))
    scores = ref.score(decoded)
    return Point(family, label, len(encoded.data), splats.count, decoded.count, encode_s, decode_s, *scores,
                 settings=config.to_dict())


def measure_spz(splats: SplatSet, folder: Path, ref: Reference) -> Point:
    import gsply

    path = folder / "scene.spz"
    data = to_gsdata(splats)
    _, encode_s = timed(lambda: gsply.write_spz(path, data, version=SPZ_VERSION, fractional_bits=SPZ_FRACTIONAL_BITS))
    decoded, decode_s = timed(lambda: from_gsdata(gsply.read_spz(path)))
    scores = ref.score(decoded)
    settings = {"version": SPZ_VERSION, "fractional_bits": SPZ_FRACTIONAL_BITS, "gsply": gsply.__version__}
    return Point("spz", "spz", path.stat().st_size, splats.count, decoded.count, encode_s, decode_s, *scores,
                 settings=settings)


def measure_sog(tool: sog.SogTool, ply: Path, count: int, folder: Path, ref: Reference) -> Point:
    trip = sog.round_trip(tool, ply, folder)
    decoded = load_splats(trip.decoded_ply)
    scores = ref.score(decoded)
    settings = {"tool": f"{sog.PACKAGE}@{tool.version}", "device": "cpu"}
    return Point("sog", "sog", trip.file_bytes, count, decoded.count, trip.encode_s, trip.decode_s, *scores,
                 settings=settings)


def bench_file(path: Path, args: argparse.Namespace, points: list[str], sog_tool: Optional[sog.SogTool],
               sog_reason: Optional[str]) -> FileResult:
    source = load_splats(path)
    with tempfile.TemporaryDirectory(prefix="gscc-rd-") as tmp:
        folder = Path(tmp)
        ply = folder / "input.ply"
        write_ply(source, ply)  # the one input every codec gets
        splats = load_splats(ply)
        cameras = load_cameras(f"orbit:{args.views}", splats=splats, width=args.width, height=args.height)
        ref = Reference(splats, cameras, args.backend, args.background)
        result = FileResult(path.name, splats.count, splats.sh_degree, ref.seconds, [])
        console.print(f"[bold]{path.name}[/]: {splats.count:,} splats, SH degree {splats.sh_degree}; "
                      f"{len(cameras)} views at {args.width}x{args.height} rendered in {ref.seconds:.1f} s")

        def run(label: str, fn: Callable[[], Point]) -> None:
            point, seconds = timed(fn)
            result.points.append(point)
            console.print(f"  {label:<22} {point.bytes_per_splat:6.2f} B/splat  PSNR {point.psnr_mean:6.2f}  "
                          f"SSIM {point.ssim_mean:.4f}  ({seconds:.1f} s)")

        if "spz" in args.codecs:
            run("spz", lambda: measure_spz(splats, folder, ref))
        if "sog" in args.codecs:
            if sog_tool is None:
                result.notes.append(f"SOG: unavailable ({sog_reason})")
            else:
                try:
                    run("sog", lambda: measure_sog(sog_tool, ply, splats.count, folder, ref))
                except sog.SogUnavailable as exc:
                    result.notes.append(f"SOG: unavailable ({exc})")
        if "gsplat-png" in args.codecs:
            run("gsplat-png", lambda: measure_gscc("gsplat-png", "gsplat-png", splats, preset("gsplat-png"), ref))
        if "gscc" in args.codecs:
            for spec in points:
                label = f"gscc {spec}"
                run(label, lambda: measure_gscc("gscc", label, splats, parse_point(spec), ref))
    for note in result.notes:
        console.print(f"  [yellow]{note}[/]")
    return result


# --------------------------------------------------------------------------- reporting


def fmt(value: Optional[float], spec: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return format(value, spec)


def file_table(result: FileResult) -> Table:
    table = Table(title=f"{result.name}  ({result.count:,} splats, SH {result.sh_degree})", title_justify="left")
    for header in ("codec", "B/splat", "×SPZ", "kept", "PSNR dB", "SSIM", "enc s", "dec s"):
        table.add_column(header, justify="left" if header == "codec" else "right")
    spz = result.spz_bytes
    for p in sorted(result.points, key=lambda p: (FAMILIES.index(p.family), -p.bytes_per_splat)):
        table.add_row(
            p.label, fmt(p.bytes_per_splat, ".2f"), fmt(p.file_bytes / spz if spz else None, ".3f"),
            f"{p.kept:,}", fmt(p.psnr_mean, ".2f"), fmt(p.ssim_mean, ".4f"),
            fmt(p.encode_s, ".1f"), fmt(p.decode_s, ".2f"),
        )
    return table


def summarise(results: list[FileResult]) -> dict[str, Any]:
    """Means per codec point over the files that have it, and the default-vs-SPZ check."""
    labels: list[str] = []
    for r in results:
        labels += [p.label for p in r.points if p.label not in labels]
    means = {}
    for label in labels:
        points = [(r, r.point(label)) for r in results if r.point(label)]
        ratios = [p.file_bytes / r.spz_bytes for r, p in points if r.spz_bytes]
        means[label] = {
            "files": len(points),
            "bytes_per_splat": float(np.mean([p.bytes_per_splat for _, p in points])),
            "ratio_vs_spz": float(np.mean(ratios)) if ratios else None,
            "psnr": float(np.mean([p.psnr_mean for _, p in points])),
            "ssim": float(np.mean([p.ssim_mean for _, p in points])),
        }
    summary: dict[str, Any] = {"means": means}
    checks = []
    for r in results:
        default, spz = r.point("gscc default"), r.point("spz")
        if default and spz:
            ratio = default.file_bytes / spz.file_bytes
            checks.append({
                "file": r.name,
                "ratio_vs_spz": ratio,
                "psnr_default": default.psnr_mean,
                "psnr_spz": spz.psnr_mean,
                "passed": ratio <= TARGET_RATIO_VS_SPZ and default.psnr_mean >= spz.psnr_mean,
            })
    if checks:
        summary["default_vs_spz"] = {
            "target": f"gscc default ≤ {TARGET_RATIO_VS_SPZ}× SPZ bytes at equal or higher PSNR",
            "passed": all(c["passed"] for c in checks),
            "files": checks,
        }
    return summary


def summary_table(summary: dict[str, Any], file_count: int) -> Table:
    table = Table(title=f"Means over {file_count} files", title_justify="left")
    for header in ("codec", "files", "B/splat", "×SPZ", "PSNR dB", "SSIM"):
        table.add_column(header, justify="left" if header == "codec" else "right")
    for label, m in summary["means"].items():
        table.add_row(label, str(m["files"]), fmt(m["bytes_per_splat"], ".2f"), fmt(m["ratio_vs_spz"], ".3f"),
                      fmt(m["psnr"], ".2f"), fmt(m["ssim"], ".4f"))
    return table


def print_check(summary: dict[str, Any]) -> None:
    check = summary.get("default_vs_spz")
    if not check:
        return
    for c in check["files"]:
        verdict = "[green]yes[/]" if c["passed"] else "[red]no[/]"
        console.print(f"  {c['file']}: {c['ratio_vs_spz']:.3f}× SPZ, PSNR {c['psnr_default']:.2f} vs "
                      f"{c['psnr_spz']:.2f} dB: {verdict}")
    passed = sum(c["passed"] for c in check["files"])
    verdict = "[green]yes[/]" if check["passed"] else "[red]no[/]"
    console.print(f"{check['target']}: {verdict} ({passed}/{len(check['files'])} files)")


STYLES = {  # family -> matplotlib marker, line style, label
    "gscc": ("o", "-", "gscc presets"),
    "gsplat-png": ("s", "", "gsplat PNG recipe (gscc preset)"),
    "spz": ("^", "", "SPZ v3 (gsply)"),
    "sog": ("D", "", "SOG (splat-transform)"),
}


def pareto_front(points: list[Point]) -> list[Point]:
    """The points no other point beats on both rate and PSNR, by increasing rate."""
    front: list[Point] = []
    for p in sorted(points, key=lambda p: (p.bytes_per_splat, -p.psnr_mean)):
        if not front or p.psnr_mean > front[-1].psnr_mean:
            front.append(p)
    return front


def plot(results: list[FileResult], output: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(results))
    rows = math.ceil(len(results) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 4.2 * rows), squeeze=False)
    for ax, result in zip(axes.flat, results):
        for family in FAMILIES:
            points = sorted((p for p in result.points if p.family == family), key=lambda p: p.bytes_per_splat)
            points = [p for p in points if math.isfinite(p.psnr_mean)]
            if not points:
                continue
            marker, line, label = STYLES[family]
            if line:  # markers for every point, the line through the Pareto front only
                front = pareto_front(points)
                drawn = ax.plot([p.bytes_per_splat for p in front], [p.psnr_mean for p in front],
                                marker=marker, linestyle=line, label=f"{label} (line: Pareto front)")
                ax.plot([p.bytes_per_splat for p in points], [p.psnr_mean for p in points],
                        marker=marker, linestyle="none", color=drawn[0].get_color())
            else:
                ax.plot([p.bytes_per_splat for p in points], [p.psnr_mean for p in points],
                        marker=marker, linestyle="none", label=label)
            if family == "gscc":  # one label per distinct point ("small = default+p14+b6")
                names: dict[tuple[float, float], list[str]] = {}
                for p in points:  # equal to the plotted precision: header bytes may differ
                    key = (round(p.bytes_per_splat, 2), round(p.psnr_mean, 2))
                    names.setdefault(key, []).append(p.label.removeprefix("gscc "))
                for (rate, quality), labels in names.items():
                    ax.annotate(" = ".join(labels), (rate, quality),
                                textcoords="offset points", xytext=(4, -9), fontsize=6, alpha=0.7)
        ax.set_title(f"{result.name} ({result.count:,} splats)", fontsize=10)
        ax.set_xlabel("bytes per splat")
        ax.set_ylabel("PSNR vs original renders (dB)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(results):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=130)
    plt.close(fig)


def jsonable(value: Any) -> Any:
    """Infinite PSNR (identical renders) as the string "inf": JSON has no infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


# --------------------------------------------------------------------------- main


def find_files(data: Path, names: list[str]) -> list[Path]:
    files = sorted(f for f in data.iterdir() if f.suffix.lower() in SPLAT_SUFFIXES) if data.is_dir() else []
    if names:
        files = [f for f in files if f.name in names or f.stem in names]
    if not files:
        raise SystemExit(f"no matching splat files in {data}")
    return files


def parse_list(text: Optional[str]) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()] if text else []


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of .splat/.ply files")
    parser.add_argument("--files", default=None, help="comma-separated file names or stems (default: all)")
    parser.add_argument("--views", type=int, default=8, help="orbit cameras per file")
    parser.add_argument("--width", type=int, default=256, help="render width in pixels")
    parser.add_argument("--height", type=int, default=256, help="render height in pixels")
    parser.add_argument("--background", default="black", help="black, white or r,g,b (same for every render)")
    parser.add_argument("--backend", default="auto", help="renderer backend (auto, taichi, gsplat, reference)")
    parser.add_argument("--points", default=",".join(DEFAULT_POINTS),
                        help="gscc rate points: preset[+pN][+bN], comma-separated")
    parser.add_argument("--codecs", default=",".join(FAMILIES), help=f"families to run, from {','.join(FAMILIES)}")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results file")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="RD curves (PNG)")
    parser.add_argument("--replot", type=Path, default=None, metavar="JSON",
                        help="only redraw the RD curves (--plot) from a results file of this script")
    args = parser.parse_args(argv)
    args.codecs = parse_list(args.codecs)
    unknown = [c for c in args.codecs if c not in FAMILIES]
    if unknown:
        parser.error(f"unknown codec families {unknown}; choose from {', '.join(FAMILIES)}")
    if args.views < 1 or args.width < 8 or args.height < 8:
        parser.error("need at least one view of at least 8x8 pixels")
    args.background = parse_background(args.background)
    return args


def environment(args: argparse.Namespace, backend: str, sog_status: str) -> dict[str, Any]:
    import gsply
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": multiprocessing.cpu_count(),
        "torch": torch.__version__,
        "gsply": getattr(gsply, "__version__", "unknown"),
        "render_backend": backend,
        "sog": sog_status,
        "cameras": {"spec": f"orbit:{args.views}", "width": args.width, "height": args.height},
        "background": list(args.background),
    }


def write_report(args: argparse.Namespace, backend: str, sog_status: str, points: list[str],
                 results: list[FileResult], summary: dict[str, Any]) -> None:
    report = {
        "environment": environment(args, backend, sog_status),
        "points": points,
        "files": [r.to_dict() for r in results],
        "summary": summary,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(jsonable(report), indent=2))


def load_results(path: Path) -> tuple[list[FileResult], dict[str, Any]]:
    """The per-file results and the environment from a JSON file :func:`write_report` wrote."""
    report = json.loads(path.read_text())
    fields = [f for f in Point.__dataclass_fields__]
    results = []
    for entry in report["files"]:
        points = [Point(**{k: point[k] for k in fields}) for point in entry["points"]]
        for point in points:  # "inf" back to a float
            point.psnr = [float(v) for v in point.psnr]
        results.append(FileResult(entry["file"], entry["count"], entry["sh_degree"], entry["original_render_s"],
                                  points, entry.get("notes", [])))
    return results, report.get("environment", {})


def plot_title(views: int, width: int, height: int, backend: str) -> str:
    return f"PSNR of decoded vs original renders\n{views} orbit views, {width}x{height}, {backend} renderer"


def main(argv: Optional[list[str]] = None) -> None:
    args = parse_args(argv)
    if args.replot is not None:
        results, env = load_results(args.replot)
        cams = env.get("cameras", {})
        views = int(cams.get("spec", "orbit:0").split(":")[1])
        plot(results, args.plot, plot_title(views, cams.get("width", 0), cams.get("height", 0),
                                            env.get("render_backend", "?")))
        console.print(f"RD curves from {args.replot} drawn to {args.plot}")
        return
    points = parse_list(args.points) if "gscc" in args.codecs else []
    for spec in points:  # bad specs fail before any work
        try:
            parse_point(spec)
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
    files = find_files(args.data, parse_list(args.files))
    from gscc.eval.render_views import resolve_backend

    backend = resolve_backend(args.backend)
    args.backend = backend
    sog_tool, sog_reason = None, None
    if "sog" in args.codecs:
        try:
            sog_tool = sog.sog_tool()
            sog_status = f"available ({sog.PACKAGE}@{sog_tool.version})"
        except sog.SogUnavailable as exc:
            sog_reason = str(exc)
            sog_status = f"unavailable ({sog_reason})"
        console.print(f"SOG: {sog_status}")
    else:
        sog_status = "not run"
    console.print(f"renderer: {backend}; {args.views} orbit views at {args.width}x{args.height}, "
                  f"background {args.background}")

    results: list[FileResult] = []
    for path in files:
        results.append(bench_file(path, args, points, sog_tool, sog_reason))
        write_report(args, backend, sog_status, points, results, summarise(results))  # partial, per file
    for result in results:
        console.print(file_table(result))
        for note in result.notes:
            console.print(f"[yellow]{note}[/]")
    summary = summarise(results)
    console.print(summary_table(summary, len(results)))
    print_check(summary)

    write_report(args, backend, sog_status, points, results, summary)
    plot(results, args.plot, plot_title(args.views, args.width, args.height, backend))
    console.print(f"results written to {args.json}; RD curves to {args.plot}")


if __name__ == "__main__":
    main()
