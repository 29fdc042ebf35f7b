"""``gscc view --export DIR FILE``: the player and its scene as static files for any web host."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..errors import InputError
from .server import site


def export_player(meta_json: bytes, blob: bytes, folder: Path, force: bool = False) -> list[Path]:
    """Write the page and the scene into ``folder`` (new, empty, or overwritten with ``force``).

    The files are written into a temporary folder beside ``folder`` first, so a failure
    leaves nothing half-written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder")
    if folder.exists() and any(folder.iterdir()) and not force:
        raise InputError(f"{folder}: not empty; pass --force to write into it")
    if not folder.parent.exists():
        raise InputError(f"{folder.parent}: no such directory")
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        written = []
        for path, body in site(meta_json, blob).items():
            target = staging / path.lstrip("/")
            target.write_bytes(body())
            written.append(folder / target.name)
        folder.mkdir(exist_ok=True)
        for item in staging.iterdir():
            item.replace(folder / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written
