"""Write output files so that a failure never leaves a partial file or clobbers a good one.

The data goes to a temporary file beside the target, named ``.NAME.gscc-PID-XXXX.tmp``
(PID: the writing process), flushed and synced, then moved into place:

* over an existing file with ``os.replace`` when ``overwrite`` is true;
* otherwise with ``os.link``, which fails if the target exists, so that of several
  processes writing one new path exactly one succeeds (the others get FileExistsError).

A failure or SIGTERM during the write removes the temporary file and leaves the target
as it was. A process killed outright (SIGKILL, power loss) can leave its temporary file;
the next write beside the same target removes every such file whose process is gone.
A failing OSError names the target (e.g. "No space left on device" for a full disk).
"""

from __future__ import annotations

import errno
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TERMINATED = 128 + signal.SIGTERM  # the exit status of a write stopped by SIGTERM


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _prefix(target: Path) -> str:
    return f".{target.name}.gscc-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Delete the temporary files of writes to ``target`` whose process no longer runs."""
    directory = target.parent if str(target.parent) else Path(".")
    pattern = re.compile(re.escape(_prefix(target)) + r"(\d+)-[^/]*\.tmp")
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = pattern.fullmatch(name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            try:
                os.unlink(directory / name)
                removed.append(directory / name)
            except OSError:
                pass
    return removed


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While writing, SIGTERM raises SystemExit (so the temporary file is removed) instead of
    killing the process outright. Only in the main thread, where handlers can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise SystemExit(TERMINATED)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def write_atomically(path: str | os.PathLike, write: Callable[[BinaryIO], None], overwrite: bool = True) -> None:
    """Call ``write`` on a temporary file beside ``path``, then move it to ``path``.

    If ``write`` raises (or SIGTERM arrives), the temporary file is removed and ``path`` is
    untouched. With ``overwrite`` false an existing ``path`` is never replaced:
    FileExistsError, even when another process created it during the write.
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    remove_stale_temporaries(target)
    with _terminate_as_exit():
        try:
            fd, tmp = tempfile.mkstemp(prefix=f"{_prefix(target)}{os.getpid()}-", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None
        try:
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            if overwrite:
                os.replace(tmp, target)
            else:
                os.link(tmp, target)  # fails if target exists: no race between check and write
                os.unlink(tmp)
        except OSError as exc:
            _discard(tmp)
            if exc.errno == errno.EEXIST:
                raise FileExistsError(errno.EEXIST, "exists; pass --force to overwrite it", str(target)) from None
            if exc.filename is None or exc.filename == tmp:
                raise OSError(exc.errno, exc.strerror or str(exc), str(target)) from None
            raise
        except BaseException:
            _discard(tmp)
            raise


def _discard(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass


def write_bytes_atomically(path: str | os.PathLike, data: bytes, overwrite: bool = True) -> None:
    write_atomically(path, lambda handle: handle.write(data), overwrite)
