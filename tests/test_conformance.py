"""Every conformance vector decodes to exactly the arrays its manifest promises."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from gscc.codec.attributes import attribute_arrays
from gscc.codec.decoder import decode

ROOT = Path(__file__).resolve().parents[1] / "conformance"
MANIFEST = json.loads((ROOT / "manifest.json").read_text())["vectors"]


def test_manifest_covers_the_codec_paths() -> None:
    names = {entry["name"] for entry in MANIFEST}
    assert {"plant-png", "plant-ans", "sh3-vq-ans", "sh3-scalar-png", "one-splat"} <= names
    degrees = {entry["decoded"]["sh_degree"] for entry in MANIFEST}
    assert degrees == {0, 1, 2, 3}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_vector_decodes_bit_exactly(entry: dict) -> None:
    data = (ROOT / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["file_sha256"], "vector file was changed"
    splats = decode(data)
    expected = entry["decoded"]
    assert splats.count == expected["count"]
    assert splats.sh_degree == expected["sh_degree"]
    for name, array in attribute_arrays(splats).items():
        digest = hashlib.sha256(array.astype("<f4").tobytes()).hexdigest()
        assert digest == expected["arrays"][name], f"{name} differs from the vector"
