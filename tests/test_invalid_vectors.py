"""The invalid-file conformance vectors: every rule of spec/validation.md has a file that
breaks it, and gscc rejects each with the rule's error class and a one-line message, from
the library and from `gscc decode` / `gscc info` (exit 1, nothing written)."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path

import pytest

from gscc.codec.decoder import decode_scene
from gscc.codec.dynamic_decoder import decode_dynamic, is_dynamic_gsc
from gscc.errors import ERROR_CLASSES, FormatError
from gscc.info import summarize
from test_robustness import assert_one_line_error, gscc_cli  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]
INVALID = json.loads((ROOT / "conformance" / "invalid" / "manifest.json").read_text())["invalid"]
SPEC = (ROOT / "spec" / "validation.md").read_text()
IDS = [entry["name"] for entry in INVALID]


def test_every_rule_of_the_spec_has_an_invalid_vector() -> None:
    rules = set(re.findall(r"^- \*\*([CHVPLFD]\d+)\b", SPEC, flags=re.MULTILINE))
    assert len(rules) >= 45 + 13  # the static rules and the dynamic ones (D1-D13)
    assert rules == {entry["rule"] for entry in INVALID}


def test_the_manifest_uses_the_error_classes_of_the_spec() -> None:
    spec_classes = set(re.findall(r"^\| `([a-z-]+)` \|", SPEC, flags=re.MULTILINE))
    assert spec_classes == set(ERROR_CLASSES)
    assert {entry["error_class"] for entry in INVALID} == spec_classes


@pytest.mark.parametrize("entry", INVALID, ids=IDS)
def test_invalid_vector_is_rejected_with_its_error_class(entry: dict) -> None:
    data = (ROOT / "conformance" / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["file_sha256"], "invalid vector file was changed"
    decode_file = decode_dynamic if is_dynamic_gsc(data) else decode_scene
    for reader in (decode_file, summarize):
        with pytest.raises(FormatError) as caught:
            reader(data)
        assert caught.value.error_class == entry["error_class"], str(caught.value)
        message = str(caught.value)
        assert message and "\n" not in message


@pytest.mark.parametrize("entry", INVALID, ids=IDS)
def test_gscc_decode_and_info_reject_an_invalid_vector_in_one_line(gscc_cli, entry: dict, tmp_path: Path) -> None:  # noqa: F811
    source = ROOT / "conformance" / entry["file"]
    output = tmp_path / "out.ply"
    for args in (["decode", source, "-o", output], ["info", source], ["info", "--json", source]):
        result = gscc_cli(*args)
        assert_one_line_error(result)
        assert result.code == 1
    assert list(tmp_path.iterdir()) == []


ODD_ENCODER_VALUES = {
    "bytes": {"name": b"\x00\xff", "version": "1"},
    "non-finite floats": {"name": "x", "settings": {"a": float("nan"), "b": float("inf")}},
    "nested 30 deep": {"name": "x", "settings": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]},
    "huge integers": {"name": "x", "input_count": (1 << 64) - 1, "version": -(1 << 63)},
    "markup and unicode": {"name": "[bold]x[/bold] ✓ \u202e", "version": ["1", None, True]},
    "not a map": [1, 2, 3],
}


@pytest.mark.parametrize("case", ODD_ENCODER_VALUES, ids=list(ODD_ENCODER_VALUES))
def test_info_shows_any_informative_encoder_value_the_decoder_accepts(gscc_cli, case: str, tmp_path: Path) -> None:  # noqa: F811
    """The `encoder` entry may hold any value rules C8-C10 allow; info and info --json show it."""
    sys.path.insert(0, str(ROOT / "conformance"))
    import handmade

    scene = handmade.base()
    scene.header["encoder"] = ODD_ENCODER_VALUES[case]
    path = tmp_path / "odd.gsc"
    path.write_bytes(scene.pack())
    for args in (["info", path], ["info", "--json", path]):
        result = gscc_cli(*args)
        assert result.code == 0, result.stderr
        assert "Traceback" not in result.stderr
    json.loads(gscc_cli("info", "--json", path).stdout)
