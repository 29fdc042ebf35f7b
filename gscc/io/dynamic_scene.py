"""Writing a decoded DynamicScene: one dynamic file, or a folder of one file per segment.

A scene of one segment is written as one file (STG / motion-basis `.ply`, or `.splatv`).
A scene of several segments is written as a folder holding ``segment-000.EXT``,
``segment-001.EXT``, … (each segment in its own local time [0, 1]) and ``scene.json``:
``{"fps", "frame_count", "segments": [{"file", "start", "end", "count"}]}`` with the
segments' spans in the scene's global time [0, 1]. The folder is written beside its
final name and renamed into place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..dynamic import DynamicScene, DynamicSplats
from .atomic import _umask
from .dynamic_ply import write_dynamic_ply
from .splatv import write_splatv

WRITERS = {"ply": write_dynamic_ply, "splatv": write_splatv}


def write_dynamic(splats: DynamicSplats, path: str | os.PathLike, fmt: str = "ply") -> None:
    """One dynamic splat set as a `.ply` (its motion model's layout) or a `.splatv`."""
    WRITERS[fmt](splats, path)


def write_dynamic_scene(scene: DynamicScene, path: str | os.PathLike, fmt: str = "ply") -> list[Path]:
    """Write ``scene`` to ``path`` (a file for one segment, else a new folder); return the files."""
    path = Path(path)
    if len(scene.segments) == 1:
        write_dynamic(scene.segments[0].splats, path, fmt)
        return [path]
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        entries = []
        for i, segment in enumerate(scene.segments):
            name = f"segment-{i:03d}.{fmt}"
            write_dynamic(segment.splats, staging / name, fmt)
            entries.append({"file": name, "start": segment.start, "end": segment.end, "count": segment.splats.count})
        index = {"fps": scene.fps, "frame_count": scene.frame_count, "segments": entries}
        (staging / "scene.json").write_text(json.dumps(index, indent=2) + "\n")
        os.chmod(staging, 0o777 & ~_umask())
        os.rename(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [path / e["file"] for e in entries]
