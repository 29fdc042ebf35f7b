"""Reading and writing splat files: the 3DGS `.ply` and the 32-byte `.splat` layout."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError
from ..splats import SplatSet
from .ply import read_ply, write_ply
from .splat_format import read_splat

READERS = {".ply": read_ply, ".splat": read_splat}


def load_splats(path: str | os.PathLike) -> SplatSet:
    """Read a splat file, choosing the reader by extension."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a file")
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InputError(f"{path}: unknown splat format {path.suffix!r} (expected one of {', '.join(READERS)})")
    splats = reader(path)
    if splats.count == 0:
        raise InputError(f"{path}: holds no splats")
    if not splats.is_finite():
        raise InputError(f"{path}: holds non-finite values (NaN or infinity)")
    return splats


__all__ = ["load_splats", "read_ply", "read_splat", "write_ply"]
