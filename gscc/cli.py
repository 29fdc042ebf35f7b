"""The `gscc` command line: a thin layer over the library."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .errors import GsccError, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="gscc: a codec for Gaussian splats.")
# markup off: paths and header strings are printed as they are
console = Console(markup=False, highlight=False)
errors = Console(stderr=True, markup=False, highlight=False)

SAMPLE = Path(__file__).parent / "samples" / "plant-20k.splat"


class Preset(str, Enum):
    default = "default"
    small = "small"
    high = "high"


class Coder(str, Enum):
    auto = "auto"
    png = "png"
    ans = "ans"
    raw = "raw"


class Sort(str, Enum):
    plas = "plas"
    none = "none"


class ShCodec(str, Enum):
    vq = "vq"
    scalar = "scalar"


def _fail(message: str) -> None:
    errors.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)
    raise typer.Exit(1)


def _check_output(output: Path, inputs: list[Path], force: bool) -> None:
    for source in inputs:
        if source.exists() and output.exists() and output.resolve() == source.resolve():
            _fail(f"{output}: output would overwrite the input")
    if output.exists() and not force:
        _fail(f"{output}: exists; pass --force to overwrite it")
    if output.exists() and output.is_dir():
        _fail(f"{output}: is a directory")
    if not output.parent.exists():
        _fail(f"{output.parent}: no such directory")


def _read(path: Path) -> bytes:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    return path.read_bytes()


def _size_table(summary: dict) -> Table:
    table = Table(title=f"{summary['scene']['count']:,} splats, {summary['file_bytes']:,} bytes")
    for column in ("attribute", "codec", "coding", "bits", "bytes", "bits/splat", "share"):
        table.add_column(column, justify="left" if column in ("attribute", "codec", "coding") else "right")
    for row in summary["attributes"]:
        table.add_row(
            row["attribute"],
            row["codec"] + (f" K={row['codebook_size']}" if "codebook_size" in row else ""),
            row["coding"],
            str(row["bits"]),
            f"{row['bytes']:,}",
            f"{row['bits_per_splat']:.2f}",
            f"{100 * row['share']:.1f}%",
        )
    o = summary["overhead"]
    table.add_row("header+grid", "", "", "", f"{o['bytes']:,}", f"{o['bits_per_splat']:.2f}", f"{100 * o['share']:.1f}%")
    table.add_row(
        "total", "", "", "", f"{summary['file_bytes']:,}", f"{8 * summary['bytes_per_splat']:.2f}", "100.0%", style="bold"
    )
    return table


def _encode_file(source: Path, output: Path, config) -> tuple[dict, float]:
    from .codec.encoder import encode
    from .info import summarize
    from .io import load_splats
    from .io.atomic import write_bytes_atomically

    splats = load_splats(source)
    start = time.perf_counter()
    data = encode(splats, config)
    seconds = time.perf_counter() - start
    write_bytes_atomically(output, data)
    return summarize(data), seconds


@app.command()
def encode(
    source: Path = typer.Argument(..., help="Splats to compress: a 3DGS .ply or a .splat file."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="The .gsc file to write [default: SOURCE with .gsc]."),
    preset: Preset = typer.Option(Preset.default, help="Named settings; the options below override them."),
    position_bits: Optional[int] = typer.Option(None, min=8, max=16, help="Bits per position coordinate (after sign-log)."),
    bits: Optional[int] = typer.Option(None, min=4, max=8, help="Bits for scales, rotations, opacities, colours and SH."),
    sh_codec: Optional[ShCodec] = typer.Option(None, help="Higher-order SH: vector quantization or per-coefficient."),
    sh_codebook: Optional[int] = typer.Option(None, min=0, max=65536, help="VQ codebook size (0: adapt to the count)."),
    coder: Optional[Coder] = typer.Option(None, help="Lossless coding per attribute; auto picks the smaller."),
    sort: Optional[Sort] = typer.Option(None, help="Arrange splats in a 2D grid with PLAS, or keep their order."),
    prune_opacity: Optional[float] = typer.Option(None, min=0.0, max=0.999, help="Drop splats less opaque than this."),
    prune_scale: Optional[float] = typer.Option(None, min=0.0, help="Drop splats whose largest axis is smaller."),
    prune_outliers: Optional[int] = typer.Option(None, min=0, help="Outlier removal with this many neighbours (0: off)."),
    seed: Optional[int] = typer.Option(None, help="Seed for sorting and k-means."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Compress splats into a .gsc file."""
    from .codec.config import preset as preset_config

    output = output or source.with_suffix(".gsc")
    _check_output(output, [source], force)
    overrides = dict(
        position_bits=position_bits,
        scale_bits=bits, rotation_bits=bits, opacity_bits=bits, color_bits=bits, sh_bits=bits,
        sh_codec=sh_codec.value if sh_codec else None,
        sh_codebook=sh_codebook,
        coder=coder.value if coder else None,
        sort=sort.value if sort else None,
        opacity_threshold=prune_opacity,
        scale_threshold=prune_scale,
        outlier_neighbours=prune_outliers,
        seed=seed,
    )
    config = preset_config(preset.value).with_overrides(**overrides)
    summary, seconds = _encode_file(source, output, config)
    console.print(_size_table(summary))
    kept = summary["scene"]["count"]
    given = summary["encoder"].get("input_count", kept)
    console.print(
        f"wrote {output} in {seconds:.2f} s: {given:,} splats in, {kept:,} kept, "
        f"{summary['file_bytes'] / given:.2f} bytes per input splat"
    )


@app.command()
def decode(
    source: Path = typer.Argument(..., help="The .gsc file to decode."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="The .ply to write [default: SOURCE.decoded.ply]."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Decode a .gsc file to a standard 3DGS .ply."""
    from .codec.decoder import decode as decode_bytes
    from .io import write_ply

    output = output or source.with_name(source.stem + ".decoded.ply")
    _check_output(output, [source], force)
    start = time.perf_counter()
    splats = decode_bytes(_read(source))
    seconds = time.perf_counter() - start
    write_ply(splats, output)
    console.print(f"wrote {output}: {splats.count:,} splats, SH degree {splats.sh_degree}, decoded in {seconds:.2f} s")


@app.command()
def info(
    source: Path = typer.Argument(..., help="The .gsc file to describe."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show what a .gsc file holds: header and bytes per attribute."""
    from .info import summarize

    summary = summarize(_read(source))
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    scene = summary["scene"]
    console.print(
        f"{source}: .gsc {summary['format_version']}, {scene['kind']} scene, {scene['count']:,} splats, "
        f"SH degree {scene['sh_degree']}, grid {summary['grid']['height']}x{summary['grid']['width']} "
        f"(+{summary['grid']['padding']} padding), encoder {summary['encoder'].get('name', '?')} "
        f"{summary['encoder'].get('version', '?')}"
    )
    console.print(_size_table(summary))


@app.command()
def demo(
    output_dir: Path = typer.Option(Path("gscc-demo"), "-o", "--output", help="Folder for the demo's files."),
) -> None:
    """Compress, inspect and decode the sample scene shipped with gscc."""
    from .codec.config import preset as preset_config
    from .codec.decoder import decode as decode_bytes
    from .codec.encoder import encode_tracked
    from .io import load_splats, write_ply
    from .io.atomic import write_bytes_atomically
    from .metrics import attribute_errors

    output_dir.mkdir(parents=True, exist_ok=True)
    splats = load_splats(SAMPLE)
    console.print(f"sample: {SAMPLE.name}, {splats.count:,} splats ({SAMPLE.stat().st_size:,} bytes as .splat)")
    target = output_dir / "sample.gsc"
    start = time.perf_counter()
    encoded = encode_tracked(splats, preset_config("default"))
    encode_seconds = time.perf_counter() - start
    write_bytes_atomically(target, encoded.data)
    start = time.perf_counter()
    decoded = decode_bytes(target.read_bytes())
    decode_seconds = time.perf_counter() - start
    write_ply(decoded, output_dir / "sample.decoded.ply")
    from .info import summarize

    console.print(_size_table(summarize(encoded.data)))
    errors_ = attribute_errors(splats.subset(encoded.source_index), decoded)
    console.print(f"encode {encode_seconds:.2f} s, decode {decode_seconds:.3f} s")
    console.print("round-trip errors: " + ", ".join(f"{k} {v:.3g}" for k, v in errors_.items()))
    console.print(f"wrote {target} and {output_dir / 'sample.decoded.ply'}")


def _report(message: str, code: int) -> None:
    errors.print(Text("error: ", style="bold red") + Text(" ".join(message.split())), soft_wrap=True)
    sys.exit(code)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except GsccError as exc:
        _report(str(exc), 1)
    except ValueError as exc:  # invalid settings from the typed config
        _report(str(exc), 2)
    except OSError as exc:
        _report(f"{exc.filename or ''}: {exc.strerror or exc}", 1)
    except MemoryError:
        _report("out of memory", 1)
    except KeyboardInterrupt:
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # usage errors from the command-line parser (typer bundles its own click)
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        raise
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
