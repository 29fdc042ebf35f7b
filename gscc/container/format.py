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
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import msgpack

from ..errors import FormatError

MAGIC = b"\x89GSC\r\n\x1a\n"
VERSION = (1, 0)  # what a file is written as unless it uses a later addition...
FEATURES_VERSION = (1, 1)  # ...such as MLP-coloured scenes (spec/static.md)
LEARNED_VERSION = (1, 2)  # ...or learned-distribution coding (spec/codecs.md)
DYNAMIC_VERSION = (1, 3)  # dynamic scenes (spec/dynamic.md)
JXL_VERSION = (1, 4)  # ...or JPEG XL lossless planes (spec/codecs.md)
PREAMBLE = struct.Struct("<8sHHII")
CHUNK_TYPES = ("png", "ans", "raw", "weights", "ans-table", "jxl")
MAX_HEADER_BYTES = 16 << 20
MAX_CHUNKS = 4096


@dataclass
class Container:
    """A parsed container: the header map (without its chunk table) and the chunk payloads."""

    header: dict[str, Any]
    chunks: list[tuple[str, Optional[bytes]]] = field(default_factory=list)  # None: not loaded
    version: tuple[int, int] = VERSION

    def add_chunk(self, kind: str, data: bytes) -> int:
        """Append a chunk and return its index in the chunk table."""
        if kind not in CHUNK_TYPES:
            raise ValueError(f"unknown chunk type {kind!r}")
        self.chunks.append((kind, bytes(data)))
        return len(self.chunks) - 1

    def chunk(self, index: Any, kind: str) -> bytes:
        """The payload of chunk ``index``, checked to be of type ``kind``."""
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(self.chunks):
            raise FormatError(f"header refers to chunk {index!r}, but the file has {len(self.chunks)}")
        actual, data = self.chunks[index]
        if actual != kind:
            raise FormatError(f"chunk {index} is of type {actual!r}, expected {kind!r}")
        if data is None:
            raise FormatError(f"chunk {index} was not read (it belongs to another part of the file)")
        return data


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


def read_preamble(data: bytes) -> tuple[tuple[int, int], int, int]:
    """Check magic and version; return (version, header length, header CRC)."""
    if len(data) < PREAMBLE.size:
        if MAGIC.startswith(data[: len(MAGIC)]) and data:
            raise FormatError(f"truncated .gsc file: {len(data)} bytes is shorter than the preamble")
        raise FormatError("not a .gsc file (bad magic)")
    magic, major, minor, header_len, header_crc = PREAMBLE.unpack_from(data)
    if magic != MAGIC:
        raise FormatError("not a .gsc file (bad magic)")
    if major != VERSION[0]:
        raise FormatError(
            f"unsupported .gsc format version {major}.{minor}; this gscc reads {VERSION[0]}.x"
        )
    if header_len > MAX_HEADER_BYTES:
        raise FormatError(f"header length {header_len} exceeds the limit of {MAX_HEADER_BYTES} bytes")
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
        raise FormatError("truncated .gsc file: the header is cut short")
    if zlib.crc32(header_bytes) != header_crc:
        raise FormatError("corrupt .gsc file: header checksum mismatch")
    try:
        header = msgpack.unpackb(header_bytes, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise FormatError(f"corrupt .gsc header: {exc}") from None
    if not isinstance(header, dict):
        raise FormatError("corrupt .gsc header: not a map")
    table = header.pop("chunks", None)
    if not isinstance(table, list) or len(table) > MAX_CHUNKS:
        raise FormatError("corrupt .gsc header: missing or oversized chunk table")
    payload = memoryview(data)[start + header_len :]
    wanted = None if select is None else select(header)
    chunks: list[tuple[str, Optional[bytes]]] = []
    expected_offset = 0
    for i, entry in enumerate(table):
        if (
            not isinstance(entry, list)
            or len(entry) != 4
            or entry[0] not in CHUNK_TYPES
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in entry[1:])
        ):
            raise FormatError(f"corrupt .gsc header: chunk-table entry {i} is malformed")
        kind, offset, length, crc = entry
        if offset != expected_offset:
            raise FormatError(f"corrupt .gsc header: chunk {i} does not follow chunk {i - 1}")
        if offset + length > len(payload):
            raise FormatError(f"truncated .gsc file: chunk {i} ends past the end of the file")
        if wanted is not None and i not in wanted:
            chunks.append((kind, None))
            expected_offset = offset + length
            continue
        body = bytes(payload[offset : offset + length])
        if zlib.crc32(body) != crc:
            raise FormatError(f"corrupt .gsc file: checksum mismatch in chunk {i} ({kind})")
        chunks.append((kind, body))
        expected_offset = offset + length
    if expected_offset != len(payload):
        raise FormatError(
            f"corrupt .gsc file: {len(payload) - expected_offset} unexpected bytes after the last chunk"
        )
    return Container(header=header, chunks=chunks, version=version)
