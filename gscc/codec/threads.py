"""How many threads the codec uses for work that is independent per plane (coding and
decoding attributes): the CPUs this process may use, at most MAX_WORKERS (a scene has
about five planes). The results never depend on the count."""

from __future__ import annotations

import os

MAX_WORKERS = 4


def default_workers() -> int:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, usable))
