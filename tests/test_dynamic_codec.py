"""The dynamic codec (format 1.3): segments of dynamic splats coded as static scenes with
motion planes, decoded back to DynamicScenes, one segment at a time when asked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gscc.codec.decoder import decode
from gscc.codec.dynamic_config import DYNAMIC_PRESETS, DynamicEncodeConfig
from gscc.codec.config import PRESETS
from gscc.codec.dynamic_decoder import decode_at, decode_dynamic, decode_segment, decode_segment_at, dynamic_header
from gscc.codec.dynamic_encoder import encode_dynamic, encode_dynamic_tracked
from gscc.container import Container, pack, unpack
from gscc.dynamic import DynamicScene, DynamicSplats, MotionBasis, Segment, STGMotion
from gscc.errors import FormatError
from gscc.info import summarize
from gscc.splats import FeatureSplats
from gscc.synthetic import random_dynamic_splats, random_feature_splats, random_stg_motion

FAST = DynamicEncodeConfig().with_overrides(sort="none", opacity_threshold=0.0)


def two_segments(seed: int = 0, still: float = 0.5) -> DynamicScene:
    d = random_dynamic_splats(300, seed=seed, still=still)
    return DynamicScene([Segment(0.0, 0.4, d.subset(np.arange(120))), Segment(0.4, 1.0, d.subset(np.arange(120, 300)))],
                        fps=25.0, frame_count=50)


def moved(splats, t: float) -> np.ndarray:
    return splats.at(t).means


# --------------------------------------------------------------------------- round trips
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count=st.integers(1, 60), seed=st.integers(0, 10**6), kind=st.sampled_from(["stg", "motion-basis"]),
       still=st.sampled_from([0.0, 0.5, 1.0]), t=st.floats(0.0, 1.0))
def test_round_trip_keeps_every_splat_close_at_any_time(count, seed, kind, still, t) -> None:
    """Positions at any time within the quantizers' reach; the same splat count (no pruning)."""
    source = random_dynamic_splats(count, seed=seed, kind=kind, still=still)
    encoded = encode_dynamic_tracked(source, FAST)
    scene = decode_dynamic(encoded.data)
    decoded = scene.segments[0].splats
    reference = source.subset(encoded.source_index[0])
    assert decoded.count == count and decoded.kind == kind
    span = float(np.ptp(source.at(t).means)) + 1.0
    np.testing.assert_allclose(moved(decoded, t), moved(reference, t), atol=0.02 * span)


def test_stg_rotation_survives_unnormalised_and_zero_quaternions() -> None:
    """normalise(q + omega dt) is kept though q is stored as a unit quaternion (sign
    included): q and omega are scaled and flipped together; a zero q is the identity."""
    source = random_dynamic_splats(200, seed=3)
    quats = source.static.quats * np.linspace(0.2, 5.0, 200)[:, None].astype(np.float32)
    quats[:20] = 0.0
    source = DynamicSplats(dataclasses.replace(source.static, quats=quats), source.motion)
    config = FAST.with_overrides(rotation_bits=12, omega_bits=14)
    encoded = encode_dynamic_tracked(source, config)
    decoded = decode_dynamic(encoded.data).segments[0].splats
    reference = source.subset(encoded.source_index[0])
    zero = ~reference.static.quats.any(axis=1)
    identity = DynamicSplats(dataclasses.replace(reference.static, quats=np.where(zero[:, None], [1, 0, 0, 0], reference.static.quats)),
                             reference.motion)
    for t in (0.0, 0.37, 1.0):
        a, b = decoded.at(t).quats, identity.at(t).quats
        assert np.abs(np.abs(np.sum(a * b, axis=1)) - 1.0).max() < 1e-3


def test_mlp_coloured_segments_keep_their_features_and_decoder() -> None:
    static = random_feature_splats(80, seed=4)
    source = DynamicSplats(static, random_stg_motion(80, seed=5))
    scene = decode_dynamic(encode_dynamic(source, FAST))
    decoded = scene.segments[0].splats.static
    assert isinstance(decoded, FeatureSplats)
    for a, b in zip(decoded.decoder.to_arrays().values(), static.decoder.to_arrays().values()):
        np.testing.assert_array_equal(a, b)
    assert decode_at(encode_dynamic(source, FAST), 0.5).count == 80


def test_motion_basis_is_stored_exactly() -> None:
    source = random_dynamic_splats(50, seed=6, kind="motion-basis")
    decoded = decode_dynamic(encode_dynamic(source, FAST)).segments[0].splats.motion
    assert isinstance(decoded, MotionBasis)
    np.testing.assert_array_equal(decoded.basis, source.motion.basis)


# --------------------------------------------------------------------------- segments and seeking
def test_segments_keep_their_spans_timing_and_splats() -> None:
    scene = two_segments()
    data = encode_dynamic(scene, FAST)
    decoded = decode_dynamic(data)
    assert [(s.start, s.end, s.splats.count) for s in decoded.segments] == [(0.0, 0.4, 120), (0.4, 1.0, 180)]
    assert (decoded.fps, decoded.frame_count) == (25.0, 50)
    head = dynamic_header(data)
    assert head.duration == 2.0 and head.segment_index(0.4) == 1 and head.segment_index(0.39) == 0


def test_one_segment_decodes_without_reading_the_others() -> None:
    """Seeking: a segment's chunks alone are read; damage elsewhere does not matter to it."""
    scene = two_segments()
    data = encode_dynamic(scene, FAST)
    container = unpack(data)
    first = [i for i in range(len(container.chunks)) if i <= max_chunk(container.header["segments"][0])]
    damaged = dataclasses.replace(container, chunks=list(container.chunks))
    kind, body = damaged.chunks[first[-1]]
    packed = pack(damaged)
    offset = packed.rindex(body)  # the first segment's last chunk: corrupt it after packing (CRC now wrong)
    broken = packed[:offset] + bytes([body[0] ^ 0xFF]) + packed[offset + 1:]
    whole = decode_dynamic(data).segments[1].splats
    alone = decode_segment(broken, 1).splats
    np.testing.assert_array_equal(alone.static.means, whole.static.means)
    np.testing.assert_array_equal(alone.motion.motion, whole.motion.motion)
    np.testing.assert_array_equal(decode_at(broken, 0.9).means, decode_dynamic(data).at(0.9).means)
    with pytest.raises(FormatError, match="checksum"):
        decode_dynamic(broken)
    with pytest.raises(FormatError, match="checksum"):
        decode_segment(broken, 0)
    with pytest.raises(ValueError, match="no segment"):
        decode_segment(data, 2)


def max_chunk(segment: dict) -> int:
    from gscc.codec.dynamic_decoder import segment_chunks

    return max(segment_chunks(segment))


# --------------------------------------------------------------------------- mask and pruning
def test_static_splats_code_no_motion() -> None:
    """Half still: a one-bit mask, their motion decodes as zero; all still: no motion planes."""
    source = random_dynamic_splats(400, seed=7, still=0.5)
    encoded = encode_dynamic_tracked(source, FAST)
    segment = unpack(encoded.data).header["segments"][0]
    decoded = decode_dynamic(encoded.data).segments[0].splats
    reference = source.subset(encoded.source_index[0])
    still = np.abs(reference.motion.motion).max(axis=1) == 0
    assert segment["motion_mask"] is not None and segment["moving"] == int((~still).sum())
    assert not decoded.motion.motion[still].any() and not decoded.motion.omega[still].any()
    assert decoded.motion.motion[~still].any(axis=1).all()

    frozen = random_dynamic_splats(400, seed=7, still=1.0)
    data = encode_dynamic(frozen, FAST)
    segment = unpack(data).header["segments"][0]
    assert segment["moving"] == 0 and segment["motion_mask"] is None
    assert {"motion", "omega"}.isdisjoint(segment["attributes"])
    assert len(data) < len(encoded.data) * 0.8
    assert not decode_dynamic(data).segments[0].splats.motion.motion.any()


def test_splats_never_visible_in_their_segment_are_pruned() -> None:
    source = random_dynamic_splats(200, seed=8)
    t_center = source.motion.t_center.copy()
    t_center[:50] = 5.0  # centred far after the segment, narrow: never visible in [0, 1]
    t_scale = source.motion.t_scale.copy()
    t_scale[:50] = np.log(0.1)
    source = DynamicSplats(source.static, dataclasses.replace(source.motion, t_center=t_center, t_scale=t_scale))
    encoded = encode_dynamic_tracked(source, DYNAMIC_PRESETS["default"].with_overrides(sort="none"))
    kept = encoded.source_index[0]
    assert not np.isin(np.arange(50), kept).any()
    assert len(kept) > 100


def test_contributions_to_a_view_add_up_to_its_coverage() -> None:
    # each splat's blending weight summed over pixels; over all splats: the rendered alpha
    from gscc.cameras import load_cameras
    from gscc.codec.contribution import peak_contribution
    from gscc.render import render
    from gscc.render.api import Gaussians

    source = random_dynamic_splats(150, seed=11, sh_degree=0)
    camera = load_cameras("orbit:1", splats=source.at(0.3), width=64, height=48)[0]
    weight = peak_contribution(source, [camera], [0.3])
    alpha = render(Gaussians.from_splats(source.at(0.3), device="cpu"), camera, backend="taichi").alpha
    assert weight.min() >= 0.0
    assert weight.sum() == pytest.approx(float(alpha.sum()), rel=1e-3)


def test_splats_no_probe_view_sees_are_pruned_by_contribution() -> None:
    source = random_dynamic_splats(200, seed=12, sh_degree=0)
    scales = np.full_like(source.static.scales, -1.5)
    scales[:40] = -14.0  # far below a pixel in every view, at every time, and faint: the
    opacities = source.static.opacities.copy()  # renderer's 0.3 px^2 blur paints ~0.02 px
    opacities[:40] = np.log(0.01 / 0.99)
    source = DynamicSplats(dataclasses.replace(source.static, scales=scales, opacities=opacities), source.motion)
    config = DYNAMIC_PRESETS["default"].with_overrides(sort="none", opacity_threshold=0.0, contribution_views=4)
    kept_all = encode_dynamic_tracked(source, config).source_index[0]
    kept = encode_dynamic_tracked(source, config.with_overrides(prune_contribution=0.05)).source_index[0]
    assert len(kept_all) == 200
    assert not np.isin(np.arange(40), kept).any()
    assert len(kept) > 120


def test_contribution_probe_includes_the_scene_cameras() -> None:
    from gscc.cameras import load_cameras

    source = random_dynamic_splats(200, seed=13, sh_degree=0)
    scales = np.full_like(source.static.scales, -1.5)
    source = DynamicSplats(dataclasses.replace(source.static, scales=scales), source.motion)
    scene = DynamicScene.single(source)
    # the scene's one camera sees a part of the splats only (its principal point moved
    # far off-centre): alone it prunes the rest; orbit views around the splats keep them
    orbit = load_cameras("orbit:1", splats=source.at(0.5), width=320, height=180)[0]
    scene.extra["cameras"] = [dataclasses.replace(orbit, cx=orbit.cx + 0.8 * orbit.width)]
    config = DYNAMIC_PRESETS["default"].with_overrides(sort="none", opacity_threshold=0.0, prune_contribution=0.05)
    only_scene = encode_dynamic_tracked(scene, config.with_overrides(contribution_views=0)).source_index[0]
    with_orbit = encode_dynamic_tracked(scene, config.with_overrides(contribution_views=4)).source_index[0]
    assert 0 < len(only_scene) < 150
    assert len(with_orbit) > 190
    with pytest.raises(ValueError, match="probe views"):
        encode_dynamic(source, config.with_overrides(contribution_views=0))  # no camera at all


def test_every_static_preset_has_a_dynamic_preset() -> None:
    # plus the dynamic-only gscodec (Dynamic GSCodec's codec, on the default's sorting and coders)
    assert set(DYNAMIC_PRESETS) == set(PRESETS) | {"gscodec"}
    for name, config in DYNAMIC_PRESETS.items():
        static = PRESETS["default" if name == "gscodec" else name]
        assert (config.static.sort, config.static.coder, config.static.sh_codec) == (static.sort, static.coder, static.sh_codec)


def test_config_rejects_what_the_format_cannot_hold() -> None:
    with pytest.raises(ValueError):
        DynamicEncodeConfig(motion_bits=17)
    with pytest.raises(ValueError):
        DynamicEncodeConfig(transforms=(("motion", "sigmoid"),))
    with pytest.raises(ValueError):
        DynamicEncodeConfig(transforms=(("means", "identity"),))
    with pytest.raises(ValueError):
        DynamicEncodeConfig(prune_contribution=-1.0)
    with pytest.raises(ValueError):
        DynamicEncodeConfig(prune_contribution=float("nan"))


# --------------------------------------------------------------------------- info and bitrate
def test_info_gives_bitrate_and_sizes_per_segment() -> None:
    data = encode_dynamic(two_segments(), FAST)
    summary = summarize(data)
    # 1.4: a jxl plane; 1.5: an ans-interp plane
    assert summary["format_version"] in ("1.3", "1.4", "1.5") and summary["scene"]["kind"] == "dynamic"
    assert summary["duration_s"] == 2.0 and summary["mbps"] == pytest.approx(8 * len(data) / 2.0 / 1e6)
    assert len(summary["segments"]) == 2
    rows = {row["attribute"]: row for row in summary["attributes"]}
    assert {"means", "motion", "omega", "t_center", "t_scale", "motion_mask"} <= set(rows)
    for name in rows:
        assert rows[name]["bytes"] == sum(
            r["bytes"] for s in summary["segments"] for r in s["attributes"] if r["attribute"] == name)
    assert sum(r["bytes"] for r in summary["attributes"]) + summary["overhead"]["bytes"] == len(data)
    assert sum(s["bytes"] for s in summary["segments"]) < len(data)


def test_candidate_sizes_are_reported_per_segment_without_changing_the_file() -> None:
    scene = two_segments()
    sizes: list[dict] = []
    data = encode_dynamic_tracked(scene, FAST, sizes=sizes).data
    assert data == encode_dynamic(scene, FAST)
    assert len(sizes) == 2
    header = unpack(data, select=lambda h: set()).header
    for segment, candidates in zip(header["segments"], sizes):
        scalar = {name for name, entry in segment["attributes"].items() if entry["codec"] == "scalar"}
        assert {"means", "motion", "t_center"} <= scalar == set(candidates)
        for name in scalar:  # the kept coding is the smallest empirical candidate (no learned source here)
            chunks = segment["attributes"][name]["coding"]["chunks"]
            kept = sum(len(unpack(data).chunks[c][1]) for c in chunks)
            assert min(v for k, v in candidates[name].items() if k in ("png", "ans", "jxl") and v) <= kept + 64


# --------------------------------------------------------------------------- bad input
def edited(data: bytes, edit) -> bytes:
    container = unpack(data)
    edit(container.header)
    return pack(container)


@pytest.mark.parametrize("edit, message", [
    (lambda h: h["segments"][1].update(start=0.5), "does not add up"),
    (lambda h: h["segments"][1].update(end=0.9), "does not add up"),
    (lambda h: h["segments"][0].update(end=0.0), "does not add up"),
    (lambda h: h["segments"][0].update(count=121), "does not add up"),
    (lambda h: h["scene"].update(count=301), "does not add up"),
    (lambda h: h["segments"].reverse(), "does not add up"),
    (lambda h: h["segments"].clear(), "segment table"),
    (lambda h: h["scene"].update(fps=float("nan")), "fps"),
    (lambda h: h["scene"].update(frame_count=0), "frame_count"),
    (lambda h: h["scene"]["motion"].update(kind="splines"), "unknown motion model"),
    (lambda h: h["scene"]["motion"].update(motion_degree=4), "motion_degree"),
    (lambda h: h["segments"][0].update(moving=10**9), "moving"),
    (lambda h: h["segments"][0].update(motion_mask=None), "motion mask"),
    (lambda h: h["segments"][0]["attributes"].pop("t_center"), "t_center"),
    (lambda h: h["segments"][0]["attributes"].update(extra=h["segments"][0]["attributes"]["t_scale"]), "extra"),
])
def test_malformed_segment_tables_are_format_errors(edit, message) -> None:
    data = edited(encode_dynamic(two_segments(), FAST), edit)
    with pytest.raises(FormatError, match=message):
        decode_dynamic(data)
    with pytest.raises(FormatError):
        summarize(data)


def test_chunks_shared_between_segments_are_rejected() -> None:
    def share(header):
        header["segments"][1]["grid"]["padding"] = 0
    data = edited(encode_dynamic(two_segments(), FAST), share)
    with pytest.raises(FormatError, match="chunks before"):
        decode_dynamic(data)


def test_a_dynamic_scene_needs_format_1_3_and_the_static_decoder_names_it() -> None:
    data = encode_dynamic(two_segments(), FAST.with_overrides(coder="ans"))  # no jxl plane: 1.3
    assert unpack(data).version == (1, 3)
    with pytest.raises(FormatError, match="dynamic scene"):
        decode(data)
    container = unpack(data)
    old = pack(Container(container.header, container.chunks, (1, 2)))
    with pytest.raises(FormatError, match="1.3"):
        decode_dynamic(old)


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.95])
def test_a_truncated_dynamic_file_is_a_format_error(cut) -> None:
    data = encode_dynamic(two_segments(), FAST)
    with pytest.raises(FormatError, match="truncated"):
        decode_dynamic(data[: int(len(data) * cut)])


def test_a_player_seeks_in_a_memory_mapped_file(tmp_path) -> None:
    """decode_segment_at takes any bytes-like object: a memory map reads the pages it touches."""
    import mmap

    data = encode_dynamic(two_segments(), FAST)
    (tmp_path / "x.gsc").write_bytes(data)
    with open(tmp_path / "x.gsc", "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        segment, local = decode_segment_at(mapped, 0.7)
        assert (segment.start, segment.end, segment.splats.count) == (0.4, 1.0, 180)
        assert local == pytest.approx(0.5)
        np.testing.assert_array_equal(segment.splats.at(local).means, decode_dynamic(data).at(0.7).means)


def test_a_budget_per_view_keeps_the_splats_one_crowded_view_needs() -> None:
    from gscc.codec.contribution import Contributions

    # view 0 sees 100 faint splats (error 0.01 each), view 1 another 50 (error 0.01 each)
    weight = np.zeros((2, 150), np.float32)
    weight[0, :100] = weight[1, 100:] = 0.05
    error = weight * 0.2
    probed = Contributions(weight, error, np.array([100.0, 100.0]))
    assert probed.dropped(0.1).all()  # no budget: every splat below the threshold goes
    assert not probed.dropped(0.01).any()
    view_psnr = 10 * np.log10(100.0 / 0.305)  # each view may lose 0.305 of squared error: 30 splats
    dropped = probed.dropped(0.1, view_psnr)
    assert error[:, dropped].sum(axis=1) == pytest.approx([0.3, 0.3], rel=1e-5)
    assert dropped[:100].sum() == dropped[100:].sum() == 30
    # a view measured to err twice what was estimated gets half as many dropped
    assert probed.dropped(0.1, view_psnr, correction=np.array([2.0, 1.0]))[:100].sum() == 15


def test_pruning_within_views_holds_every_probe_view_to_its_psnr() -> None:
    from gscc.cameras import load_cameras
    from gscc.codec.contribution import contributions, probe_renders, prune_within_views
    from gscc.eval.metrics import psnr

    source = random_dynamic_splats(240, seed=21, sh_degree=0)
    static = source.static
    scales, opacities, means = static.scales.copy(), static.opacities.copy(), static.means.copy()
    scales[:] = -3.0
    # 80 faint splats stacked on one spot: each alone paints little, together a bright blob
    # (their errors add up in the same pixels: the estimate alone misses it)
    means[:80] = means[0]
    scales[:80] = -2.5
    opacities[:80] = np.log(0.03 / 0.97)
    source = DynamicSplats(dataclasses.replace(static, means=means, scales=scales, opacities=opacities), source.motion)
    cameras = load_cameras("orbit:2", splats=source.at(0.5), width=64, height=36)
    times = [0.0, 1.0]
    probed = contributions(source, cameras, times)
    reference = probe_renders(source, cameras, times)

    def worst(dropped: np.ndarray) -> float:
        renders = probe_renders(source.subset(np.flatnonzero(~dropped)), cameras, times)
        return min(psnr(a, b) for a, b in zip(renders, reference))

    everything = probed.dropped(2.0)
    assert everything[:80].all() and worst(everything) < 35.0
    dropped = prune_within_views(source, cameras, times, probed, 2.0, 40.0)
    assert dropped.any() and worst(dropped) >= 40.0 - 0.5


def test_config_rejects_a_view_psnr_out_of_range() -> None:
    for bad in (-1.0, float("nan"), 1000.0):
        with pytest.raises(ValueError, match="view PSNR"):
            DynamicEncodeConfig(prune_view_psnr=bad)


def test_a_splat_peaking_between_probe_times_counts_its_error_near_them() -> None:
    from gscc.codec.contribution import MAX_BRIGHTENING, nearby_brightening

    source = random_dynamic_splats(3, seed=22, sh_degree=0)
    # temporal scale 0.06: one splat peaks at a probe time, one between two (0.05 away),
    # one never fades (huge scale)
    motion = dataclasses.replace(source.motion, t_center=np.array([0.5, 0.55, 0.5], np.float32),
                                 t_scale=np.log(np.array([0.06, 0.06, 1e4], np.float32)))
    splats = DynamicSplats(source.static, motion)
    brighter = nearby_brightening(splats, 0.5, 0.05, 0.0, 1.0)
    assert brighter[0] == pytest.approx(1.0)
    assert brighter[2] == pytest.approx(1.0, abs=1e-6)
    assert brighter[1] == pytest.approx(min(np.exp((0.05 / 0.06) ** 2), MAX_BRIGHTENING), rel=1e-3)
    assert nearby_brightening(splats, 0.5, 0.0, 0.0, 1.0).tolist() == [1.0, 1.0, 1.0]
