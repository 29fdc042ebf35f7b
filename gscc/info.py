"""What a `.gsc` file holds: header summary and per-attribute sizes (no torch needed)."""

from __future__ import annotations

import math
from typing import Any, Optional

from .codec.decoder import decode_container
from .codec.dynamic_decoder import decode_segments, is_dynamic_header, read_dynamic_header, segment_chunks
from .container import Container, unpack
from .errors import FormatError


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
    """Header values as JSON-friendly data (binary shown as its length)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def attribute_rows(container: Container, entries: dict, extra: dict[str, tuple[str, str, int, int]]) -> list[dict]:
    """One size row per attribute of ``entries``, then one per ``extra`` part (name ->
    codec, coding, bits, bytes)."""
    rows = []
    try:
        for name, entry in entries.items():
            parts = _codings(entry)
            coders = sorted({_coding_name(coding) for _, coding in parts})
            row = {
                "attribute": name,
                "codec": entry.get("transform", entry["codec"]),
                "coding": "+".join(coders),
                "bits": entry["quant"]["bits"] if "quant" in entry else entry["codebook"]["quant"]["bits"],
                "bytes": sum(len(container.chunks[i][1]) for _, coding in parts for i in coding["chunks"]),
            }
            if "refine" in entry:  # precision classes (format 1.6): the refinement bits count too
                row["bytes"] += len(container.chunks[entry["refine"]["chunk"]][1])
                row["refined_bits"] = max(max(r) for r in entry["refine"]["shifts"])
            distributions = sorted({c["distribution"] for _, c in parts if isinstance(c.get("distribution"), str)})
            if distributions:
                row["distribution"] = "+".join(distributions)
            if entry["codec"] == "vq":
                row["codebook_size"] = entry["codebook"]["size"]
            rows.append(row)
    except (KeyError, TypeError, IndexError) as exc:
        raise FormatError(f"header attribute entries are malformed ({exc})") from None
    for name, (codec, coding, bits, size) in extra.items():
        rows.append({"attribute": name, "codec": codec, "coding": coding, "bits": bits, "bytes": size})
    return rows


def _shares(rows: list[dict], count: int, total: int) -> None:
    for row in rows:
        row["bits_per_splat"] = 8.0 * row["bytes"] / count
        row["share"] = row["bytes"] / total


def _mlp_part(container: Container, entry: dict) -> dict[str, tuple[str, str, int, int]]:
    """The colour decoder's weights of an MLP-coloured scene (checked by the decoder)."""
    return {"color_mlp": ("mlp", "weights", 32, len(container.chunks[entry["weights"]][1]))}


def _classes_part(container: Container, entry: dict) -> dict[str, tuple[str, str, int, int]]:
    """The class plane of a scene coded in precision classes (format 1.6)."""
    size = sum(len(container.chunks[i][1]) for i in entry["coding"]["chunks"])
    return {"classes": (f"{entry['count']} classes", entry["coding"]["codec"], max(1, (entry["count"] - 1).bit_length()), size)}


def summarize(data: bytes) -> dict[str, Any]:
    """Describe a `.gsc` file. The file is decoded first, so a summary is only given for
    files the decoder accepts (FormatError otherwise)."""
    container: Container = unpack(data)
    if is_dynamic_header(container.header):
        return summarize_dynamic(data, container)
    decode_container(container)  # validates the whole file: the entries read below have the spec's shape
    header = container.header
    count, color = header["scene"]["count"], header["scene"].get("color", "sh")
    grid = (header["grid"]["height"], header["grid"]["width"])
    extra = _mlp_part(container, header["color_mlp"]) if color == "mlp" else {}
    if "classes" in header:
        extra.update(_classes_part(container, header["classes"]))
    attributes = attribute_rows(container, header["attributes"], extra)
    return {
        "format_version": "%d.%d" % container.version,
        "scene": _plain(header["scene"]),
        "grid": {"height": grid[0], "width": grid[1], "padding": grid[0] * grid[1] - count},
        **_totals(data, container, attributes, count),
    }


def _totals(data: bytes, container: Container, attributes: list[dict], count: int) -> dict[str, Any]:
    """The file's size summary: attribute rows with their shares, the overhead, totals."""
    total = len(data)
    overhead = {"bytes": total - sum(row["bytes"] for row in attributes)}
    _shares(attributes + [overhead], count, total)
    encoder = container.header.get("encoder")
    return {
        "encoder": _plain(encoder) if isinstance(encoder, dict) else {},
        "file_bytes": total,
        "header_bytes": len(data) - sum(len(c) for _, c in container.chunks),
        "bytes_per_splat": total / count,
        "attributes": attributes,
        "overhead": overhead,  # preamble, header and grid padding lists
    }


def _merge_rows(rows: list[dict]) -> list[dict]:
    """Rows of the same attribute over several segments, summed (bits: the largest)."""
    merged: dict[str, dict] = {}
    for row in rows:
        if row["attribute"] not in merged:
            merged[row["attribute"]] = dict(row)
            continue
        into = merged[row["attribute"]]
        into["bytes"] += row["bytes"]
        into["bits"] = max(into["bits"], row["bits"])
        if row["coding"] not in into["coding"].split("+"):
            into["coding"] = "+".join(sorted(set(into["coding"].split("+")) | set(row["coding"].split("+"))))
    return list(merged.values())


def mbps(size: int, seconds: Optional[float]) -> Optional[float]:
    """The bitrate of ``size`` bytes over ``seconds`` in megabits per second (None when the
    duration is unknown)."""
    return 8e-6 * size / seconds if seconds else None


def summarize_dynamic(data: bytes, container: Container) -> dict[str, Any]:
    """A dynamic file (format 1.3): totals per attribute over its segments, each segment's
    own rows, the duration and the bitrate (Mbps: the file's bits over its duration)."""
    head = read_dynamic_header(container.header, container.version)
    decode_segments(container, head)  # validates the whole file: the entries read below have the spec's shape
    segments, everything = [], []
    for entry in head.segments:
        extra = _mlp_part(container, entry["color_mlp"]) if head.color == "mlp" else {}
        if entry.get("motion_mask") is not None:
            mask = entry["motion_mask"]
            extra["motion_mask"] = ("mask", _coding_name(mask), 1, sum(len(container.chunks[c][1]) for c in mask["chunks"]))
        if entry.get("shared") is not None:
            extra["motion_shared"] = ("f4", "weights", 32, len(container.chunks[entry["shared"]][1]))
        rows = attribute_rows(container, entry["attributes"], extra)
        chunks = segment_chunks(entry)
        size = sum(len(container.chunks[c][1]) for c in chunks)
        _shares(rows, entry["count"], size)
        seconds = (entry["end"] - entry["start"]) * head.duration if head.duration else None
        grid = entry["grid"]
        segments.append({
            "start": entry["start"], "end": entry["end"], "count": entry["count"], "moving": entry["moving"],
            "grid": {"height": grid["height"], "width": grid["width"], "padding": grid["height"] * grid["width"] - entry["count"]},
            "bytes": size, "mbps": mbps(size, seconds), "attributes": rows,
            "motion_window": entry.get("motion_window"),
        })
        everything += [dict(row) for row in rows]
    summary = {
        "format_version": "%d.%d" % container.version,
        "scene": _plain(container.header["scene"]),
        "duration_s": head.duration,
        "fps": head.fps,
        "frame_count": head.frame_count,
        "mbps": mbps(len(data), head.duration),
        "segments": segments,
        **_totals(data, container, _merge_rows(everything), head.count),
    }
    return summary
