"""The standard 3DGS `.ply` layout (as written by the reference implementation and read by viewers).

Vertex properties, all float32: ``x y z``, optional ``nx ny nz``, ``f_dc_0..2``,
``f_rest_0..(3K-1)`` channel-major (``f_rest_{c*K + k}``), ``opacity`` (logit),
``scale_0..2`` (log), ``rot_0..3`` (w x y z).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from ..errors import InputError
from ..splats import SplatSet, sh_degree_for
from .atomic import write_atomically

_TYPE_SIZES = {
    "char": 1, "uchar": 1, "int8": 1, "uint8": 1,
    "short": 2, "ushort": 2, "int16": 2, "uint16": 2,
    "int": 4, "uint": 4, "int32": 4, "uint32": 4,
    "float": 4, "float32": 4, "double": 8, "float64": 8,
}
_MAX_HEADER_BYTES = 1 << 20


def _check_header(path: Path) -> None:
    """Reject files whose header is malformed or whose vertex data cannot fit in the file.

    This runs before plyfile allocates anything, so a header claiming absurd sizes fails fast.
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(min(size, _MAX_HEADER_BYTES))
    if not head.startswith(b"ply"):
        raise InputError(f"{path}: not a PLY file (missing 'ply' magic)")
    end = head.find(b"end_header")
    if end < 0:
        raise InputError(f"{path}: PLY header has no end_header")
    newline = head.find(b"\n", end)
    if newline < 0:
        raise InputError(f"{path}: PLY header is truncated")
    header_len = newline + 1
    lines = head[:end].decode("ascii", errors="replace").splitlines()
    fmt = None
    elements: list[tuple[str, int, list[str]]] = []
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[0] == "format" and len(words) >= 2:
            fmt = words[1]
        elif words[0] == "element" and len(words) == 3:
            try:
                count = int(words[2])
            except ValueError:
                raise InputError(f"{path}: PLY element count {words[2]!r} is not an integer") from None
            if count < 0:
                raise InputError(f"{path}: PLY element {words[1]} has a negative count")
            elements.append((words[1], count, []))
        elif words[0] == "property" and elements:
            elements[-1][2].append(" ".join(words[1:]))
    if fmt is None:
        raise InputError(f"{path}: PLY header has no format line")
    if not any(name == "vertex" for name, _, _ in elements):
        raise InputError(f"{path}: PLY file has no vertex element")
    if fmt == "ascii":
        # every value takes at least one character and one separator
        values = sum(count * max(len(props), 1) for _, count, props in elements)
        if 2 * values > size - header_len + 1:
            raise InputError(f"{path}: PLY is truncated: header promises {values} values, file is too short")
    elif fmt.startswith("binary"):
        needed = 0
        for name, count, props in elements:
            row = 0
            for prop in props:
                parts = prop.split()
                if parts[0] == "list":
                    row = -1
                    break
                if parts[0] not in _TYPE_SIZES:
                    raise InputError(f"{path}: PLY property type {parts[0]!r} is unknown")
                row += _TYPE_SIZES[parts[0]]
            if row < 0:
                break  # list properties: size unknown in advance; plyfile checks the rest
            needed += row * count
        if header_len + needed > size:
            raise InputError(
                f"{path}: PLY is truncated: header promises {needed} bytes of data, "
                f"file holds {size - header_len}"
            )


def _read_vertex(path: Path) -> tuple[PlyData, np.ndarray]:
    _check_header(path)
    try:
        ply = PlyData.read(str(path))
        vertex = ply["vertex"].data
    except MemoryError:
        raise InputError(f"{path}: PLY header claims more data than fits in memory") from None
    except Exception as exc:  # plyfile's parse errors derive from Exception only
        raise InputError(f"{path}: malformed PLY ({exc})".replace("\n", " ")) from None
    return ply, vertex


def _numbered(path: Path, names: set[str], prefix: str) -> list[str]:
    """The properties ``prefix0, prefix1, ...`` in order; InputError when not numbered 0..n-1."""
    keys = sorted((k for k in names if re.fullmatch(rf"{prefix}\d+", k)), key=lambda k: int(k[len(prefix):]))
    if [int(k[len(prefix):]) for k in keys] != list(range(len(keys))):
        raise InputError(f"{path}: {prefix}* properties are not numbered 0..{len(keys) - 1}")
    return keys


def _columns(path: Path, vertex: np.ndarray, *keys: str) -> np.ndarray:
    names = set(vertex.dtype.names or ())
    missing = [k for k in keys if k not in names]
    if missing:
        raise InputError(f"{path}: PLY vertex lacks properties {', '.join(missing)}; not a 3DGS file")
    lists = [k for k in keys if vertex.dtype[k].kind not in "iuf"]
    if lists:
        raise InputError(f"{path}: PLY vertex property {lists[0]} is a list, not a number; not a 3DGS file")
    if not keys:
        return np.zeros((len(vertex), 0), np.float32)
    return np.stack([np.asarray(vertex[k], dtype=np.float32) for k in keys], axis=1)


def _splats_from_vertex(path: Path, vertex: np.ndarray) -> SplatSet:
    names = set(vertex.dtype.names or ())
    rest_keys = _numbered(path, names, "f_rest_")
    if len(rest_keys) % 3:
        raise InputError(f"{path}: {len(rest_keys)} f_rest properties is not a multiple of 3")
    k = len(rest_keys) // 3
    sh_degree_for(k)
    n = len(vertex)
    return SplatSet(
        means=_columns(path, vertex, "x", "y", "z"),
        scales=_columns(path, vertex, "scale_0", "scale_1", "scale_2"),
        quats=_columns(path, vertex, "rot_0", "rot_1", "rot_2", "rot_3"),
        opacities=_columns(path, vertex, "opacity")[:, 0],
        sh0=_columns(path, vertex, "f_dc_0", "f_dc_1", "f_dc_2"),
        shN=_columns(path, vertex, *rest_keys).reshape(n, 3, k).transpose(0, 2, 1),
    )


def read_ply(path: str | os.PathLike) -> SplatSet:
    """Read a 3DGS `.ply` into a SplatSet. Raises InputError for anything malformed.

    A dynamic PLY (STG or motion-basis layout) reads as its splats at rest.
    """
    path = Path(path)
    _, vertex = _read_vertex(path)
    return _splats_from_vertex(path, vertex)


def ply_vertex_array(splats: SplatSet) -> np.ndarray:
    """The structured vertex array of the standard 3DGS `.ply` for a SplatSet."""
    n, k = splats.count, splats.shN.shape[1]
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
    names += [f"f_rest_{i}" for i in range(3 * k)]
    names += ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    columns = np.concatenate(
        [
            splats.means,
            np.zeros((n, 3), np.float32),
            splats.sh0,
            splats.shN.transpose(0, 2, 1).reshape(n, 3 * k),
            splats.opacities[:, None],
            splats.scales,
            splats.quats,
        ],
        axis=1,
    ).astype("<f4")
    return columns.view(np.dtype([(name, "<f4") for name in names])).reshape(n)


def write_ply(splats: SplatSet, path: str | os.PathLike, overwrite: bool = True) -> None:
    """Write a binary little-endian 3DGS `.ply`, atomically (never over an existing file
    unless ``overwrite``: see gscc.io.atomic)."""
    element = PlyElement.describe(ply_vertex_array(splats), "vertex")
    data = PlyData([element], text=False, byte_order="<")
    write_atomically(path, data.write, overwrite)
