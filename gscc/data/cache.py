"""Where gscc keeps work that is slow to redo: decoded video frames, triangulated points.

The folder is ``cache_dir`` where a caller gives one, else ``$GSCC_CACHE_DIR``, else
``~/.cache/gscc``. Entries are named by a hash of everything they depend on (the input
files' paths, sizes and modification times, and the settings), so a changed input or
setting makes a new entry instead of reusing a stale one; deleting the folder is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

ENV = "GSCC_CACHE_DIR"


def cache_root(cache_dir: Optional[str | os.PathLike] = None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(ENV)
    if env:
        return Path(env)
    return Path.home() / ".cache" / "gscc"


def file_identity(path: Path) -> list:
    """The resolved path, size and modification time of a file (changes when the file does)."""
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def cache_key(*parts: object) -> str:
    """A short hex digest of JSON-serialisable ``parts``."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
