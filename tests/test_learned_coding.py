"""Learned table coding (format 1.2): attributes coded with rANS over tables made from a
learned distribution, stored in the file, decoded without any model.

The encoder codes such an attribute both ways and keeps the smaller; files that keep no
learned coding are the bytes they always were. Bad learned-coded input is a FormatError.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import fast_config
from gscc.codec.ans import encode_channel as encode_ans_channel
from gscc.codec.ans_table import decode_channel, encode_channel, table_frequencies
from gscc.codec.decoder import decode, decode_scene
from gscc.codec.encoder import encode
from gscc.codec.learned import LEARNED_CODINGS, code_learned
from gscc.codec.lossless import code_plane, decode_plane
from gscc.codec.quantize import QuantParams
from gscc.container import LEARNED_VERSION, pack, unpack
from gscc.errors import FormatError
from gscc.info import summarize
from gscc.synthetic import random_feature_splats, random_splats
from spec_reader import SpecReader, table

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
GSCC = Path(sys.executable).with_name("gscc")
SMALL = ("scales", "quats", "opacities", "sh0")


class GaussianTables:
    """A numpy table source: per channel, a discretised Gaussian over the encoder's symbols
    with its mean at ``center`` and standard deviation ``width`` (fractions of the alphabet)."""

    coding = "ans-table"

    def __init__(self, center: float = 0.5, width: float = 0.18, name: str = "gaussian") -> None:
        self.center, self.width, self.name = center, width, name

    def probabilities(self, quant: QuantParams) -> np.ndarray:
        alphabet = 1 << quant.bits
        x = (np.arange(alphabet) - self.center * (alphabet - 1)) / (self.width * alphabet)
        p = np.exp(-0.5 * x * x)
        return np.tile(p / p.sum(), (len(quant.lo), 1))


def scene(count: int = 240, seed: int = 0):
    """Gaussian-distributed attributes (random_splats), SH degree 1."""
    return random_splats(count, 1, seed)


def ans_config(**overrides):
    """The default's fixed depths (8-bit attributes: the learned tables' alphabets)."""
    return fast_config(coder="ans", sh_codec="scalar", precision="fixed", **overrides)


def sources(**kwargs) -> dict:
    return {name: GaussianTables(**kwargs) for name in SMALL}


def codings(data: bytes) -> dict[str, str]:
    return {name: entry["coding"]["codec"] for name, entry in unpack(data).header["attributes"].items()
            if "coding" in entry}


def repack(data: bytes, change) -> bytes:
    container = unpack(data)
    change(container)
    return pack(container)


def learned_file() -> bytes:
    data = encode(scene(), ans_config(), sources())
    assert set(codings(data).values()) >= {"ans-table"}, "the fixture must use learned coding"
    return data


# ============================================================================ round trip
def test_learned_coding_round_trips_the_quantized_values_bit_exactly() -> None:
    splats, config = scene(), ans_config()
    learned = encode(splats, config, sources())
    assert {codings(learned)[name] for name in SMALL} == {"ans-table"}
    assert unpack(learned).version == LEARNED_VERSION
    plain = decode(encode(splats, config))  # the same quantized values, coded empirically
    decoded = decode(learned)
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        np.testing.assert_array_equal(getattr(decoded, name), getattr(plain, name), err_msg=name)


def test_learned_encoding_is_deterministic() -> None:
    assert encode(scene(), ans_config(), sources()) == encode(scene(), ans_config(), sources())


def test_channel_coding_round_trips_every_symbol_of_the_alphabet() -> None:
    rng = np.random.default_rng(1)
    for bits in (1, 4, 8):
        q = rng.integers(0, 1 << bits, (7, 9))
        quant = QuantParams(bits, (0.0,), (1.0,))
        freq = table_frequencies(GaussianTables(0.3, 0.05).probabilities(quant), quant)[0]
        np.testing.assert_array_equal(decode_channel(encode_channel(q, freq), 7, 9, bits), q)


def test_integer_tables_keep_every_symbol_codable_and_sum_to_two_to_the_sixteen() -> None:
    quant = QuantParams(8, (0.0, 0.0), (1.0, 0.0))
    p = np.zeros((2, 256))
    p[0] = GaussianTables(0.5, 0.01).probabilities(quant)[0]  # most symbols have ~0 mass
    p[1, 0] = 1.0  # a constant channel
    freq = table_frequencies(p, quant)
    assert freq.min() >= 1 and (freq.sum(axis=1) == 1 << 16).all()
    assert freq[1, 0] == (1 << 16) - 255
    np.testing.assert_array_equal(freq, table_frequencies(p.copy(), quant))
    with pytest.raises(ValueError, match="shape"):
        table_frequencies(p[:, :128], quant)
    with pytest.raises(ValueError, match="non-negative"):
        table_frequencies(np.full((2, 256), np.nan), quant)


def test_a_smooth_table_is_stored_in_about_one_byte_per_symbol() -> None:
    quant = QuantParams(8, (0.0,), (1.0,))
    freq = table_frequencies(GaussianTables(0.5, 0.15).probabilities(quant), quant)[0]
    chunk = encode_channel(np.zeros((1, 1), np.int64), freq)
    assert len(chunk) <= 256 + 8
    # tails of frequency 1 cost nothing: a narrow table is a few bytes
    narrow = table_frequencies(GaussianTables(0.5, 0.004).probabilities(quant), quant)[0]
    assert (narrow == 1).sum() > 200
    assert len(encode_channel(np.zeros((1, 1), np.int64), narrow)) < 40


# ============================================================================ the choice
def test_the_encoder_keeps_whichever_coding_is_smaller() -> None:
    # enough splats that a table's cost does not decide: a wrong table costs up to 16 bits
    # a symbol, an empirical ANS table some 400 bytes a channel
    splats, config = scene(2000), ans_config()
    good, bad = GaussianTables(), GaussianTables(center=0.02, width=0.01)
    data = encode(splats, config, {"scales": good, "sh0": bad})
    chosen = codings(data)
    assert chosen["scales"] == "ans-table" and chosen["sh0"] == "ans"
    container = unpack(data)
    header = container.header["attributes"]
    # the sizes behind the choice: recode the decoded planes both ways
    scene_planes = _planes(data)
    for name, source in (("scales", good), ("sh0", bad)):
        plane, quant = scene_planes[name]
        empirical = code_plane(plane, quant.bits, config.coder).size
        learned = code_learned(plane, quant, source, {}).size
        stored = sum(len(container.chunks[i][1]) for i in header[name]["coding"]["chunks"])
        assert stored == min(empirical, learned)
    assert code_learned(*scene_planes["sh0"], bad, {}).size > code_plane(scene_planes["sh0"][0], 8, "ans").size


def _planes(data: bytes) -> dict:
    """Each scalar attribute's integer plane and quantizer, as decoded."""
    from gscc.codec.decoder import decode_attribute

    container = unpack(data)
    grid = (container.header["grid"]["height"], container.header["grid"]["width"])
    context: dict = {}
    channels = {"means": 3, "scales": 3, "quats": 4, "opacities": 1, "sh0": 3, "shN": 9}
    for name, width in channels.items():
        decode_attribute(container, container.header["attributes"][name], grid, width, context, name)
    return {name: (c.plane, c.quant) for name, c in context.items()}


def test_a_file_that_keeps_no_learned_coding_is_byte_identical_to_one_without_distributions() -> None:
    splats, config = scene(2000), ans_config()
    hopeless = {name: GaussianTables(center=0.0, width=0.002) for name in SMALL}
    hopeless["means"] = GaussianTables()  # 16 bits: too deep for ans-table, coded as before
    data = encode(splats, config, hopeless)
    assert data == encode(splats, config)
    assert unpack(data).version == (1, 0)


def test_conformance_recipes_without_distributions_keep_their_bytes(monkeypatch) -> None:
    """The 1.0 encoder output is unchanged: a fast recipe re-encodes to its vector (with the
    min/max quantizer it was made with: the lattice quantizer, which came later, changes
    its 8-bit opacities -- tests/test_lattice_quantizer.py), and every ANS chunk of the
    ANS vector re-encodes from its decoded channel to the same bytes."""
    from gscc.codec import encoder
    from gscc.codec.quantize import fit_quantizer

    sys.path.insert(0, str(CONFORMANCE))
    try:
        from generate import RECIPES
    finally:
        sys.path.remove(str(CONFORMANCE))
    recipe = next(r for r in RECIPES if r.name == "plant-png")
    monkeypatch.setattr(encoder, "fit_lattice_quantizer", fit_quantizer)
    assert encode(recipe.scene(), recipe.config) == (CONFORMANCE / "vectors" / "plant-png.gsc").read_bytes()
    container = unpack((CONFORMANCE / "vectors" / "plant-ans.gsc").read_bytes())
    planes = {name: entry for name, entry in container.header["attributes"].items() if entry["codec"] == "scalar"}
    grid = (container.header["grid"]["height"], container.header["grid"]["width"])
    for name, entry in planes.items():
        channels = len(entry["quant"]["lo"])
        plane = decode_plane(container, entry["coding"], (*grid, channels), entry["quant"]["bits"])
        for c, index in enumerate(entry["coding"]["chunks"]):
            assert encode_ans_channel(plane[:, :, c].astype(np.int64), entry["quant"]["bits"]) == container.chunks[index][1]


def test_only_scalar_planes_of_at_most_8_bits_are_learned_coded() -> None:
    config = fast_config(coder="ans", sh_codec="vq", sh_codebook=16)
    everything = {name: GaussianTables() for name in ("means", "scales", "quats", "opacities", "sh0", "shN")}
    data = encode(scene(), config, everything)
    header = unpack(data).header["attributes"]
    assert header["means"]["coding"]["codec"] == "ans"  # 16 bits
    assert header["shN"]["codec"] == "vq"
    assert header["shN"]["labels"]["coding"]["codec"] == "ans"
    assert header["shN"]["codebook"]["coding"]["codec"] == "ans"


def test_an_mlp_coloured_scene_with_learned_coding_is_format_1_2() -> None:
    splats = random_feature_splats(200, seed=3)
    data = encode(splats, ans_config(), {"features": GaussianTables(width=0.2), "scales": GaussianTables()})
    assert "ans-table" in codings(data).values()
    assert unpack(data).version == LEARNED_VERSION
    decoded = decode_scene(data)
    np.testing.assert_array_equal(decoded.features, decode_scene(encode(splats, ans_config())).features)


def test_distributions_for_attributes_the_scene_lacks_or_unknown_codings_are_refused() -> None:
    with pytest.raises(ValueError, match="features"):
        encode(scene(), ans_config(), {"features": GaussianTables()})
    odd = GaussianTables()
    odd.coding = "ans-magic"
    with pytest.raises(ValueError, match="ans-magic"):
        encode(scene(), ans_config(), {"scales": odd})
    assert "ans-table" in LEARNED_CODINGS


# ============================================================================ the spec
def spec_decode_channel(data: bytes, height: int, width: int, bits: int) -> list[int]:
    """An ans-table chunk decoded from spec/codecs.md alone."""
    r = SpecReader(data)
    alphabet = 1 << bits
    first, n = r.varint(), r.varint()
    f = [1] * alphabet
    previous = 1
    for i in range(n):
        z = r.varint()
        previous += z // 2 if z % 2 == 0 else -(z + 1) // 2
        f[first + i] = previous
    assert sum(f) == 65536
    t = table(f)
    r.start_stream()
    return [r.symbol(*t) for _ in range(height * width)]


@pytest.mark.parametrize("bits", [2, 6, 8])
def test_the_spec_alone_decodes_an_ans_table_chunk(bits: int) -> None:
    rng = np.random.default_rng(bits)
    q = np.clip(rng.normal(0.4 * (1 << bits), 0.1 * (1 << bits), (13, 11)).round(), 0, (1 << bits) - 1).astype(np.int64)
    quant = QuantParams(bits, (0.0,), (1.0,))
    freq = table_frequencies(GaussianTables(0.4, 0.1).probabilities(quant), quant)[0]
    assert spec_decode_channel(encode_channel(q, freq), 13, 11, bits) == q.reshape(-1).tolist()


# ============================================================================ info
def test_info_names_the_learned_coding_and_its_distribution(tmp_path: Path) -> None:
    data = learned_file()
    rows = {row["attribute"]: row for row in summarize(data)["attributes"]}
    assert rows["scales"]["coding"] == "ans-table (gaussian)" and rows["scales"]["distribution"] == "gaussian"
    assert rows["means"]["coding"] == "ans" and "distribution" not in rows["means"]
    path = tmp_path / "learned.gsc"
    path.write_bytes(data)
    table = subprocess.run([str(GSCC), "info", str(path)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert table.returncode == 0, table.stderr
    assert ".gsc 1.2" in table.stdout and "ans-table (gaussian)" in table.stdout
    as_json = subprocess.run([str(GSCC), "info", str(path), "--json"], capture_output=True, text=True)
    summary = json.loads(as_json.stdout)
    assert summary["format_version"] == "1.2"
    assert {row["attribute"]: row["coding"] for row in summary["attributes"]}["sh0"] == "ans-table (gaussian)"


# ============================================================================ bad input
def _scales(container):
    return container.header["attributes"]["scales"]["coding"]


def _scales_chunk(container) -> int:
    return _scales(container)["chunks"][0]


def _set_chunk(container, index: int, data: bytes) -> None:
    container.chunks[index] = (container.chunks[index][0], data)


def _edit_first_chunk(edit):
    def change(container):
        index = _scales_chunk(container)
        _set_chunk(container, index, edit(container.chunks[index][1]))
    return change


def _table_chunk(first: int, deltas: list[int], words: bytes = b"\x00") -> bytes:
    out = bytearray()
    from gscc.codec.ans import put_varint
    put_varint(out, first)
    put_varint(out, len(deltas))
    for d in deltas:
        put_varint(out, 2 * d if d >= 0 else -2 * d - 1)
    return bytes(out) + words


def _set_version(container, version):
    container.version = version


def _set(key, value):
    def change(container):
        _scales(container)[key] = value
    return change


def _retype_chunk(container):
    index = _scales_chunk(container)
    container.chunks[index] = ("ans", container.chunks[index][1])


BAD = {
    "a learned coding in a 1.1 file": (lambda c: _set_version(c, (1, 1)), "needs format 1.2"),
    "a distribution that is not a string": (_set("distribution", 7), "distribution"),
    "params that are not a map": (_set("params", []), "params must be an empty map"),
    "too few chunks": (lambda c: _scales(c)["chunks"].pop(), "needs 3 chunks"),
    "a chunk of another type": (_retype_chunk, "expected 'ans-table'"),
    "a truncated chunk": (_edit_first_chunk(lambda d: d[: len(d) // 2]), "truncated"),
    "trailing bytes": (_edit_first_chunk(lambda d: d + b"\x00"), "trailing bytes"),
    "a table past the alphabet": (_edit_first_chunk(lambda d: _table_chunk(256, [1])), "past its 256-symbol"),
    "too many explicit frequencies": (_edit_first_chunk(lambda d: _table_chunk(200, [1] * 57)), "lists 57"),
    "a frequency below 1": (_edit_first_chunk(lambda d: _table_chunk(0, [5, -10])), "below 1"),
    "a table that does not sum to 65536": (_edit_first_chunk(lambda d: _table_chunk(0, [3, 0, 0])), "sum to"),
    "a deeper plane than ans-table takes": (
        lambda c: c.header["attributes"]["scales"]["quant"].update(bits=9), "at most 8 bits"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_malformed_learned_coding_is_a_format_error(case: str) -> None:
    change, message = BAD[case]
    bad = repack(learned_file(), change)
    with pytest.raises(FormatError, match=message):
        decode(bad)
    with pytest.raises(FormatError):
        summarize(bad)


def test_a_learned_coding_in_a_vq_plane_is_rejected_by_name() -> None:
    data = encode(scene(), fast_config(coder="ans", sh_codebook=16))
    def change(container):
        container.version = LEARNED_VERSION
        container.header["attributes"]["shN"]["labels"]["coding"]["codec"] = "ans-table"
    with pytest.raises(FormatError, match="unknown lossless codec 'ans-table'"):
        decode(repack(data, change))


def test_mutated_ans_table_chunks_decode_or_raise_format_error() -> None:
    data = learned_file()
    container = unpack(data)
    targets = [i for i, (kind, _) in enumerate(container.chunks) if kind == "ans-table"]
    rng = random.Random(0)
    for trial in range(60):
        mutated = unpack(data)
        index = rng.choice(targets)
        body = bytearray(mutated.chunks[index][1])
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        if trial % 3 == 0:
            body = body[: rng.randrange(len(body))]
        _set_chunk(mutated, index, bytes(body))
        try:
            decode(pack(mutated))
        except FormatError:
            pass


def test_a_decoder_of_the_cli_reports_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.gsc"
    path.write_bytes(repack(learned_file(), BAD["a table that does not sum to 65536"][0]))
    result = subprocess.run([str(GSCC), "decode", str(path), "-o", str(tmp_path / "x.ply")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "sum to" in lines[0]
    assert not (tmp_path / "x.ply").exists()
