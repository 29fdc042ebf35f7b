"""A small run of the fuzzing benchmark (bench/fuzz.py): mutated conformance vectors, valid
and invalid, are either decoded or rejected cleanly -- no other exception, no hang, no
memory beyond the bound -- by the library and by `gscc decode` / `info` / `info --json`.
The full run (10,000 mutations per vector) is the benchmark; see bench/README.md."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import fuzz  # noqa: E402


def test_mutated_vectors_are_decoded_or_rejected_cleanly() -> None:
    report = fuzz.fuzz(per_vector=25, per_invalid=2, workers=1, timeout=60.0, seed=14, cli_every=25)
    assert report["cases"] == 25 * report["valid_vectors"] + 2 * report["invalid_vectors"]
    assert report["outcomes"]["rejected"] > 0 and report["cli_cases"] > 0
    assert {k: report["outcomes"][k] for k in fuzz.DEFECTS} == {"untyped": 0, "exception": 0, "hang": 0, "memory": 0}, report["defects"][:3]


def test_every_mutation_reaches_the_decoder() -> None:
    """Header and chunk edits keep the CRCs valid, so most are rejected past the checksums."""
    import random

    data = (fuzz.CONFORMANCE / "vectors" / "sh3-vq-ans.gsc").read_bytes()
    rng = random.Random(3)
    for kind, at_most in (("header", 8), ("chunk", 0)):  # a header edit may hit a chunk's CRC entry
        mutated = [fuzz.mutate(rng, data, kind) for _ in range(40)]
        messages = [fuzz.run_case(m)[1] for m in mutated]
        assert sum("checksum" in m for m in messages) <= at_most, messages
        assert sum(m != data for m in mutated) >= 35
