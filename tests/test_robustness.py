"""Robustness: bad input never crashes gscc, never hangs, and never costs the user a file.

The rule these tests pin down:

* Bad input -- a corrupt or truncated `.gsc`, a wrong magic or a future major version, a
  header claiming absurd sizes, a malformed or missing splat file -- makes the CLI print
  exactly ONE line on stderr, starting with ``error:``, and exit non-zero. Never a
  traceback, never a hang.
* A failed command writes nothing: no output file, no temporary file left behind, and an
  existing file (the input, or an output given with ``--force``) stays byte-identical.
* At the library level, ``gscc.codec.decoder.decode`` and ``gscc.info.summarize`` either
  succeed with a well-shaped result or raise ``gscc.errors.FormatError`` -- no other
  exception type -- whatever bytes they are given (checked by seeded fuzzing that also
  re-packs mutated headers and chunks with valid CRCs, to reach the deep decoder paths).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np
import pytest
from PIL import Image

from conftest import fast_config, synthetic_splats
from gscc import cli
from gscc.codec.decoder import decode
from gscc.codec.encoder import encode
from gscc.container import CHUNK_TYPES, Container, pack, unpack
from gscc.errors import FormatError
from gscc.info import summarize
from gscc.io import write_ply
from gscc.splats import SplatSet, num_sh_rest

GSCC = Path(sys.executable).with_name("gscc")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# =============================================================================================
# Helpers: running the CLI and checking the one-line-error rule
# =============================================================================================
@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_subprocess(args: list, cwd: Path) -> Result:
    """Run the installed `gscc` console script, as a user would."""
    command = [str(GSCC)] if GSCC.exists() else [sys.executable, "-m", "gscc.cli"]
    env = dict(os.environ, NO_COLOR="1", COLUMNS="100")
    done = subprocess.run(
        command + [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def gscc_cli(monkeypatch, capsys) -> Callable[..., Result]:
    """Run ``gscc.cli.main`` in-process (fast); an escaping exception counts as a traceback."""

    def run(*args) -> Result:
        monkeypatch.setattr(sys, "argv", ["gscc", *map(str, args)])
        capsys.readouterr()
        code = 0
        crash = ""
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # what the interpreter would print as a traceback
            code, crash = 1, traceback.format_exc()
        out, err = capsys.readouterr()
        return Result(code, out, err + crash)

    return run


def error_lines(result: Result) -> list[str]:
    return [line for line in ANSI.sub("", result.stderr).splitlines() if line.strip()]


def assert_one_line_error(result: Result) -> str:
    """Non-zero exit, no traceback, exactly one stderr line starting with 'error:'."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.code != 0, f"exit code 0 for bad input; stdout: {result.stdout!r}"
    lines = error_lines(result)
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{result.stderr}"
    assert lines[0].startswith("error:"), lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (recursively, hidden temporaries included) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# =============================================================================================
# Helpers: building corrupt .gsc files
# =============================================================================================
def header_length(data: bytes) -> int:
    return struct.unpack_from("<I", data, 12)[0]


def patch(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new):]


def flip_bit(data: bytes, bit: int) -> bytes:
    return patch(data, bit // 8, bytes([data[bit // 8] ^ (1 << (bit % 8))]))


def repacked(data: bytes, edit: Callable[[Container], None]) -> bytes:
    """Unpack, edit the container in place, and pack again: all CRCs valid."""
    container = unpack(data)
    edit(container)
    return pack(container)


def with_raw_header(data: bytes, header_bytes: bytes) -> bytes:
    """Replace the header bytes verbatim (with a correct header CRC), keeping the payload."""
    payload = data[20 + header_length(data):]
    preamble = data[:12] + struct.pack("<II", len(header_bytes), zlib.crc32(header_bytes))
    return preamble + header_bytes + payload


def set_in(container: Container, path: str, value) -> None:
    node = container.header
    *parents, last = path.split(".")
    for key in parents:
        node = node[key]
    node[last] = value


def header_edit(path: str, value) -> Callable[[bytes], bytes]:
    return lambda data: repacked(data, lambda c: set_in(c, path, value))


# Each case: (which sample file it starts from, how to corrupt it).
CORRUPTIONS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "empty file": ("plain", lambda d: b""),
    "one byte": ("plain", lambda d: d[:1]),
    "cut inside the magic": ("plain", lambda d: d[:5]),
    "cut inside the preamble": ("plain", lambda d: d[:14]),
    "preamble only": ("plain", lambda d: d[:20]),
    "cut inside the header": ("plain", lambda d: d[: 20 + header_length(d) // 2]),
    "header without payload": ("plain", lambda d: d[: 20 + header_length(d)]),
    "cut inside the payload": ("plain", lambda d: d[: (20 + header_length(d) + len(d)) // 2]),
    "last byte missing": ("plain", lambda d: d[:-1]),
    "wrong magic": ("plain", lambda d: b"\x89PNG\r\n\x1a\n" + d[8:]),
    "text-mode transfer (CRLF to LF)": ("plain", lambda d: d.replace(b"\r\n", b"\n")),
    "future major version 2": ("plain", lambda d: patch(d, 8, struct.pack("<H", 2))),
    "major version 0": ("plain", lambda d: patch(d, 8, struct.pack("<H", 0))),
    "header length 4 GiB": ("plain", lambda d: patch(d, 12, struct.pack("<I", 0xFFFFFFFF))),
    "header length past the end": ("plain", lambda d: patch(d, 12, struct.pack("<I", len(d)))),
    "header CRC wrong": ("plain", lambda d: patch(d, 16, bytes([d[16] ^ 0x01]))),
    "bit flip in the header": ("plain", lambda d: flip_bit(d, 8 * (20 + header_length(d) // 3) + 2)),
    "bit flip in the payload": ("plain", lambda d: flip_bit(d, 8 * (len(d) - 100) + 5)),
    "trailing garbage": ("plain", lambda d: d + b"garbage"),
    "header not a msgpack map": ("plain", lambda d: with_raw_header(d, msgpack.packb([1, 2, 3]))),
    "header not msgpack at all": ("plain", lambda d: with_raw_header(d, b"\xc1\xc1\xc1")),
    "chunk table missing": ("plain", lambda d: with_raw_header(d, msgpack.packb({"scene": {}}))),
    "scene count 10**12": ("plain", header_edit("scene.count", 10**12)),
    "scene count 0": ("plain", header_edit("scene.count", 0)),
    "SH degree 7": ("plain", header_edit("scene.sh_degree", 7)),
    "grid 1e6 x 1e6": ("plain", lambda d: repacked(d, lambda c: c.header["grid"].update(height=10**6, width=10**6))),
    "grid height 0": ("plain", header_edit("grid.height", 0)),
    "quantizer bits 40": ("plain", header_edit("attributes.means.quant.bits", 40)),
    "lossless codec unknown": ("plain", header_edit("attributes.sh0.coding.codec", "jpeg-xl")),
    "attribute missing": ("plain", lambda d: repacked(d, lambda c: c.header["attributes"].pop("quats"))),
    "VQ codebook size 2**40": ("sh3_vq", header_edit("attributes.shN.codebook.size", 2**40)),
    "VQ codebook size 65536": ("sh3_vq", header_edit("attributes.shN.codebook.size", 65536)),
    "VQ label bits 40": ("sh3_vq", header_edit("attributes.shN.labels.bits", 40)),
}


@pytest.fixture(scope="session")
def sh3_vq_gsc() -> bytes:
    """SH degree 3 synthetic splats, higher-order SH vector-quantized, ANS-coded."""
    splats = synthetic_splats(count=397, sh_degree=3, seed=1)
    return encode(splats, fast_config(coder="ans", sh_codec="vq", sh_codebook=64))


@pytest.fixture(scope="session")
def samples(small_gsc: bytes, sh3_vq_gsc: bytes) -> dict[str, bytes]:
    return {"plain": small_gsc, "sh3_vq": sh3_vq_gsc}


def corrupt(samples: dict[str, bytes], case: str) -> bytes:
    source, make = CORRUPTIONS[case]
    return make(samples[source])


# =============================================================================================
# Sanity: the unmodified samples are fine (so failures below are about the corruption)
# =============================================================================================
def test_the_uncorrupted_samples_decode(samples):
    for name, data in samples.items():
        splats = decode(data)
        assert splats.count == unpack(data).header["scene"]["count"], name
        assert summarize(data)["file_bytes"] == len(data)


def test_successful_decode_writes_exactly_the_output_file(gscc_cli, small_gsc_path, tmp_path):
    result = gscc_cli("decode", small_gsc_path, "-o", tmp_path / "out.ply")
    assert result.code == 0, result.stderr
    assert sorted(snapshot(tmp_path)) == ["out.ply", "scene.gsc"]


def test_info_on_a_valid_file_succeeds(gscc_cli, small_gsc_path):
    assert gscc_cli("info", small_gsc_path).code == 0
    result = gscc_cli("info", "--json", small_gsc_path)
    assert result.code == 0 and json.loads(result.stdout)["file_bytes"] == small_gsc_path.stat().st_size


def test_a_newer_minor_version_is_still_read(small_gsc):
    newer = patch(small_gsc, 10, struct.pack("<H", 7))
    assert decode(newer).count == decode(small_gsc).count
    assert summarize(newer)["format_version"] == "1.7"


# =============================================================================================
# Every corruption: FormatError from the library, one error line from the CLI, no output
# =============================================================================================
@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_decoder_raises_format_error_with_a_one_line_message(samples, case):
    with pytest.raises(FormatError) as info:
        decode(corrupt(samples, case))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_info_summary_raises_format_error_with_a_one_line_message(samples, case):
    """`gscc info` follows the same rule: it does not describe a file the decoder rejects
    for a header-level reason (absurd bit depths and codebook sizes, unknown coders)."""
    with pytest.raises(FormatError) as info:
        summarize(corrupt(samples, case))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty file", "bad magic"),
        ("cut inside the preamble", "truncated"),
        ("cut inside the header", "truncated"),
        ("cut inside the payload", "truncated"),
        ("wrong magic", "bad magic"),
        ("future major version 2", "version 2."),  # the minor is the sample's own
        ("header CRC wrong", "checksum"),
        ("bit flip in the payload", "checksum"),
        ("trailing garbage", "after the last chunk"),
        ("scene count 10**12", "count"),
        ("grid 1e6 x 1e6", "grid"),
        ("VQ codebook size 2**40", "codebook size"),
    ],
)
def test_corruption_messages_name_the_problem(samples, case, message):
    with pytest.raises(FormatError, match=re.escape(message)):
        decode(corrupt(samples, case))


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_decode_of_corrupt_file_prints_one_error_line_and_writes_nothing(gscc_cli, samples, tmp_path, case):
    source = tmp_path / "bad.gsc"
    source.write_bytes(corrupt(samples, case))
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("decode", source, "-o", tmp_path / "out.ply"))
    assert_one_line_error(gscc_cli("decode", source))  # default output name
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_info_of_corrupt_file_prints_one_error_line(gscc_cli, samples, tmp_path, case):
    source = tmp_path / "bad.gsc"
    source.write_bytes(corrupt(samples, case))
    assert_one_line_error(gscc_cli("info", source))
    assert_one_line_error(gscc_cli("info", "--json", source))


@pytest.mark.parametrize(
    "command, case",
    [
        ("decode", "cut inside the header"),
        ("decode", "future major version 2"),
        ("decode", "scene count 10**12"),
        ("info", "wrong magic"),
        ("info", "trailing garbage"),
    ],
)
def test_installed_gscc_command_reports_corruption_in_one_line(samples, tmp_path, command, case):
    """The same rule through the real console script (a separate process, as users run it)."""
    (tmp_path / "bad.gsc").write_bytes(corrupt(samples, case))
    before = snapshot(tmp_path)
    assert_one_line_error(run_subprocess([command, "bad.gsc"], cwd=tmp_path))
    assert snapshot(tmp_path) == before


# =============================================================================================
# Nothing the user had is lost or overwritten
# =============================================================================================
def test_failed_decode_with_force_leaves_existing_output_byte_identical(gscc_cli, samples, tmp_path):
    source, output = tmp_path / "bad.gsc", tmp_path / "precious.ply"
    source.write_bytes(corrupt(samples, "cut inside the payload"))
    output.write_bytes(b"the user's own file")
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("decode", source, "-o", output, "--force"))
    assert snapshot(tmp_path) == before


def test_decode_refuses_to_overwrite_existing_output_without_force(gscc_cli, small_gsc_path, tmp_path):
    output = tmp_path / "precious.ply"
    output.write_bytes(b"the user's own file")
    before = snapshot(tmp_path)
    line = assert_one_line_error(gscc_cli("decode", small_gsc_path, "-o", output))
    assert "--force" in line
    assert snapshot(tmp_path) == before


def test_decode_refuses_to_overwrite_its_input(gscc_cli, small_gsc_path, tmp_path):
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("decode", small_gsc_path, "-o", small_gsc_path, "--force"))
    assert snapshot(tmp_path) == before


def test_decode_into_a_missing_directory_is_one_line_error(gscc_cli, small_gsc_path, tmp_path):
    assert_one_line_error(gscc_cli("decode", small_gsc_path, "-o", tmp_path / "no" / "such" / "out.ply"))
    assert not (tmp_path / "no").exists()


def test_decode_onto_a_directory_is_one_line_error(gscc_cli, small_gsc_path, tmp_path):
    (tmp_path / "out.ply").mkdir()
    assert_one_line_error(gscc_cli("decode", small_gsc_path, "-o", tmp_path / "out.ply", "--force"))
    assert (tmp_path / "out.ply").is_dir()


@pytest.mark.parametrize("what", ["missing file", "directory"])
def test_decode_and_info_of_a_missing_or_non_file_input_is_one_line_error(gscc_cli, tmp_path, what):
    source = tmp_path / "scene.gsc"
    if what == "directory":
        source.mkdir()
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("decode", source, "-o", tmp_path / "out.ply"))
    assert_one_line_error(gscc_cli("info", source))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("exception", [OSError("disk full"), KeyboardInterrupt()])
def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, exception):
    from gscc.io.atomic import write_atomically

    target = tmp_path / "out.ply"
    target.write_bytes(b"the user's own file")
    before = snapshot(tmp_path)

    def half_then_fail(handle):
        handle.write(b"partial output")
        raise exception

    with pytest.raises(type(exception)):
        write_atomically(target, half_then_fail)
    assert snapshot(tmp_path) == before


@pytest.fixture
def small_ply(small_splats, tmp_path) -> Path:
    path = tmp_path / "scene.ply"
    write_ply(small_splats.subset(np.arange(200)), path)
    return path


def test_successful_encode_writes_exactly_the_output_file(gscc_cli, small_ply, tmp_path):
    result = gscc_cli("encode", small_ply, "-o", tmp_path / "out.gsc", "--sort", "none")
    assert result.code == 0, result.stderr
    assert sorted(snapshot(tmp_path)) == ["out.gsc", "scene.ply"]
    assert decode((tmp_path / "out.gsc").read_bytes()).count > 0


@pytest.mark.parametrize("force", [False, True])
def test_encode_refuses_to_overwrite_its_input(gscc_cli, small_ply, tmp_path, force):
    before = snapshot(tmp_path)
    flags = ["--force"] if force else []
    assert_one_line_error(gscc_cli("encode", small_ply, "-o", small_ply, "--sort", "none", *flags))
    assert snapshot(tmp_path) == before


def test_encode_refuses_to_overwrite_its_input_through_a_symlink(gscc_cli, small_ply, tmp_path):
    (tmp_path / "link.gsc").symlink_to(small_ply.name)
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("encode", small_ply, "-o", tmp_path / "link.gsc", "--force", "--sort", "none"))
    assert snapshot(tmp_path) == before
    assert (tmp_path / "link.gsc").is_symlink()


def test_encode_of_a_gsc_file_does_not_overwrite_it(gscc_cli, small_gsc_path, tmp_path):
    """`gscc encode scene.gsc` would default its output to scene.gsc itself."""
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("encode", small_gsc_path, "--force"))
    assert snapshot(tmp_path) == before


def test_encode_of_a_missing_file_is_one_line_error(gscc_cli, tmp_path):
    assert_one_line_error(gscc_cli("encode", tmp_path / "nope.ply", "-o", tmp_path / "out.gsc"))
    assert snapshot(tmp_path) == {}


def _ply(body_rows: int, fmt: str = "binary_little_endian", props=None) -> bytes:
    props = props or ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
                      "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    header = f"ply\nformat {fmt} 1.0\nelement vertex {body_rows}\n"
    header += "".join(f"property float {p}\n" for p in props) + "end_header\n"
    return header.encode()


MALFORMED_PLY = {
    "not a PLY": b"hello world\n",
    "empty": b"",
    "no end_header": _ply(1).replace(b"end_header\n", b""),
    "truncated binary body": _ply(10) + bytes(4 * 14 * 3),
    "claims 10**12 vertices": _ply(10**12) + bytes(4 * 14),
    "lacks rotation properties": _ply(2, props=["x", "y", "z", "opacity"]) + bytes(2 * 4 * 4),
    "f_rest count not a multiple of 3": _ply(1, props=["x", "y", "z", "f_rest_0"]) + bytes(16),
    "truncated ASCII body": _ply(3, fmt="ascii") + b"0 0 0 0\n",
    "ASCII claiming 10**12 vertices": _ply(10**12, fmt="ascii") + b"0 " * 14 + b"\n",
    "unknown format line": _ply(1, fmt="binary_middle_endian") + bytes(56),
}


@pytest.mark.parametrize("case", list(MALFORMED_PLY))
def test_encode_of_malformed_ply_is_one_line_error_and_keeps_existing_output(gscc_cli, tmp_path, case):
    source, output = tmp_path / "bad.ply", tmp_path / "precious.gsc"
    source.write_bytes(MALFORMED_PLY[case])
    output.write_bytes(b"the user's own file")
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("encode", source, "-o", output, "--force", "--sort", "none"))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name, data", [("x.obj", b"o cube\n"), ("x.splat", bytes(33)), ("x.splat", b"")])
def test_encode_of_unknown_or_malformed_splat_file_is_one_line_error(gscc_cli, tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    before = snapshot(tmp_path)
    assert_one_line_error(gscc_cli("encode", tmp_path / name, "-o", tmp_path / "out.gsc"))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["truncated binary body", "truncated ASCII body"])
def test_installed_gscc_encode_of_malformed_ply_is_one_line_error(tmp_path, case):
    (tmp_path / "bad.ply").write_bytes(MALFORMED_PLY[case])
    before = snapshot(tmp_path)
    assert_one_line_error(run_subprocess(["encode", "bad.ply", "--sort", "none"], cwd=tmp_path))
    assert snapshot(tmp_path) == before


def test_installed_gscc_encode_of_missing_file_is_one_line_error(tmp_path):
    assert_one_line_error(run_subprocess(["encode", "missing.ply"], cwd=tmp_path))
    assert snapshot(tmp_path) == {}


# =============================================================================================
# Text from the file or the command line is printed, never interpreted
# =============================================================================================
def test_error_naming_a_header_value_with_markup_brackets_is_one_line(gscc_cli, small_gsc, tmp_path):
    """Header strings reach error messages via repr(); '[/]' must not break the printer."""
    source = tmp_path / "bad.gsc"
    source.write_bytes(header_edit("attributes.means.codec", "[/]")(small_gsc))
    line = assert_one_line_error(gscc_cli("decode", source, "-o", tmp_path / "out.ply"))
    assert "[/]" in line


def test_error_naming_a_path_with_brackets_is_one_line(gscc_cli, tmp_path):
    (tmp_path / "shots[").mkdir()
    missing = tmp_path / "shots[" / "b].gsc"  # the path text contains '[/b]'
    line = assert_one_line_error(gscc_cli("info", missing))
    assert "shots[/b].gsc" in line


@pytest.mark.parametrize(
    "encoder",
    [5, "gscc", [1, 2], {"name": b"\x00\xff", "version": None}, {"name": "[/x]", "version": "[bold]"}],
    ids=["int", "string", "list", "bytes-name", "markup-name"],
)
def test_info_never_crashes_on_a_file_the_decoder_accepts(gscc_cli, small_gsc, tmp_path, encoder):
    """The `encoder` map is informative (spec/container.md): any value still decodes, so
    `gscc info` must describe the file or, at worst, report one error line."""
    source = tmp_path / "odd.gsc"
    source.write_bytes(header_edit("encoder", encoder)(small_gsc))
    assert decode(source.read_bytes()).count > 0
    for args in (["info", source], ["info", "--json", source]):
        result = gscc_cli(*args)
        if result.code != 0:
            assert_one_line_error(result)
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [["decode", "--no-such-option", "x.gsc"], ["decode"], ["frobnicate"], ["encode", "x.ply", "--bits", "99"]]
)
def test_command_line_usage_errors_exit_non_zero_without_traceback(gscc_cli, tmp_path, args):
    result = gscc_cli(*args)
    assert result.code != 0
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


# =============================================================================================
# Deep decoder paths, one defect at a time (all CRCs valid)
# =============================================================================================
def parse_ans(chunk: bytes) -> dict:
    """Split an ANS chunk into its fields (spec/codecs.md, "ANS")."""
    pos = 2

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = chunk[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    tables = []
    for _ in range(chunk[1]):
        tables.append([varint() for _ in range(varint())])
    words = varint()
    return {"predictor": chunk[0], "count": chunk[1], "tables": tables, "words": chunk[pos : pos + 4 * words]}


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value >> 7 else 0))
        value >>= 7
        if not value:
            return bytes(out)


def build_ans(fields: dict, n_words: int | None = None) -> bytes:
    out = bytearray([fields["predictor"], fields["count"]])
    for table in fields["tables"]:
        out += varint(len(table)) + b"".join(varint(f) for f in table)
    words = fields["words"]
    out += varint(len(words) // 4 if n_words is None else n_words) + words
    return bytes(out)


def edit_first_ans_chunk(data: bytes, change: Callable[[dict], bytes | None]) -> bytes:
    def edit(container: Container) -> None:
        index = next(i for i, (kind, _) in enumerate(container.chunks) if kind == "ans")
        fields = parse_ans(container.chunks[index][1])
        new = change(fields)
        container.chunks[index] = ("ans", new if new is not None else build_ans(fields))

    return repacked(data, edit)


def _move_mass_to_symbol_zero_of_a_zero_frequency(fields: dict) -> None:
    table = fields["tables"][0]
    table[0] += table[-1]
    table[-1] = 0


def _zero_last_word(fields: dict) -> None:
    fields["words"] = fields["words"][:-4] + bytes(4)


def _overlong_alphabet_varint(fields: dict) -> bytes:
    """The alphabet size written as a 6-byte varint (the spec allows at most 5)."""
    first, rest = fields["tables"][0], fields["tables"][1:]
    out = bytearray([fields["predictor"], fields["count"]])
    size = len(first)  # < 2**14: two payload groups, then three empty ones and a terminator
    out += bytes([(size & 0x7F) | 0x80, (size >> 7) | 0x80, 0x80, 0x80, 0x80, 0x00])
    out += b"".join(varint(f) for f in first)
    for table in rest:
        out += varint(len(table)) + b"".join(varint(f) for f in table)
    return bytes(out) + varint(len(fields["words"]) // 4) + fields["words"]


ANS_DEFECTS: dict[str, Callable[[dict], bytes | None]] = {
    "unknown predictor 4": lambda f: f.update(predictor=4),
    "unknown predictor 255": lambda f: f.update(predictor=255),
    "table count 0": lambda f: f.update(count=0, tables=[]),
    "table count 2": lambda f: f.update(count=2, tables=f["tables"][:1] * 2),
    "alphabet of one symbol": lambda f: f["tables"][0].__setitem__(slice(None), [65536]),
    "alphabet of 257 symbols": lambda f: f["tables"][0].__setitem__(slice(None), [255] * 256 + [65536 - 255 * 256]),
    "frequencies sum to 65535": lambda f: f["tables"][0].__setitem__(0, f["tables"][0][0] - 1),
    "a zero frequency": _move_mass_to_symbol_zero_of_a_zero_frequency,
    "stream ends in a zero word": _zero_last_word,
    "word count past the end": lambda f: build_ans(f, n_words=len(f["words"]) // 4 + 1),
    "word count 2**35 - 1": lambda f: build_ans(f, n_words=2**35 - 1),
    "trailing byte": lambda f: build_ans(f) + b"\x00",
    "chunk of 1 byte": lambda f: bytes([f["predictor"]]),
    "varint longer than 5 bytes": _overlong_alphabet_varint,
}


@pytest.mark.parametrize("defect", list(ANS_DEFECTS))
def test_ans_chunk_defect_is_a_format_error(samples, defect):
    data = edit_first_ans_chunk(samples["sh3_vq"], ANS_DEFECTS[defect])
    with pytest.raises(FormatError):
        decode(data)


def replace_png(data: bytes, make: Callable[[Image.Image], bytes], attribute: str = "means") -> bytes:
    """Replace the first PNG chunk of ``attribute``'s plane with ``make(its image)``."""

    def edit(container: Container) -> None:
        index = container.header["attributes"][attribute]["coding"]["chunks"][0]
        image = Image.open(io.BytesIO(container.chunks[index][1]))
        image.load()
        container.chunks[index] = ("png", make(image))

    return repacked(data, edit)


def png_bytes(image: Image.Image, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, **options)
    return out.getvalue()


def blank(mode: str, size: tuple[int, int]) -> Image.Image:
    return Image.new(mode, size)


PNG_DEFECTS: dict[str, Callable[[Image.Image], bytes]] = {
    "not an image": lambda im: b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
    "cut in half": lambda im: png_bytes(im, format="PNG")[: len(png_bytes(im, format="PNG")) // 2],
    "one pixel wider": lambda im: png_bytes(blank(im.mode, (im.width + 1, im.height)), format="PNG"),
    "one pixel shorter": lambda im: png_bytes(blank(im.mode, (im.width, im.height - 1)), format="PNG"),
    "transposed": lambda im: png_bytes(blank(im.mode, (im.height, im.width)), format="PNG"),
    "8-bit instead of 16-bit": lambda im: png_bytes(blank("L", im.size), format="PNG"),
    "RGBA instead of greyscale": lambda im: png_bytes(blank("RGBA", im.size), format="PNG"),
    "palette mode": lambda im: png_bytes(blank("P", im.size), format="PNG"),
    "bilevel mode": lambda im: png_bytes(blank("1", im.size), format="PNG"),
    "a GIF of the same size": lambda im: png_bytes(blank("L", im.size), format="GIF"),
    "a BMP of the same size": lambda im: png_bytes(blank("RGB", im.size), format="BMP"),
}


@pytest.fixture(scope="session")
def png_gsc(small_splats) -> bytes:
    """The 3,000 real splats with every plane PNG-coded (positions as 16-bit PNGs)."""
    return encode(small_splats, fast_config(coder="png"))


@pytest.mark.parametrize("defect", list(PNG_DEFECTS))
def test_png_chunk_defect_in_a_16_bit_plane_is_a_format_error(png_gsc, defect):
    """Positions are 16-bit: one greyscale 16-bit PNG per channel."""
    with pytest.raises(FormatError):
        decode(replace_png(png_gsc, PNG_DEFECTS[defect], "means"))


WRONG_8_BIT_IMAGES = {
    "RGB (its mode name is a prefix of 'RGBA')": lambda im: blank("RGB", im.size),
    "greyscale": lambda im: blank("L", im.size),
    "greyscale with alpha": lambda im: blank("LA", im.size),
    "palette": lambda im: blank("P", im.size),
    "16-bit greyscale": lambda im: blank("I;16", im.size),
    "RGBA one row short": lambda im: blank("RGBA", (im.width, im.height - 1)),
}


@pytest.mark.parametrize("defect", list(WRONG_8_BIT_IMAGES))
def test_png_chunk_of_the_wrong_mode_in_an_8_bit_plane_is_a_format_error(png_gsc, defect):
    """Quaternions are four 8-bit channels: exactly one RGBA PNG of the grid's size."""
    make = WRONG_8_BIT_IMAGES[defect]
    with pytest.raises(FormatError):
        decode(replace_png(png_gsc, lambda im: png_bytes(make(im), format="PNG"), "quats"))


def image_like(image: Image.Image, array: np.ndarray) -> Image.Image:
    return Image.frombytes(image.mode, image.size, np.ascontiguousarray(array).tobytes())


def test_png_plane_value_beyond_the_bit_depth_is_a_format_error(small_splats):
    data = encode(small_splats, fast_config(coder="png", scale_bits=6))

    def edit(container: Container) -> None:
        index = container.header["attributes"]["scales"]["coding"]["chunks"][0]
        image = Image.open(io.BytesIO(container.chunks[index][1]))
        array = np.asarray(image).copy()
        array.reshape(-1)[0] = 255  # 6-bit scales: 255 is out of range
        container.chunks[index] = ("png", png_bytes(image_like(image, array), format="PNG"))

    with pytest.raises(FormatError, match="bits"):
        decode(repacked(data, edit))


def _padding_edit(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Container], None]:
    def edit(container: Container) -> None:
        index = container.header["grid"]["padding"]
        cells = np.frombuffer(container.chunks[index][1], "<u4")
        container.chunks[index] = ("raw", np.asarray(change(cells), "<u4").tobytes())

    return edit


PADDING_DEFECTS = {
    "one entry missing": lambda p: p[:-1],
    "one entry too many": lambda p: np.append(p, p[-1] + 1),
    "duplicate entries": lambda p: np.full_like(p, p[0]),
    "decreasing": lambda p: p[::-1] if len(p) > 1 else p - 1,
    "past the last cell": lambda p: np.append(p[:-1], 10**9),
}


@pytest.mark.parametrize("defect", list(PADDING_DEFECTS))
def test_padding_chunk_defect_is_a_format_error(samples, defect):
    data = samples["plain"]
    assert unpack(data).header["grid"]["padding"] is not None, "the sample needs padding cells"
    with pytest.raises(FormatError):
        decode(repacked(data, _padding_edit(PADDING_DEFECTS[defect])))


def test_padding_chunk_of_odd_length_is_a_format_error(samples):
    def edit(container: Container) -> None:
        index = container.header["grid"]["padding"]
        container.chunks[index] = ("raw", container.chunks[index][1] + b"\x00")

    with pytest.raises(FormatError):
        decode(repacked(samples["plain"], edit))


HEADER_DEFECTS = {
    # (sample, dotted path, value)
    "scene kind dynamic": ("plain", "scene.kind", "dynamic"),
    "scene count a string": ("plain", "scene.count", "2987"),
    "scene count True": ("plain", "scene.count", True),
    "scene not a map": ("plain", "scene", [1]),
    "grid not a map": ("plain", "grid", 7),
    "padding chunk index past the table": ("plain", "grid.padding", 999),
    "padding chunk index negative": ("plain", "grid.padding", -1),
    "attributes not a map": ("plain", "attributes", [1, 2]),
    "attribute entry not a map": ("plain", "attributes.means", "scalar"),
    "attribute codec unknown": ("plain", "attributes.means.codec", "wavelet"),
    "attribute codec a list": ("plain", "attributes.means.codec", ["scalar"]),
    "transform unknown": ("plain", "attributes.means.transform", "cube"),
    "transform a list": ("plain", "attributes.means.transform", ["signlog"]),
    "transform a map": ("plain", "attributes.means.transform", {"name": "signlog"}),
    "quant not a map": ("plain", "attributes.means.quant", None),
    "quant bits 0": ("plain", "attributes.means.quant.bits", 0),
    "quant bits 17": ("plain", "attributes.means.quant.bits", 17),
    "quant bits True": ("plain", "attributes.opacities.quant.bits", True),
    "quant lo too short": ("plain", "attributes.means.quant.lo", [0.0, 0.0]),
    "quant lo NaN": ("plain", "attributes.means.quant.lo", [math.nan, 0.0, 0.0]),
    "quant step infinite": ("plain", "attributes.means.quant.step", [math.inf, 1.0, 1.0]),
    "quant step negative": ("plain", "attributes.means.quant.step", [-1.0, 1.0, 1.0]),
    "quant lo integers": ("plain", "attributes.means.quant.lo", [0, 0, 0]),
    "coding not a map": ("plain", "attributes.sh0.coding", "png"),
    "coding codec a list": ("plain", "attributes.sh0.coding.codec", ["png"]),
    "coding codec a map": ("plain", "attributes.sh0.coding.codec", {"png": 1}),
    "coding chunks not a list": ("plain", "attributes.sh0.coding.chunks", 3),
    "coding chunk index a string": ("plain", "attributes.sh0.coding.chunks", ["0"]),
    "coding chunk index a float": ("plain", "attributes.sh0.coding.chunks", [1.0]),
    "coding chunk index past the table": ("plain", "attributes.sh0.coding.chunks", [4000]),
    "coding params not a map": ("plain", "attributes.sh0.coding.params", []),
    "coding names the wrong chunk type": ("plain", "attributes.sh0.coding.codec", "raw"),
    "vq codebook not a map": ("sh3_vq", "attributes.shN.codebook", 3),
    "vq codebook size 0": ("sh3_vq", "attributes.shN.codebook.size", 0),
    "vq codebook size True": ("sh3_vq", "attributes.shN.codebook.size", True),
    "vq codebook larger than coded": ("sh3_vq", "attributes.shN.codebook.size", 128),
    "vq codebook smaller than labels": ("sh3_vq", "attributes.shN.codebook.size", 33),
    "vq label bits wrong": ("sh3_vq", "attributes.shN.labels.bits", 5),
    "vq labels not a map": ("sh3_vq", "attributes.shN.labels", []),
    "vq quant for the wrong dimension": ("sh3_vq", "attributes.shN.codebook.quant.lo", [0.0] * 44),
}


def header_defect(samples: dict[str, bytes], defect: str) -> bytes:
    source, path, value = HEADER_DEFECTS[defect]
    return header_edit(path, value)(samples[source])


def call_expecting_only_format_error(function, data: bytes):
    """``function(data)``; any exception other than FormatError fails the test by name."""
    try:
        return function(data)
    except FormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - the point is to name the wrong type
        where = traceback.extract_tb(exc.__traceback__)[-1]
        pytest.fail(
            f"{function.__module__}.{function.__name__} raised {type(exc).__name__}: {exc} "
            f"(at {Path(where.filename).name}:{where.lineno})"
        )


@pytest.mark.parametrize("defect", list(HEADER_DEFECTS))
def test_header_defect_is_a_format_error_from_the_decoder(samples, defect):
    with pytest.raises(FormatError):
        call_expecting_only_format_error(decode, header_defect(samples, defect))


@pytest.mark.parametrize("defect", list(HEADER_DEFECTS))
def test_header_defect_never_crashes_the_info_summary(samples, defect):
    """summarize() does not decode planes, so it may describe some of these files; but it
    must never raise anything other than FormatError."""
    try:
        call_expecting_only_format_error(summarize, header_defect(samples, defect))
    except FormatError:
        pass


# =============================================================================================
# Seeded fuzzing: FormatError or a well-shaped SplatSet, nothing else, never a hang
# =============================================================================================
CASES_PER_FAMILY = 200
CASE_TIMEOUT_S = 5


class Hang(Exception):
    pass


def _on_alarm(signum, frame):
    raise Hang(f"no result within {CASE_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def fuzz_corpus(small_splats, png_gsc) -> dict[str, bytes]:
    """Real files of several configurations: every coder, scalar and VQ SH, 8- and 16-bit planes."""
    sh3 = synthetic_splats(count=397, sh_degree=3, seed=2)
    return {
        "plant/png": png_gsc,
        "plant/ans": encode(small_splats, fast_config(coder="ans")),
        "sh3/vq+ans": encode(sh3, fast_config(coder="ans", sh_codec="vq", sh_codebook=64)),
        "sh3/vq+png": encode(sh3, fast_config(coder="png", sh_codec="vq", sh_codebook=64)),
        "sh3/scalar+raw": encode(sh3, fast_config(coder="raw", sh_codec="scalar")),
    }


# ---- byte-level mutations (most stop at a CRC: they test the container layer)
def m_flip_bits(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    bits = [rng.randrange(8 * len(data)) for _ in range(rng.randint(1, 4))]
    for bit in bits:
        out[bit // 8] ^= 1 << (bit % 8)
    return f"flip bits {bits}", bytes(out)


def m_overwrite(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    out = bytearray(data)
    # bias towards the preamble and header, where the structure is
    limit = len(data) if rng.random() < 0.5 else min(len(data), 20 + header_length(data))
    spots = [rng.randrange(limit) for _ in range(rng.randint(1, 8))]
    for spot in spots:
        out[spot] = rng.choice([0x00, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    return f"overwrite bytes at {spots}", bytes(out)


def m_truncate(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    cut = rng.choice([rng.randrange(len(data)), rng.randrange(min(len(data), 64)), len(data) - rng.randint(1, 8)])
    return f"truncate to {cut}", data[:cut]


def m_insert(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    spot = rng.randrange(len(data) + 1)
    blob = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    return f"insert {len(blob)} bytes at {spot}", data[:spot] + blob + data[spot:]


def m_delete(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    spot = rng.randrange(len(data))
    span = rng.randint(1, 16)
    return f"delete {span} bytes at {spot}", data[:spot] + data[spot + span:]


BYTE_MUTATIONS = [m_flip_bits, m_overwrite, m_truncate, m_insert, m_delete]

# ---- header mutations, re-packed with valid CRCs
NASTY_VALUES = [
    None, True, False, 0, 1, -1, 2, 3, 8, 16, 17, 40, 255, 256, 65536, 2**26, 2**26 + 1, 2**31, 2**32,
    2**63 - 1, -(2**63), 2**64 - 1, 0.0, -0.0, 0.5, 1.5, math.nan, math.inf, -math.inf, 1e308, -1e308,
    5e-324, "", "png", "ans", "raw", "weights", "vq", "scalar", "identity", "signlog", "sigmoid", "quat",
    "static", "[/]", "\n", [], [0], [1.0, 2.0], [[0]], {}, {"codec": "png"}, b"", b"\x00\xff",
]


def _containers(node, path=()) -> list[tuple[tuple, object]]:
    """Every map and list in the header tree, with its path."""
    found = []
    if isinstance(node, (dict, list)):
        found.append((path, node))
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in children:
            found.extend(_containers(child, path + (key,)))
    return found


def _nearby(rng: random.Random, value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + rng.choice([-2, -1, 1, 2, value, -value, 1 << rng.randrange(40)])
    if isinstance(value, float):
        return rng.choice([value * 2, -value, value + 1.0, value * 1e300, value / 1e300])
    if isinstance(value, list) and value:
        return value[:-1] if rng.random() < 0.5 else value + [value[-1]]
    return rng.choice(NASTY_VALUES)


def m_header(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    container = unpack(data)
    nodes = _containers(container.header)
    maps = [(path, node) for path, node in nodes if isinstance(node, dict)]
    # mostly maps: the structure lives there; lists are mostly lo/step values
    path, node = rng.choice(maps if rng.random() < 0.8 else nodes)
    if not node:
        return f"empty {path}", pack(container)
    key = rng.choice(list(node) if isinstance(node, dict) else range(len(node)))
    action = rng.random()
    if action < 0.15 and isinstance(node, dict):
        del node[key]
        description = f"delete {path + (key,)}"
    elif action < 0.55:
        node[key] = _nearby(rng, node[key])
        description = f"nudge {path + (key,)} to {node[key]!r:.60}"
    else:
        node[key] = copy.deepcopy(rng.choice(NASTY_VALUES))
        description = f"set {path + (key,)} to {node[key]!r:.60}"
    return description, pack(container)


# ---- chunk mutations, re-packed with valid CRCs (so the coders see them)
def m_chunk_bytes(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    container = unpack(data)
    index = rng.randrange(len(container.chunks))
    kind, body = container.chunks[index]
    body = bytearray(body)
    if not body:
        return f"chunk {index} empty", pack(container)
    spots = [rng.randrange(len(body)) for _ in range(rng.randint(1, 3))]
    for spot in spots:
        body[spot] = rng.choice([body[spot] ^ (1 << rng.randrange(8)), rng.randrange(256), 0, 0xFF])
    container.chunks[index] = (kind, bytes(body))
    return f"chunk {index} ({kind}) bytes at {spots}", pack(container)


def m_chunk_table(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    container = unpack(data)
    chunks = container.chunks
    i, j = rng.randrange(len(chunks)), rng.randrange(len(chunks))
    action = rng.randrange(6)
    if action == 0:
        chunks[i], chunks[j] = chunks[j], chunks[i]
        description = f"swap chunks {i} and {j}"
    elif action == 1:
        kind = rng.choice(CHUNK_TYPES)
        chunks[i] = (kind, chunks[i][1])
        description = f"chunk {i} type to {kind}"
    elif action == 2:
        del chunks[i]
        description = f"drop chunk {i}"
    elif action == 3:
        chunks.append(chunks[i])
        description = f"append a copy of chunk {i}"
    elif action == 4:
        cut = rng.randrange(len(chunks[i][1]) + 1)
        chunks[i] = (chunks[i][0], chunks[i][1][:cut])
        description = f"cut chunk {i} to {cut} bytes"
    else:
        chunks[i] = (chunks[i][0], chunks[i][1] + bytes(rng.randint(1, 8)))
        description = f"pad chunk {i}"
    return description, pack(container)


def m_ans_fields(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    container = unpack(data)
    indices = [i for i, (kind, _) in enumerate(container.chunks) if kind == "ans"]
    if not indices:
        return m_chunk_bytes(rng, data)
    index = rng.choice(indices)
    fields = parse_ans(container.chunks[index][1])
    table = rng.choice(fields["tables"]) if fields["tables"] else None
    words = fields["words"]
    action = rng.randrange(9)
    n_words = None
    if action == 0:
        fields["predictor"] = rng.choice([0, 1, 2, 3, 4, 255])
    elif action == 1:
        fields["count"] = rng.choice([0, 1, 2, 3, 4])
    elif action == 2 and table and len(table) > 1:  # move mass: still a valid table
        a, b = rng.sample(range(len(table)), 2)
        moved = rng.randint(0, table[a] - 1)
        table[a] -= moved
        table[b] += moved
    elif action == 3 and table:
        rng.choice([table.append, lambda v: table.insert(0, v)])(rng.choice([1, 0, 65536]))
    elif action == 4 and table:
        table[rng.randrange(len(table))] = rng.choice([0, 1, 65535, 65536, 2**35 - 1])
    elif action == 5 and words:
        w = bytearray(words)
        w[rng.randrange(len(w))] ^= 1 << rng.randrange(8)
        fields["words"] = bytes(w)
    elif action == 6:
        fields["words"] = words[: 4 * rng.randrange(len(words) // 4 + 1)]
    elif action == 7:
        n_words = len(words) // 4 + rng.choice([-1, 1, 2**20])
        n_words = max(n_words, 0)
    else:
        fields["words"] = words + struct.pack("<I", rng.randrange(2**32))
    container.chunks[index] = ("ans", build_ans(fields, n_words))
    return f"ans chunk {index} edit {action}", pack(container)


def m_png_image(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    container = unpack(data)
    indices = [i for i, (kind, _) in enumerate(container.chunks) if kind == "png"]
    if not indices:
        return m_chunk_bytes(rng, data)
    index = rng.choice(indices)
    image = Image.open(io.BytesIO(container.chunks[index][1]))
    image.load()
    array = np.asarray(image)
    action = rng.randrange(5)
    if action == 0:  # a valid image of random samples: exercises the value range checks
        noise = np.random.default_rng(rng.randrange(2**32))
        high = np.iinfo(array.dtype).max if array.dtype.kind in "ui" else 1
        new = image_like(image, noise.integers(0, int(high) + 1, array.shape).astype(array.dtype))
    elif action == 1:
        new = blank(image.mode, (max(1, image.width + rng.choice([-1, 1])), image.height))
    elif action == 2:
        new = blank(rng.choice(["L", "LA", "RGB", "RGBA", "P", "1", "I;16"]), image.size)
    elif action == 3:
        new = blank(image.mode, (image.height, image.width))
    else:
        cut = png_bytes(image, format="PNG")[: rng.randrange(8, 100)]
        container.chunks[index] = ("png", cut)
        return f"png chunk {index} cut", pack(container)
    container.chunks[index] = ("png", png_bytes(new, format="PNG"))
    return f"png chunk {index} image edit {action}", pack(container)


def m_padding(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    container = unpack(data)
    index = container.header.get("grid", {}).get("padding")
    if index is None:
        return m_chunk_table(rng, data)
    cells = np.frombuffer(container.chunks[index][1], "<u4").astype(np.int64)
    grid = container.header["grid"]
    total = grid["height"] * grid["width"]
    options = [
        cells[:-1], np.append(cells, total - 1), cells[::-1], cells + 1, cells - 1,
        np.full_like(cells, rng.randrange(total)), np.sort(rng.sample(range(total), len(cells))),
    ]
    choice = rng.randrange(len(options))
    new = np.clip(options[choice], 0, 2**32 - 1).astype("<u4")
    container.chunks[index] = ("raw", new.tobytes())
    return f"padding edit {choice}", pack(container)


CHUNK_MUTATIONS = [m_chunk_bytes, m_chunk_table, m_ans_fields, m_ans_fields, m_png_image, m_padding]

FAMILIES = {
    "bytes": BYTE_MUTATIONS,
    "header": [m_header],
    "chunks": CHUNK_MUTATIONS,
}


def fuzz_cases(corpus: dict[str, bytes], family: str):
    names = sorted(corpus)
    for case in range(CASES_PER_FAMILY):
        rng = random.Random(f"{family}-{case}")
        name = names[case % len(names)]
        mutation = rng.choice(FAMILIES[family])
        description, data = mutation(rng, corpus[name])
        yield f"{family}#{case} on {name}: {description}", data


def check_decoded(data: bytes, splats: SplatSet) -> None:
    scene = unpack(data).header["scene"]
    n, k = scene["count"], num_sh_rest(scene["sh_degree"])
    assert isinstance(splats, SplatSet)
    expected = {"means": (n, 3), "scales": (n, 3), "quats": (n, 4), "opacities": (n,), "sh0": (n, 3), "shN": (n, k, 3)}
    for name, shape in expected.items():
        array = getattr(splats, name)
        assert array.shape == shape and array.dtype == np.float32, f"{name}: {array.shape} {array.dtype}"


def check_summary(data: bytes, summary: dict) -> None:
    assert summary["file_bytes"] == len(data)
    assert summary["scene"]["count"] >= 1


def run_fuzz(corpus, family: str, function, check) -> None:
    failures: list[str] = []
    outcomes = {"FormatError": 0, "ok": 0}
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for label, data in fuzz_cases(corpus, family):
            signal.alarm(CASE_TIMEOUT_S)
            try:
                result = function(data)
                check(data, result)
                outcomes["ok"] += 1
            except FormatError:
                outcomes["FormatError"] += 1
            except BaseException as exc:  # noqa: BLE001 - anything else is the finding
                if isinstance(exc, KeyboardInterrupt):
                    raise
                where = traceback.extract_tb(exc.__traceback__)[-1]
                failures.append(
                    f"{label}\n    -> {type(exc).__name__}: {str(exc)[:160]} "
                    f"(at {Path(where.filename).name}:{where.lineno})"
                )
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not failures, (
        f"{len(failures)} of {CASES_PER_FAMILY} {family} cases raised something other than FormatError "
        f"(outcomes otherwise: {outcomes}):\n" + "\n".join(failures[:15])
    )


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzzed_files_decode_or_raise_format_error(fuzz_corpus, family):
    run_fuzz(fuzz_corpus, family, decode, check_decoded)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzzed_files_summarize_or_raise_format_error(fuzz_corpus, family):
    run_fuzz(fuzz_corpus, family, summarize, check_summary)


def test_fuzz_reaches_the_decoders_deep_paths(fuzz_corpus):
    """Guard against a fuzzer that only ever trips a CRC: most re-packed cases must pass the
    container layer, and both outcomes -- decoded, rejected by a codec -- must occur."""
    past_container = decoded = rejected_deep = 0
    total = 0
    for family in ("header", "chunks"):
        for _, data in fuzz_cases(fuzz_corpus, family):
            total += 1
            try:
                unpack(data)
            except FormatError:
                continue
            past_container += 1
            try:
                decode(data)
                decoded += 1
            except FormatError:
                rejected_deep += 1
            except Exception:  # noqa: BLE001 - reported by the fuzz tests above
                pass
    assert past_container >= 0.9 * total
    assert decoded >= 10 and rejected_deep >= 50, (decoded, rejected_deep)
