"""Dynamic files on the command line: encode `.splatv` / STG `.ply`, decode to `.ply`,
`.splatv`, folders of segments and snapshots, `info` with the bitrate; and bad dynamic
input: one error line, no partial output, the dynamic decoder fuzzed like the static one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gscc.codec.dynamic_config import DynamicEncodeConfig
from gscc.codec.dynamic_decoder import decode_at, decode_dynamic
from gscc.codec.dynamic_encoder import encode_dynamic
from gscc.container import pack, unpack
from gscc.dynamic import DynamicScene, DynamicSplats, Segment
from gscc.errors import FormatError
from gscc.info import summarize
from conftest import fast_config
from gscc.codec.encoder import encode
from gscc.io import is_dynamic_file, load_dynamic, load_splats, write_dynamic_ply, write_ply, write_splatv
from gscc.synthetic import random_dynamic_splats, random_feature_splats, random_stg_motion
from test_robustness import FAMILIES, assert_one_line_error, fuzz_cases, gscc_cli, run_fuzz, snapshot  # noqa: F401

FAST = DynamicEncodeConfig().with_overrides(sort="none", opacity_threshold=0.0)


@pytest.fixture
def splatv(tmp_path):
    path = tmp_path / "scene.splatv"
    write_splatv(random_dynamic_splats(150, seed=1, sh_degree=0), path)
    return path


def segmented(seed: int = 2) -> DynamicScene:
    d = random_dynamic_splats(200, seed=seed, still=0.5)
    return DynamicScene([Segment(0.0, 0.5, d.subset(np.arange(90))), Segment(0.5, 1.0, d.subset(np.arange(90, 200)))],
                        fps=30.0, frame_count=60)


def test_a_splatv_encodes_and_decodes_to_every_output(gscc_cli, splatv, tmp_path) -> None:
    gsc = tmp_path / "scene.gsc"
    result = gscc_cli("encode", splatv, "-o", gsc, "--sort", "none", "--fps", "25", "--frames", "100",
                      "--prune-opacity", "0", "--coder", "ans")
    assert result.code == 0, result.stderr
    assert "4.00 s (100 frames at 25 fps)" in result.stdout and "Mbps" in result.stdout
    info = gscc_cli("info", gsc, "--json")
    summary = json.loads(info.stdout)
    assert summary["format_version"] == "1.3" and summary["mbps"] == pytest.approx(8e-6 * gsc.stat().st_size / 4.0)

    assert gscc_cli("decode", gsc, "-o", tmp_path / "out.ply").code == 0
    assert is_dynamic_file(tmp_path / "out.ply") and load_dynamic(tmp_path / "out.ply").count == 150
    assert gscc_cli("decode", gsc, "--format", "splatv", "-o", tmp_path / "out.splatv").code == 0
    assert load_dynamic(tmp_path / "out.splatv").count == 150
    assert gscc_cli("decode", gsc, "--time", "0.25", "-o", tmp_path / "frame.ply").code == 0
    frame = load_splats(tmp_path / "frame.ply")
    np.testing.assert_allclose(frame.means, decode_at(gsc.read_bytes(), 0.25).means, atol=1e-6)


def test_an_stg_ply_encodes(gscc_cli, tmp_path) -> None:
    source = tmp_path / "stg.ply"
    write_dynamic_ply(random_dynamic_splats(80, seed=3), source)
    assert gscc_cli("encode", source, "-o", tmp_path / "stg.gsc", "--sort", "none", "--motion-bits", "10").code == 0
    assert unpack((tmp_path / "stg.gsc").read_bytes()).header["segments"][0]["attributes"]["motion"]["quant"]["bits"] == 10


def test_several_segments_decode_to_a_folder_or_one_segment(gscc_cli, tmp_path) -> None:
    gsc = tmp_path / "multi.gsc"
    gsc.write_bytes(encode_dynamic(segmented(), FAST))
    info = gscc_cli("info", gsc)
    assert info.code == 0 and "segments" in info.stdout and "2 segment(s)" in info.stdout
    result = gscc_cli("decode", gsc)
    assert result.code == 0, result.stderr
    folder = tmp_path / "multi.decoded"
    index = json.loads((folder / "scene.json").read_text())
    assert [(s["file"], s["start"], s["end"]) for s in index["segments"]] == [
        ("segment-000.ply", 0.0, 0.5), ("segment-001.ply", 0.5, 1.0)]
    assert (index["fps"], index["frame_count"]) == (30.0, 60)
    assert load_dynamic(folder / "segment-001.ply").count == 110
    again = gscc_cli("decode", gsc, "-o", folder, "--force")
    assert_one_line_error(again)
    assert gscc_cli("decode", gsc, "--segment", "1", "-o", tmp_path / "one.ply").code == 0
    assert load_dynamic(tmp_path / "one.ply").count == 110


def test_mlp_coloured_dynamic_files_decode_baked(gscc_cli, tmp_path) -> None:
    gsc = tmp_path / "mlp.gsc"
    gsc.write_bytes(encode_dynamic(DynamicSplats(random_feature_splats(40, seed=4), random_stg_motion(40, 5)), FAST))
    assert gscc_cli("decode", gsc, "-o", tmp_path / "mlp.ply").code == 0
    assert load_dynamic(tmp_path / "mlp.ply").static.sh_degree == 3
    assert gscc_cli("decode", gsc, "--time", "1", "-o", tmp_path / "frame.ply").code == 0
    assert "MLP colours" in gscc_cli("info", gsc).stdout


# --------------------------------------------------------------------------- bad input
def test_dynamic_options_on_static_files_are_one_line_errors(gscc_cli, tmp_path) -> None:
    static = random_dynamic_splats(30, seed=13).static
    write_ply(static, tmp_path / "static.ply")
    (tmp_path / "static.gsc").write_bytes(encode(static, fast_config()))
    assert "dynamic" in assert_one_line_error(gscc_cli("encode", tmp_path / "static.ply", "-o", tmp_path / "x.gsc", "--motion-bits", "9"))
    assert "dynamic" in assert_one_line_error(gscc_cli("encode", tmp_path / "static.ply", "-o", tmp_path / "x.gsc", "--preset", "gscodec"))
    assert "dynamic" in assert_one_line_error(gscc_cli("decode", tmp_path / "static.gsc", "--time", "0.5", "-o", tmp_path / "x.ply"))
    assert not (tmp_path / "x.gsc").exists() and not (tmp_path / "x.ply").exists()


def test_a_splatv_with_nan_rows_encodes_the_others_with_a_warning(gscc_cli, tmp_path) -> None:
    source = random_dynamic_splats(60, seed=6, sh_degree=0)
    means = source.static.means.copy()
    means[:5, 0] = np.nan
    source.static.means[:] = means
    write_splatv(source, tmp_path / "nan.splatv")
    result = gscc_cli("encode", tmp_path / "nan.splatv", "-o", tmp_path / "nan.gsc", "--sort", "none", "--prune-opacity", "0")
    assert result.code == 0 and "warning:" in result.stderr and "dropped 5" in result.stderr
    assert decode_dynamic((tmp_path / "nan.gsc").read_bytes()).count == 55


def test_a_dynamic_ply_of_only_nan_is_a_one_line_error(gscc_cli, tmp_path) -> None:
    source = random_dynamic_splats(10, seed=7)
    source.motion.motion[:] = np.inf
    write_dynamic_ply(source, tmp_path / "inf.ply")
    assert_one_line_error(gscc_cli("encode", tmp_path / "inf.ply", "-o", tmp_path / "inf.gsc"))
    assert not (tmp_path / "inf.gsc").exists()


def not_adding_up(data: bytes) -> bytes:
    container = unpack(data)
    container.header["segments"][1]["start"] = 0.6
    return pack(container)


@pytest.mark.parametrize("damage", [not_adding_up, lambda d: d[: len(d) * 2 // 3], lambda d: d[:-7]],
                         ids=["segment table does not add up", "truncated segment", "last segment cut short"])
@pytest.mark.parametrize("extra", [[], ["--time", "0.9"], ["--segment", "1"], ["--format", "splatv"]],
                         ids=["scene", "time", "segment", "splatv"])
def test_broken_dynamic_files_are_one_line_errors_without_output(gscc_cli, tmp_path, damage, extra) -> None:
    bad = tmp_path / "bad.gsc"
    bad.write_bytes(damage(encode_dynamic(segmented(), FAST)))
    before = snapshot(tmp_path)
    output = tmp_path / ("out.ply" if extra else "out")
    assert_one_line_error(gscc_cli("decode", bad, "-o", output, *extra))
    assert_one_line_error(gscc_cli("info", bad))
    assert snapshot(tmp_path) == before and not output.exists()


# --------------------------------------------------------------------------- fuzzing
@pytest.fixture(scope="module")
def dynamic_corpus() -> dict[str, bytes]:
    mlp = DynamicSplats(random_feature_splats(50, seed=8), random_stg_motion(50, 9))
    return {
        "stg/segments+mask/ans": encode_dynamic(segmented(10), FAST.with_overrides(coder="ans")),
        "stg/png": encode_dynamic(random_dynamic_splats(120, seed=11), FAST.with_overrides(coder="png")),
        "basis/raw": encode_dynamic(random_dynamic_splats(90, seed=12, kind="motion-basis"), FAST.with_overrides(coder="raw")),
        "mlp/auto": encode_dynamic(mlp, FAST),
    }


def check_scene(data: bytes, scene: DynamicScene) -> None:
    header = unpack(data).header
    assert scene.count == header["scene"]["count"] and len(scene.segments) == len(header["segments"])
    for segment in scene.segments:
        assert segment.splats.static.means.shape == (segment.splats.count, 3)
        assert segment.splats.motion.count == segment.splats.count


def check_snapshot(data: bytes, splats) -> None:
    assert splats.means.ndim == 2 and splats.means.shape[1] == 3


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzzed_dynamic_files_decode_or_raise_format_error(dynamic_corpus, family) -> None:
    run_fuzz(dynamic_corpus, family, decode_dynamic, check_scene)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fuzzed_dynamic_files_summarize_or_seek_or_raise_format_error(dynamic_corpus, family) -> None:
    run_fuzz(dynamic_corpus, family, summarize, lambda data, summary: None)
    run_fuzz(dynamic_corpus, family, lambda data: decode_at(data, 0.7), check_snapshot)


def test_dynamic_fuzz_reaches_the_segment_decoder(dynamic_corpus) -> None:
    outcomes = {"decoded": 0, "rejected past the container": 0}
    for family in ("header", "chunks"):
        for _, data in fuzz_cases(dynamic_corpus, family):
            try:
                unpack(data)
            except FormatError:
                continue
            try:
                decode_dynamic(data)
                outcomes["decoded"] += 1
            except FormatError:
                outcomes["rejected past the container"] += 1
    assert min(outcomes.values()) >= 20, outcomes
