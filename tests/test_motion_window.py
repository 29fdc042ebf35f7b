"""The motion window (spec/dynamic.md): STG motion coded times each splat's visibility
half-window to the power of its degree, divided back by the decoder."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gscc.codec.dynamic_config import DynamicEncodeConfig
from gscc.codec.dynamic_decoder import decode_dynamic
from gscc.codec.dynamic_encoder import encode_dynamic_tracked
from gscc.codec.motion_window import MotionWindow
from gscc.container import pack, unpack
from gscc.errors import FormatError
from gscc.synthetic import random_dynamic_splats

FAST = DynamicEncodeConfig().with_overrides(sort="none", opacity_threshold=0.0)
finite = st.floats(-1e3, 1e3, allow_nan=False, width=32)


@settings(max_examples=40, deadline=None)
@given(values=arrays(np.float32, (7, 9), elements=finite), log_scale=arrays(np.float32, 7, elements=st.floats(-30, 30, width=32)),
       width=st.floats(0.1, 10.0), floor=st.floats(1e-3, 1.0))
def test_removing_the_window_undoes_applying_it(values, log_scale, width, floor) -> None:
    """apply then remove is the identity up to float32 rounding, for any log scale."""
    window = MotionWindow(width, floor)
    half = window.half_window(log_scale)
    assert np.all((half >= floor) & (half <= 1.0))
    powers = tuple(c // 3 + 1 for c in range(9))
    back = window.remove(window.apply(values, powers, half).astype(np.float32), powers, half)
    np.testing.assert_allclose(back, values, rtol=1e-5, atol=1e-30)


def test_header_entry_round_trips_and_rejects_nonsense() -> None:
    window = MotionWindow(2.0, 1 / 64)
    assert MotionWindow.from_header(window.to_header()) == window
    for bad in (None, {"width": 2.0}, {"width": 0.0, "floor": 0.1}, {"width": 2.0, "floor": 1.5},
                {"width": 2, "floor": 0.1}, {"width": 2.0, "floor": 0.1, "x": 1.0}):
        with pytest.raises(FormatError):
            MotionWindow.from_header(bad)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), t=st.floats(0.0, 1.0))
def test_windowed_motion_is_as_close_where_splats_are_seen(seed, t) -> None:
    """With the window, positions at any time stay within the quantizers' reach for the
    splats visible then; the file records the window and decodes to finite motion."""
    source = random_dynamic_splats(80, seed=seed)
    config = FAST.with_overrides(motion_window=2.0)
    encoded = encode_dynamic_tracked(source, config)
    assert unpack(encoded.data).header["segments"][0]["motion_window"] == {"width": 2.0, "floor": 1 / 64}
    decoded = decode_dynamic(encoded.data).segments[0].splats
    reference = source.subset(encoded.source_index[0])
    seen = reference.motion.temporal_opacity(t) > 0.05
    span = float(np.ptp(source.at(t).means)) + 1.0
    np.testing.assert_allclose(decoded.at(t).means[seen], reference.at(t).means[seen], atol=0.02 * span)


def test_a_window_on_a_model_without_one_is_a_format_error() -> None:
    source = random_dynamic_splats(40, seed=1, kind="motion-basis")
    container = unpack(encode_dynamic_tracked(source, FAST).data)
    container.header["segments"][0]["motion_window"] = {"width": 2.0, "floor": 0.1}
    with pytest.raises(FormatError, match="motion window"):
        decode_dynamic(pack(container))


def test_vector_quantized_motion_decodes_to_codebook_vectors() -> None:
    """A vq motion plane decodes every moving splat to one of its codebook's vectors
    (divided by the window when there is one); still splats keep zero motion."""
    source = random_dynamic_splats(120, seed=5, still=0.3)
    config = FAST.with_overrides(vq_planes=("motion",), vq_size=16, motion_bits=12)
    encoded = encode_dynamic_tracked(source, config)
    entry = unpack(encoded.data).header["segments"][0]["attributes"]["motion"]
    assert entry["codec"] == "vq" and entry["codebook"]["size"] == 16
    motion = decode_dynamic(encoded.data).segments[0].splats.motion.motion
    moving = np.abs(motion).sum(axis=1) > 0
    assert 1 <= len(np.unique(motion[moving], axis=0)) <= 16
    windowed = decode_dynamic(encode_dynamic_tracked(source, config.with_overrides(motion_window=2.0)).data)
    assert np.isfinite(windowed.segments[0].splats.motion.motion).all()


def test_config_rejects_bad_windows_and_vq_planes() -> None:
    for bad in (dict(motion_window=-1.0), dict(motion_window=2.0, motion_window_floor=0.0),
                dict(vq_planes=("colour",)), dict(vq_size=0)):
        with pytest.raises(ValueError):
            DynamicEncodeConfig(**bad)
    assert DynamicEncodeConfig().window is None
    assert DynamicEncodeConfig(motion_window=3.0).window == MotionWindow(3.0, 1 / 64)


def test_encode_motion_window_on_the_command_line_and_info_shows_it(tmp_path) -> None:
    from typer.testing import CliRunner

    from gscc.cli import app
    from gscc.io import write_splatv

    source = tmp_path / "scene.splatv"
    write_splatv(random_dynamic_splats(60, seed=6, sh_degree=0), source)
    gsc = tmp_path / "scene.gsc"
    runner = CliRunner()
    result = runner.invoke(app, ["encode", str(source), "-o", str(gsc), "--sort", "none", "--motion-window", "2"])
    assert result.exit_code == 0, result.output
    assert unpack(gsc.read_bytes()).header["segments"][0]["motion_window"] == {"width": 2.0, "floor": 1 / 64}
    info = runner.invoke(app, ["info", str(gsc)])
    assert "motion window 2 temporal scales" in info.output
