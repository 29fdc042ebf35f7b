"""Specification of constant-quality encoding of dynamic scenes (gscc.codec.dynamic_target,
`encode x.splatv --target-psnr`): the contribution-pruning threshold chosen by renders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gscc.codec.dynamic_config import DYNAMIC_PRESETS
from gscc.codec.dynamic_decoder import decode_dynamic
from gscc.codec.dynamic_target import CONTRIBUTION_LEVELS, DynamicQualityProbe, encode_dynamic_for_psnr
from gscc.dynamic import DynamicScene, DynamicSplats
from gscc.info import summarize
from gscc.synthetic import random_dynamic_splats
from test_robustness import assert_one_line_error, gscc_cli  # noqa: F401  (gscc_cli: fixture)

CONFIG = DYNAMIC_PRESETS["default"].with_overrides(sort="none", opacity_threshold=0.0, contribution_views=2)


@pytest.fixture(scope="module")
def scene() -> DynamicScene:
    """160 splats the size of a few pixels and 80 tiny faint ones that hardly show."""
    source = random_dynamic_splats(240, seed=21, sh_degree=0)
    scales = np.full_like(source.static.scales, -1.5)
    scales[160:] = -6.0
    opacities = source.static.opacities.copy()
    opacities[160:] = -3.0
    static = dataclasses.replace(source.static, scales=scales, opacities=opacities)
    return DynamicScene.single(DynamicSplats(static, source.motion), fps=30.0, frame_count=20)


@pytest.fixture(scope="module")
def probe(scene) -> DynamicQualityProbe:
    return DynamicQualityProbe(scene, views=2, times=3, size=(64, 48))


def test_the_input_itself_has_no_error(scene, probe) -> None:
    assert probe.squared_error(scene) == 0.0


@pytest.mark.parametrize("target", [30.0, 40.0])
def test_encode_for_psnr_reaches_the_target_and_records_it(scene, probe, target) -> None:
    result = encode_dynamic_for_psnr(scene, CONFIG, target, probe=probe)
    assert result.reached and result.psnr >= target
    assert result.config.prune_contribution in CONTRIBUTION_LEVELS
    assert 10 * np.log10(1 / probe.squared_error(decode_dynamic(result.encoded.data))) == pytest.approx(result.psnr)
    quality = summarize(result.encoded.data)["encoder"]["quality"]
    assert quality["target_psnr"] == target and quality["psnr"] == pytest.approx(result.psnr)
    assert quality["views"] == 2 and quality["times"] == 3 and (quality["width"], quality["height"]) == (64, 48)


def test_a_lower_target_prunes_at_least_as_much_and_costs_no_more(scene, probe) -> None:
    low = encode_dynamic_for_psnr(scene, CONFIG, 25.0, probe=probe)
    high = encode_dynamic_for_psnr(scene, CONFIG, 45.0, probe=probe)
    assert low.config.prune_contribution >= high.config.prune_contribution > 0.0  # the faint splats go
    assert len(low.encoded.data) <= len(high.encoded.data)


def test_an_unreachable_target_keeps_every_splat_and_says_so(scene, probe) -> None:
    result = encode_dynamic_for_psnr(scene, CONFIG, 99.0, probe=probe)
    assert not result.reached and result.psnr < 99.0
    assert result.config.prune_contribution == 0.0
    assert decode_dynamic(result.encoded.data).count == scene.count


def test_cli_target_psnr_on_a_splatv(gscc_cli, scene, tmp_path) -> None:
    from gscc.io import write_splatv

    write_splatv(scene.segments[0].splats, tmp_path / "scene.splatv")
    result = gscc_cli("encode", tmp_path / "scene.splatv", "--sort", "none", "--target-psnr", "35")
    assert result.code == 0, result.stderr
    assert "quality: render PSNR" in result.stdout and "times" in result.stdout
    line = assert_one_line_error(gscc_cli("encode", tmp_path / "scene.splatv", "-o", tmp_path / "b.gsc",
                                          "--target-psnr", "35", "--prune-contribution", "0.1"))
    assert "--target-psnr" in line and not (tmp_path / "b.gsc").exists()
