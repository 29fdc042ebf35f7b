"""Lazily decoded training images, kept in a bounded cache of compact uint8 arrays.

A dynamic dataset has cameras x frames images (27 x 150 for Panoptic basketball): decoding
them all as float32 up front would take 27 * 150 * 320 * 180 * 3 * 4 bytes = 2.8 GB at
320x180, 11 GB at full size. A :class:`FrameStore` instead holds one *reader* per image (a
function returning the image as uint8 at the training size) and decodes on first use. Decoded
images are kept in a least-recently-used cache bounded in bytes (``budget`` bytes of uint8;
default :data:`DEFAULT_BUDGET`, 512 MiB: 27 cameras x 50 frames at 320x180 is 233 MB and fits
whole; 150 frames at 320x180 (700 MB) or 50 at 640x360 (933 MB) do not, and an evicted image
is decoded again when next asked for — a 640x360 JPEG decodes in a few milliseconds, far less
than a training step). Floats are made per request.

Masks (bool, one byte a pixel) share the same cache and budget. Access is thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

DEFAULT_BUDGET = 512 << 20

Reader = Callable[[], np.ndarray]


class FrameStore:
    """Readers by key, and a byte-bounded LRU cache of what they returned."""

    def __init__(self, budget: int = DEFAULT_BUDGET) -> None:
        if budget < 0:
            raise ValueError(f"budget must be >= 0 bytes, got {budget}")
        self.budget = int(budget)
        self._readers: dict[Hashable, Reader] = {}
        self._cache: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.decodes = 0  # how many times a reader ran (for tests and diagnostics)

    def add(self, key: Hashable, reader: Reader) -> None:
        if key in self._readers:
            raise KeyError(f"duplicate frame key {key!r}")
        self._readers[key] = reader

    def __contains__(self, key: Hashable) -> bool:
        return key in self._readers

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> np.ndarray:
        """The reader's array for ``key`` (read-only), decoded now or taken from the cache."""
        with self._lock:
            array = self._cache.get(key)
            if array is not None:
                self._cache.move_to_end(key)
                return array
        array = np.ascontiguousarray(self._readers[key]())
        array.setflags(write=False)
        with self._lock:
            self.decodes += 1
            if key not in self._cache and array.nbytes <= self.budget:
                self._cache[key] = array
                self._bytes += array.nbytes
                while self._bytes > self.budget:
                    _, evicted = self._cache.popitem(last=False)
                    self._bytes -= evicted.nbytes
        return array

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._bytes = 0
