"""The `gscc` command line: a thin layer over the library."""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .codec.config import PRESETS
from .codec.dynamic_config import DYNAMIC_PRESETS
from .errors import GsccError, GsccWarning, InputError, MissingExtraError

_python_showwarning = warnings.showwarning

app = typer.Typer(add_completion=False, no_args_is_help=True, help="gscc: a codec for Gaussian splats.")
# markup off: paths and header strings are printed as they are
console = Console(markup=False, highlight=False)
errors = Console(stderr=True, markup=False, highlight=False)

SAMPLE = Path(__file__).parent / "samples" / "plant-20k.splat"
# Modules of the `full` install extra: `pip install gscc` brings what decode and info need,
# `pip install 'gscc[full]'` what encoding, training, rendering and evaluation need.
FULL_EXTRA = ("torch", "taichi", "torchmetrics", "torchvision", "pycolmap", "matplotlib", "scipy", "av")


def _extra_hint(module: str) -> str:
    command = next((a for a in sys.argv[1:] if not a.startswith("-")), "this command")
    return f"gscc {command} needs {module}: pip install 'gscc[full]'"


def _require(*modules: str) -> None:
    """MissingExtraError, before any work, when a module of the full extra is missing."""
    import importlib.util

    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(_extra_hint(module))


# every named preset of gscc.codec.config, selectable on the command line
Preset = Enum("Preset", {name.replace("-", "_"): name for name in {**PRESETS, **DYNAMIC_PRESETS}}, type=str)


class Coder(str, Enum):
    auto = "auto"
    png = "png"
    ans = "ans"
    raw = "raw"
    jxl = "jxl"
    ans_interp = "ans-interp"


class Sort(str, Enum):
    plas = "plas"
    none = "none"


class ShCodec(str, Enum):
    vq = "vq"
    scalar = "scalar"


class DynamicFormat(str, Enum):
    ply = "ply"
    splatv = "splatv"


class Backend(str, Enum):
    auto = "auto"
    taichi = "taichi"
    gsplat = "gsplat"
    reference = "reference"


def _fail(message: str) -> None:
    errors.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)
    raise typer.Exit(1)


def _check_output(output: Path, inputs: list[Path], force: bool, suffix: str | None = None) -> None:
    """Refuse an output that would overwrite an input, is a directory, lacks ``suffix``
    (what the command writes), exists (unless ``force``) or lies in a missing folder."""
    for source in inputs:
        if source.exists() and output.exists() and output.resolve() == source.resolve():
            _fail(f"{output}: output would overwrite the input")
    if output.is_dir():
        _fail(f"{output}: is a directory; name the file to write, e.g. {output / ('scene' + (suffix or ''))}")
    if suffix and output.suffix.lower() != suffix:
        _fail(f"{output}: this command writes a {suffix} file; give the output a {suffix} name")
    if output.exists() and not force:
        _fail(f"{output}: exists; pass --force to overwrite it")
    if not output.parent.exists():
        _fail(f"{output.parent}: no such directory")


def _read(path: Path) -> bytes:
    from .io import existing_file

    return existing_file(path).read_bytes()


def _read_gsc(path: Path) -> bytes:
    """The bytes of a .gsc file; a file of another kind is named, with what to do instead."""
    from .container.format import MAGIC

    data = _read(path)
    if data.startswith(MAGIC):
        return data
    if data.startswith((b"ply\n", b"ply\r\n")):
        raise InputError(f"{path}: is a PLY file, not a .gsc; compress it with `gscc encode {path}`")
    if path.suffix.lower() in (".splat", ".splatv"):
        raise InputError(f"{path}: is a {path.suffix.lower()} file, not a .gsc; compress it with `gscc encode {path}`")
    raise InputError(f"{path}: not a .gsc file (it does not start with the .gsc signature)")


def _size_table(summary: dict) -> Table:
    table = Table(title=f"{summary['scene']['count']:,} splats, {summary['file_bytes']:,} bytes")
    for column in ("attribute", "codec", "coding", "bits", "bytes", "bits/splat", "share"):
        table.add_column(column, justify="left" if column in ("attribute", "codec", "coding") else "right")
    for row in summary["attributes"]:
        table.add_row(
            row["attribute"],
            row["codec"] + (f" K={row['codebook_size']}" if "codebook_size" in row else ""),
            row["coding"],
            # refined in precision classes (format 1.6): the coarsest class's depth to the finest
            f"{row['bits'] - row['refined_bits']}-{row['bits']}" if "refined_bits" in row else str(row["bits"]),
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


def _quality_line(quality: dict) -> str:
    """The quality an encode to a PSNR target recorded (an informative header field)."""
    psnr = quality.get("psnr")
    achieved = "identical renders" if psnr is None else f"render PSNR {psnr:.2f} dB"
    return (
        f"quality: {achieved} against the input (target {quality.get('target_psnr', '?')} dB, "
        f"{quality.get('views', '?')} {quality.get('cameras', 'orbit')} views at {quality.get('width', '?')}x{quality.get('height', '?')}"
        + (f" x {quality['times']} times)" if "times" in quality else ")")
    )


class _EncodeProgress:
    """What the encoder is doing, as a spinner line on stderr (silent when not a terminal)."""

    def __init__(self) -> None:
        self._status = errors.status("encoding", spinner="dots") if errors.is_terminal else None

    def __enter__(self) -> "_EncodeProgress":
        if self._status is not None:
            self._status.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._status is not None:
            self._status.__exit__(*exc)

    def __call__(self, stage: str) -> None:
        if self._status is not None:
            self._status.update(f"encoding: {stage}")


def _encode_file(source: Path, output: Path, config, force: bool, target_psnr: Optional[float] = None) -> tuple[dict, float]:
    from .codec.encoder import encode
    from .info import summarize
    from .io import load_splats
    from .io.atomic import write_bytes_atomically

    splats = load_splats(source)
    start = time.perf_counter()
    with _EncodeProgress() as progress:
        if target_psnr is None:
            data = encode(splats, config, progress=progress)
        else:
            from .codec.target import encode_for_psnr

            data = encode_for_psnr(splats, config, target_psnr, progress=progress).encoded.data
    seconds = time.perf_counter() - start
    write_bytes_atomically(output, data, overwrite=force)
    return summarize(data), seconds


def _encode_dynamic_file(
    source: Path, output: Path, config, fps: Optional[float], frames: Optional[int], force: bool,
    target_psnr: Optional[float] = None,
) -> tuple[dict, float]:
    from .codec.dynamic_config import DEFAULT_FPS, DEFAULT_FRAMES
    from .codec.dynamic_encoder import encode_dynamic
    from .dynamic import DynamicScene
    from .info import summarize
    from .io import load_dynamic
    from .io.atomic import write_bytes_atomically

    scene = DynamicScene.single(load_dynamic(source), fps=fps or DEFAULT_FPS, frame_count=frames or DEFAULT_FRAMES)
    if (config.prune_contribution > 0 or target_psnr is not None) and source.suffix.lower() == ".splatv":
        from .cameras.splatv import splatv_cameras

        scene.extra["cameras"] = splatv_cameras(source)  # views the pruning and the quality probe see
    start = time.perf_counter()
    if target_psnr is None:
        data = encode_dynamic(scene, config)
    else:
        from .codec.dynamic_target import encode_dynamic_for_psnr

        with _EncodeProgress() as progress:
            data = encode_dynamic_for_psnr(scene, config, target_psnr, progress=progress).encoded.data
    seconds = time.perf_counter() - start
    write_bytes_atomically(output, data, overwrite=force)
    return summarize(data), seconds


@app.command()
def encode(
    source: Path = typer.Argument(..., help="Splats to compress: a 3DGS .ply or .splat; dynamic: a .splatv or STG / motion-basis .ply."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="The .gsc file to write [default: SOURCE with .gsc]."),
    preset: Preset = typer.Option(Preset.default, help="Named settings; the options below override them."),
    position_bits: Optional[int] = typer.Option(None, min=8, max=16, help="Bits per position coordinate (after sign-log)."),
    bits: Optional[int] = typer.Option(None, min=4, max=8, help="Bits for scales, rotations, opacities, colours and SH."),
    sh_codec: Optional[ShCodec] = typer.Option(None, help="Higher-order SH: vector quantization or per-coefficient."),
    sh_codebook: Optional[int] = typer.Option(None, min=0, max=65536, help="VQ codebook size (0: adapt to the count)."),
    coder: Optional[Coder] = typer.Option(None, help="Lossless coding per attribute; auto picks the smallest."),
    sort: Optional[Sort] = typer.Option(None, help="Arrange splats in a 2D grid with PLAS, or keep their order."),
    prune_opacity: Optional[float] = typer.Option(None, min=0.0, max=0.999, help="Drop splats less opaque than this (dynamic: at their peak over time)."),
    prune_scale: Optional[float] = typer.Option(None, min=0.0, help="Drop splats whose largest axis is smaller."),
    prune_outliers: Optional[int] = typer.Option(None, min=0, help="Outlier removal with this many neighbours (0: off)."),
    seed: Optional[int] = typer.Option(None, help="Seed for sorting and k-means."),
    motion_bits: Optional[int] = typer.Option(None, min=4, max=16, help="Dynamic: bits per motion coefficient."),
    omega_bits: Optional[int] = typer.Option(None, min=4, max=16, help="Dynamic: bits per angular-velocity component."),
    time_bits: Optional[int] = typer.Option(None, min=4, max=16, help="Dynamic: bits of the temporal centre (t_center)."),
    time_scale_bits: Optional[int] = typer.Option(None, min=4, max=16, help="Dynamic: bits of the temporal scale."),
    static_motion: Optional[float] = typer.Option(None, min=0.0, max=0.999, help="Dynamic: splats moving less than this fraction of the scene code no motion (0: off)."),
    motion_window: Optional[float] = typer.Option(None, min=0.0, max=1e6, help="Dynamic (STG): code motion over each splat's visibility half-window, this many temporal scales (0: off)."),
    prune_contribution: Optional[float] = typer.Option(None, min=0.0, max=1e6, help="Dynamic: drop splats that never paint this many pixels of a 320-pixel view (the .splatv's cameras and orbit views, over time; 0: off)."),
    fps: Optional[float] = typer.Option(None, min=0.001, max=1000.0, help="Dynamic: the frame rate (a .splatv records none) [default: 30]."),
    frames: Optional[int] = typer.Option(None, min=1, help="Dynamic: the frames the model spans [default: 50]."),
    target_psnr: Optional[float] = typer.Option(
        None, min=10.0, max=100.0,
        help="Choose the bits of every attribute (static: and how many splats renders can spare) to reach this render PSNR (dB) against the input at the fewest bytes.",
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Compress splats (static, or dynamic: format 1.3) into a .gsc file."""
    from .codec.config import preset as preset_config
    from .io import is_dynamic_file

    output = output or source.with_suffix(".gsc")
    if target_psnr is not None and (bits is not None or position_bits is not None):
        _fail("give --target-psnr or bit depths (--bits, --position-bits), not both")
    _check_output(output, [source], force, ".gsc")
    _require("torch", "taichi", "scipy")
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
    dynamic = dict(motion_bits=motion_bits, omega_bits=omega_bits, time_bits=time_bits,
                   time_scale_bits=time_scale_bits, static_motion=static_motion, motion_window=motion_window,
                   prune_contribution=prune_contribution)
    if is_dynamic_file(source):
        from .codec.dynamic_config import dynamic_preset

        if target_psnr is not None and prune_contribution is not None:
            _fail("give --target-psnr or --prune-contribution, not both (the target chooses the pruning)")
        config = dynamic_preset(preset.value).with_overrides(**overrides, **dynamic)
        summary, seconds = _encode_dynamic_file(source, output, config, fps, frames, force, target_psnr)
        console.print(_dynamic_line(summary), soft_wrap=True)
    else:
        given = [name for name, value in {**dynamic, "fps": fps, "frames": frames}.items() if value is not None]
        if given:
            _fail(f"--{given[0].replace('_', '-')} applies to dynamic inputs only; {source} holds static splats")
        if preset.value not in PRESETS:
            _fail(f"--preset {preset.value} applies to dynamic inputs only; {source} holds static splats")
        config = preset_config(preset.value).with_overrides(**overrides)
        summary, seconds = _encode_file(source, output, config, force, target_psnr)
    console.print(_size_table(summary))
    if "quality" in summary["encoder"]:
        console.print(_quality_line(summary["encoder"]["quality"]))
    kept = summary["scene"]["count"]
    given = summary["encoder"].get("input_count", kept)
    console.print(
        f"wrote {output} in {seconds:.2f} s: {given:,} splats in, {kept:,} kept, "
        f"{summary['file_bytes'] / given:.2f} bytes per input splat"
    )


def _dynamic_line(summary: dict) -> str:
    """Duration, frame rate, segments and bitrate of a dynamic file's summary."""
    motion = summary["scene"]["motion"]
    params = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in motion.items() if k != "kind")
    timing = "duration unknown"
    if summary["duration_s"]:
        timing = (f"{summary['duration_s']:.2f} s ({summary['frame_count']} frames at {summary['fps']:g} fps), "
                  f"{summary['mbps']:.3f} Mbps")
    windows = {(w["width"], w["floor"]) for w in (s.get("motion_window") for s in summary["segments"]) if w}
    window = "".join(f", motion window {width:g} temporal scales (floor {floor:g})" for width, floor in sorted(windows))
    return f"dynamic scene: {motion['kind']} motion ({params}{window}), {len(summary['segments'])} segment(s), {timing}"


@app.command()
def decode(
    source: Path = typer.Argument(..., help="The .gsc file to decode."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output",
        help="The file to write [default: SOURCE.decoded.ply]; a dynamic file of several segments: a new folder."),
    fmt: DynamicFormat = typer.Option(DynamicFormat.ply, "--format", help="Dynamic: an STG / motion-basis .ply or a .splatv."),
    at: Optional[float] = typer.Option(None, "--time", min=0.0, max=1.0, help="Dynamic: write the static 3DGS .ply at this time (0..1)."),
    segment: Optional[int] = typer.Option(None, min=0, help="Dynamic: write this segment only."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Decode a .gsc file to a standard 3DGS .ply (dynamic: STG .ply, .splatv, or a snapshot)."""
    from .codec.decoder import decode as decode_bytes
    from .codec.dynamic_decoder import dynamic_header, is_dynamic_gsc
    from .io import write_ply

    data = _read_gsc(source)
    if not is_dynamic_gsc(data):
        given = [name for name, value in (("--time", at), ("--segment", segment)) if value is not None]
        if given or fmt != DynamicFormat.ply:
            _fail(f"{given[0] if given else '--format'} applies to dynamic .gsc files only; {source} holds a static scene")
        output = output or source.with_name(source.stem + ".decoded.ply")
        _check_output(output, [source], force, ".ply")
        start = time.perf_counter()
        splats = decode_bytes(data)
        seconds = time.perf_counter() - start
        write_ply(splats, output, overwrite=force)
        console.print(f"wrote {output}: {splats.count:,} splats, SH degree {splats.sh_degree}, decoded in {seconds:.2f} s")
        return
    head = dynamic_header(data)
    single = at is not None or segment is not None or len(head.segments) == 1
    suffix = ".ply" if at is not None else f".{fmt.value}"
    output = output or source.with_name(source.stem + ".decoded" + (suffix if single else ""))
    _check_output(output, [source], force, suffix if single else None)
    if not single and output.exists():
        _fail(f"{output}: exists; a scene of {len(head.segments)} segments is written to a new folder")
    start = time.perf_counter()
    _write_dynamic(data, output, fmt.value, at, segment)
    console.print(f"wrote {output}: decoded in {time.perf_counter() - start:.2f} s")


def _write_dynamic(data: bytes, output: Path, fmt: str, at: Optional[float], segment: Optional[int]) -> None:
    """Decode a dynamic file and write what was asked: a snapshot, a segment, or the scene."""
    from .codec.dynamic_decoder import decode_at, decode_dynamic, decode_segment
    from .dynamic import DynamicScene
    from .io import write_ply
    from .io.dynamic_scene import write_dynamic, write_dynamic_scene
    from .splats import FeatureSplats

    if at is not None:
        if segment is not None:
            _fail("give --time or --segment, not both")
        splats = decode_at(data, at)
        write_ply(splats.baked() if isinstance(splats, FeatureSplats) else splats, output)
    elif segment is not None:
        write_dynamic(decode_segment(data, segment).splats, output, fmt)
    else:
        scene: DynamicScene = decode_dynamic(data)
        write_dynamic_scene(scene, output, fmt)


@app.command()
def cut(
    source: Path = typer.Argument(..., help="The dynamic .gsc file to cut."),
    output: Path = typer.Option(..., "-o", "--output", help="The .gsc file to write."),
    segments: Optional[str] = typer.Option(
        None, "--segments", help="Keep segments I:J (I up to, not including, J; either may be left out) or one segment I."),
    time_: Optional[str] = typer.Option(None, "--time", help="Keep the segments that cover the times A:B (in [0, 1]) or time A."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output file."),
) -> None:
    """Cut a dynamic .gsc file at segment boundaries: the kept segments are copied byte for byte."""
    from .codec.dynamic_cut import cut as cut_segments, cut_time, parse_segments, parse_time_span
    from .codec.dynamic_decoder import dynamic_header, is_dynamic_gsc
    from .io.atomic import write_bytes_atomically

    if (segments is None) == (time_ is None):
        _fail("give --segments I:J or --time A:B (one of them)")
    data = _read_gsc(source)
    if not is_dynamic_gsc(data):
        _fail(f"{source}: holds a static scene; only a dynamic .gsc file (format 1.3) has segments to cut")
    _check_output(output, [source], force, ".gsc")
    cut_data = cut_segments(data, *parse_segments(segments)) if segments is not None else cut_time(data, *parse_time_span(time_))
    write_bytes_atomically(output, cut_data, overwrite=force)
    head = dynamic_header(cut_data)
    console.print(f"wrote {output}: {len(head.segments)} segment(s), {head.count:,} splats, {len(cut_data):,} bytes")


@app.command()
def info(
    source: Path = typer.Argument(..., help="The .gsc file to describe."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show what a .gsc file holds: header and bytes per attribute."""
    from .info import summarize

    summary = summarize(_read_gsc(source))
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    if summary["scene"]["kind"] == "dynamic":
        _dynamic_info(source, summary)
        return
    scene = summary["scene"]
    console.print(
        f"{source}: .gsc {summary['format_version']}, {scene['kind']} scene, {scene['count']:,} splats, "
        f"{_colours(scene)}, grid {summary['grid']['height']}x{summary['grid']['width']} "
        f"(+{summary['grid']['padding']} padding), encoder {summary['encoder'].get('name', '?')} "
        f"{summary['encoder'].get('version', '?')}"
    )
    quality = summary["encoder"].get("quality")
    if isinstance(quality, dict):
        console.print(_quality_line(quality))
    console.print(_size_table(summary))


def _colours(scene: dict) -> str:
    if scene.get("color") == "mlp":
        return f"MLP colours (baked to SH degree {scene['sh_degree']})"
    return f"SH degree {scene['sh_degree']}"


def _dynamic_info(source: Path, summary: dict) -> None:
    scene = summary["scene"]
    console.print(
        f"{source}: .gsc {summary['format_version']}, {scene['count']:,} splats, {_colours(scene)}, encoder "
        f"{summary['encoder'].get('name', '?')} {summary['encoder'].get('version', '?')}"
    )
    console.print(_dynamic_line(summary), soft_wrap=True)
    console.print(_size_table(summary))
    if len(summary["segments"]) > 1:
        table = Table(title="segments")
        for column in ("segment", "time", "splats", "moving", "grid", "bytes", "bytes/splat", "Mbps"):
            table.add_column(column, justify="right")
        for i, seg in enumerate(summary["segments"]):
            table.add_row(
                str(i), f"{seg['start']:.3f}-{seg['end']:.3f}", f"{seg['count']:,}", f"{seg['moving']:,}",
                f"{seg['grid']['height']}x{seg['grid']['width']}", f"{seg['bytes']:,}",
                f"{seg['bytes'] / seg['count']:.2f}", "" if seg["mbps"] is None else f"{seg['mbps']:.3f}",
            )
        console.print(table)


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

    _require("torch", "taichi", "torchmetrics")  # before the folder is made: none is left behind
    output_dir.mkdir(parents=True, exist_ok=True)
    splats = load_splats(SAMPLE)
    console.print(f"sample: {SAMPLE.name}, {splats.count:,} splats ({SAMPLE.stat().st_size:,} bytes as .splat)")
    target = output_dir / "sample.gsc"
    start = time.perf_counter()
    with _EncodeProgress() as progress:
        encoded = encode_tracked(splats, preset_config("default"), progress=progress)
    encode_seconds = time.perf_counter() - start
    write_bytes_atomically(target, encoded.data)
    start = time.perf_counter()
    decoded = decode_bytes(target.read_bytes())
    decode_seconds = time.perf_counter() - start
    write_ply(decoded, output_dir / "sample.decoded.ply")
    from .info import summarize

    console.print(_size_table(summarize(encoded.data)))
    errors_ = attribute_errors(splats.subset(encoded.source_index), decoded)
    dropped = splats.count - decoded.count
    console.print(
        f"encode {encode_seconds:.2f} s, decode {decode_seconds:.3f} s; {decoded.count:,} splats kept"
        + (f" (pruning removed {dropped:,} nearly transparent ones)" if dropped else "")
    )
    console.print("round-trip errors: " + ", ".join(f"{k} {v:.3g}" for k, v in errors_.items()))

    # what the loss looks like: both scenes rendered from the same orbit cameras
    from .cameras import load_cameras
    from .eval.compare import compare_splats
    from .eval.render_views import Renderer, to_uint8, write_png

    cameras = load_cameras("orbit:4", splats=splats, width=320, height=240)
    start = time.perf_counter()
    comparison = compare_splats(decoded, splats, cameras)
    render_seconds = time.perf_counter() - start
    mean = comparison.mean()
    renders = output_dir / "renders"
    renders.mkdir(exist_ok=True)
    for name, scene in (("original", splats), ("decoded", decoded)):
        image, _, _ = Renderer(scene).render(cameras[0])
        write_png(renders / f"{name}.png", to_uint8(image))
    console.print(
        f"decoded vs original, {len(cameras)} orbit views at 320x240 ({comparison.backend} renderer, "
        f"{render_seconds:.1f} s): PSNR {mean['psnr']:.2f} dB, SSIM {mean['ssim']:.4f}"
    )
    console.print(f"wrote {target}, {output_dir / 'sample.decoded.ply'} and {renders}/{{original,decoded}}.png")

CAMERAS_HELP = (
    "Cameras: a transforms*.json, a NeRF dataset folder (its test split if it has one), "
    "a COLMAP model folder (or one with sparse/0), a .splatv (its header cameras), a dynamic dataset "
    "folder (eval: its test cameras at every frame), or orbit:N[,elevation=DEG][,fov=DEG][,up=AXIS][,arc=DEG]"
    "[,azimuth=DEG][,fit=all|core]."
)


class _ProgressBar:
    """A rich progress bar on stderr while views are rendered (silent when not a terminal)."""

    def __init__(self, label: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=errors, transient=True, disable=not errors.is_terminal,
            redirect_stdout=False, redirect_stderr=False,  # leave other libraries' stdout alone
        )
        self._task = None

    def __enter__(self) -> "_ProgressBar":
        self._bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self._task is None:
            self._task = self._bar.add_task("", total=total)
        self._bar.update(self._task, completed=done)


@app.command()
def render(
    source: Path = typer.Argument(
        ..., help="Splats to render: a 3DGS .ply, a .splat or a .gsc file; dynamic: a .splatv, an STG .ply or a dynamic run."
    ),
    cameras: str = typer.Option(..., "--cameras", "-c", help=CAMERAS_HELP),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="Folder for NNNN.png (and NNNN_depth.png) per camera (several times: tNNNN/ each)."
    ),
    width: Optional[int] = typer.Option(None, min=1, max=32768, help="Image width of orbit cameras (default 640)."),
    height: Optional[int] = typer.Option(None, min=1, max=32768, help="Image height of orbit cameras (default 480)."),
    scale: float = typer.Option(1.0, help="Scale the image size (0.5 halves it; above 0, at most 16)."),
    every: int = typer.Option(1, min=1, help="Keep every N-th camera, starting with the first (8: the 3DGS test split)."),
    depth: bool = typer.Option(False, "--depth", help="Also write colour-mapped depth maps (NNNN_depth.png)."),
    background: str = typer.Option("black", help="Background colour: white, black or r,g,b."),
    backend: Backend = typer.Option(Backend.auto, help="Renderer: auto is gsplat on CUDA, taichi on the CPU."),
    force: bool = typer.Option(False, "--force", "-f", help="Write into a non-empty output folder."),
    time_: Optional[str] = typer.Option(None, "--time", help="Dynamic splats: normalised time(s) T[,T...] in [0, 1]."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Dynamic splats: N times evenly over [0, 1]."),
    video: Optional[Path] = typer.Option(
        None, "--video", help="Dynamic splats: an MP4 of the first camera over time (--frames, default 60)."
    ),
    fps: float = typer.Option(30.0, "--fps", min=0.1, help="Frame rate of --video."),
) -> None:
    """Render splats for a set of cameras into a folder of PNG images (dynamic splats: at times, or as a video)."""
    from .cameras import load_cameras
    from .eval.dynamic_views import DEFAULT_VIDEO_FRAMES, is_dynamic_source, load_dynamic_scene, parse_times, render_video, time_folders
    from .eval.render_views import check_output_folder, load_splat_file, parse_background, render_to_folder

    colour = parse_background(background)
    dynamic = is_dynamic_source(source)
    if not dynamic and (time_ is not None or frames is not None or video is not None):
        raise InputError(f"{source}: --time, --frames and --video need dynamic splats (.splatv, an STG .ply or a dynamic run)")
    if output is None and video is None:
        raise InputError("give an output folder (-o) or, for dynamic splats, --video")
    if output is not None:
        check_output_folder(output, force)
    if dynamic:
        scene = load_dynamic_scene(source)
        times = parse_times(time_, frames, DEFAULT_VIDEO_FRAMES if video is not None else None)
        views = load_cameras(cameras, splats=scene.at(0.5), width=width, height=height, scale=scale, every=every)
        if video is not None:
            with _ProgressBar("rendering video") as progress:
                count = render_video(scene, views[0], times, video, fps=fps, backend=backend.value, background=colour, progress=progress)
            console.print(f"wrote {video}: {count} frames from t={times[0]:g} to t={times[-1]:g} at {fps:g} fps")
        if output is not None:
            folders = [output] if len(times) == 1 else [output / name for name in time_folders(times)]
            if len(times) > 1:
                output.mkdir(parents=True, exist_ok=True)
            for t, folder in zip(times, folders):
                render_to_folder(scene.at(t), views, folder, backend=backend.value, background=colour, depth=depth, force=force)
            console.print(f"wrote {len(views)} views at {len(times)} time(s) ({', '.join(f'{t:g}' for t in times)}) to {output}")
        return
    splats = load_splat_file(source)
    views = load_cameras(cameras, splats=splats, width=width, height=height, scale=scale, every=every)
    start = time.perf_counter()
    with _ProgressBar("rendering") as progress:
        written = render_to_folder(
            splats, views, output, backend=backend.value, background=colour, depth=depth, force=force,
            progress=progress,
        )
    seconds = time.perf_counter() - start
    first = views[0]
    console.print(
        f"wrote {len(written)} images to {output}: {len(views)} views of {splats.count:,} splats, "
        f"{first.width}x{first.height}, in {seconds:.1f} s"
    )


def _score_table(report, title: str) -> Table:
    table = Table(title=title)
    for column in ("view", "PSNR (dB)", "SSIM", "LPIPS"):
        table.add_column(column, justify="left" if column == "view" else "right")

    def row(name: str, psnr: float, ssim: float, lpips, **style) -> None:
        table.add_row(
            name, f"{psnr:.2f}" if psnr != float("inf") else "inf", f"{ssim:.4f}",
            "n/a" if lpips is None else f"{lpips:.4f}", **style,
        )

    for view in report.views:
        row(view.name, view.psnr, view.ssim, view.lpips)
    mean = report.mean()
    row(f"mean of {len(report.views)}", mean["psnr"], mean["ssim"], mean["lpips"], style="bold")
    return table


@app.command(name="eval")
def evaluate(
    source: Path = typer.Argument(..., help="Splats to score: a 3DGS .ply, a .splat or a .gsc file."),
    reference: Optional[Path] = typer.Argument(
        None, help="Reference splats to compare with; without it, the dataset images of --cameras."
    ),
    cameras: str = typer.Option(..., "--cameras", "-c", help=CAMERAS_HELP),
    width: Optional[int] = typer.Option(None, min=1, max=32768, help="Image width of orbit cameras (default 640)."),
    height: Optional[int] = typer.Option(None, min=1, max=32768, help="Image height of orbit cameras (default 480)."),
    scale: float = typer.Option(1.0, help="Scale the image size (0.5 halves it; above 0, at most 16)."),
    every: int = typer.Option(1, min=1, help="Keep every N-th camera, starting with the first (8: the 3DGS test split)."),
    background: Optional[str] = typer.Option(
        None, help="Background: white, black or r,g,b (default: white against dataset images, else black)."
    ),
    backend: Backend = typer.Option(Backend.auto, help="Renderer: auto is gsplat on CUDA, taichi on the CPU."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (an infinite PSNR is null) instead of a table."),
    time_: Optional[str] = typer.Option(None, "--time", help="Dynamic splats: normalised time(s) T[,T...] in [0, 1]."),
    frames: Optional[int] = typer.Option(None, "--frames", min=1, help="Dynamic splats: N times evenly over [0, 1]."),
    dataset_frames: Optional[str] = typer.Option(
        None, "--dataset-frames", help="Against a dynamic dataset: its frames START:END (default: a run's own range, else all)."
    ),
    near: Optional[float] = typer.Option(
        None, "--near", help="Against a dynamic dataset: the near plane (default: the dataset's, e.g. Panoptic 0.5)."
    ),
) -> None:
    """Score renders of splats against other splats or a dataset's images: PSNR, SSIM, LPIPS (dynamic splats: at times)."""
    from .cameras import is_orbit, load_views
    from .data.dynamic import is_dynamic_dataset
    from .eval.compare import compare_splats, compare_to_images
    from .eval.dynamic_views import at_times, is_dynamic_source, parse_times
    from .eval.render_views import load_splat_file, parse_background

    if reference is None and is_orbit(cameras):
        raise InputError("orbit cameras have no images to compare with; give reference splats (gscc eval A B)")
    if reference is None and is_dynamic_dataset(cameras):
        report = _eval_against_dynamic_dataset(source, cameras, dataset_frames, near, width, scale, backend.value,
                                               time_ is not None or frames is not None)
        return _print_report(report, source, f"the test images of {cameras}", cameras, as_json)
    if dataset_frames is not None or near is not None:
        raise InputError("--dataset-frames and --near apply when --cameras names a dynamic dataset")
    colour = parse_background(background or ("black" if reference is not None else "white"))
    dynamic = [p for p in (source, reference) if p is not None and is_dynamic_source(p)]
    if not dynamic and (time_ is not None or frames is not None):
        raise InputError("--time and --frames need dynamic splats (.splatv, an STG .ply or a dynamic run)")
    times = parse_times(time_, frames) if dynamic else [None]
    scenes = at_times(source, times, load_splat_file)
    others = at_times(reference, times, load_splat_file) if reference is not None else [None] * len(times)
    views = load_views(cameras, splats=scenes[0], width=width, height=height, scale=scale, every=every)
    with _ProgressBar("evaluating") as progress:
        reports = []
        for t, splats, other in zip(times, scenes, others):
            if other is not None:
                report = compare_splats(
                    splats, other, [v.camera for v in views], backend=backend.value, background=colour, progress=progress
                )
            else:
                report = compare_to_images(splats, views, backend=backend.value, background=colour, progress=progress)
            reports.append(report.at_time(t) if t is not None else report)
        report = reports[0].merged(reports[1:])
    against = str(reference) if reference is not None else f"the images of {cameras}"
    _print_report(report, source, against, str(reference) if reference is not None else cameras, as_json)


def _eval_against_dynamic_dataset(source, folder, frames, near, width, scale, backend, timed):
    """``gscc eval SOURCE -c DATASET``: see gscc.eval.dynamic_dataset."""
    from .data.dynamic import load_dynamic_dataset, parse_frames
    from .eval.dynamic_dataset import compare_to_dynamic_dataset, run_frames, run_resolution
    from .eval.dynamic_views import is_dynamic_source, load_dynamic_scene

    if not is_dynamic_source(source):
        raise InputError(f"{source}: a dynamic dataset's images need dynamic splats (.splatv, a dynamic .ply or .gsc, or a run)")
    if timed:
        raise InputError("against a dynamic dataset the times are its frames': use --dataset-frames, not --time/--frames")
    if near is not None and not (math.isfinite(near) and near > 0):
        raise InputError(f"--near must be a positive number, got {near}")
    if not 0 < scale <= 1:
        raise InputError(f"--scale must be in (0, 1] for a dataset's images, got {scale}")
    scene = load_dynamic_scene(source)
    trained = run_frames(source)  # a run's scene spans its own range: times are normalised over it
    chosen = parse_frames(frames) if frames is not None else None
    span = trained or chosen
    resolution = width or run_resolution(source)
    data = load_dynamic_dataset(folder, frames=span, resolution=resolution, downscale=1.0 / scale, init="none")
    keep = None
    if trained is not None and chosen is not None:
        start, end = chosen[0], trained[1] if chosen[1] is None else chosen[1]
        if not trained[0] <= start < end <= trained[1]:
            raise InputError(f"--dataset-frames {start}:{end} is outside the frames {trained[0]}:{trained[1]} the run was trained on")
        keep = range(start, end)
    with _ProgressBar("evaluating") as progress:
        return compare_to_dynamic_dataset(scene, data, near=near, backend=backend, progress=progress, frames=keep)


def _print_report(report, source, against: str, against_json: str, as_json: bool) -> None:
    if as_json:
        summary = report.to_json()
        summary.update(source=str(source), against=against_json)
        print(json.dumps(summary, indent=2))
        return
    console.print(_score_table(report, f"{source} against {against} ({report.backend} renderer)"))
    if report.lpips_reason:
        console.print(f"LPIPS not computed: {report.lpips_reason}")


@app.command()
def view(
    source: Path = typer.Argument(..., help="Splats to view: a .gsc, a 3DGS or dynamic .ply, a .splat or a .splatv file."),
    port: int = typer.Option(8765, min=0, max=65535, help="Port to serve on (0: any free port)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (the default serves this machine only)."),
    no_open: bool = typer.Option(False, "--no-open", help="Do not open a browser."),
    export: Optional[Path] = typer.Option(None, "--export", help="Write the player and the scene into this folder instead."),
    force: bool = typer.Option(False, "--force", "-f", help="With --export: write into a non-empty folder."),
) -> None:
    """Play splats in the browser (WebGL2): free viewpoint, timeline, RGB or depth."""
    from .player.scene_data import load_scene, meta_json, pack

    meta, blob = pack(load_scene(source))
    if export is not None:
        from .player.export import export_player

        written = export_player(meta_json(meta), blob, export, force=force)
        console.print(f"wrote {len(written)} files to {export}: serve that folder with any static web server")
        return
    from .player.server import PlayerServer

    server = PlayerServer(meta_json(meta), blob, host=host, port=port)
    console.print(f"gscc view: {meta['count']:,} splats of {source.name} at {server.url} (Ctrl-C stops)")
    sys.stdout.flush()
    server.serve(open_browser=not no_open)


TrainPreset = Enum("TrainPreset", {"cpu_fast": "cpu-fast", "default": "default", "mcmc": "mcmc"}, type=str)
CompressionPreset = Enum("CompressionPreset", {"none": "none", "gsplat_png": "gsplat-png", "gscodec": "gscodec"}, type=str)


class Strategy(str, Enum):
    default = "default"
    mcmc = "mcmc"
    stg = "stg"


class Representation(str, Enum):
    vanilla = "vanilla"
    features = "features"
    stg = "stg"
    motion_basis = "motion-basis"


@app.command()
def train(
    scene: Path = typer.Argument(..., help="A dataset folder: a COLMAP scene or a NeRF scene (transforms*.json)."),
    output: Optional[Path] = typer.Option(
        None, "-o", "--output", help="The run folder (config, checkpoint, splats, metrics); default runs/SCENE."
    ),
    preset: Optional[TrainPreset] = typer.Option(
        None, help="Named settings; when omitted, default on a CUDA machine and cpu-fast on a CPU-only one."
    ),
    iterations: Optional[int] = typer.Option(None, min=1, help="Training steps."),
    downscale: Optional[float] = typer.Option(None, min=1.0, help="Divide the image size by this."),
    resolution: Optional[int] = typer.Option(None, min=1, help="Image width in pixels (the height keeps the aspect)."),
    strategy: Optional[Strategy] = typer.Option(None, help="Densification: 3DGS adaptive density control, MCMC, or STG (dynamic)."),
    representation: Optional[Representation] = typer.Option(None, help="Per-splat SH, features with an MLP decoder; dynamic: stg or motion-basis."),
    seed: Optional[int] = typer.Option(None, help="Seed of every random choice in the run."),
    compression: Optional[CompressionPreset] = typer.Option(
        None, help="Compression in the loop: gscodec (simulation, entropy model, SH mask, learned coding; dynamic: Dynamic GSCodec, STG features with a motion mask), gsplat-png (baseline)."
    ),
    settings: Optional[list[str]] = typer.Option(
        None, "--set", help="KEY=VALUE for any config field (see config.json), strategy.FIELD=VALUE for the strategy."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in OUTPUT from its checkpoint."),
    force: bool = typer.Option(False, "--force", "-f", help="Start afresh in a non-empty run folder."),
    frames: Optional[str] = typer.Option(None, "--frames", help="Dynamic datasets: the frame range START:END (end exclusive)."),
    gof: Optional[int] = typer.Option(
        None, "--gof", min=0, help="Dynamic datasets: train segments of N frames independently (torchrun spreads them)."
    ),
) -> None:
    """Train splats on posed images (or multi-view video); writes splats.ply, scene.gsc (dynamic: scene.splatv, videos/) and metrics.json."""
    from .data import detect_kind
    from .data.dynamic import detect_dynamic_kind
    from .train.config import build_config, machine_preset
    from .train.trainer import prepare_run_dir, saved_config, train as run_training

    if resume and force:
        raise InputError("give --resume or --force, not both")
    dynamic_kind = detect_dynamic_kind(scene)
    kind = dynamic_kind or detect_kind(scene)
    if dynamic_kind is None and (frames is not None or gof is not None):
        raise InputError(f"{scene}: --frames and --gof need a dynamic dataset (multi-view video)")
    if output is None:
        output = Path("runs") / (scene.resolve().name or "scene")
    flags = dict(
        iterations=iterations,
        downscale=downscale,
        resolution=resolution,
        strategy=strategy.value if strategy else None,
        representation=representation.value if representation else None,
        seed=seed,
        frames=frames,
        gof=gof,
    )
    given = preset is not None or compression is not None or settings or any(v is not None for v in flags.values())
    config, notice = None, None
    dynamic = dynamic_kind is not None
    if not resume:
        name = preset.value if preset else machine_preset()
        if preset is None:
            notice = f"preset {name} (this machine {'has' if name == 'default' else 'has no'} CUDA GPU; --preset chooses)"
        config = build_config(name, settings, compression=compression.value if compression else None, dynamic=dynamic, **flags)
    elif given or compression is not None:  # the settings given must agree with the run's
        if preset is not None:
            base = None
        elif dynamic:
            from .train.segments import saved_run_config

            base = saved_run_config(output)
        else:
            base = saved_config(output)
        config = build_config(
            preset.value if preset else None, settings, base=base,
            compression=compression.value if compression else None, dynamic=dynamic, **flags,
        )
    if not _torch_threads_given():
        _single_torch_thread()
    if dynamic:
        if notice:
            errors.print(notice)
        _train_dynamic(scene, output, config, kind, resume=resume, force=force)
        return
    prepare_run_dir(output, resume=resume, force=force)
    if notice:
        errors.print(notice)
    errors.print(f"training on {scene} ({kind} dataset) into {output}")
    result = run_training(scene, output, config, resume=resume, force=force, console=errors)
    metrics = result.metrics or {}
    trained, gsc = metrics.get("trained", {}).get("mean", {}), metrics.get("gsc", {})

    def score(mean: dict) -> str:
        psnr = mean.get("psnr")
        return "n/a" if psnr is None else f"PSNR {psnr:.2f} dB, SSIM {mean['ssim']:.4f}"

    console.print(
        f"wrote {output}: {metrics.get('splat_count', 0):,} splats after {result.step:,} steps "
        f"({metrics.get('training_seconds', 0.0):.0f} s); held-out {score(trained)}; "
        f"scene.gsc {gsc.get('bytes', 0):,} bytes, {score(gsc.get('mean', {}))}"
    )


def _train_dynamic(scene: Path, output: Path, config, kind: str, *, resume: bool, force: bool) -> None:
    """``gscc train`` on a dynamic dataset: segments (GOF), each rank of torchrun its share."""
    from .train.segments import train_dynamic

    errors.print(f"training on {scene} ({kind} dynamic dataset) into {output}")
    result = train_dynamic(scene, output, config, resume=resume, force=force, console=errors)
    metrics = result.metrics
    if metrics is None:
        console.print(f"trained segment(s) {', '.join(map(str, result.trained)) or 'none'} of {len(result.segments)} into {output}")
        return
    def score(mean: dict) -> str:
        return "n/a" if mean.get("psnr") is None else f"PSNR {mean['psnr']:.2f} dB, SSIM {mean['ssim']:.4f}"

    gsc, raw = metrics.get("gsc", {}), metrics.get("raw", {})
    rates = ""
    if gsc.get("mbps") is not None and raw.get("mbps") is not None:
        rates = (f"; scene.gsc {gsc['bytes']:,} bytes, {gsc['mbps']:.3f} Mbps (raw {raw['mbps']:.3f} Mbps), "
                 f"decoded {score((gsc.get('test') or {}).get('mean', {}))}")
    console.print(
        f"wrote {output}: {len(result.segments)} segment(s), {metrics.get('splat_count', 0):,} splats, "
        f"{metrics.get('parameter_count', 0):,} parameters ({metrics.get('training_seconds', 0.0):.0f} s); "
        f"test cameras over time {score(metrics.get('test', {}).get('mean', {}))}{rates}"
    )


def _torch_threads_given() -> bool:
    """Whether the user chose torch's thread count (OMP_NUM_THREADS / MKL_NUM_THREADS)."""
    import os

    return any(os.environ.get(name) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))


def _single_torch_thread() -> None:
    """On the CPU the Taichi kernels do the heavy work on every core; torch's small per-splat
    ops run faster on one thread than fighting them (or other processes) for the cores."""
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(1)


def _report(message: str, code: int) -> None:
    errors.print(Text("error: ", style="bold red") + Text(" ".join(message.split())), soft_wrap=True)
    sys.exit(code)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """gscc's own warnings as one ``warning:`` line; others as Python shows them."""
    if issubclass(category, GsccWarning):
        errors.print(Text("warning: ", style="bold yellow") + Text(str(message)), soft_wrap=True)
    else:
        _python_showwarning(message, category, filename, lineno, file, line)


def main() -> None:
    warnings.showwarning = _show_warning
    try:
        code = app(standalone_mode=False)
    except GsccError as exc:
        _report(str(exc), 1)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in FULL_EXTRA:
            raise
        _report(_extra_hint(exc.name.split(".")[0]), 1)
    except ValueError as exc:  # invalid settings from the typed config
        _report(str(exc), 2)
    except OSError as exc:
        _report(f"{exc.filename}: {exc.strerror or exc}" if exc.filename else str(exc.strerror or exc), 1)
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
