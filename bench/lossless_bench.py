"""Lossless coder benchmark: bytes of every sorted attribute plane under each lossless coder.

For every ``*.splat`` file in the data folder this encodes the scene with a preset (PLAS
sort and quantization as usual), reads the scalar attribute planes back from the file, and
codes each plane with every lossless coder (PNG, ANS, JPEG XL, ...), printing the bytes
per attribute, what ``auto`` keeps, and the file total. The planes are exactly those the
encoder codes, so the table shows what each coder would add to the file.

    python bench/lossless_bench.py [--data DIR] [--files plant,spot_100k] [--preset default]
                                   [--json out.json]

See bench/README.md ("Lossless coders").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from gscc.codec.config import preset
from gscc.codec.encoder import encode
from gscc.codec.lossless import AUTO_CANDIDATES, CODERS, code_plane, decode_plane
from gscc.codec.quantize import QuantParams
from gscc.container import unpack
from gscc.io import load_splats

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "splats"
DEFAULT_JSON = REPO_ROOT / "bench" / "results" / "lossless_bench.json"
console = Console(width=None if sys.stdout.isatty() else 160)


def measure_file(path: Path, preset_name: str) -> dict:
    """Per scalar attribute: bytes under each coder, and the coder ``auto`` keeps."""
    data = encode(load_splats(path), preset(preset_name))
    container = unpack(data)
    grid = container.header["grid"]
    attributes = {}
    for name, entry in container.header["attributes"].items():
        if entry["codec"] != "scalar":
            continue
        quant = QuantParams.from_header(entry["quant"], len(entry["quant"]["lo"]))
        plane = decode_plane(container, entry["coding"], (grid["height"], grid["width"], len(quant.lo)), quant.bits)
        sizes, seconds = {}, {}
        for coder in CODERS:
            if coder == "raw":
                continue
            start = time.perf_counter()
            sizes[coder] = code_plane(plane, quant.bits, coder).size
            seconds[coder] = time.perf_counter() - start
        attributes[name] = {"bits": quant.bits, "bytes": sizes, "encode_s": seconds,
                            "auto": min(AUTO_CANDIDATES, key=lambda c: sizes[c])}
    return {"file": path.name, "file_bytes": len(data), "attributes": attributes}


def file_table(result: dict) -> Table:
    coders = list(next(iter(result["attributes"].values()))["bytes"]) if result["attributes"] else []
    table = Table(title=f"{result['file']}: {result['file_bytes']:,} bytes with the preset")
    for column in ["attribute", "bits", *coders, "auto keeps"]:
        table.add_column(column, justify="left" if column in ("attribute", "auto keeps") else "right")
    for name, a in result["attributes"].items():
        best = a["bytes"][a["auto"]]
        cells = [f"[bold]{a['bytes'][c]:,}[/]" if a["bytes"][c] == best else f"{a['bytes'][c]:,}" for c in coders]
        table.add_row(name, str(a["bits"]), *cells, a["auto"])
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--files", default="", help="comma-separated file stems (default: every *.splat)")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args()
    stems = [s for s in args.files.split(",") if s]
    paths = sorted(args.data.glob("*.splat"))
    if stems:
        paths = [p for p in paths if p.stem in stems]
    if not paths:
        console.print(f"error: no .splat files in {args.data}")
        return 1
    results = []
    for path in paths:
        results.append(measure_file(path, args.preset))
        console.print(file_table(results[-1]))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"preset": args.preset, "files": results}, indent=2) + "\n")
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
