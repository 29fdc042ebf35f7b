"""Lossless coding of integer planes, and the registry of lossless coders.

A *plane* is an integer array of shape (H, W, C) with values in [0, 2**bits). Each coder
turns a plane into header parameters plus chunk payloads and back. A new coder is one
new module plus one line in ``CODERS``. A coder added after format 1.0 names the format
version that introduced it (``since``): a file using it is written as that version at
least, and a decoder rejects it in an older file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..container import VERSION, Container
from ..errors import HeaderError, PayloadError, VersionError
from .header_fields import check_keys, empty_params


class LosslessCoder(Protocol):
    name: str
    chunk_type: str
    since: tuple[int, int]  # the format version that introduced it
    param_keys: tuple[str, ...]  # the keys of its header entry's params (empty: none)

    def encode(self, plane: np.ndarray, bits: int) -> tuple[dict, list[bytes]]:
        """Return header parameters and chunk payloads for ``plane``."""

    def decode(self, params: dict, chunks: list[bytes], shape: tuple[int, int, int], bits: int) -> np.ndarray:
        """Inverse of :meth:`encode`; raises FormatError for malformed input."""


def channel_groups(channels: int, group: int) -> list[tuple[int, int]]:
    """(first, end) ranges cutting ``channels`` channels into consecutive groups of at most
    ``group`` (the images of a PNG or JPEG XL plane)."""
    return [(c, min(c + group, channels)) for c in range(0, channels, group)]


def _coders() -> dict[str, LosslessCoder]:
    from .ans import AnsCoder
    from .interp import InterpCoder
    from .jxl import JxlCoder
    from .png import PngCoder
    from .raw import RawCoder

    return {"png": PngCoder(), "ans": AnsCoder(), "raw": RawCoder(), "jxl": JxlCoder(), "ans-interp": InterpCoder()}


CODERS: dict[str, LosslessCoder] = _coders()
# png is chosen by name only: it lost to ans or jxl on every plane of the shared splats and
# of the 1M-splat scene (bench/README.md, "Encoding speed"), and with Pillow's optimize
# it cost as much as both together; size reports (benchmarks) still measure it
AUTO_CANDIDATES = ("ans", "jxl")
# a dynamic scene's motion planes try png as well: on the Dynamic GSCodec basketball run it
# coded the 7-bit motion plane 7 % smaller than ans and 10 % smaller than jxl
# (bench/README.md, "learned against image coding, per plane")
MOTION_AUTO_CANDIDATES = ("png",) + AUTO_CANDIDATES
# ans-interp is chosen by name only: it saves about 1 % (bench/README.md, learned coding)
# for about 0.5 s per 100k-splat 3-channel plane, which the encoder's speed target can't
# spare; encoders' size reports (benchmarks) still measure it beside auto's candidates
REPORTED_CANDIDATES = ("png",) + AUTO_CANDIDATES + ("ans-interp",)


@dataclass(frozen=True)
class PlaneCoding:
    """A coded plane not yet in a container: its header entry without the chunk indices,
    and its chunks as (type, payload) pairs. Lets the encoder compare codings by size."""

    entry: dict
    chunks: tuple[tuple[str, bytes], ...]

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.chunks)

    def add_to(self, container: Container) -> dict:
        """Add the chunks to ``container``; return the complete header entry."""
        indices = [container.add_chunk(kind, data) for kind, data in self.chunks]
        return {**self.entry, "chunks": indices}


def code_plane(plane: np.ndarray, bits: int, coder: str, auto: tuple[str, ...] = AUTO_CANDIDATES) -> PlaneCoding:
    """Code ``plane`` with ``coder`` (or the smallest of the coders ``auto`` for "auto",
    the first on ties)."""
    names = auto if coder == "auto" else (coder,)
    best = None
    for name in names:
        params, chunks = CODERS[name].encode(plane, bits)
        coding = PlaneCoding({"codec": name, "params": params}, tuple((CODERS[name].chunk_type, c) for c in chunks))
        if best is None or coding.size < best.size:
            best = coding
    return best


def encode_plane(container: Container, plane: np.ndarray, bits: int, coder: str) -> dict:
    """Code ``plane`` as :func:`code_plane` does, add its chunks to ``container``, and
    return the header entry describing them."""
    return code_plane(plane, bits, coder).add_to(container)


def decode_plane(container: Container, entry: object, shape: tuple[int, int, int], bits: int) -> np.ndarray:
    """Decode the plane described by a header entry made by :func:`encode_plane`."""
    if not isinstance(entry, dict):
        raise HeaderError("coding entry is not a map")
    name = entry.get("codec")
    if not isinstance(name, str) or name not in CODERS:
        raise HeaderError(f"unknown lossless codec {name!r}")
    coder = CODERS[name]
    if container.version < coder.since:
        raise VersionError(f"{name} coding needs format %d.%d or later" % coder.since)
    check_keys(entry, f"{name} coding", ("codec", "params", "chunks"))
    if coder.param_keys:
        params = entry["params"]
        if not isinstance(params, dict) or set(params) != set(coder.param_keys):
            raise HeaderError(f"{name} coding params must be a map of exactly {', '.join(coder.param_keys)}")
    else:
        empty_params(entry, f"{name} coding")
    indices, params = entry["chunks"], entry["params"]
    if not isinstance(indices, list):
        raise HeaderError(f"{name} coding entry is malformed")
    chunks = [container.chunk(i, coder.chunk_type) for i in indices]
    return check_plane(name, coder.decode(params, chunks, shape, bits), shape, bits)


def check_plane(name: str, plane: np.ndarray, shape: tuple[int, int, int], bits: int) -> np.ndarray:
    """``plane`` if it has ``shape`` and ``bits``-bit values; FormatError otherwise."""
    if plane.shape != shape:
        raise PayloadError(f"{name} plane decoded to shape {plane.shape}, expected {shape}")
    if plane.size and int(plane.max()) >= 1 << bits:
        raise PayloadError(f"{name} plane holds values beyond {bits} bits")
    return plane


def required_version(container: Container) -> tuple[int, int]:
    """The oldest format version whose lossless coders cover every chunk in ``container``."""
    kinds = {kind for kind, _ in container.chunks}
    return max([VERSION, *(coder.since for coder in CODERS.values() if coder.chunk_type in kinds)])


def chunk_indices(entry: dict) -> list[int]:
    return list(entry.get("chunks", []))
