"""Reading and writing splat files: the 3DGS `.ply` and the 32-byte `.splat` layout."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..splats import SplatSet
from .ply import read_ply, write_ply
from .splat_format import read_splat

READERS = {".ply": read_ply, ".splat": read_splat}


def load_splats(path: str | os.PathLike, warn: Callable[[str], None] | None = None) -> SplatSet:
    """Read a splat file, choosing the reader by extension.

    Non-finite input (README, "Input"): splats with any NaN or infinite value are dropped,
    the same for every input format, and ``warn`` (default: a Python warning) is told how
    many; a file with no finite splat at all is an InputError."""
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
    finite = splats.finite_rows()
    if not finite.all():
        if not finite.any():
            raise InputError(f"{path}: holds no splat without NaN or infinite values")
        dropped = int((~finite).sum())
        (warn or _warn)(f"{path}: dropped {dropped:,} of {splats.count:,} splats with NaN or infinite values")
        splats = splats.subset(np.flatnonzero(finite))
    return splats


class NonFiniteInputWarning(UserWarning):
    """Splats with NaN or infinite values were dropped from an input file."""


def _warn(message: str) -> None:
    warnings.warn(message, NonFiniteInputWarning, stacklevel=3)


__all__ = ["load_splats", "read_ply", "read_splat", "write_ply"]
