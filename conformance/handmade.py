"""Hand-built `.gsc` files from integer planes, for conformance vectors that the encoder's
presets do not make (a raw padding list, chosen codings per plane, chosen streams) and for
the invalid-file vectors, which are such files with one rule broken.

A :class:`Scene` holds the header (without its chunk table), the chunks and the version;
:meth:`Scene.pack` writes the container exactly as gscc does (spec/container.md), and
:func:`assemble` writes one from any header object and payload, CRCs computed, so that a
broken header still reaches the decoder.
"""

from __future__ import annotations

import copy
import io
import struct
import zlib
from dataclasses import dataclass, field

import msgpack
import numpy as np
from PIL import Image

from gscc.codec import ans, ans_table
from gscc.codec.png import PngCoder
from gscc.codec.raw import RawCoder
from gscc.container import MAGIC

PREAMBLE = struct.Struct("<8sHHII")
CHANNELS = {"means": 3, "scales": 3, "quats": 4, "opacities": 1, "sh0": 3}


def assemble(header: object, payload: bytes = b"", version: tuple[int, int] = (1, 0), header_bytes: bytes | None = None) -> bytes:
    """Preamble (CRC of the header bytes), header, payload."""
    body = msgpack.packb(header, use_bin_type=True) if header_bytes is None else header_bytes
    return PREAMBLE.pack(MAGIC, version[0], version[1], len(body), zlib.crc32(body)) + body + payload


@dataclass
class Scene:
    header: dict
    chunks: list[list] = field(default_factory=list)  # [type, bytes]
    version: tuple[int, int] = (1, 0)

    def add(self, kind: str, data: bytes) -> int:
        self.chunks.append([kind, bytes(data)])
        return len(self.chunks) - 1

    def table(self) -> list[list]:
        table, offset = [], 0
        for kind, data in self.chunks:
            table.append([kind, offset, len(data), zlib.crc32(data)])
            offset += len(data)
        return table

    def pack(self) -> bytes:
        header = dict(self.header)
        header["chunks"] = self.table()
        return assemble(header, b"".join(data for _, data in self.chunks), self.version)

    def copy(self) -> "Scene":
        return copy.deepcopy(self)


# ---------------------------------------------------------------------------- planes
def quant(bits: int, lo: list[float], step: list[float]) -> dict:
    return {"bits": bits, "lo": [float(v) for v in lo], "step": [float(v) for v in step]}


def coding(scene: Scene, codec: str, chunks: list[tuple[str, bytes]], **extra) -> dict:
    return {"codec": codec, **extra, "params": {}, "chunks": [scene.add(kind, data) for kind, data in chunks]}


def code_plane(scene: Scene, plane: np.ndarray, bits: int, codec: str) -> dict:
    """A lossless plane entry (png, ans or raw) for an (h, w, c) integer plane."""
    plane = np.asarray(plane, dtype=np.uint16)
    if codec == "ans":
        chunks = [("ans", ans.encode_channel(plane[:, :, c], bits)) for c in range(plane.shape[2])]
    else:
        coder = {"png": PngCoder(), "raw": RawCoder()}[codec]
        chunks = [(coder.chunk_type, data) for data in coder.encode(plane, bits)[1]]
    return coding(scene, codec, chunks)


def ans_table_plane(scene: Scene, plane: np.ndarray, bits: int) -> dict:
    """An ans-table entry with a uniform-ish table per channel."""
    freq = ans.integer_frequencies(np.arange(1, (1 << bits) + 1, dtype=np.float64))
    chunks = [("ans-table", ans_table.encode_channel(plane[:, :, c], freq)) for c in range(plane.shape[2])]
    return coding(scene, "ans-table", chunks, distribution="handmade")


def scalar(transform: str, q: dict, plane_coding: dict) -> dict:
    return {"codec": "scalar", "transform": transform, "quant": q, "coding": plane_coding}


# ---------------------------------------------------------------------------- the base scene
# Three splats on a 2 x 2 grid whose last cell is padding; small bit depths; every value
# chosen by hand (the padding cell holds values too, as a decoder reads them).
PLANES = {
    "means": (8, "signlog", [-0.5] * 3, [0.004] * 3, [[10, 20, 30], [40, 50, 60], [70, 80, 90], [1, 2, 3]]),
    "scales": (4, "identity", [-6.0] * 3, [0.25] * 3, [[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 0, 0]]),
    "quats": (8, "smallest3", [-0.7] * 3 + [0.0], [0.0055] * 3 + [1.0],
              [[127, 128, 129, 0], [100, 130, 140, 1], [60, 200, 127, 3], [127, 127, 127, 2]]),
    "opacities": (4, "sigmoid", [0.0], [1.0 / 15.0], [[0], [7], [15], [3]]),
    "sh0": (4, "identity", [-1.0] * 3, [0.125] * 3, [[8, 8, 8], [1, 15, 3], [0, 4, 12], [5, 5, 5]]),
}


def plane_of(name: str) -> np.ndarray:
    return np.asarray(PLANES[name][4], dtype=np.uint16).reshape(2, 2, -1)


def base(codec: str = "raw", version: tuple[int, int] = (1, 0)) -> Scene:
    """The three-splat base scene, every plane coded with ``codec``."""
    scene = Scene({"scene": {"kind": "static", "count": 3, "sh_degree": 0}}, version=version)
    scene.header["grid"] = {"height": 2, "width": 2, "padding": scene.add("raw", np.array([3], "<u4").tobytes())}
    attributes = {}
    for name, (bits, transform, lo, step, _) in PLANES.items():
        attributes[name] = scalar(transform, quant(bits, lo, step), code_plane(scene, plane_of(name), bits, codec))
    scene.header["attributes"] = attributes
    return scene


def with_vq_sh(scene: Scene, size: int = 3, labels=(0, 2, 1, 2), bits: int = 4, codec: str = "raw") -> Scene:
    """``scene`` at SH degree 1 with a ``vq`` shN (9 dimensions, ``size`` codewords)."""
    scene.header["scene"]["sh_degree"] = 1
    book = (np.arange(size * 9).reshape(size, 9, 1) % (1 << bits)).astype(np.uint16)
    label_bits = max(1, int(np.ceil(np.log2(size))))
    scene.header["attributes"]["shN"] = {
        "codec": "vq",
        "codebook": {"size": size, "quant": quant(bits, [-0.5] * 9, [0.0625] * 9), "coding": code_plane(scene, book, bits, codec)},
        "labels": {"bits": label_bits,
                   "coding": code_plane(scene, np.asarray(labels, np.uint16).reshape(2, 2, 1), label_bits, codec)},
    }
    return scene


# ---------------------------------------------------------------------------- byte-level pieces
def varint(value: int) -> bytes:
    out = bytearray()
    ans.put_varint(out, value)
    return bytes(out)


def ans_chunk(predictor: int, tables: list[list[int]], words: list[int], raw_table_bytes: bytes | None = None) -> bytes:
    """An ``ans`` chunk from its fields (spec/codecs.md, "ANS")."""
    out = bytearray([predictor, len(tables)])
    if raw_table_bytes is None:
        for table in tables:
            out += varint(len(table)) + b"".join(varint(f) for f in table)
    else:
        out += raw_table_bytes
    out += varint(len(words)) + np.asarray(words, "<u4").tobytes()
    return bytes(out)


def png_image(array: np.ndarray, mode: str, **save) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array, mode=mode).save(out, format="PNG", **save)
    return out.getvalue()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk of a PNG datastream."""
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        chunks.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = bytearray(b"\x89PNG\r\n\x1a\n")
    for kind, body in chunks:
        out += struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def interlaced_png(array: np.ndarray, bit_depth: int, color_type: int, ancillary: bool = True) -> bytes:
    """An Adam7-interlaced PNG of ``array`` (h, w, c) with filter type 0 (None) in every
    scanline; with ``ancillary``, tEXt, gAMA and pHYs chunks before and after IDAT."""
    h, w, c = array.shape
    dtype = ">u2" if bit_depth == 16 else "u1"
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7:
        sub = array[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\x00" + np.ascontiguousarray(row, dtype=dtype).tobytes()
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1)
    chunks = [(b"IHDR", ihdr)]
    if ancillary:
        chunks += [(b"gAMA", struct.pack(">I", 45455)), (b"tEXt", b"Comment\x00gscc conformance: ignored by decoders")]
    chunks.append((b"IDAT", zlib.compress(bytes(raw), 9)))
    if ancillary:
        chunks.append((b"pHYs", struct.pack(">IIB", 2835, 2835, 1)))
    chunks.append((b"IEND", b""))
    return png_from_chunks(chunks)


# ---------------------------------------------------------------------------- valid vectors
def single_word_streams() -> bytes:
    """The base scene with every plane ANS-coded: four cells per channel, so the streams
    are one word each (M = 1)."""
    return base("ans").pack()


def vq_raw_codebook() -> bytes:
    """SH degree 1 with a vq shN whose 3 x 9 codebook (4 bits) and 2-bit labels are raw."""
    return with_vq_sh(base("raw")).pack()


def sigmoid_clamp() -> bytes:
    """Opacities dequantizing to exactly 0 and 1 (q = 0 and 15 of lo 0, step 1/15), which
    the sigmoid inverse clamps to 2^-24 and 1 - 2^-24."""
    return base("raw").pack()


def interlaced_pngs(data: bytes) -> bytes:
    """``data`` (a valid file) with every PNG chunk replaced by the same pixels as an
    Adam7-interlaced PNG with ancillary chunks (tEXt, gAMA, pHYs): decodes identically."""
    from gscc.container import unpack

    container = unpack(data)
    scene = Scene(container.header, [list(c) for c in container.chunks], container.version)
    for chunk in scene.chunks:
        if chunk[0] != "png":
            continue
        image = Image.open(io.BytesIO(chunk[1]))
        array = np.asarray(image)
        array = array[:, :, None] if array.ndim == 2 else array
        depth = 16 if image.mode.startswith("I") else 8
        color = {1: 0, 2: 4, 3: 2, 4: 6}[array.shape[2]]
        chunk[1] = interlaced_png(array.astype(np.uint16 if depth == 16 else np.uint8), depth, color)
    return scene.pack()


def context_10bit(network: dict, positions: np.ndarray, seed: int) -> bytes:
    """62 splats on an 8 x 8 grid (padding cells 10 and 63): 16-bit means from
    ``positions``, ANS-coded; 10-bit sh0 coded ``ans-context`` by ``network`` (a float
    network in the layout of HashGridGaussian.export_arrays(), in value units) with values
    near its predictions, every seventh cell an outlier (escapes, with high parts); the
    other planes raw. Format 1.2."""
    from gscc.codec.context_coding import AnsContextCoding, GaussianContextSource
    from gscc.codec.learned import DecodedPlane
    from gscc.codec.quantize import QuantParams, fit_quantizer, forward_transform, quantize

    rng = np.random.default_rng(seed)
    scene = Scene({"scene": {"kind": "static", "count": 62, "sh_degree": 0}}, version=(1, 2))
    scene.header["grid"] = {"height": 8, "width": 8, "padding": scene.add("raw", np.array([10, 63], "<u4").tobytes())}
    cells = np.array([i for i in range(64) if i not in (10, 63)])
    y = np.zeros((64, 3))
    y[cells] = forward_transform("signlog", np.asarray(positions[:62], np.float64))
    y[[10, 63]] = y[cells].mean(axis=0)
    means_quant = fit_quantizer(y, 16)
    means_plane = quantize(y, means_quant).reshape(8, 8, 3)
    attributes = {"means": scalar("signlog", means_quant.to_header(), code_plane(scene, means_plane, 16, "ans"))}
    for name in ("scales", "quats", "opacities"):
        bits, transform, lo, step, _ = PLANES[name]
        plane = rng.integers(0, 1 << bits, (8, 8, CHANNELS[name]))
        if name == "quats":
            plane[:, :, 3] = rng.integers(0, 4, (8, 8))
        attributes[name] = scalar(transform, quant(bits, lo, step), code_plane(scene, plane, bits, "raw"))
    sh0_quant = QuantParams(10, (-0.2,) * 3, (0.0015,) * 3)
    source = GaussianContextSource(network, (0.0,) * 3, (1.0,) * 3)
    context = {"means": DecodedPlane(means_plane, means_quant, "signlog")}
    mu, _ = source.network(sh0_quant).predict(means_plane.reshape(-1, 3), 16)
    q = np.clip(mu + rng.integers(-2, 3, mu.shape), 0, 1023)
    outliers = np.arange(64) % 7 == 3
    q[outliers] = rng.integers(256, 1024, (int(outliers.sum()), 3))
    coded = AnsContextCoding().encode(q.reshape(8, 8, 3).astype(np.uint16), sh0_quant, source, context)
    attributes["sh0"] = scalar("identity", sh0_quant.to_header(), coded.add_to(_ChunkSink(scene)))
    scene.header["attributes"] = attributes
    return scene.pack()


class _ChunkSink:
    """Lets a PlaneCoding add its chunks to a Scene (it expects a Container's add_chunk)."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene

    def add_chunk(self, kind: str, data: bytes) -> int:
        return self.scene.add(kind, data)
