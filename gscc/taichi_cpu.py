"""Taichi on the CPU, imported without its banner and initialised once, quietly.

Shared by the rasterizer (gscc.render.taichi_raster) and the grid sorter's kernels
(gscc.codec.plas_kernels); it imports neither torch nor anything else heavy, so an
encoder that only sorts does not pay for torch.
"""

import contextlib
import io
import os
import threading

_HEADER_VAR = "ENABLE_TAICHI_HEADER_PRINT"  # taichi prints a banner on first import unless "0"
_saved_header = os.environ.get(_HEADER_VAR)
os.environ.setdefault(_HEADER_VAR, "0")
try:
    import taichi as ti
finally:
    if _saved_header is None:
        os.environ.pop(_HEADER_VAR, None)

__all__ = ["ensure_taichi", "ti"]

_init_lock = threading.Lock()


def ensure_taichi() -> None:
    """Initialise Taichi on the CPU (quiet, multithreaded, no debug) unless it already runs
    there; cheap to call before every launch (it also survives a ``ti.reset()``)."""
    runtime = ti.lang.impl.get_runtime()
    if runtime.prog is not None and runtime.prog.config().arch == ti.cpu:
        return
    with _init_lock:
        if runtime.prog is None:
            with contextlib.redirect_stdout(io.StringIO()):  # ti.init prints "Starting on arch"
                ti.init(arch=ti.cpu, log_level=ti.WARN, debug=False, default_fp=ti.f32, default_ip=ti.i32)
        elif runtime.prog.config().arch != ti.cpu:
            raise RuntimeError("Taichi is already initialised on another arch; the CPU rasterizer needs arch=ti.cpu")
