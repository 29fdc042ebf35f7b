"""What a `.gsc` file holds: header summary and per-attribute sizes (no torch needed)."""

from __future__ import annotations

from typing import Any

import math

from .codec.decoder import decode_container
from .container import Container, unpack


def _codings(entry: dict) -> list[tuple[str, dict]]:
    """(part, coding entry) pairs of an attribute entry."""
    if entry.get("codec") == "vq":
        return [("codebook", entry["codebook"]["coding"]), ("labels", entry["labels"]["coding"])]
    return [("", entry["coding"])]


def _coding_name(coding: dict) -> str:
    """A coding as shown to the user: ``png``, ``ans``, or e.g. ``ans-table (factorized)``."""
    distribution = coding.get("distribution")
    return coding["codec"] + (f" ({distribution})" if isinstance(distribution, str) else "")


def _plain(value: Any) -> Any:
    """Header values as JSON-friendly data (binary shown as its length, a non-finite float
    as text). The container limits nesting (spec/validation.md), so recursion is bounded."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def summarize(data: bytes) -> dict[str, Any]:
    """Describe a `.gsc` file. The file is decoded first, so a summary is only given for
    files the decoder accepts (FormatError otherwise), and the header entries read below
    are then known to have the spec's shape."""
    container: Container = unpack(data)
    decode_container(container)
    header = container.header
    count, color = header["scene"]["count"], header["scene"].get("color", "sh")
    grid = (header["grid"]["height"], header["grid"]["width"])
    encoder = header.get("encoder")
    attributes = []
    accounted = 0
    for name, entry in header["attributes"].items():
        parts = _codings(entry)
        size = sum(len(container.chunks[i][1]) for _, coding in parts for i in coding["chunks"])
        accounted += size
        coders = sorted({_coding_name(coding) for _, coding in parts})
        row = {
            "attribute": name,
            "codec": entry.get("transform", entry["codec"]),
            "coding": "+".join(coders),
            "bits": entry["quant"]["bits"] if "quant" in entry else entry["codebook"]["quant"]["bits"],
            "bytes": size,
        }
        distributions = sorted({c["distribution"] for _, c in parts if isinstance(c.get("distribution"), str)})
        if distributions:
            row["distribution"] = "+".join(distributions)
        if entry["codec"] == "vq":
            row["codebook_size"] = entry["codebook"]["size"]
        attributes.append(row)
    if color == "mlp":  # the colour decoder's weights (checked by the decode above)
        entry = header["color_mlp"]
        size = len(container.chunks[entry["weights"]][1])
        accounted += size
        attributes.append({"attribute": "color_mlp", "codec": "mlp", "coding": "weights", "bits": 32, "bytes": size})
    total = len(data)
    overhead = {"bytes": total - accounted}
    for row in attributes + [overhead]:
        row["bits_per_splat"] = 8.0 * row["bytes"] / count
        row["share"] = row["bytes"] / total
    return {
        "format_version": "%d.%d" % container.version,
        "scene": _plain(header["scene"]),
        "grid": {"height": grid[0], "width": grid[1], "padding": grid[0] * grid[1] - count},
        "encoder": _plain(encoder) if isinstance(encoder, dict) else {},
        "file_bytes": total,
        "header_bytes": len(data) - sum(len(c) for _, c in container.chunks),
        "bytes_per_splat": total / count,
        "attributes": attributes,
        "overhead": overhead,  # preamble, header and grid padding list
    }
