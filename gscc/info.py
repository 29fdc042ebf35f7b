"""What a `.gsc` file holds: header summary and per-attribute sizes (no torch needed)."""

from __future__ import annotations

from typing import Any

from .codec.decoder import _scene, valid_cells
from .container import Container, unpack
from .errors import FormatError


def _codings(entry: dict) -> list[tuple[str, dict]]:
    """(part, coding entry) pairs of an attribute entry."""
    if entry.get("codec") == "vq":
        return [("codebook", entry["codebook"]["coding"]), ("labels", entry["labels"]["coding"])]
    return [("", entry["coding"])]


def summarize(data: bytes) -> dict[str, Any]:
    container: Container = unpack(data)
    count, sh_degree = _scene(container.header)
    grid, _ = valid_cells(container, count)
    header = container.header
    attributes = []
    accounted = 0
    try:
        for name, entry in header["attributes"].items():
            parts = _codings(entry)
            size = sum(len(container.chunks[i][1]) for _, coding in parts for i in coding["chunks"])
            accounted += size
            coders = sorted({coding["codec"] for _, coding in parts})
            row = {
                "attribute": name,
                "codec": entry["codec"] + ("/" + entry["transform"] if entry.get("transform") else ""),
                "coding": "+".join(coders),
                "bits": entry["quant"]["bits"] if "quant" in entry else entry["codebook"]["quant"]["bits"],
                "bytes": size,
            }
            if entry["codec"] == "vq":
                row["codebook_size"] = entry["codebook"]["size"]
            attributes.append(row)
    except (KeyError, TypeError, IndexError) as exc:
        raise FormatError(f"header attribute entries are malformed ({exc})") from None
    total = len(data)
    overhead = {"bytes": total - accounted}
    for row in attributes + [overhead]:
        row["bits_per_splat"] = 8.0 * row["bytes"] / count
        row["share"] = row["bytes"] / total
    return {
        "format_version": "%d.%d" % container.version,
        "scene": header["scene"],
        "grid": {"height": grid[0], "width": grid[1], "padding": grid[0] * grid[1] - count},
        "encoder": header.get("encoder", {}),
        "file_bytes": total,
        "header_bytes": len(data) - sum(len(c) for _, c in container.chunks),
        "bytes_per_splat": total / count,
        "attributes": attributes,
        "overhead": overhead,  # preamble, header and grid padding list
    }
