"""Codec benchmark: gscc presets against SPZ (via gsply) and the source file.

For every ``*.splat`` file in the data folder, and for each gscc preset, this
encodes, decodes and measures the attribute errors of the decoded splats
against the input splats they came from. SPZ (version 3, 12 fractional bits,
gsply's defaults) is measured the same way, and the source file itself is a
reference row. Results are printed as tables and written to JSON.

    python bench/codec_bench.py [--data DIR] [--presets default,small]
                                [--files a,b] [--json out.json]
    python bench/codec_bench.py --large bench/results/large_1m.ply
    python bench/codec_bench.py --target-psnr spz [--files plant] [--no-search]

See bench/README.md for the meaning of every column.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import gsply
import numpy as np
from rich.console import Console
from rich.table import Table

from gscc.codec.config import EncodeConfig, preset
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode_tracked
from gscc.io import load_splats
from gscc.metrics import attribute_errors
from gscc.splats import SplatSet

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "splats"
RESULTS = REPO_ROOT / "bench" / "results"
DEFAULT_JSON = RESULTS / "codec_bench.json"
DEFAULT_LARGE_JSON = RESULTS / "codec_bench_large.json"
DEFAULT_TARGET_JSON = RESULTS / "codec_bench_target.json"
DEFAULT_PRESETS = ("default", "small")
SPZ = "spz"
SOURCE = "source"
SPZ_FRACTIONAL_BITS = 12  # gsply's default; recorded in the JSON
TARGET_RATIO_VS_SPZ = 0.7  # the default preset should be at most this fraction of SPZ
ERROR_COLUMNS = {  # attribute_errors key -> table header
    "position_rel_mean": "pos err",
    "colour_mean": "colour",
    "opacity_mean": "opacity",
    "scale_rel_mean": "scale rel",
    "rotation_deg_mean": "rot °",
}

T = TypeVar("T")
console = Console(width=None if sys.stdout.isatty() else 160)  # wide tables when piped


# --------------------------------------------------------------------------- results


@dataclass
class Row:
    """One method applied to one file."""

    method: str
    file_bytes: int
    input_count: int
    kept: int
    encode_s: float | None
    decode_s: float | None
    errors: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def bytes_per_splat(self) -> float:
        """File bytes over the INPUT splat count (pruned splats still count)."""
        return self.file_bytes / self.input_count

    def to_dict(self, spz_bytes: int, source_bytes: int) -> dict[str, Any]:
        return {
            **asdict(self),
            "bytes_per_splat": self.bytes_per_splat,
            "ratio_vs_spz": self.file_bytes / spz_bytes,
            "ratio_vs_source": self.file_bytes / source_bytes,
        }


@dataclass
class FileResult:
    name: str
    count: int
    rows: list[Row]

    def row(self, method: str) -> Row:
        return next(r for r in self.rows if r.method == method)

    def ratio_vs_spz(self, method: str) -> float:
        return self.row(method).file_bytes / self.row(SPZ).file_bytes

    def to_dict(self) -> dict[str, Any]:
        spz, source = self.row(SPZ).file_bytes, self.row(SOURCE).file_bytes
        return {"file": self.name, "count": self.count, "rows": [r.to_dict(spz, source) for r in self.rows]}


# --------------------------------------------------------------------------- helpers


def timed(fn: Callable[[], T], repeats: int = 1) -> tuple[T, float]:
    """The result of ``fn`` and the best wall time over ``repeats`` calls."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(who).ru_maxrss / 1024.0


def parse_list(text: str | None) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()] if text else []


def gscc_config(name: str, sort: str | None) -> EncodeConfig:
    return preset(name).with_overrides(sort=sort)


def warm_up_sorter() -> None:
    """Import the sorter module up front (numpy only; its Taichi kernels are imported and
    compiled by the first sort, which the encode is charged for, as a user is)."""
    import gscc.codec.sort  # noqa: F401  (fails loudly if the sorter is missing)


# --------------------------------------------------------------------------- gscc


def bench_gscc(splats: SplatSet, name: str, config: EncodeConfig, repeats: int) -> Row:
    encoded, encode_s = timed(lambda: encode_tracked(splats, config))
    decoded, decode_s = timed(lambda: decode(encoded.data), repeats)
    if decoded.count != len(encoded.source_index):
        raise RuntimeError(f"{name}: decoded {decoded.count} splats, source index lists {len(encoded.source_index)}")
    errors = attribute_errors(splats.subset(encoded.source_index), decoded)
    return Row(f"gscc {name}", len(encoded.data), splats.count, decoded.count, encode_s, decode_s, errors)


# --------------------------------------------------------------------------- SPZ


def to_gsdata(splats: SplatSet) -> gsply.GSData:
    """A GSData in PLY format (log scales, logit opacities, wxyz quaternions)."""
    shN = splats.shN if splats.shN.shape[1] else None
    return gsply.GSData.from_arrays(
        means=splats.means,
        scales=splats.scales,
        quats=splats.quats,
        opacities=splats.opacities,
        sh0=splats.sh0,
        shN=shN,
        format="ply",
    )


def from_gsdata(data: gsply.GSData) -> SplatSet:
    """Back to a SplatSet, converting linear scales/opacities to log/logit if needed."""
    if not (data.is_scales_ply and data.is_opacities_ply):
        data = data.normalize(inplace=False)
    n, degree = len(data), data.get_sh_degree()
    shN = data.shN if degree > 0 else np.zeros((n, 0, 3), np.float32)
    return SplatSet(data.means, data.scales, data.quats, data.opacities, data.sh0, shN)


def spz_position_tolerance(fractional_bits: int) -> float:
    """Largest per-axis position error when SPZ keeps the splat order (half a step)."""
    return 0.5 / (1 << fractional_bits) + 1e-6


def match_spz_order(original: SplatSet, decoded: SplatSet) -> tuple[SplatSet, bool]:
    """The original splats in decoded order, and whether SPZ kept the input order.

    If it did not, each decoded splat is matched to its nearest original centre.
    """
    if decoded.count == original.count:
        offset = np.abs(decoded.means.astype(np.float64) - original.means)
        if offset.max() <= spz_position_tolerance(SPZ_FRACTIONAL_BITS):
            return original, True
    from scipy.spatial import cKDTree

    _, nearest = cKDTree(original.means).query(decoded.means, workers=-1)
    return original.subset(nearest), False


def bench_spz(splats: SplatSet, folder: Path, repeats: int) -> Row:
    path = folder / "scene.spz"
    data = to_gsdata(splats)
    _, encode_s = timed(lambda: gsply.write_spz(path, data, version=3, fractional_bits=SPZ_FRACTIONAL_BITS))
    decoded, decode_s = timed(lambda: from_gsdata(gsply.read_spz(path)), repeats)
    reference, in_order = match_spz_order(splats, decoded)
    notes = [] if in_order else ["SPZ changed the splat order: errors use nearest-neighbour matching"]
    errors = attribute_errors(reference, decoded)
    return Row(SPZ, path.stat().st_size, splats.count, decoded.count, encode_s, decode_s, errors, notes)


# --------------------------------------------------------------------------- per file


def source_row(path: Path, splats: SplatSet) -> Row:
    """The input file itself: lossless by definition (zeros, not float round-off)."""
    zeros = dict.fromkeys(attribute_errors(splats, splats), 0.0)
    return Row(SOURCE, path.stat().st_size, splats.count, splats.count, None, None, zeros)


def bench_file(path: Path, presets: list[str], sort: str | None, repeats: int) -> FileResult:
    splats = load_splats(path)
    rows = [source_row(path, splats)]
    with tempfile.TemporaryDirectory(prefix="gscc-bench-") as folder:
        rows.append(bench_spz(splats, Path(folder), repeats))
    for name in presets:
        rows.append(bench_gscc(splats, name, gscc_config(name, sort), repeats))
    return FileResult(path.name, splats.count, rows)


def find_files(data: Path, names: list[str]) -> list[Path]:
    files = sorted(data.glob("*.splat"))
    if names:
        files = [f for f in files if f.name in names or f.stem in names]
    if not files:
        raise SystemExit(f"no matching .splat files in {data}")
    return files


# --------------------------------------------------------------------------- tables


def fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def file_table(result: FileResult) -> Table:
    table = Table(title=f"{result.name}  ({result.count:,} splats)", title_justify="left")
    headers = ["method", "B/splat", "×SPZ", "×source", "enc s", "dec s", "kept", *ERROR_COLUMNS.values()]
    for header in headers:
        table.add_column(header, justify="left" if header == "method" else "right")
    spz, source = result.row(SPZ).file_bytes, result.row(SOURCE).file_bytes
    for row in result.rows:
        table.add_row(
            row.method,
            fmt(row.bytes_per_splat, ".2f"),
            fmt(row.file_bytes / spz, ".3f"),
            fmt(row.file_bytes / source, ".3f"),
            fmt(row.encode_s, ".2f"),
            fmt(row.decode_s, ".3f"),
            f"{row.kept:,}",
            *(fmt(row.errors[key], ".2e") for key in ERROR_COLUMNS),
        )
    return table


def summarise(results: list[FileResult]) -> dict[str, Any]:
    """Means over files per method, and the two targets for the default preset."""
    methods = [row.method for row in results[0].rows]
    per_method = {
        method: {
            "mean_bytes_per_splat": float(np.mean([r.row(method).bytes_per_splat for r in results])),
            "mean_ratio_vs_spz": float(np.mean([r.ratio_vs_spz(method) for r in results])),
            "mean_position_rel": float(np.mean([r.row(method).errors["position_rel_mean"] for r in results])),
        }
        for method in methods
    }
    summary: dict[str, Any] = {"methods": per_method}
    if "gscc default" in methods:
        size_ok = [r.name for r in results if r.ratio_vs_spz("gscc default") <= TARGET_RATIO_VS_SPZ]
        position_ok = [
            r.name
            for r in results
            if r.row("gscc default").errors["position_rel_mean"] <= r.row(SPZ).errors["position_rel_mean"]
        ]
        summary["targets"] = {
            "default_size_le_0.7_spz": {"passed": len(size_ok) == len(results), "files_passing": size_ok},
            "default_position_le_spz": {"passed": len(position_ok) == len(results), "files_passing": position_ok},
        }
    return summary


def summary_table(summary: dict[str, Any], file_count: int) -> Table:
    table = Table(title=f"Summary over {file_count} files (means)", title_justify="left")
    for header in ("method", "B/splat", "×SPZ", "pos err"):
        table.add_column(header, justify="left" if header == "method" else "right")
    for method, stats in summary["methods"].items():
        table.add_row(
            method,
            f"{stats['mean_bytes_per_splat']:.2f}",
            f"{stats['mean_ratio_vs_spz']:.3f}",
            f"{stats['mean_position_rel']:.2e}",
        )
    return table


def print_targets(summary: dict[str, Any], file_count: int) -> None:
    labels = {
        "default_size_le_0.7_spz": f"gscc default ≤ {TARGET_RATIO_VS_SPZ}× SPZ bytes",
        "default_position_le_spz": "gscc default position error ≤ SPZ's",
    }
    for key, outcome in summary.get("targets", {}).items():
        verdict = "[green]yes[/]" if outcome["passed"] else "[red]no[/]"
        console.print(f"{labels[key]}: {verdict} ({len(outcome['files_passing'])}/{file_count} files)")


# --------------------------------------------------------------------------- large file


def _encode_phase(source: str, output: str, sort: str | None) -> dict[str, Any]:
    """Child process: load, encode with the default preset, write the .gsc and source index."""
    warm_up_sorter()
    baseline = peak_rss_mib()
    splats = load_splats(source)
    cpu = time.process_time()
    encoded, seconds = timed(lambda: encode_tracked(splats, gscc_config("default", sort)))
    cpu = time.process_time() - cpu
    Path(output).write_bytes(encoded.data)
    np.save(output + ".index.npy", encoded.source_index)
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "input_count": splats.count,
        "bytes": len(encoded.data),
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
    }


def _decode_phase(path: str) -> dict[str, Any]:
    """Child process: read and decode a .gsc."""
    baseline = peak_rss_mib()
    data = Path(path).read_bytes()
    cpu = time.process_time()
    decoded, seconds = timed(lambda: decode(data))
    cpu = time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "kept": decoded.count, "baseline_rss_mib": baseline, "peak_rss_mib": peak_rss_mib()}


def in_fresh_process(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` in a new spawned interpreter, so its peak RSS is its own."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def bench_large(path: Path, sort: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gscc-large-") as folder:
        output = str(Path(folder) / "large.gsc")
        encode_stats = in_fresh_process(_encode_phase, str(path), output, sort)
        decode_stats = in_fresh_process(_decode_phase, output)
        splats = load_splats(path)
        decoded = decode(Path(output).read_bytes())
        source_index = np.load(output + ".index.npy")
        spz = bench_spz(splats, Path(folder), 1)
    errors = attribute_errors(splats.subset(source_index), decoded)
    return {
        "spz": {"bytes": spz.file_bytes, "encode_s": spz.encode_s, "decode_s": spz.decode_s},
        "ratio_vs_spz": encode_stats["bytes"] / spz.file_bytes,
        "file": str(path),
        "input_count": encode_stats["input_count"],
        "kept": decode_stats["kept"],
        "bytes": encode_stats["bytes"],
        "bytes_per_splat": encode_stats["bytes"] / encode_stats["input_count"],
        "encode": encode_stats,
        "decode": decode_stats,
        "errors": errors,
    }


def print_large(result: dict[str, Any]) -> None:
    console.print(f"{result['file']}: {result['input_count']:,} splats, gscc default")
    table = Table()
    for header in ("phase", "seconds", "CPU seconds", "peak RSS MiB", "RSS after imports MiB"):
        table.add_column(header, justify="left" if header == "phase" else "right")
    for phase in ("encode", "decode"):
        stats = result[phase]
        table.add_row(
            phase,
            f"{stats['seconds']:.2f}",
            f"{stats['cpu_seconds']:.2f}",
            f"{stats['peak_rss_mib']:.0f}",
            f"{stats['baseline_rss_mib']:.0f}",
        )
    console.print(table)
    spz = result["spz"]
    console.print(
        f"{result['bytes']:,} bytes = {result['bytes_per_splat']:.2f} B/splat = {result['ratio_vs_spz']:.3f}× SPZ "
        f"({spz['bytes']:,} bytes, encoded in {spz['encode_s']:.2f} s), kept {result['kept']:,}; "
        + ", ".join(f"{ERROR_COLUMNS[k]} {result['errors'][k]:.2e}" for k in ERROR_COLUMNS)
    )


# --------------------------------------------------------------------------- quality targets

TARGET_RATIO_AT_SPZ_PSNR = 0.6  # at SPZ's render PSNR, gscc should need at most this fraction of its bytes
# views no search looks at (the probe: orbit:4 at 15 degrees; pruning by contribution:
# gscc.codec.static_contribution.VIEWS): the chosen file is judged on these as well
HELD_OUT_VIEWS = ("orbit:6,elevation=55,azimuth=5", "orbit:6,elevation=0,azimuth=80,fov=35",
                  "orbit:5,elevation=25,azimuth=50")


# SPZ v3's gzipped stream: a 16-byte header, then each attribute of every splat in turn
# (bytes per splat; shN: 3 per coefficient). Its attributes share one gzip stream, so
# attribute_bytes_spz splits the file in proportion to each section gzipped alone.
SPZ_HEADER = 16
SPZ_SECTIONS = (("means", 9), ("opacities", 1), ("sh0", 3), ("scales", 3), ("quats", 4))
ATTRIBUTE_ORDER = ("means", "scales", "quats", "opacities", "sh0", "shN")


def spz_round_trip(splats: SplatSet) -> tuple[bytes, SplatSet]:
    """SPZ's file (v3, gsply) of ``splats`` and what it decodes to."""
    with tempfile.TemporaryDirectory(prefix="gscc-bench-") as folder:
        path = Path(folder) / "scene.spz"
        gsply.write_spz(path, to_gsdata(splats), version=3, fractional_bits=SPZ_FRACTIONAL_BITS)
        return path.read_bytes(), from_gsdata(gsply.read_spz(path))


def attribute_bytes_spz(data: bytes, count: int, sh_rest: int) -> dict[str, int]:
    """An SPZ file's bytes per attribute (estimated: see SPZ_SECTIONS)."""
    import gzip

    stream = gzip.decompress(data)
    sections, offset = {}, SPZ_HEADER
    for name, size in SPZ_SECTIONS + (("shN", 3 * sh_rest),):
        sections[name] = stream[offset:offset + size * count]
        offset += size * count
    alone = {name: len(gzip.compress(part)) for name, part in sections.items() if part}
    return {name: round(len(data) * size / sum(alone.values())) for name, size in alone.items()}


def attribute_bytes(data: bytes) -> dict[str, int]:
    """A `.gsc` file's bytes per attribute (gscc info's rows)."""
    from gscc.info import summarize

    return {row["attribute"]: row["bytes"] for row in summarize(data)["attributes"]}


def attribute_bits(data: bytes) -> dict[str, int]:
    """The bit depth each scalar-quantized attribute of a `.gsc` file was coded at."""
    from gscc.container import unpack

    attributes = unpack(data).header["attributes"]
    return {name: entry["quant"]["bits"] for name, entry in attributes.items() if "quant" in entry}


def bench_target(path: Path, search: bool = True) -> dict[str, Any]:
    """SPZ's render PSNR on one file, the default preset's bytes and PSNR, and (``search``)
    the bytes gscc needs for SPZ's PSNR (--target-psnr)."""
    from gscc.codec.target import QualityProbe, encode_for_psnr

    splats = load_splats(path)
    probe = QualityProbe(splats)
    held = QualityProbe(splats, specs=HELD_OUT_VIEWS) if search else None
    spz_data, spz_decoded = spz_round_trip(splats)
    spz_bytes, spz_psnr = len(spz_data), probe.psnr(spz_decoded)
    default = encode_tracked(splats, gscc_config("default", None))
    default_psnr = probe.psnr(decode(default.data))
    row = {
        "file": path.name,
        "count": splats.count,
        "probe": probe.record(),
        "spz": {"bytes": spz_bytes, "psnr": spz_psnr, **({"held_out_psnr": held.psnr(spz_decoded)} if held else {}),
                "attributes": attribute_bytes_spz(spz_data, splats.count, splats.shN.shape[1])},
        "default": {"bytes": len(default.data), "psnr": default_psnr, "ratio_vs_spz": len(default.data) / spz_bytes,
                    "attributes": attribute_bytes(default.data), "bits": attribute_bits(default.data)},
    }
    if not search:
        return row
    cpu = time.process_time()
    result, seconds = timed(lambda: encode_for_psnr(splats, gscc_config("default", None), spz_psnr, probe=probe))
    cpu = time.process_time() - cpu
    bits = {k: v for k, v in asdict(result.config).items() if k.endswith("_bits")}
    return {
        **row,
        "target": {
            "bytes": len(result.encoded.data),
            "attributes": attribute_bytes(result.encoded.data),
            "psnr": result.psnr,
            "held_out_psnr": held.psnr(decode(result.encoded.data)),
            "pruned": result.prune,
            "reached": result.reached,
            "ratio_vs_spz": len(result.encoded.data) / spz_bytes,
            "bits": bits,
            "seconds": seconds,
            "cpu_seconds": cpu,
        },
    }


def target_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Bytes at SPZ's render PSNR (gscc encode --target-psnr)", title_justify="left")
    headers = ("file", "SPZ B/splat", "SPZ PSNR", "default ×SPZ", "default PSNR", "default bits", "target ×SPZ",
               "target PSNR", "target bits", "pruned", "SPZ / target PSNR held-out", "search s")
    searched = all("target" in row for row in rows)
    for header in headers if searched else headers[:6]:
        table.add_column(header, justify="left" if header in ("file", "default bits", "target bits") else "right")
    for row in rows:
        d = row["default"]["bits"]
        cells = [
            row["file"],
            f"{row['spz']['bytes'] / row['count']:.2f}",
            f"{row['spz']['psnr']:.2f}",
            f"{row['default']['ratio_vs_spz']:.3f}",
            f"{row['default']['psnr']:.2f}",
            "/".join(str(d[k]) for k in ("means", "scales", "quats", "opacities", "sh0") if k in d),
        ]
        if searched:
            t, b = row["target"], row["target"]["bits"]
            cells += [
                f"{t['ratio_vs_spz']:.3f}",
                f"{t['psnr']:.2f}",
                "/".join(str(b[k]) for k in ("position_bits", "scale_bits", "rotation_bits", "opacity_bits", "color_bits")),
                f"{t['pruned']:.0%}",
                f"{row['spz']['held_out_psnr']:.2f} / {t['held_out_psnr']:.2f}",
                f"{t['seconds']:.0f}",
            ]
        table.add_row(*cells)
    return table


def allocation_table(rows: list[dict[str, Any]]) -> Table:
    """Where the bytes go: bits per (input) splat of each attribute, SPZ's estimated."""
    table = Table(title="Bits per splat per attribute (SPZ: estimated)", title_justify="left")
    names = [a for a in ATTRIBUTE_ORDER if any(a in row[m]["attributes"] for row in rows for m in ("spz", "default"))]
    # precision classes (format 1.6): the class plane (refinement bits count with their attribute)
    names += ["classes"] if any("classes" in row.get("target", {}).get("attributes", {}) for row in rows) else []
    for header in ("file", "method", *names, "total"):
        table.add_column(header, justify="left" if header in ("file", "method") else "right")
    for row in rows:
        for method in [m for m in ("spz", "default", "target") if m in row]:
            sizes = row[method]["attributes"]
            cells = [f"{8 * sizes[a] / row['count']:.2f}" if a in sizes else "" for a in names]
            table.add_row(row["file"], method, *cells, f"{8 * row[method]['bytes'] / row['count']:.2f}")
    return table


def run_targets(args: argparse.Namespace) -> dict[str, Any]:
    rows = []
    for path in find_files(args.data, parse_list(args.files)):
        rows.append(bench_target(path, search=not args.no_search))
        measured = rows[-1].get("target", rows[-1]["default"])
        console.print(f"{path.name}: {measured['ratio_vs_spz']:.3f}× SPZ, {measured['psnr']:.2f} dB "
                      f"(SPZ: {rows[-1]['spz']['psnr']:.2f} dB)")
    console.print(target_table(rows))
    console.print(allocation_table(rows))
    above = [r["file"] for r in rows if r["default"]["psnr"] >= r["spz"]["psnr"]]
    small = [r["file"] for r in rows if r["default"]["ratio_vs_spz"] <= TARGET_RATIO_VS_SPZ]
    for label, files in (("default ≥ SPZ's PSNR", above), (f"default ≤ {TARGET_RATIO_VS_SPZ}× SPZ bytes", small)):
        verdict = "[green]yes[/]" if len(files) == len(rows) else "[red]no[/]"
        console.print(f"{label}: {verdict} ({len(files)}/{len(rows)} files)")
    if args.no_search:
        return {"targets": rows}
    passing = [r["file"] for r in rows if r["target"]["reached"] and r["target"]["ratio_vs_spz"] <= TARGET_RATIO_AT_SPZ_PSNR]
    verdict = "[green]yes[/]" if len(passing) == len(rows) else "[red]no[/]"
    console.print(f"at SPZ's PSNR, gscc ≤ {TARGET_RATIO_AT_SPZ_PSNR}× SPZ bytes: {verdict} ({len(passing)}/{len(rows)} files)")
    return {"targets": rows}


# --------------------------------------------------------------------------- main


def environment(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": multiprocessing.cpu_count(),
        "gsply": getattr(gsply, "__version__", "unknown"),
        "spz": {"version": 3, "fractional_bits": SPZ_FRACTIONAL_BITS},
        "sort_override": args.sort,
        "decode_repeats": args.repeats,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of .splat files")
    parser.add_argument("--presets", default=",".join(DEFAULT_PRESETS), help="comma-separated gscc presets")
    parser.add_argument("--files", default=None, help="comma-separated file names or stems (default: all)")
    parser.add_argument(
        "--json", type=Path, default=None, help=f"results file (default {DEFAULT_JSON.name}, {DEFAULT_LARGE_JSON.name} with --large)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="decode timing: best of this many runs")
    parser.add_argument("--sort", choices=("plas", "none"), default=None, help="override the presets' sorter")
    parser.add_argument("--large", type=Path, default=None, help="only time the default preset on this file")
    parser.add_argument(
        "--target-psnr", choices=("spz",), default=None,
        help="only measure the bytes gscc needs at SPZ's render PSNR (encode --target-psnr)",
    )
    parser.add_argument(
        "--no-search", action="store_true",
        help="with --target-psnr: only SPZ's and the default preset's bytes and render PSNR (no search)",
    )
    return parser.parse_args(argv)


def run_files(args: argparse.Namespace) -> dict[str, Any]:
    presets = parse_list(args.presets)
    for name in presets:
        preset(name)  # unknown names fail before any work
    warm_up_sorter()
    results = []
    for path in find_files(args.data, parse_list(args.files)):
        result = bench_file(path, presets, args.sort, args.repeats)
        console.print(file_table(result))
        for row in result.rows:
            for note in row.notes:
                console.print(f"[yellow]{row.method}: {note}[/]")
        results.append(result)
    summary = summarise(results)
    console.print(summary_table(summary, len(results)))
    print_targets(summary, len(results))
    return {"presets": presets, "files": [r.to_dict() for r in results], "summary": summary}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = {"environment": environment(args)}
    if args.large is not None:
        report["large"] = bench_large(args.large, args.sort)
        print_large(report["large"])
    elif args.target_psnr is not None:
        report.update(run_targets(args))
    else:
        report.update(run_files(args))
    report["peak_rss_mib"] = peak_rss_mib()
    console.print(f"peak RSS of this process: {report['peak_rss_mib']:.0f} MiB")
    default_json = DEFAULT_LARGE_JSON if args.large is not None else DEFAULT_TARGET_JSON if args.target_psnr else DEFAULT_JSON
    output = args.json or default_json
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2))
    console.print(f"results written to {output}")


if __name__ == "__main__":
    main()
