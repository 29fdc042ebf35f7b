"""The encoder chooses how a segment's motion plane is coded by rendering the probe views
(gscc.codec.motion_choice): identity where sign-log's wide steps lose fast splats,
sign-log where identity's coarse steps lose small motions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gscc.codec.dynamic_config import DYNAMIC_PRESETS, DynamicEncodeConfig
from gscc.codec.dynamic_encoder import encode_dynamic
from gscc.codec.motion_choice import choose_motion
from gscc.container import unpack
from gscc.codec.dynamic_decoder import decode_dynamic
from gscc.dynamic import DynamicScene, DynamicSplats, Segment
from gscc.synthetic import random_dynamic_splats

CHOICES = (("signlog", 6), ("identity", 6))


def scene(motion: np.ndarray, seed: int) -> DynamicSplats:
    """Splats that are visible all the time (centred mid-segment, a huge temporal scale),
    each moving by its row of ``motion`` (STG coefficients, degree-major)."""
    source = random_dynamic_splats(len(motion), seed=seed, sh_degree=0)
    static = dataclasses.replace(source.static, scales=np.full_like(source.static.scales, -2.5),
                                 opacities=np.full_like(source.static.opacities, 2.0))
    n = len(motion)
    moved = dataclasses.replace(source.motion, motion=motion.astype(np.float32), omega=np.zeros((n, 4), np.float32),
                                t_center=np.full(n, 0.5, np.float32), t_scale=np.full(n, 8.0, np.float32))
    return DynamicSplats(static, moved)


def config(psnr: float = 150.0) -> DynamicEncodeConfig:
    # no acceptable candidate at 150 dB: the best worst render wins, bytes unmeasured
    return DYNAMIC_PRESETS["default"].with_overrides(sort="none", opacity_threshold=0.0, contribution_views=2,
                                                     contribution_times=3, motion_choices=CHOICES,
                                                     motion_choice_psnr=psnr)


def chosen(splats: DynamicSplats, cfg: DynamicEncodeConfig, sizes=lambda c: 0):
    picked, scored = choose_motion(splats, np.ones(splats.count, bool), cfg, (), sizes)
    return dict(picked.transforms)["motion"], scored


def fast_splats() -> DynamicSplats:
    # every splat fast (coefficients 2..4 in size): sign-log's steps there are wider than
    # identity's one step over the same range
    rng = np.random.default_rng(1)
    return scene(rng.uniform(2.0, 4.0, (60, 9)) * rng.choice([-1.0, 1.0], (60, 9)), seed=2)


def small_motions() -> DynamicSplats:
    # small motions (0.005..0.05) and one far outlier that flies off every view: identity's
    # step (the outlier's range / 64) rounds the small ones away, sign-log's stay fine near 0
    rng = np.random.default_rng(3)
    motion = rng.uniform(0.005, 0.05, (60, 9)) * rng.choice([-1.0, 1.0], (60, 9))
    motion[0] = 60.0
    return scene(motion, seed=4)


def test_identity_is_chosen_where_sign_log_loses_fast_splats() -> None:
    transform, scored = chosen(fast_splats(), config())
    assert transform == "identity"
    assert scored[1].worst_psnr > scored[0].worst_psnr + 2.0


def test_sign_log_is_chosen_where_identity_loses_small_motions() -> None:
    transform, scored = chosen(small_motions(), config())
    assert transform == "signlog"
    assert scored[0].worst_psnr > scored[1].worst_psnr + 2.0


def test_of_the_candidates_meeting_the_psnr_the_smallest_wins() -> None:
    sizes = {"signlog": 900, "identity": 1000}
    transform, scored = chosen(fast_splats(), config(psnr=0.0), lambda c: sizes[dict(c.transforms)["motion"]])
    assert transform == "signlog"  # both acceptable at 0 dB: fewer bytes beat a better render
    assert [c.bytes for c in scored] == [900, 1000]


def test_the_file_records_the_chosen_transform() -> None:
    data = encode_dynamic(fast_splats(), config())
    motion = unpack(data).header["segments"][0]["attributes"]["motion"]
    assert motion["transform"] == "identity"
    assert unpack(data).header["encoder"]["settings"]["motion_choices"] == [list(c) for c in CHOICES]


def test_a_candidate_coded_to_measure_it_is_the_one_written() -> None:
    # two segments, both candidates acceptable at 0 dB: each segment coded once per
    # candidate, the smaller's chunks moved into the file
    splats = fast_splats()
    both = DynamicScene([Segment(0.0, 0.5, splats), Segment(0.5, 1.0, splats)])
    data = encode_dynamic(both, config(psnr=0.0))
    segments = unpack(data).header["segments"]
    chosen = [s["attributes"]["motion"]["transform"] for s in segments]
    fixed = encode_dynamic(both, config().with_motion_coding("motion", chosen[0], 6))
    assert chosen[0] == chosen[1]
    assert unpack(data).chunks == unpack(fixed).chunks
    assert decode_dynamic(data).count == 2 * splats.count


def test_motion_bits_asked_for_replace_the_choices() -> None:
    small = DYNAMIC_PRESETS["small"]
    assert small.motion_choices
    assert small.with_overrides(motion_bits=8).motion_choices == ()
    assert small.with_overrides(transforms=(("motion", "identity"),)).motion_choices == ()
    assert small.with_overrides(prune_contribution=0.2).motion_choices == small.motion_choices


def test_config_rejects_unknown_or_uncombinable_choices() -> None:
    with pytest.raises(ValueError, match="unknown motion transform"):
        DynamicEncodeConfig(motion_choices=(("sigmoid", 9),))
    with pytest.raises(ValueError, match="4..16"):
        DynamicEncodeConfig(motion_choices=(("identity", 20),))
    with pytest.raises(ValueError, match="motion window"):
        DynamicEncodeConfig(motion_choices=CHOICES, motion_window=2.0)
