"""Specification of constant-quality encoding (gscc.codec.target, `encode --target-psnr`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from conftest import fast_config
from gscc.codec.decoder import decode
from gscc.codec.target import QualityProbe, allocate, encode_for_psnr
from gscc.info import summarize
from gscc.splats import SplatSet
from test_robustness import assert_one_line_error, gscc_cli  # noqa: F401  (gscc_cli: fixture)


def test_allocate_takes_the_fewest_bytes_within_the_error_allowance() -> None:
    costs = {
        "a": {8: (0, 0.0), 6: (-100, 1.0), 4: (-150, 5.0)},
        "b": {8: (0, 0.0), 6: (-60, 0.5), 4: (-90, 2.0)},
    }
    assert allocate(1000, costs, 0.0) == {"a": 8, "b": 8}
    assert allocate(1000, costs, 1.0) == {"a": 6, "b": 8}
    assert allocate(1000, costs, 1.5) == {"a": 6, "b": 6}
    assert allocate(1000, costs, 3.0) == {"a": 6, "b": 4}
    assert allocate(1000, costs, 100.0) == {"a": 4, "b": 4}


def test_refine_goes_coarser_while_the_measured_file_stays_within_the_target() -> None:
    """Each round keeps the smallest one-level-coarser file within the target; a field
    whose coarser level missed is not tried again."""
    from dataclasses import replace

    from gscc.codec.config import EncodeConfig
    from gscc.codec.target import Point, Search, _Trial, refine

    tried = []

    def trial(point: Point) -> _Trial:  # bytes: 10 per bit; error: rotations cost most
        config = point.config
        tried.append(config)
        size = 10 * (config.position_bits + config.scale_bits + config.rotation_bits)
        error = (16 - config.position_bits) * 1.0 + (8 - config.scale_bits) * 0.5 + (8 - config.rotation_bits) * 4.0
        return _Trial(point, SimpleNamespace(data=bytes(size)), error)

    fields = ["position_bits", "scale_bits", "rotation_bits"]
    start = trial(Point(EncodeConfig(position_bits=14)))  # error 2.0
    chosen = refine(start, Search(fields, trial, 3.5))
    # round 1: positions 13 (error 3.0) and scales 7 (2.5) save as much, the first is kept;
    # rotations 7 (6.0) miss; round 2: positions 12 (4.0) miss, scales 7 (3.5) fit; round 3:
    # scales 6 (4.0) miss
    assert chosen.error == 3.5
    assert (chosen.config.position_bits, chosen.config.scale_bits, chosen.config.rotation_bits) == (13, 7, 8)
    assert replace(start.config, rotation_bits=7) in tried
    assert sum(c.rotation_bits == 7 for c in tried) == 1  # missed once, never again


def test_trade_gives_up_pruning_for_a_coarser_bit_depth_when_that_is_smaller() -> None:
    """From 10 % pruned at 8-bit rotations (error 2.0, 1000 bytes), rotations at 7 bits
    fit only with pruning stepped back to 5 % (error 1.5 + 1.0); the trade keeps that file
    because it is smaller; scales 7 never fit."""
    from gscc.codec.config import EncodeConfig
    from gscc.codec.target import PRUNE, Point, Search, _Trial, trade

    def trial(point: Point) -> _Trial:
        config = point.config
        size = 1000 - 1000 * point.prune + 100 * (config.rotation_bits - 8) + 10 * (config.scale_bits - 8)
        error = 20 * point.prune + 1.5 * (8 - config.rotation_bits) + 5.0 * (8 - config.scale_bits)
        return _Trial(point, SimpleNamespace(data=bytes(round(size))), error)

    fields = ["scale_bits", "rotation_bits", PRUNE]
    start = trial(Point(EncodeConfig(), 0.1))
    traded = trade(start, Search(fields, trial, 2.5))
    assert traded.point.prune == 0.05 and traded.config.rotation_bits == 7 and traded.config.scale_bits == 8
    assert traded.error <= 2.5 and len(traded.encoded.data) < len(start.encoded.data)
    assert trade(trial(Point(EncodeConfig(), 0.0)), Search(fields, trial, 2.5)) is None


@pytest.fixture(scope="module")
def scene(small_splats):
    return small_splats.subset(np.arange(400))


@pytest.fixture(scope="module")
def probe(scene):
    return QualityProbe(scene, views=2, size=(64, 48))


def test_the_input_itself_has_infinite_psnr(scene, probe) -> None:
    assert probe.psnr(scene) == float("inf")


@pytest.mark.parametrize("target", [30.0, 40.0])
def test_encode_for_psnr_reaches_the_target_and_records_it(scene, probe, target) -> None:
    result = encode_for_psnr(scene, fast_config(), target, probe=probe)
    assert result.reached and result.psnr >= target
    decoded = decode(result.encoded.data)
    assert probe.psnr(decoded) == pytest.approx(result.psnr)
    quality = summarize(result.encoded.data)["encoder"]["quality"]
    assert quality["target_psnr"] == target and quality["psnr"] == pytest.approx(result.psnr)
    assert quality["views"] == 2 and (quality["width"], quality["height"]) == (64, 48)


def test_a_lower_target_never_costs_more_bytes(scene, probe) -> None:
    low = encode_for_psnr(scene, fast_config(), 30.0, probe=probe)
    high = encode_for_psnr(scene, fast_config(), 45.0, probe=probe)
    assert len(low.encoded.data) <= len(high.encoded.data)


def test_an_unreachable_target_keeps_the_most_bits_and_says_so(scene, probe) -> None:
    result = encode_for_psnr(scene, fast_config(), 99.0, probe=probe)
    assert not result.reached and result.psnr < 99.0
    assert result.config.position_bits == 16 and result.config.color_bits == 8


def test_encode_for_psnr_is_deterministic(scene, probe) -> None:
    a = encode_for_psnr(scene, fast_config(), 35.0, probe=probe)
    b = encode_for_psnr(scene, fast_config(), 35.0, probe=probe)
    assert a.encoded.data == b.encoded.data


def test_cli_target_psnr_and_info_show_the_quality(gscc_cli, scene, tmp_path) -> None:
    from gscc.io import write_ply

    write_ply(scene, tmp_path / "scene.ply")
    result = gscc_cli("encode", tmp_path / "scene.ply", "--sort", "none", "--target-psnr", "30")
    assert result.code == 0, result.stderr
    assert "quality: render PSNR" in result.stdout
    shown = gscc_cli("info", tmp_path / "scene.gsc")
    assert shown.code == 0 and "quality: render PSNR" in shown.stdout and "target 30.0 dB" in shown.stdout


def test_cli_target_psnr_with_bit_depths_is_an_error(gscc_cli, scene, tmp_path) -> None:
    from gscc.io import write_ply

    write_ply(scene, tmp_path / "scene.ply")
    line = assert_one_line_error(gscc_cli("encode", tmp_path / "scene.ply", "--bits", "6", "--target-psnr", "30"))
    assert "--target-psnr" in line
    assert not (tmp_path / "scene.gsc").exists()


def with_invisible(scene, count: int):
    """``scene`` and ``count`` more splats renders hardly see (a thousandth of the
    smallest splat's size, opacity 0.7 %; the rasterizer's 0.3-pixel blur keeps them from
    vanishing altogether): pruning by contribution should drop them first."""
    from dataclasses import fields

    extra = scene.subset(np.arange(count))
    extra.scales[:] = np.log(1e-3) + scene.scales.min()
    extra.opacities[:] = -5.0
    return SplatSet(**{f.name: np.concatenate([getattr(scene, f.name), getattr(extra, f.name)]) for f in fields(SplatSet)})


def test_pruning_order_puts_splats_renders_cannot_see_first(scene) -> None:
    from gscc.codec.static_contribution import pruning_order

    padded = with_invisible(scene, 40)
    order = pruning_order(padded, (64, 48), specs=("orbit:2", "orbit:2,elevation=60"))
    assert sorted(order.tolist()) == list(range(padded.count))
    # before all but a few of the scene's own 400 (some of those lie outside both views)
    assert set(range(scene.count, padded.count)) <= set(order[:60].tolist())


def test_encode_tracked_drops_the_splats_it_is_told_to(scene) -> None:
    from gscc.codec.encoder import encode_tracked

    drop = np.zeros(scene.count, bool)
    drop[::4] = True
    encoded = encode_tracked(scene, fast_config(opacity_threshold=0.0), drop=drop)
    assert len(encoded.source_index) == scene.count - drop.sum()
    assert not drop[encoded.source_index].any()
    with pytest.raises(ValueError, match="every splat"):
        encode_tracked(scene, fast_config(), drop=np.ones(scene.count, bool))


def test_the_search_prunes_what_renders_cannot_see_and_records_it(scene) -> None:
    padded = with_invisible(scene, 100)  # 20 % of the splats
    probe = QualityProbe(padded, views=2, size=(64, 48))
    pruned = encode_for_psnr(padded, fast_config(), 35.0, probe=probe)
    kept = encode_for_psnr(padded, fast_config(), 35.0, probe=probe, prune=False)
    assert pruned.reached and pruned.psnr >= 35.0 and pruned.prune >= 0.1
    assert decode(pruned.encoded.data).count <= padded.count * (1 - pruned.prune) + 1
    assert len(pruned.encoded.data) < len(kept.encoded.data) and kept.prune == 0.0
    quality = summarize(pruned.encoded.data)["encoder"]["quality"]
    assert quality["pruned_by_contribution"] == pruned.prune
    assert "pruned_by_contribution" not in summarize(kept.encoded.data)["encoder"]["quality"]
