"""Create the invalid-file conformance vectors: one small `.gsc` file per rule of
spec/validation.md, each breaking exactly that rule, and the error class a decoder must
report for it.

    python conformance/invalid.py            # add the invalid vectors that do not exist yet
    python conformance/invalid.py --list     # show every case

Files go to ``invalid/NAME.gsc``, the list to ``invalid/manifest.json``. As with the valid
vectors, existing files are never regenerated: a vector is a promise about the format.
Most cases start from the hand-made three-splat scene of ``handmade.py`` (a valid file,
``base``) and change one thing; the 1.1 and 1.2 cases start from the valid vectors
``features-mlp`` and ``learned-context``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import handmade  # noqa: E402
from handmade import Scene, ans_chunk, assemble, base, png_chunks, png_from_chunks, varint, with_vq_sh  # noqa: E402

import constriction  # noqa: E402

from gscc.codec.ans import categorical, integer_frequencies  # noqa: E402
from gscc.container import unpack  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "invalid"
MANIFEST = OUT / "manifest.json"


@dataclass(frozen=True)
class Case:
    name: str
    rule: str  # the rule of spec/validation.md
    error_class: str
    description: str
    build: Callable[[], bytes]


def vector(name: str) -> Scene:
    """A valid conformance vector as an editable Scene."""
    container = unpack((HERE / "vectors" / f"{name}.gsc").read_bytes())
    return Scene(container.header, [list(c) for c in container.chunks], container.version)


def edited(change: Callable[[Scene], object], start: Callable[[], Scene] = base) -> Callable[[], bytes]:
    def build() -> bytes:
        scene = start()
        change(scene)
        return scene.pack()

    return build


def with_header(change: Callable[[dict], object], start: Callable[[], Scene] = base) -> Callable[[], bytes]:
    """Change the header object including its chunk table, then assemble with a valid CRC."""

    def build() -> bytes:
        scene = start()
        header = dict(scene.header)
        header["chunks"] = scene.table()
        change(header)
        return assemble(header, b"".join(d for _, d in scene.chunks), scene.version)

    return build


def set_path(path: str, value) -> Callable[[dict], None]:
    def change(header: dict) -> None:
        *parents, last = path.split(".")
        node = header
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def delete_path(path: str) -> Callable[[dict], None]:
    def change(header: dict) -> None:
        *parents, last = path.split(".")
        node = header
        for key in parents:
            node = node[key]
        del node[last]

    return change


def chunk_of(scene: Scene, attribute: str, index: int = 0) -> int:
    return scene.header["attributes"][attribute]["coding"]["chunks"][index]


def replace_chunk(attribute: str, make: Callable[[bytes], bytes], start: Callable[[], Scene] = base, index: int = 0):
    def change(scene: Scene) -> None:
        i = chunk_of(scene, attribute, index)
        scene.chunks[i][1] = make(scene.chunks[i][1])

    return edited(change, start)


def raw_preamble(change: Callable[[bytearray], object]) -> Callable[[], bytes]:
    def build() -> bytes:
        data = bytearray(base().pack())
        change(data)
        return bytes(data)

    return build


def raw_header(header_bytes: Callable[[dict], bytes]) -> Callable[[], bytes]:
    """A header given as bytes (made from the base header with its chunk table), CRC fixed."""

    def build() -> bytes:
        scene = base()
        header = dict(scene.header)
        header["chunks"] = scene.table()
        return assemble(None, b"".join(d for _, d in scene.chunks), scene.version, header_bytes(header))

    return build


def packed_with_duplicate_key(header: dict) -> bytes:
    body = msgpack.packb(header, use_bin_type=True)
    # one more key: the map header 0x8n becomes 0x8(n+1) and "scene" appears twice
    extra = msgpack.packb("scene") + msgpack.packb(header["scene"])
    return bytes([body[0] + 1]) + body[1:] + extra


def deep(depth: int):
    value: object = 0
    for _ in range(depth):
        value = [value]
    return value


def big_grid(coding: Callable[[Scene, int], dict], side: int = 1024, extra: Callable[[Scene], None] | None = None):
    """A scene of side x side splats (no padding) whose planes are all-zero ANS channels
    with no words (valid: symbol 0 from state 0), except as ``coding`` makes the means."""

    def build() -> bytes:
        scene = base("ans")
        scene.chunks = []
        scene.header["scene"]["count"] = side * side
        scene.header["grid"] = {"height": side, "width": side, "padding": None}
        for name, (bits, transform, lo, step, _) in handmade.PLANES.items():
            channels = handmade.CHANNELS[name]
            if name == "means":
                plane = coding(scene, bits)
            else:
                tables = [[65535, 1]] if bits <= 8 else [[65535, 1]] * 3
                plane = handmade.coding(scene, "ans", [("ans", ans_chunk(0, tables, [])) for _ in range(channels)])
            scene.header["attributes"][name] = handmade.scalar(transform, handmade.quant(bits, lo, step), plane)
        if extra:
            extra(scene)
        return scene.pack()

    return build


def exhausted_means(scene: Scene, bits: int) -> dict:
    """Channel 0's stream is one word of value 5: it runs out at once and its state stays
    5 (symbol 0 forever), so it never ends at state 0."""
    chunks = [("ans", ans_chunk(0, [[65535, 1]], [5] if c == 0 else [])) for c in range(3)]
    return handmade.coding(scene, "ans", chunks)


def zero_means(scene: Scene, bits: int) -> dict:
    return handmade.coding(scene, "ans", [("ans", ans_chunk(0, [[65535, 1]], [])) for _ in range(3)])


def wide_context_network(scene: Scene) -> None:
    """sh0 coded ans-context with a legal network of hidden width 64 (P = 4,616
    multiply-adds per cell): on 2^20 cells that is within L1, on 2^24 it is not."""
    from gscc.codec.context_net import ContextNetwork, FixedLayer

    hidden, channels = 64, 3
    layers = []
    for n_in, n_out in ((3, hidden), (hidden, hidden), (hidden, 2 * channels)):
        layers.append(FixedLayer(np.zeros((n_out, n_in), np.int64), np.zeros(n_out, np.int64), np.zeros(n_out, np.int64)))
    net = ContextNetwork(bits=4, log2_table=3, resolutions=(1,), tables=(np.zeros((8, 3), np.int64),), layers=tuple(layers))
    table = handmade.varint(1) + bytes([0]) + varint(1) + varint(1) + varint(0)
    chunks = [("raw", net.to_bytes()), ("raw", table)] + [("raw", varint(0)) for _ in range(channels)]
    scene.header["attributes"]["sh0"]["coding"] = handmade.coding(scene, "ans-context", chunks, distribution="handmade")
    scene.version = (1, 2)


def drop_unused(scene: Scene) -> None:
    """Remove chunks the header no longer refers to (after replacing a coding)."""
    used = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "chunks" and isinstance(value, list):
                    used.update(value)
                elif key in ("padding", "weights") and isinstance(value, int):
                    used.add(value)
                else:
                    walk(value)

    walk(scene.header)
    keep = sorted(used)
    remap = {old: new for new, old in enumerate(keep)}

    def rewrite(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "chunks" and isinstance(value, list):
                    node[key] = [remap[v] for v in value]
                elif key in ("padding", "weights") and isinstance(value, int):
                    node[key] = remap[value]
                else:
                    rewrite(value)

    rewrite(scene.header)
    scene.chunks = [scene.chunks[i] for i in keep]


def png_edit(change: Callable[[list], list]) -> Callable[[bytes], bytes]:
    return lambda data: png_from_chunks(change(png_chunks(data)))


def ihdr(**fields) -> Callable[[list], list]:
    names = ("width", "height", "depth", "color", "compression", "filter", "interlace")

    def change(chunks: list) -> list:
        values = dict(zip(names, struct.unpack(">IIBBBBB", chunks[0][1])))
        values.update(fields)
        return [(b"IHDR", struct.pack(">IIBBBBB", *(values[n] for n in names)))] + chunks[1:]

    return change


def sixteen_bit_png_of_value(value: int) -> Callable[[bytes], bytes]:
    """A valid 16-bit greyscale 2 x 2 PNG whose first sample is ``value``."""

    def make(_: bytes) -> bytes:
        array = np.array([[value, 1], [2, 3]], dtype=np.uint16)
        return handmade.interlaced_png(array[:, :, None], 16, 0, ancillary=False)

    return make


def opacity_ans(symbols_table: list[int], words: list[int], predictor: int = 0) -> Callable[[bytes], bytes]:
    return lambda _: ans_chunk(predictor, [symbols_table], words)


def set_network_byte(offset: int, value: int) -> Callable[[bytes], bytes]:
    def make(data: bytes) -> bytes:
        out = bytearray(data)
        out[offset] = value
        return bytes(out)

    return make


def context_chunk(scene: Scene, attribute: str, index: int) -> int:
    return scene.header["attributes"][attribute]["coding"]["chunks"][index]


def swap_codings(a: str, b: str) -> Callable[[Scene], None]:
    def change(scene: Scene) -> None:
        attributes = scene.header["attributes"]
        attributes[a]["coding"], attributes[b]["coding"] = attributes[b]["coding"], attributes[a]["coding"]

    return change


def weights_chunk(name: str, index: Callable[[dict], int], change: Callable[[dict], object]) -> Callable[[], bytes]:
    """The valid vector ``name`` with its weights chunk ``index(header)`` (as a msgpack map)
    changed."""

    def build() -> bytes:
        scene = vector(name)
        i = index(scene.header)
        table = msgpack.unpackb(scene.chunks[i][1], raw=False)
        change(table)
        scene.chunks[i][1] = msgpack.packb(table, use_bin_type=True)
        return scene.pack()

    return build


def mlp_weights(change: Callable[[dict], object]) -> Callable[[], bytes]:
    return weights_chunk("features-mlp", lambda header: header["color_mlp"]["weights"], change)


def nan_weight_of(name: str) -> Callable[[dict], None]:
    """Set the first value of the f4 array ``name`` of a weights table to NaN."""

    def change(table: dict) -> None:
        entry = table[name]
        values = np.frombuffer(entry["data"], "<f4").copy()
        values[0] = np.nan
        entry["data"] = values.tobytes()

    return change


nan_weight = nan_weight_of("layers.0.bias")


UNIFORM_16 = integer_frequencies(np.ones(16)).tolist()
UNIFORM_32 = integer_frequencies(np.ones(32)).tolist()


def ans_stream(symbols: list[int], table: list[int]) -> list[int]:
    """The rANS words of ``symbols`` with one table (constriction, as gscc's encoder)."""
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(np.asarray(symbols, np.int32), categorical(np.asarray(table)))
    return coder.get_compressed().tolist()


# ---------------------------------------------------------------------------- dynamic scenes (format 1.3)
def dynamic(name: str) -> Callable[[], Scene]:
    """A valid dynamic conformance vector (``dynamic-NAME``) as an editable Scene."""
    return lambda: vector(f"dynamic-{name}")


def reorder_chunks(scene: Scene, order: list[int]) -> None:
    """Keep the chunks ``order`` names (old indices, in their new order) and renumber every
    reference of the segment table to match; a reference to a dropped chunk is an error."""
    from gscc.codec.dynamic_decoder import map_segment_chunks

    new = {old: i for i, old in enumerate(order)}
    scene.header["segments"] = [map_segment_chunks(e, new.__getitem__) for e in scene.header["segments"]]
    scene.chunks = [scene.chunks[i] for i in order]


def segment_chunk_list(scene: Scene, index: int) -> list[int]:
    from gscc.codec.dynamic_decoder import segment_chunks

    return sorted(segment_chunks(scene.header["segments"][index]))


def without_chunks(*names: str) -> Callable[[Scene], None]:
    """Remove the chunks of the given entries of segment 0 (dotted paths below the entry,
    e.g. ``attributes.omega``), the entries themselves (``motion_mask`` and ``shared``
    become nil), and renumber."""

    def change(scene: Scene) -> None:
        from gscc.codec.dynamic_decoder import segment_chunks

        entry = scene.header["segments"][0]
        dropped: set[int] = set()
        for name in names:
            *parents, last = name.split(".")
            node = entry
            for key in parents:
                node = node[key]
            value = node[last]
            dropped |= {value} if isinstance(value, int) else segment_chunks({"x": value})
            if last in ("motion_mask", "shared"):
                node[last] = None
            else:
                del node[last]
        reorder_chunks(scene, [i for i in range(len(scene.chunks)) if i not in dropped])

    return change


def segment_one_first(scene: Scene) -> None:
    """dynamic-segments with segment 1's chunks moved before segment 0's (rule D8)."""
    first, second = segment_chunk_list(scene, 0), segment_chunk_list(scene, 1)
    rest = [i for i in range(len(scene.chunks)) if i not in first and i not in second]
    reorder_chunks(scene, second + first + rest)


def chunk_between_segments(scene: Scene) -> None:
    """An extra raw chunk between segment 0's chunks and segment 1's, referred to by none."""
    last = segment_chunk_list(scene, 0)[-1]
    scene.chunks.append(["raw", b"\x00"])
    reorder_chunks(scene, list(range(last + 1)) + [len(scene.chunks) - 1] + list(range(last + 1, len(scene.chunks) - 1)))


def extra_motion_plane(scene: Scene) -> None:
    """Segment 1 of dynamic-static-mask (no splat moves) codes a motion plane: raw zeros of
    the right size, its chunk appended (segment 1 is the last)."""
    entry = scene.header["segments"][1]
    grid = entry["grid"]
    motion = copy.deepcopy(scene.header["segments"][0]["attributes"]["motion"])
    channels = 3 * scene.header["scene"]["motion"]["motion_degree"]
    size = grid["height"] * grid["width"] * channels * (2 if motion["quant"]["bits"] > 8 else 1)
    motion["coding"]["chunks"] = [scene.add("raw", bytes(size))]
    entry["attributes"]["motion"] = motion


def shared_on_stg(scene: Scene) -> None:
    scene.header["segments"][0]["shared"] = scene.add("weights", msgpack.packb({}))


def mask_value_2(scene: Scene) -> None:
    """The raw 1-bit motion mask of dynamic-static-mask holds a 2 where it held a 0."""
    i = scene.header["segments"][0]["motion_mask"]["chunks"][0]
    data = bytearray(scene.chunks[i][1])
    data[data.index(0)] = 2
    scene.chunks[i][1] = bytes(data)


def masked_cells_overflow(scene: Scene) -> None:
    """Segment 0 of dynamic-static-mask: omega dequantized with step 1e35 (12 bits), its
    raw plane holding 0 in the cells of moving splats and 4095 in the others, whose values
    (4.1e38) are beyond float32 although the decoder then sets them to 0 (rule D11)."""
    entry = scene.header["segments"][0]
    mask_chunk = entry["motion_mask"]["chunks"][0]
    moving = np.frombuffer(scene.chunks[mask_chunk][1], np.uint8).astype(bool)
    omega = entry["attributes"]["omega"]
    bits = omega["quant"]["bits"]
    omega["transform"] = "identity"
    omega["quant"] = handmade.quant(bits, [0.0] * 4, [1e35] * 4)
    values = np.where(moving[:, None], 0, (1 << bits) - 1).repeat(4, axis=1).astype("<u2" if bits > 8 else "u1")
    scene.chunks[omega["coding"]["chunks"][0]][1] = values.tobytes()


def shared_basis(change: Callable[[dict], object]) -> Callable[[], bytes]:
    """dynamic-motion-basis with its shared-arrays weights chunk changed."""
    return weights_chunk("dynamic-motion-basis", lambda header: header["segments"][0]["shared"], change)


def basis_as_f8(table: dict) -> None:
    entry = table["basis"]
    entry["data"] = np.frombuffer(entry["data"], "<f4").astype("<f8").tobytes()
    entry["dtype"] = "f8"


def truncate_chunk(segment: int, attribute: str, keep: Callable[[bytes], bytes]) -> Callable[[Scene], None]:
    def change(scene: Scene) -> None:
        i = scene.header["segments"][segment]["attributes"][attribute]["coding"]["chunks"][0]
        scene.chunks[i][1] = keep(scene.chunks[i][1])

    return change



# ---------------------------------------------------------------------------- precision classes (format 1.6)
def refine_chunk(scene: Scene, attribute: str) -> int:
    return scene.header["attributes"][attribute]["refine"]["chunk"]


def recode_ans(scene: Scene, chunk: int, bits: int, change: Callable[[np.ndarray], object]) -> None:
    """An `ans` channel chunk decoded, changed and coded again (still a valid ANS chunk)."""
    from gscc.codec.ans import decode_channel, encode_channel

    grid = scene.header["grid"]
    plane = decode_channel(scene.chunks[chunk][1], grid["height"], grid["width"], bits)
    change(plane)
    scene.chunks[chunk][1] = encode_channel(plane, bits)


def class_three(scene: Scene) -> None:
    """classes-sh1-ans's class plane (3 classes, 2 bits) with its last cell at class 3."""
    recode_ans(scene, scene.header["classes"]["coding"]["chunks"][0], 2, lambda p: p.__setitem__((-1, -1), 3))


def coarse_overflow(scene: Scene) -> None:
    """classes-sh1-ans's coarse x plane (16 bits, R = 8) with a value 256: beyond 2^(16 - 8)."""
    recode_ans(scene, scene.header["attributes"]["means"]["coding"]["chunks"][0], 16, lambda p: p.__setitem__((0, 0), 256))


def refine_padding_bit(scene: Scene) -> None:
    """The first refinement chunk whose bits do not fill its last byte, with that byte's lowest bit set."""
    classes = class_plane(scene)
    for name, entry in scene.header["attributes"].items():
        if "refine" not in entry:
            continue
        shifts = np.asarray(entry["refine"]["shifts"])
        total = int((shifts.max(axis=0)[None, :] - shifts[classes]).sum())
        if total % 8:
            i = entry["refine"]["chunk"]
            data = bytearray(scene.chunks[i][1])
            data[-1] |= 1
            scene.chunks[i][1] = bytes(data)
            return
    raise SystemExit("refine-padding-bit: every refinement fills its last byte")


def class_plane(scene: Scene) -> np.ndarray:
    from gscc.codec.decoder import precision_classes
    from gscc.container import unpack as read

    return precision_classes(read(scene.pack()), (scene.header["grid"]["height"], scene.header["grid"]["width"]))


CASES = [
    # ------------------------------------------------------------------ container
    Case("short-file", "C1", "container", "a file of 12 bytes (shorter than the preamble)",
         lambda: base().pack()[:12]),
    Case("bad-magic", "C1", "container", "the magic's CR LF changed to LF LF",
         raw_preamble(lambda d: d.__setitem__(slice(4, 5), b"\n"))),
    Case("major-version-2", "C2", "version", "major version 2", raw_preamble(lambda d: d.__setitem__(slice(8, 10), b"\x02\x00"))),
    Case("header-over-16mib", "C3", "limit", "header_length 16 MiB + 1", raw_preamble(
        lambda d: d.__setitem__(slice(12, 16), struct.pack("<I", (16 << 20) + 1)))),
    Case("header-past-end", "C4", "container", "header_length larger than the rest of the file",
         raw_preamble(lambda d: d.__setitem__(slice(12, 16), struct.pack("<I", len(d))))),
    Case("header-crc", "C5", "container", "header CRC off by one", raw_preamble(
        lambda d: d.__setitem__(slice(16, 20), struct.pack("<I", (struct.unpack_from("<I", d, 16)[0] + 1) % 2**32)))),
    Case("header-trailing-bytes", "C6", "container", "one byte (nil) after the header map, inside header_length",
         raw_header(lambda h: msgpack.packb(h, use_bin_type=True) + b"\xc0")),
    Case("header-not-a-map", "C7", "container", "the header is an array", raw_header(
        lambda h: msgpack.packb([h], use_bin_type=True))),
    Case("header-duplicate-key", "C8", "container", "the header map has the key 'scene' twice",
         raw_header(packed_with_duplicate_key)),
    Case("header-binary-key", "C8", "container", "a map key in the informative encoder entry is bin, not str",
         with_header(set_path("encoder", {b"name": "x"}))),
    Case("header-timestamp", "C9", "container", "the informative encoder entry holds a MessagePack Timestamp",
         with_header(set_path("encoder", {"time": msgpack.Timestamp(0)}))),
    Case("header-too-deep", "C10", "container", "the informative encoder entry is nested 40 deep",
         with_header(set_path("encoder", deep(40)))),
    Case("no-chunk-table", "C11", "container", "the chunks key is absent", with_header(delete_path("chunks"))),
    Case("too-many-chunks", "C12", "limit", "4,097 chunk-table entries",
         with_header(set_path("chunks", [["raw", 0, 0, 0]] * 4097))),
    Case("unknown-chunk-type", "C13", "container", "the padding chunk's type is 'zip'",
         with_header(set_path("chunks.0.0", "zip"))),
    Case("chunk-entry-float", "C13", "container", "a chunk length is a float",
         with_header(lambda h: h["chunks"][1].__setitem__(2, float(h["chunks"][1][2])))),
    Case("chunk-gap", "C14", "container", "chunk 1 starts one byte after chunk 0 ends",
         with_header(lambda h: h["chunks"][1].__setitem__(1, h["chunks"][1][1] + 1))),
    Case("chunk-past-end", "C15", "container", "the last chunk is one byte longer than the file",
         with_header(lambda h: h["chunks"][-1].__setitem__(2, h["chunks"][-1][2] + 1))),
    Case("chunk-crc", "C16", "container", "chunk 1's CRC off by one",
         with_header(lambda h: h["chunks"][1].__setitem__(3, (h["chunks"][1][3] + 1) % 2**32))),
    Case("trailing-bytes", "C17", "container", "one byte after the last chunk", lambda: base().pack() + b"\x00"),
    # ------------------------------------------------------------------ header
    Case("unknown-key-in-scene", "H1", "header", "scene has an extra key 'frames'",
         with_header(set_path("scene.frames", 1))),
    Case("unknown-key-in-attribute", "H1", "header", "the means entry has an extra key 'note'",
         with_header(set_path("attributes.means.note", "x"))),
    Case("missing-quant-step", "H1", "header", "the scales quantizer lacks 'step'",
         with_header(delete_path("attributes.scales.quant.step"))),
    Case("non-empty-params", "H2", "header", "the opacities coding has params {'level': 1}",
         with_header(set_path("attributes.opacities.coding.params", {"level": 1}))),
    Case("int-where-float", "H2", "header", "a quantizer lo value is the integer 0, not a float",
         with_header(set_path("attributes.scales.quant.lo", [0, -6.0, -6.0]))),
    Case("float-where-int", "H2", "header", "scene.count is the float 3.0",
         with_header(set_path("scene.count", 3.0))),
    Case("bool-where-int", "H2", "header", "quant.bits is true", with_header(set_path("attributes.opacities.quant.bits", True))),
    Case("scene-kind", "H3", "header", "scene.kind is 'mesh'", with_header(set_path("scene.kind", "mesh"))),
    Case("scene-color", "H3", "header", "scene.color is 'rgb'", with_header(set_path("scene.color", "rgb"))),
    Case("count-over-limit", "H4", "limit", "scene.count is 2^26 + 1", with_header(set_path("scene.count", (1 << 26) + 1))),
    Case("sh-degree-4", "H4", "header", "scene.sh_degree is 4", with_header(set_path("scene.sh_degree", 4))),
    Case("grid-too-large", "H5", "header", "a 2 x 20 grid for 3 splats (more than 2N + 16 cells)",
         with_header(set_path("grid.width", 20))),
    Case("padding-chunk-without-padding", "H5", "header",
         "grid 1 x 3 for 3 splats (no padding cell) but padding names a chunk",
         edited(lambda s: s.header["grid"].update(height=1, width=3))),
    Case("shN-at-degree-0", "H7", "header", "an SH-degree-0 scene with a shN attribute",
         edited(lambda s: (with_vq_sh(s), s.header["scene"].__setitem__("sh_degree", 0)))),
    Case("missing-attribute", "H7", "header", "the sh0 attribute is absent (its chunk removed)",
         edited(lambda s: (s.header["attributes"].pop("sh0"), drop_unused(s)))),
    Case("color-mlp-in-sh-scene", "H7", "header", "an SH-coloured scene with a color_mlp entry",
         with_header(set_path("color_mlp", {"weights": 0, "layers": 1, "feature_dim": 1, "view_sh_degree": 0,
                                            "bake_directions": 1}))),
    Case("attributes-not-a-map", "H6", "header", "attributes is an array", with_header(set_path("attributes", []))),
    Case("smallest3-on-3-channels", "H8", "header", "scales use the smallest3 transform (3 channels)",
         with_header(set_path("attributes.scales.transform", "smallest3"))),
    Case("unknown-transform", "H8", "header", "transform 'log'", with_header(set_path("attributes.scales.transform", "log"))),
    Case("bits-17", "H9", "header", "quant.bits 17", with_header(set_path("attributes.sh0.quant.bits", 17))),
    Case("negative-step", "H9", "header", "a quantizer step of -0.25", with_header(set_path("attributes.scales.quant.step", [-0.25, 0.25, 0.25]))),
    Case("nan-lo", "H9", "header", "a quantizer lo of NaN", with_header(set_path("attributes.scales.quant.lo", [float("nan"), -6.0, -6.0]))),
    Case("wrong-chunk-count", "H10", "header", "the raw sh0 plane lists two chunks (raw takes one)",
         edited(lambda s: s.header["attributes"]["sh0"]["coding"]["chunks"].append(s.add("raw", b"")))),
    Case("chunk-index-out-of-range", "H11", "header", "the sh0 coding names chunk 99",
         with_header(set_path("attributes.sh0.coding.chunks", [99]))),
    Case("chunk-of-wrong-type", "H11", "header", "the raw sh0 plane names a png chunk",
         edited(lambda s: s.chunks[chunk_of(s, "sh0")].__setitem__(0, "png"))),
    Case("chunk-referenced-twice", "H11", "header", "sh0 names the scales chunk (same type and length), its own chunk unreferenced",
         edited(lambda s: s.header["attributes"]["sh0"]["coding"].__setitem__("chunks", [chunk_of(s, "scales")]))),
    Case("unreferenced-chunk", "H11", "header", "an extra raw chunk nothing refers to",
         edited(lambda s: s.add("raw", b"\x00"))),
    Case("vq-label-bits", "H12", "header", "VQ labels of 3 bits for a codebook of 3 (must be 2)",
         edited(lambda s: (with_vq_sh(s), s.header["attributes"]["shN"]["labels"].__setitem__("bits", 3)))),
    Case("ans-table-over-8-bits", "H13", "header", "an ans-table coding of a 9-bit plane (format 1.2)",
         edited(lambda s: (s.__setattr__("version", (1, 2)),
                           s.header["attributes"]["means"]["quant"].__setitem__("bits", 9),
                           s.header["attributes"]["means"].__setitem__("coding", handmade.ans_table_plane(s, handmade.plane_of("means"), 8)),
                           drop_unused(s)))),
    Case("ans-context-for-means", "H13", "header", "learned-context with the codings of means and sh0 swapped: "
         "the means plane itself coded ans-context", edited(swap_codings("means", "sh0"), lambda: vector("learned-context"))),
    Case("feature-dim-too-wide", "H14", "header", "color_mlp feature_dim 1016 with view degree 2 (input width 1025)",
         edited(lambda s: s.header["color_mlp"].__setitem__("feature_dim", 1016), lambda: vector("features-mlp"))),
    # ------------------------------------------------------------------ version
    Case("mlp-in-1.0", "V1", "version", "the features-mlp vector declared as 1.0",
         edited(lambda s: s.__setattr__("version", (1, 0)), lambda: vector("features-mlp"))),
    Case("ans-table-in-1.1", "V1", "version", "an ans-table coding in a file declared 1.1",
         edited(lambda s: (s.__setattr__("version", (1, 1)),
                           s.header["attributes"]["scales"].__setitem__("coding", handmade.ans_table_plane(s, handmade.plane_of("scales"), 4)),
                           drop_unused(s)))),
    # ------------------------------------------------------------------ payload
    Case("padding-not-increasing", "P1", "payload", "a 2 x 3 grid for 4 splats whose padding lists cell 5 then cell 4",
         edited(lambda s: (s.header["scene"].__setitem__("count", 4), s.header["grid"].update(width=3),
                           s.chunks.__setitem__(0, ["raw", np.array([5, 4], "<u4").tobytes()])))),
    Case("raw-length", "P2", "payload", "the raw scales plane is one byte short",
         replace_chunk("scales", lambda d: d[:-1])),
    Case("png-16-bit-for-8", "P3", "payload", "an 8-bit plane stored as a 16-bit PNG",
         replace_chunk("opacities", sixteen_bit_png_of_value(1), lambda: base("png"))),
    Case("png-palette", "P3", "payload", "an 8-bit greyscale plane stored as a palette PNG",
         replace_chunk("opacities", lambda d: handmade.png_image(np.array([[0, 7], [15, 3]], np.uint8), "P"), lambda: base("png"))),
    Case("png-after-iend", "P3", "payload", "bytes after the PNG's IEND chunk",
         replace_chunk("opacities", lambda d: d + b"\x00\x00", lambda: base("png"))),
    Case("png-crc", "P3", "payload", "a PNG chunk (IDAT) whose CRC is wrong",
         replace_chunk("opacities", lambda d: d[:-13] + bytes([d[-13] ^ 1]) + d[-12:], lambda: base("png"))),
    Case("png-interlace-2", "P3", "payload", "IHDR interlace method 2", replace_chunk("opacities", png_edit(ihdr(interlace=2)), lambda: base("png"))),
    Case("png-value-over-bits", "P4", "payload", "a 4-bit opacity plane with the value 16 in its PNG",
         replace_chunk("opacities", lambda d: handmade.png_image(np.array([[0, 7], [15, 16]], np.uint8), "L"), lambda: base("png"))),
    Case("raw-value-in-padding", "P4", "payload", "the padding cell of a 4-bit raw plane holds 16",
         replace_chunk("opacities", lambda d: d[:3] + b"\x10")),
    Case("ans-symbol-over-bits", "P4", "payload", "an ANS channel of a 4-bit plane decodes the symbol 16 (in the padding cell)",
         replace_chunk("opacities", lambda d: ans_chunk(0, [UNIFORM_32], ans_stream([0, 7, 15, 16], UNIFORM_32)), lambda: base("ans"))),
    Case("varint-overlong", "P5", "payload", "an ANS alphabet size written as 0x82 0x00 (overlong 2)",
         replace_chunk("opacities", lambda d: bytes([0, 1]) + b"\x82\x00" + varint(65535) + varint(1) + varint(0), lambda: base("ans"))),
    Case("varint-2-32", "P5", "payload", "an ANS word count of 2^32 (5-byte varint)",
         replace_chunk("opacities", lambda d: bytes([0, 1]) + varint(2) + varint(65535) + varint(1) + b"\x80\x80\x80\x80\x10",
                       lambda: base("ans"))),
    Case("ans-zero-frequency", "P6", "payload", "an ANS table with a frequency of 0",
         replace_chunk("opacities", lambda d: ans_chunk(0, [[65536, 0]], []), lambda: base("ans"))),
    Case("ans-bad-predictor", "P6", "payload", "ANS predictor id 4", replace_chunk("opacities", lambda d: bytes([4]) + d[1:], lambda: base("ans"))),
    Case("ans-trailing-bytes", "P6", "payload", "one byte after an ANS chunk's words",
         replace_chunk("opacities", lambda d: d + b"\x00", lambda: base("ans"))),
    Case("rans-words-left", "P7", "payload", "an ANS stream with one word (1) more, at the front, than its 4 symbols need",
         replace_chunk("opacities", lambda d: ans_chunk(0, [UNIFORM_16], [1] + ans_stream([0, 7, 15, 3], UNIFORM_16)), lambda: base("ans"))),
    Case("rans-final-state", "P7", "payload", "an ANS stream of 4 zero symbols from state 1 (never reaches state 0)",
         replace_chunk("opacities", lambda d: ans_chunk(0, [UNIFORM_16], [1]), lambda: base("ans"))),
    Case("rans-zero-last-word", "P7", "payload", "an ANS stream whose last word (read first) is 0",
         replace_chunk("opacities", lambda d: ans_chunk(0, [UNIFORM_16], [7, 0]), lambda: base("ans"))),
    Case("rans-exhausted-large", "P7", "payload",
         "2^20 splats (1024 x 1024, no padding) whose means stream is one word (5): it runs out at once and never "
         "reaches state 0; the other planes are valid all-zero streams of no words (a decompression bomb)",
         big_grid(exhausted_means)),
    Case("ans-table-sum", "P8", "payload", "an ans-table table whose frequencies sum to 65,537",
         edited(lambda s: (s.__setattr__("version", (1, 2)),
                           s.header["attributes"]["scales"].__setitem__("coding", handmade.coding(
                               s, "ans-table", [("ans-table", varint(0) + varint(1) + varint(2 * 65521) + varint(0))] * 3)),
                           drop_unused(s)))),
    Case("context-network-version", "P9", "payload", "ans-context network layout version 2 (learned-context)",
         edited(lambda s: s.chunks.__setitem__(context_chunk(s, "sh0", 0), ["raw", b"\x02" + s.chunks[context_chunk(s, "sh0", 0)][1][1:]]),
                lambda: vector("learned-context"))),
    Case("context-network-bits", "P9", "payload", "ans-context network whose symbol bits (7) differ from the plane's (8)",
         edited(lambda s: s.chunks.__setitem__(context_chunk(s, "sh0", 0), ["raw", set_network_byte(4, 7)(s.chunks[context_chunk(s, "sh0", 0)][1])]),
                lambda: vector("learned-context"))),
    Case("context-missing-level-table", "P9", "payload", "ans-context level tables chunk with no tables (learned-context)",
         edited(lambda s: s.chunks.__setitem__(context_chunk(s, "sh0", 1), ["raw", varint(0)]), lambda: vector("learned-context"))),
    Case("vq-label-over-size", "P10", "payload", "a VQ label 3 for a codebook of 3 (in the padding cell)",
         edited(lambda s: with_vq_sh(s, labels=(0, 2, 1, 3)))),
    Case("weights-extra-array", "P11", "payload", "the colour network's weights chunk has an extra array",
         mlp_weights(lambda t: t.__setitem__("extra", dict(t["layers.0.bias"])))),
    Case("weights-nan", "P11", "payload", "a colour network bias is NaN", mlp_weights(nan_weight)),
    Case("weights-entry-extra-key", "P11", "payload", "a weights entry map has an extra key 'scale'",
         mlp_weights(lambda t: t["layers.0.bias"].__setitem__("scale", 1.0))),
    Case("interp-top-exponent", "P12", "payload", "an ans-interp chunk with top-grid exponent T = 17 (plant-interp opacities)",
         replace_chunk("opacities", lambda c: bytes([17]) + c[1:], lambda: vector("plant-interp"))),
    Case("interp-level-byte", "P12", "payload", "an ans-interp chunk whose bucket 0 names level 100 (plant-interp opacities)",
         replace_chunk("opacities", lambda c: c[:1] + bytes([100]) + c[2:], lambda: vector("plant-interp"))),
    Case("interp-unused-bucket", "P12", "payload",
         "an ans-interp chunk with every bucket unused (255), so its cells have no level (plant-interp opacities)",
         replace_chunk("opacities", lambda c: c[:1] + bytes([255] * 32) + c[33:], lambda: vector("plant-interp"))),
    Case("interp-trailing-bytes", "P12", "payload", "an ans-interp chunk with a byte after its words (plant-interp opacities)",
         replace_chunk("opacities", lambda c: c + b"\0", lambda: vector("plant-interp"))),
    Case("interp-in-1.4", "H10", "version", "an ans-interp coding in a file that declares 1.4 (plant-interp)",
         edited(lambda s: s.__setattr__("version", (1, 4)), lambda: vector("plant-interp"))),
    # ------------------------------------------------------------------ precision classes (format 1.6)
    Case("classes-in-1.5", "V2", "version", "plant-classes declared as 1.5",
         edited(lambda s: s.__setattr__("version", (1, 5)), lambda: vector("plant-classes"))),
    Case("classes-count-1", "H15", "header", "plant-classes with classes.count 1",
         with_header(set_path("classes.count", 1), lambda: vector("plant-classes"))),
    Case("classes-count-17", "H15", "header", "plant-classes with classes.count 17",
         with_header(set_path("classes.count", 17), lambda: vector("plant-classes"))),
    Case("classes-extra-key", "H1", "header", "plant-classes whose classes map has an extra key 'bits'",
         with_header(set_path("classes.bits", 2), lambda: vector("plant-classes"))),
    Case("refine-without-classes", "H15", "header", "plant-classes without its classes key (refined attributes remain)",
         with_header(delete_path("classes"), lambda: vector("plant-classes"))),
    Case("refine-extra-key", "H1", "header", "plant-classes whose means.refine has an extra key 'bits'",
         with_header(set_path("attributes.means.refine.bits", 3), lambda: vector("plant-classes"))),
    Case("refine-all-zero", "H15", "header", "plant-classes whose means shifts are all 0",
         with_header(set_path("attributes.means.refine.shifts", [[0, 0, 0]] * 4), lambda: vector("plant-classes"))),
    Case("refine-shift-over-limit", "H15", "header", "classes-sh1-ans whose means shift for class 2 is 9 (limit 8)",
         with_header(set_path("attributes.means.refine.shifts.2", [9, 9, 9]), lambda: vector("classes-sh1-ans"))),
    Case("refine-shift-over-depth", "H15", "header", "plant-classes whose opacities (8 bits) shift 8 for class 3 (limit B - 1 = 7)",
         with_header(set_path("attributes.opacities.refine.shifts.3", [8]), lambda: vector("plant-classes"))),
    Case("refine-row-count", "H15", "header", "plant-classes whose means shifts have 3 rows for 4 classes",
         with_header(set_path("attributes.means.refine.shifts", [[0, 0, 0], [1, 1, 1], [2, 2, 2]]),
                     lambda: vector("plant-classes"))),
    Case("refine-row-width", "H15", "header", "plant-classes whose quats shift rows have 3 entries for 4 channels",
         with_header(set_path("attributes.quats.refine.shifts", [[c, c, c] for c in range(4)]), lambda: vector("plant-classes"))),
    Case("refine-chunk-type", "H11", "header", "plant-classes whose means.refine names a jxl chunk (its coding's)",
         edited(lambda s: s.header["attributes"]["means"]["refine"].__setitem__(
             "chunk", s.header["attributes"]["means"]["coding"]["chunks"][0]), lambda: vector("plant-classes"))),
    Case("class-over-count", "P13", "payload", "classes-sh1-ans (3 classes) whose class plane has a cell of class 3",
         edited(class_three, lambda: vector("classes-sh1-ans"))),
    Case("coarse-over-range", "P13", "payload",
         "classes-sh1-ans whose coarse x plane (16 bits, 8 refined) holds 256, beyond 2^8",
         edited(coarse_overflow, lambda: vector("classes-sh1-ans"))),
    Case("refine-chunk-short", "P13", "payload", "plant-classes whose means refinement chunk lacks its last byte",
         edited(lambda s: s.chunks[refine_chunk(s, "means")].__setitem__(1, s.chunks[refine_chunk(s, "means")][1][:-1]),
                lambda: vector("plant-classes"))),
    Case("refine-chunk-long", "P13", "payload", "plant-classes whose means refinement chunk has a byte more",
         edited(lambda s: s.chunks[refine_chunk(s, "means")].__setitem__(1, s.chunks[refine_chunk(s, "means")][1] + b"\0"),
                lambda: vector("plant-classes"))),
    Case("refine-padding-bit", "P13", "payload", "plant-classes with a padding bit set in a refinement chunk's last byte",
         edited(refine_padding_bit, lambda: vector("plant-classes"))),
    # ------------------------------------------------------------------ limits
    Case("context-work-limit", "L1", "limit",
         "2^24 splats (4096 x 4096) whose sh0 is coded ans-context by a legal network of hidden width 64: "
         "2^24 x 4,616 multiply-adds exceed 2^36",
         big_grid(zero_means, side=4096, extra=wide_context_network)),
    # ------------------------------------------------------------------ non-finite
    Case("dequantized-overflow", "F1", "non-finite", "scales lo 1e308 and step 1e308: lo + q * step overflows",
         with_header(set_path("attributes.scales.quant", handmade.quant(4, [1e308] * 3, [1e308] * 3)))),
    Case("signlog-overflow", "F1", "non-finite", "means lo 700, step 1: expm1 of the largest positions overflows",
         with_header(set_path("attributes.means.quant", handmade.quant(8, [700.0] * 3, [1.0] * 3)))),
    Case("float32-overflow", "F1", "non-finite", "sh0 lo 1e39 (finite in float64, infinite in float32)",
         with_header(set_path("attributes.sh0.quant", handmade.quant(4, [1e39] * 3, [0.0] * 3)))),
    Case("vq-codebook-overflow", "F1", "non-finite", "a VQ codebook whose lo is 4e38 (beyond float32)",
         edited(lambda s: (with_vq_sh(s), s.header["attributes"]["shN"]["codebook"].__setitem__("quant", handmade.quant(4, [4e38] * 9, [0.0] * 9))))),
    # ------------------------------------------------------------------ dynamic scenes (format 1.3)
    Case("dynamic-in-1.2", "D1", "version", "the dynamic-stg-sh vector declared as 1.2",
         edited(lambda s: s.__setattr__("version", (1, 2)), dynamic("stg-sh"))),
    Case("dynamic-unknown-key-in-segment", "D2", "header", "segment 0 of dynamic-segments has an extra key 'note'",
         with_header(set_path("segments.0.note", "x"), dynamic("segments"))),
    Case("dynamic-unknown-key-in-motion", "D2", "header", "scene.motion has an extra key 'degree'",
         with_header(set_path("scene.motion.degree", 3), dynamic("stg-sh"))),
    Case("dynamic-scene-without-motion", "D2", "header", "scene.motion is absent", with_header(delete_path("scene.motion"), dynamic("stg-sh"))),
    Case("dynamic-segment-not-a-map", "D2", "header", "segment 1 of dynamic-segments is an array",
         with_header(set_path("segments.1", []), dynamic("segments"))),
    Case("dynamic-color-mlp-in-sh-scene", "D2", "header", "an SH-coloured dynamic scene whose segment has a color_mlp entry (H7)",
         with_header(set_path("segments.0.color_mlp", {"weights": 0, "layers": 1, "feature_dim": 1, "view_sh_degree": 0,
                                                        "bake_directions": 4}), dynamic("stg-sh"))),
    Case("dynamic-mlp-without-color-mlp", "D2", "header", "an MLP-coloured dynamic scene whose segment lacks color_mlp (its weights chunk removed)",
         edited(without_chunks("color_mlp"), dynamic("stg-mlp"))),
    Case("dynamic-fps-integer", "D3", "header", "scene.fps is the integer 25", with_header(set_path("scene.fps", 25), dynamic("segments"))),
    Case("dynamic-fps-zero", "D3", "header", "scene.fps is 0.0", with_header(set_path("scene.fps", 0.0), dynamic("segments"))),
    Case("dynamic-frame-count-zero", "D3", "header", "scene.frame_count is 0", with_header(set_path("scene.frame_count", 0), dynamic("segments"))),
    Case("dynamic-scene-color", "D3", "header", "scene.color is 'rgb'", with_header(set_path("scene.color", "rgb"), dynamic("stg-sh"))),
    Case("dynamic-count-over-limit", "D3", "limit", "scene.count is 2^26 + 1", with_header(set_path("scene.count", (1 << 26) + 1), dynamic("stg-sh"))),
    Case("dynamic-unknown-motion-model", "D4", "header", "scene.motion.kind is 'spline'",
         with_header(set_path("scene.motion.kind", "spline"), dynamic("stg-sh"))),
    Case("dynamic-motion-degree-4", "D4", "header", "STG motion_degree 4", with_header(set_path("scene.motion.motion_degree", 4), dynamic("stg-sh"))),
    Case("dynamic-basis-knots-zero", "D4", "header", "motion-basis basis_knots 0",
         with_header(set_path("scene.motion.basis_knots", 0), dynamic("motion-basis"))),
    Case("dynamic-no-segments", "D5", "header", "an empty segment table", with_header(set_path("segments", []), dynamic("stg-sh"))),
    Case("dynamic-segments-not-an-array", "D5", "header", "segments is a map", with_header(set_path("segments", {}), dynamic("stg-sh"))),
    Case("dynamic-too-many-segments", "D5", "limit", "4,097 segment entries (empty maps)",
         with_header(set_path("segments", [{}] * 4097), dynamic("stg-sh"))),
    Case("dynamic-span-gap", "D6", "header", "dynamic-segments with segment 1 starting at 0.3 (segment 0 ends at 0.25)",
         with_header(set_path("segments.1.start", 0.3), dynamic("segments"))),
    Case("dynamic-span-overlap", "D6", "header", "dynamic-segments with segment 1 starting at 0.2 (segment 0 ends at 0.25)",
         with_header(set_path("segments.1.start", 0.2), dynamic("segments"))),
    Case("dynamic-last-end-not-1", "D6", "header", "the last segment ends at 0.9",
         with_header(set_path("segments.2.end", 0.9), dynamic("segments"))),
    Case("dynamic-first-start-not-0", "D6", "header", "the first segment starts at 0.1",
         with_header(set_path("segments.0.start", 0.1), dynamic("segments"))),
    Case("dynamic-empty-span", "D6", "header", "segment 1 spans [0.25, 0.25) (segment 2 starts at 0.25)",
         with_header(lambda h: (set_path("segments.1.end", 0.25)(h), set_path("segments.2.start", 0.25)(h)), dynamic("segments"))),
    Case("dynamic-span-nan", "D6", "header", "segment 1 ends (and segment 2 starts) at NaN",
         with_header(lambda h: (set_path("segments.1.end", float("nan"))(h), set_path("segments.2.start", float("nan"))(h)),
                     dynamic("segments"))),
    Case("dynamic-span-infinite", "D6", "header", "the last segment ends at +inf", with_header(set_path("segments.2.end", float("inf")), dynamic("segments"))),
    Case("dynamic-span-integer", "D6", "header", "the only segment starts at the integer 0",
         with_header(set_path("segments.0.start", 0), dynamic("stg-sh"))),
    Case("dynamic-counts-sum", "D7", "header", "scene.count 223, the segments hold 222", with_header(set_path("scene.count", 223), dynamic("segments"))),
    Case("dynamic-segment-count-zero", "D7", "header", "segment 0's count is 0", with_header(set_path("segments.0.count", 0), dynamic("segments"))),
    Case("dynamic-segment-count-over-limit", "D7", "limit", "segment 0's count is 2^26 + 1",
         with_header(set_path("segments.0.count", (1 << 26) + 1), dynamic("segments"))),
    Case("dynamic-chunks-backwards", "D8", "header", "dynamic-segments with segment 1's chunks stored (and numbered) before segment 0's",
         edited(segment_one_first, dynamic("segments"))),
    Case("dynamic-unreferenced-chunk", "H11", "header", "a raw chunk between segment 0's chunks and segment 1's that no entry refers to",
         edited(chunk_between_segments, dynamic("segments"))),
    Case("dynamic-moving-over-count", "D9", "header", "segment 0 of dynamic-static-mask says 241 of its 240 splats move",
         with_header(set_path("segments.0.moving", 241), dynamic("static-mask"))),
    Case("dynamic-mask-when-all-move", "D9", "header", "segment 0 of dynamic-static-mask says all 240 splats move but keeps its motion mask",
         with_header(set_path("segments.0.moving", 240), dynamic("static-mask"))),
    Case("dynamic-mask-missing", "D9", "header", "segment 0 of dynamic-static-mask (82 of 240 move) without its motion mask",
         edited(without_chunks("motion_mask"), dynamic("static-mask"))),
    Case("dynamic-mask-count", "D9", "payload", "segment 0 of dynamic-static-mask says 81 splats move, its mask marks 82",
         with_header(set_path("segments.0.moving", 81), dynamic("static-mask"))),
    Case("dynamic-mask-value-2", "D9", "payload", "the raw 1-bit motion mask holds the value 2", edited(mask_value_2, dynamic("static-mask"))),
    Case("dynamic-missing-motion-plane", "D10", "header", "the omega plane is absent (its chunks removed)",
         edited(without_chunks("attributes.omega"), dynamic("stg-sh"))),
    Case("dynamic-extra-motion-plane", "D10", "header", "segment 1 of dynamic-static-mask (no splat moves) codes a motion plane",
         edited(extra_motion_plane, dynamic("static-mask"))),
    Case("dynamic-motion-at-degree-0", "D10", "header", "motion_degree 0 while the segment codes the motion plane (it has no channels)",
         with_header(set_path("scene.motion.motion_degree", 0), dynamic("stg-sh"))),
    Case("dynamic-unknown-attribute", "D10", "header", "segment 0 has an attribute 'velocity' (a copy of t_scale's entry)",
         with_header(lambda h: h["segments"][0]["attributes"].__setitem__("velocity", copy.deepcopy(h["segments"][0]["attributes"]["t_scale"])),
                     dynamic("segments"))),
    Case("dynamic-motion-overflow", "D11", "non-finite", "t_center lo 1e39 (finite in float64, infinite in float32)",
         with_header(set_path("segments.0.attributes.t_center.quant.lo", [1e39]), dynamic("stg-sh"))),
    Case("dynamic-masked-cells-overflow", "D11", "non-finite",
         "omega (step 1e35) overflows float32 in the cells of splats that do not move only", edited(masked_cells_overflow, dynamic("static-mask"))),
    Case("dynamic-window-overflow", "D11", "non-finite", "motion window width and floor 1e-300: dividing by the window overflows",
         with_header(set_path("segments.0.motion_window", {"width": 1e-300, "floor": 1e-300}), dynamic("motion-window"))),
    Case("dynamic-window-on-motion-basis", "D12", "header", "a motion window in a motion-basis segment",
         with_header(set_path("segments.0.motion_window", {"width": 2.0, "floor": 0.015625}), dynamic("motion-basis"))),
    Case("dynamic-window-width-zero", "D12", "header", "motion window width 0.0",
         with_header(set_path("segments.0.motion_window.width", 0.0), dynamic("motion-window"))),
    Case("dynamic-window-integer-floor", "D12", "header", "motion window floor is the integer 1",
         with_header(set_path("segments.0.motion_window.floor", 1), dynamic("motion-window"))),
    Case("dynamic-window-extra-key", "D12", "header", "the motion window has an extra key 'power'",
         with_header(set_path("segments.0.motion_window.power", 2.0), dynamic("motion-window"))),
    Case("dynamic-shared-on-stg", "D13", "header", "an STG segment names a (last, empty) weights chunk as its shared arrays",
         edited(shared_on_stg, dynamic("stg-sh"))),
    Case("dynamic-shared-missing", "D13", "header", "a motion-basis segment whose shared is nil (its weights chunk removed)",
         edited(without_chunks("shared"), dynamic("motion-basis"))),
    Case("dynamic-shared-wrong-shape", "D13", "payload", "the motion basis has shape (4, 24), not (4, 8, 3)",
         shared_basis(lambda t: t["basis"].__setitem__("shape", [4, 24]))),
    Case("dynamic-shared-f8", "D13", "payload", "the motion basis is stored as f8", shared_basis(basis_as_f8)),
    Case("dynamic-shared-nan", "D13", "payload", "a motion basis value is NaN", shared_basis(nan_weight_of("basis"))),
    Case("dynamic-shared-extra-array", "D13", "payload", "the shared weights chunk holds an extra array",
         shared_basis(lambda t: t.__setitem__("extra", dict(t["basis"])))),
    Case("dynamic-truncated-file", "C15", "container", "dynamic-segments cut 100 bytes before its end (inside the last segment)",
         lambda: vector("dynamic-segments").pack()[:-100]),
    Case("dynamic-truncated-raw-chunk", "P2", "payload", "segment 1's raw t_scale chunk one byte short (chunk table and CRC fixed)",
         edited(truncate_chunk(1, "t_scale", lambda d: d[:-1]), dynamic("static-mask"))),
    Case("dynamic-truncated-png-chunk", "P3", "payload", "segment 1's means PNG cut in half (chunk table and CRC fixed)",
         edited(truncate_chunk(1, "means", lambda d: d[: len(d) // 2]), dynamic("segments"))),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for case in CASES:
            print(f"{case.rule:4s} {case.error_class:10s} {case.name:32s} {case.description}")
        return 0
    OUT.mkdir(exist_ok=True)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {"invalid": []}
    known = {entry["name"] for entry in manifest["invalid"]}
    added = 0
    for case in CASES:
        path = OUT / f"{case.name}.gsc"
        if case.name in known or path.exists():
            continue
        data = case.build()
        path.write_bytes(data)
        manifest["invalid"].append({
            "name": case.name, "file": f"invalid/{path.name}", "rule": case.rule, "error_class": case.error_class,
            "description": case.description, "file_sha256": hashlib.sha256(data).hexdigest(),
        })
        added += 1
    MANIFEST.write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{added} invalid vector(s) added, {len(manifest['invalid'])} in the manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
