"""The `.gsc` container: preamble, msgpack header with the chunk table, payload chunks.

Layout (all integers little-endian; see spec/container.md):

    offset 0   8 bytes   magic 89 47 53 43 0D 0A 1A 0A  ("\\x89GSC\\r\\n\\x1a\\n")
    offset 8   u16       format major version
    offset 10  u16       format minor version
    offset 12  u32       header length H
    offset 16  u32       CRC-32 (ISO-HDLC, as zlib.crc32) of the H header bytes
    offset 20  H bytes   header: a msgpack map; its "chunks" entry is the chunk table
    offset 20+H          payload: the chunks, back to back, in chunk-table order

Each chunk-table entry is ``[type, offset, length, crc32]`` with ``offset`` relative to the
start of the payload. The file ends exactly where the last chunk ends.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import msgpack

from ..errors import ContainerError, FormatError, HeaderError, LimitError, VersionError

MAGIC = b"\x89GSC\r\n\x1a\n"
VERSION = (1, 0)  # what a file is written as unless it uses a later addition...
FEATURES_VERSION = (1, 1)  # ...such as MLP-coloured scenes (spec/static.md)
LEARNED_VERSION = (1, 2)  # ...or learned-distribution coding (spec/codecs.md)
DYNAMIC_VERSION = (1, 3)  # dynamic scenes (spec/dynamic.md)
JXL_VERSION = (1, 4)  # ...or JPEG XL lossless planes (spec/codecs.md)
INTERP_VERSION = (1, 5)  # ...or ans-interp planes (context-modelled interpolation, spec/codecs.md)
REFINE_VERSION = (1, 6)  # ...or precision classes (planes refined per splat, spec/codecs.md)
PREAMBLE = struct.Struct("<8sHHII")
CHUNK_TYPES = ("png", "ans", "raw", "weights", "ans-table", "jxl", "ans-interp")
MAX_HEADER_BYTES = 16 << 20
MAX_CHUNKS = 4096
MAX_DEPTH = 32  # nesting of arrays and maps in a header or weights chunk (spec/validation.md)


_REFERENCES = threading.Lock()  # guards Container.referenced


@dataclass
class Container:
    """A parsed container: the header map (without its chunk table) and the chunk payloads."""

    header: dict[str, Any]
    chunks: list[tuple[str, Optional[bytes]]] = field(default_factory=list)  # None: not loaded
    version: tuple[int, int] = VERSION
    referenced: Counter = field(default_factory=Counter, compare=False, repr=False)  # index -> reads

    def add_chunk(self, kind: str, data: bytes) -> int:
        """Append a chunk and return its index in the chunk table."""
        if kind not in CHUNK_TYPES:
            raise ValueError(f"unknown chunk type {kind!r}")
        self.chunks.append((kind, bytes(data)))
        return len(self.chunks) - 1

    def chunk(self, index: Any, kind: str) -> bytes:
        """The payload of chunk ``index``, checked to be of type ``kind``; the read is
        counted for :meth:`check_all_referenced`."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.chunks):
            raise HeaderError(f"header refers to chunk {index!r}, but the file has {len(self.chunks)}")
        actual, data = self.chunks[index]
        if actual != kind:
            raise HeaderError(f"chunk {index} is of type {actual!r}, expected {kind!r}")
        if data is None:
            raise HeaderError(f"chunk {index} was not read (it belongs to another part of the file)")
        with _REFERENCES:  # planes may be decoded on several threads
            self.referenced[index] += 1
        return data

    def check_all_referenced(self, indices: Optional[range] = None) -> None:
        """HeaderError unless the header referred to every chunk (of ``indices``, by
        default all) exactly once (after the decode of a whole file, or of its part)."""
        for index in range(len(self.chunks)) if indices is None else indices:
            if self.referenced[index] != 1:
                raise HeaderError(
                    f"chunk {index} is not referred to by the header" if not self.referenced[index]
                    else f"header refers to chunk {index} {self.referenced[index]} times"
                )


def pack(container: Container) -> bytes:
    """Serialise a container to bytes."""
    table = []
    offset = 0
    for kind, data in container.chunks:
        table.append([kind, offset, len(data), zlib.crc32(data)])
        offset += len(data)
    header = dict(container.header)
    header["chunks"] = table
    header_bytes = msgpack.packb(header, use_bin_type=True)
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise ValueError("header too large")
    major, minor = container.version
    preamble = PREAMBLE.pack(MAGIC, major, minor, len(header_bytes), zlib.crc32(header_bytes))
    return b"".join([preamble, header_bytes, *(data for _, data in container.chunks)])


def _pairs(what: str, error: type[FormatError]):
    """msgpack's object_pairs_hook: a dict, rejecting duplicate and non-string keys."""

    def hook(pairs: list) -> dict:
        result = {}
        for key, value in pairs:
            if not isinstance(key, str):
                raise error(f"corrupt {what}: a map key is not a string")
            if key in result:
                raise error(f"corrupt {what}: duplicate map key {key!r}")
            result[key] = value
        return result

    return hook


def _no_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"extension type {code} is not allowed")


_SCALARS = (type(None), bool, int, float, str, bytes)


def _check_value(value: Any, what: str, error: type[FormatError]) -> None:
    """Nesting of at most MAX_DEPTH arrays and maps, and only the plain MessagePack types
    (no extension types such as a Timestamp), checked without recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth + 1 > MAX_DEPTH:
                raise error(f"corrupt {what}: nested deeper than {MAX_DEPTH} levels")
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
        elif not isinstance(item, _SCALARS):
            raise error(f"corrupt {what}: holds a value of MessagePack extension type")


def load_msgpack(data: bytes, what: str, error: type[FormatError]) -> Any:
    """One MessagePack object filling ``data`` exactly (spec/validation.md): no bytes after
    it, maps with unique string keys, no extension types, nesting at most MAX_DEPTH."""
    try:
        value = msgpack.unpackb(
            data, raw=False, strict_map_key=False, use_list=True, object_pairs_hook=_pairs(what, error),
            ext_hook=_no_ext,
        )
    except FormatError:
        raise
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise error(f"corrupt {what}: {' '.join(str(exc).split()) or type(exc).__name__}") from None
    _check_value(value, what, error)
    return value


def read_preamble(data: bytes) -> tuple[tuple[int, int], int, int]:
    """Check magic and version; return (version, header length, header CRC)."""
    if len(data) < PREAMBLE.size:
        if MAGIC.startswith(data[: len(MAGIC)]) and data:
            raise ContainerError(f"truncated .gsc file: {len(data)} bytes is shorter than the preamble")
        raise ContainerError("not a .gsc file (bad magic)")
    magic, major, minor, header_len, header_crc = PREAMBLE.unpack_from(data)
    if magic != MAGIC:
        raise ContainerError("not a .gsc file (bad magic)")
    if major != VERSION[0]:
        raise VersionError(
            f"unsupported .gsc format version {major}.{minor}; this gscc reads {VERSION[0]}.x"
        )
    if header_len > MAX_HEADER_BYTES:
        raise LimitError(f"header length {header_len} exceeds the limit of {MAX_HEADER_BYTES} bytes")
    return (major, minor), header_len, header_crc


def unpack(data: bytes, select: Optional[Callable[[dict], set[int]]] = None) -> Container:
    """Parse and verify a container. Raises FormatError for anything malformed.

    ``select``, given the header (without its chunk table), names the chunks to read: the
    others are checked for their place in the table only, not read or checksummed, and
    are held as ``None`` (a decoder of one segment of a dynamic file reads its chunks only)."""
    version, header_len, header_crc = read_preamble(data)
    start = PREAMBLE.size
    header_bytes = data[start : start + header_len]
    if len(header_bytes) != header_len:
        raise ContainerError("truncated .gsc file: the header is cut short")
    if zlib.crc32(header_bytes) != header_crc:
        raise ContainerError("corrupt .gsc file: header checksum mismatch")
    header = load_msgpack(header_bytes, ".gsc header", ContainerError)
    if not isinstance(header, dict):
        raise ContainerError("corrupt .gsc header: not a map")
    table = header.pop("chunks", None)
    if not isinstance(table, list):
        raise ContainerError("corrupt .gsc header: missing chunk table")
    if len(table) > MAX_CHUNKS:
        raise LimitError(f"the chunk table has {len(table)} entries, more than {MAX_CHUNKS}")
    payload = memoryview(data)[start + header_len :]
    wanted = None if select is None else select(header)
    chunks: list[tuple[str, Optional[bytes]]] = []
    expected_offset = 0
    for i, entry in enumerate(table):
        if (
            not isinstance(entry, list)
            or len(entry) != 4
            or entry[0] not in CHUNK_TYPES
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 32 for v in entry[1:])
        ):
            raise ContainerError(f"corrupt .gsc header: chunk-table entry {i} is malformed")
        kind, offset, length, crc = entry
        if offset + length >= 1 << 32:
            raise ContainerError(f"corrupt .gsc header: chunk {i} ends past 2**32 - 1 bytes of payload")
        if offset != expected_offset:
            raise ContainerError(f"corrupt .gsc header: chunk {i} does not follow chunk {i - 1}")
        if offset + length > len(payload):
            raise ContainerError(f"truncated .gsc file: chunk {i} ends past the end of the file")
        if wanted is not None and i not in wanted:
            chunks.append((kind, None))
            expected_offset = offset + length
            continue
        body = bytes(payload[offset : offset + length])
        if zlib.crc32(body) != crc:
            raise ContainerError(f"corrupt .gsc file: checksum mismatch in chunk {i} ({kind})")
        chunks.append((kind, body))
        expected_offset = offset + length
    if expected_offset != len(payload):
        raise ContainerError(
            f"corrupt .gsc file: {len(payload) - expected_offset} unexpected bytes after the last chunk"
        )
    return Container(header=header, chunks=chunks, version=version)
