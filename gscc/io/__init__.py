"""Reading and writing splat files: the 3DGS `.ply` and the 32-byte `.splat` layout (static);
STG / motion-basis `.ply` and splaTV's `.splatv` (dynamic)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError, warn
from ..dynamic import DynamicSplats
from ..splats import SplatSet
from .ply import read_ply, write_ply
from .splat_format import read_splat
from .splatv import read_splatv, write_splatv
from .dynamic_ply import ply_kind, read_dynamic_ply, write_dynamic_ply

READERS = {".ply": read_ply, ".splat": read_splat}


def existing_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path; InputError when it does not exist or is not a file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    return path


def load_splats(path: str | os.PathLike) -> SplatSet:
    """Read a splat file, choosing the reader by extension.

    Splats with a NaN or infinite value are dropped with a one-line warning giving the
    count, as for the dynamic formats (README, "Input"); a file with no finite splat is an
    InputError."""
    path = existing_file(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{path}: unknown splat format {path.suffix!r} (expected one of {', '.join(READERS)})")
    splats = reader(path)
    if splats.count == 0:
        raise InputError(f"{path}: holds no splats")
    finite = splats.finite_rows()
    if not finite.all():
        if not finite.any():
            raise InputError(f"{path}: holds no splat without NaN or infinite values")
        dropped = int((~finite).sum())
        warn(f"{path}: dropped {dropped} of {splats.count} splats with non-finite values")
        splats = splats.subset(np.flatnonzero(finite))
    return splats


def is_dynamic_file(path: str | os.PathLike) -> bool:
    """Whether a splat file holds dynamic splats (a `.splatv`, or a dynamic `.ply`)."""
    path = existing_file(path)
    suffix = path.suffix.lower()
    return suffix == ".splatv" or (suffix == ".ply" and ply_kind(path) != "static")


def load_dynamic(path: str | os.PathLike) -> DynamicSplats:
    """Read a dynamic splat file (`.splatv`, STG or motion-basis `.ply`).

    Splats with non-finite values are dropped with a one-line warning giving the count.
    """
    path = existing_file(path)
    suffix = path.suffix.lower()
    if suffix == ".splatv":
        return read_splatv(path)
    if suffix == ".ply":
        return read_dynamic_ply(path)
    raise InputError(f"{path}: unknown dynamic splat format {suffix!r} (expected .splatv or .ply)")


__all__ = [
    "existing_file", "load_splats", "load_dynamic", "is_dynamic_file", "read_ply", "read_splat", "write_ply",
    "read_splatv", "write_splatv", "read_dynamic_ply", "write_dynamic_ply",
]
