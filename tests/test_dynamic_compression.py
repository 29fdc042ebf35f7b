"""Compression in the loop for dynamic representations (gscc.train.compression with
gscc.train.simulation.motion_frame and the ``motion`` mask): the motion planes are simulated
on the dynamic encoder's grid in its domain, their rate reaches the motion parameters, the
motion mask stays with its splats and becomes the codec's static-splat mask, and
``--compression gscodec`` on a dynamic dataset (Dynamic GSCodec) writes a `.gsc` with the
bitrates in metrics.json; its ablation switches work."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynamic_scene import load_moving, write_n3dv
from gscc.codec.dynamic_config import DYNAMIC_PRESETS, DynamicEncodeConfig
from gscc.codec.dynamic_decoder import decode_dynamic
from gscc.codec.dynamic_encoder import encode_dynamic, encode_dynamic_tracked, join_dynamic
from gscc.dynamic import DynamicScene, DynamicSplats, Segment
from gscc.errors import FormatError, InputError
from gscc.model import ModelConfig, create
from gscc.synthetic import random_dynamic_splats, random_motion_basis
from gscc.train.compression import Compression
from gscc.train.config import TrainConfig, build_config
from gscc.train.segments import train_dynamic
from gscc.train.simulation.motion_frame import MotionFrame
from gscc.train.strategy import STGStrategy
from test_dynamic_train import assert_aligned, tagged
from test_robustness import gscc_cli  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_torch_thread")
CPU = torch.device("cpu")
MOTION = ("motion", "omega", "t_center", "t_scale", "coeffs")


def dynamic_model(representation: str, count: int, seed: int):
    """Splats of either motion model with every motion parameter random (heavy-tailed
    motion, quaternions of any length), all opaque and visible within [0, 1]."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    config = ModelConfig(colour="sh", sh_degree=0, motion_degree=3, basis_count=4, basis_knots=5)
    model = create(representation, rng.normal(0, 1, (count, 3)), rng.random((count, 3)), config,
                   times=rng.random(count))
    with torch.no_grad():
        p = model.params
        p["opacities"].fill_(4.0)
        p["quats"].copy_(torch.randn(count, 4) * torch.empty(count, 1).uniform_(0.3, 3.0))
        if representation == "stg":
            p["motion"].copy_(torch.randn(count, 9) * torch.exp(torch.randn(count, 9)))
            p["omega"].copy_(torch.randn(count, 4) * 0.3)
            p["t_center"].uniform_(0.0, 1.0)
            p["t_scale"].uniform_(-2.0, 1.0)
        else:
            p["coeffs"].copy_(torch.randn(count, 4) * 2.0)
            model.basis.basis.normal_()
    return model


def compression_for(model, *settings: str, **overrides) -> tuple[TrainConfig, Compression]:
    config = build_config("cpu-fast", ["codec_prune=0", *settings], dynamic=True,
                          representation=model.name, **overrides)
    compression = Compression(config, model, CPU)
    for name, (tensor, lr) in compression.mask_params(model.params).items():
        model.params[name] = torch.nn.Parameter(tensor, requires_grad=lr > 0)
    return config, compression


def unsorted(config: TrainConfig) -> DynamicEncodeConfig:
    """The run's dynamic codec without sorting (faster; the values coded are the same)."""
    return config.dynamic_codec_config().with_overrides(sort="none")


def off_edges(compression: Compression, name: str, params) -> np.ndarray:
    """(N, C) True where the trained value lies clearly inside a bin of the grid (at a bin's
    edge the trainer's float32 and the encoder's float64 may round to either side; float32
    symbols of a 16-bit grid are good to a few thousandths)."""
    u = compression.grids[name].to_symbols(compression.coded(name, params[name].detach(), params)).numpy()
    margin = max(1e-3, 2.0 ** compression.bit_depth[name] * 5e-7)
    return np.abs(u - np.floor(u) - 0.5) > margin


def assert_on_grid(trainer: np.ndarray, decoded: np.ndarray, inside: np.ndarray, name: str) -> None:
    trainer, decoded = trainer.reshape(len(trainer), -1), decoded.reshape(len(decoded), -1)
    scale = max(float(np.abs(decoded).max()), 1.0)
    np.testing.assert_allclose(trainer[inside], decoded[inside], rtol=2e-5, atol=2e-6 * scale, err_msg=name)
    assert inside.mean() >= 0.5  # most values are compared (a few fall on a bin's edge; 15 splats can hold 4)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    representation=st.sampled_from(["stg", "motion-basis"]),
    count=st.integers(12, 60),
    seed=st.integers(0, 10_000),
    preset=st.sampled_from(["default", "small", "gsplat-png"]),
    masked=st.booleans(),
)
def test_simulated_motion_planes_land_on_the_encoders_grid(representation, count, seed, preset, masked) -> None:
    """STE-quantized motion planes in the trainer's domain are, value for value, what the
    dynamic encoder reconstructs (its transforms, bit depths, canonical omega frame, and
    with the motion mask its static-splat mask and the grid of the moving splats)."""
    model = dynamic_model(representation, count, seed)
    mask = ["mask=motion", "mask.start_step=0", "mask.end_step=0", "mask.hard_step=0"] if masked else []
    config, compression = compression_for(model, "quantizer=ste", f"codec_preset={preset}",
                                          "simulate=motion,omega,t_center,t_scale,coeffs", *mask)
    if masked:
        with torch.no_grad():
            model.params["motion_mask"].copy_(torch.where(torch.arange(count) % 3 == 0, -1.0, 1.0))
    params = model.params
    simulated = compression.prepare(params, step=0).params
    splats = model.export_dynamic(compression.final_params(params))
    encoded = encode_dynamic_tracked(DynamicScene.single(splats, fps=30.0, frame_count=50), unsorted(config))
    decoded = decode_dynamic(encoded.data).segments[0].splats
    source = encoded.source_index[0]
    assert len(source) == count  # nothing pruned
    arrays = decoded.motion.arrays()
    if masked and config.dynamic_codec_config().static_motion > 0:  # gsplat-png codes every splat's motion
        moving = np.flatnonzero(np.any(arrays[next(n for n in ("motion", "coeffs") if n in arrays)] != 0, axis=1))
        assert sorted(source[moving]) == [i for i in range(count) if i % 3 != 0]  # the mask is the codec's
    for name in compression.names:
        assert name in MOTION
        inside = off_edges(compression, name, params)[source]
        if name == "omega":  # coded (identity) in the canonical frame, as decoded
            trainer = compression.coded(name, simulated[name], params).detach().numpy()[source]
        else:
            trainer = simulated[name].detach().numpy()[source]
        assert_on_grid(trainer, arrays[name], inside, name)


def test_the_motion_window_is_simulated_in_the_encoders_domain(monkeypatch) -> None:
    windowed = DynamicEncodeConfig().with_overrides(sort="none", opacity_threshold=0.0, motion_window=2.0)
    monkeypatch.setattr(TrainConfig, "dynamic_codec_config", lambda self, name=None: windowed)
    model = dynamic_model("stg", 40, 3)
    _, compression = compression_for(model, "quantizer=ste", "simulate=motion,omega,t_scale")
    params = model.params
    simulated = compression.prepare(params, step=0).params
    encoded = encode_dynamic_tracked(DynamicScene.single(model.export_dynamic(), fps=30.0, frame_count=50), windowed)
    decoded = decode_dynamic(encoded.data).segments[0].splats.motion
    source = encoded.source_index[0]
    assert compression.frame.applies("motion", params)
    canonical = MotionFrame(DynamicEncodeConfig(), "smallest3").factor("omega", params)
    for name, trainer in (("motion", simulated["motion"]), ("omega", simulated["omega"] * canonical)):
        inside = off_edges(compression, name, params)[source]
        assert_on_grid(trainer.detach().numpy()[source], getattr(decoded, name), inside, name)


@pytest.mark.parametrize("entropy", ["factorized", "gaussian"])
def test_the_rate_term_reaches_the_motion_parameters_and_the_mask(entropy: str) -> None:
    model = dynamic_model("stg", 50, 1)
    _, compression = compression_for(
        model, "quantizer=noise", f"entropy_model={entropy}", "rate_lambda=0.01", "mask=motion",
        "mask.start_step=0", "simulate=scales,motion,omega,t_center,t_scale",
    )
    prepared = compression.prepare(model.params, step=5)
    assert set(prepared.bits) == {"scales", "motion", "omega", "t_center", "t_scale"}
    prepared.rate.backward()
    for name in ("motion", "omega", "t_center", "t_scale", "motion_mask"):
        grad = model.params[name].grad
        assert grad is not None and bool(grad.abs().sum() > 0), name
    assert all(p.grad is not None for p in compression.entropy["motion"].parameters())


def test_the_motion_mask_stays_with_its_splats_through_density_control() -> None:
    model = dynamic_model("stg", 40, 2)
    _, compression = compression_for(model, "mask=motion")
    with torch.no_grad():
        model.params["motion_mask"].copy_(torch.linspace(-3, 3, 40))
        model.params["scales"][:] = torch.linspace(-6, -2, 40)[:, None]  # some cloned, some split
    optimizers = tagged(model)  # omega[:, 0] holds each splat's id
    strategy = STGStrategy(refine_start=0, refine_every=1, grow_grad2d=0.5, prune_unseen_after=0, prune_opa=0.01)
    state = strategy.initialize_state(scene_scale=10.0)
    state["grad2d"], state["count"] = torch.linspace(0, 2, 40), torch.ones(40)
    state["seen"] = (torch.arange(40) % 5 != 0).float()
    before = {name: p.detach().clone() for name, p in model.params.items()}
    assert strategy._grow(model.params, optimizers, state, step=10)[0] > 0
    assert strategy._prune(model.params, optimizers, state, step=10) > 0
    assert_aligned(model, optimizers, before)  # motion_mask rows included
    ids = model.params["omega"][:, 0].long()
    torch.testing.assert_close(model.params["motion_mask"].detach(), before["motion_mask"][ids])
    final = compression.final_params(model.params)
    masked = model.params["motion_mask"].detach() <= 0
    assert bool((final["motion"][masked] == 0).all()) and bool((final["omega"][masked] == 0).all())
    assert bool((final["motion"][~masked] == model.params["motion"][~masked]).all())


def test_dynamic_compression_presets() -> None:
    c = build_config("cpu-fast", ["iterations=200"], compression="gscodec", dynamic=True)
    assert (c.representation, c.strategy, c.colour, c.quantizer, c.entropy_model) == (
        "stg", "stg", "features", "noise", "factorized")
    assert c.mask == "motion" and c.simulate_start == 100 and c.mask_options["motion"]["hard_step"] == 180
    codec = c.dynamic_codec_config()  # Dynamic GSCodec's own codec: pruning by contribution, coarser bits...
    assert codec.prune_contribution > 0 and codec.motion_bits < DYNAMIC_PRESETS["default"].motion_bits
    assert c.simulation_codec_config(dynamic=True) == DYNAMIC_PRESETS["default"]  # ...simulated at the default's
    with pytest.raises(InputError, match="unknown simulate preset 'nope'"):
        build_config("cpu-fast", ["simulate_preset=nope"], compression="gscodec", dynamic=True)
    static = build_config("cpu-fast", [], compression="gscodec")
    assert static.strategy == "mcmc" and static.mask == "learnable" and static.codec_preset == "default"
    # the static default preset chooses its bit depths from the scene; a run codes at those it simulated
    assert static.codec_config().precision == "fixed" and build_config("cpu-fast", []).codec_config().precision == "adaptive"
    with pytest.raises(InputError, match="unknown codec preset 'gscodec' for static scenes"):
        build_config("cpu-fast", ["codec_preset=gscodec"])
    both = build_config("cpu-fast", ["colour=sh", "mask=learnable,motion", "mask.init_keep=0.7"],
                        compression="gscodec", dynamic=True)
    assert both.mask_options["learnable"]["init_keep"] == both.mask_options["motion"]["init_keep"] == 0.7
    assert [m.name for m in both.make_masks()] == ["learnable", "motion"]
    with pytest.raises(InputError, match="learnable mask acts on 'shN'"):
        build_config("cpu-fast", ["mask=learnable"], compression="gscodec", dynamic=True)  # features colour
    with pytest.raises(InputError, match="motion mask"):
        build_config("cpu-fast", ["mask=motion"])  # a static representation has no motion
    with pytest.raises(InputError, match="unknown mask"):
        build_config("cpu-fast", ["mask=learnable,nope"], dynamic=True)


def test_joined_segment_files_are_the_whole_scenes_file() -> None:
    d = random_dynamic_splats(120, seed=4, still=0.3)
    scene = DynamicScene([Segment(0.0, 0.4, d.subset(np.arange(50))), Segment(0.4, 1.0, d.subset(np.arange(50, 120)))],
                         fps=25.0, frame_count=50)
    config = DynamicEncodeConfig().with_overrides(sort="none")
    parts = [encode_dynamic(DynamicScene.single(s.splats, fps=25.0, frame_count=f), config)
             for s, f in zip(scene.segments, (20, 30))]
    assert join_dynamic(parts, [(0.0, 0.4), (0.4, 1.0)], fps=25.0, frame_count=50) == encode_dynamic(scene, config)
    with pytest.raises(ValueError, match="distribution maps"):
        encode_dynamic(scene, config, [{}])
    with pytest.raises(FormatError, match="does not add up"):
        join_dynamic(parts, [(0.0, 0.4), (0.5, 1.0)], fps=25.0, frame_count=50)
    with pytest.raises(ValueError, match="one"):
        join_dynamic([encode_dynamic(scene, config)], [(0.0, 1.0)], fps=25.0, frame_count=50)
    other = DynamicSplats(d.static.subset(np.arange(50)), random_motion_basis(50, seed=1))
    with pytest.raises(ValueError, match="same motion model"):
        join_dynamic([parts[0], encode_dynamic(other, config)], [(0.0, 0.4), (0.4, 1.0)], fps=25.0, frame_count=50)


# ---- runs -----------------------------------------------------------------------------------------

TINY = ["iterations=14", "resolution=None", "eval_every=0", "save_every=0", "rate_samples=0",
        "strategy.refine_start=3", "strategy.refine_every=4", "strategy.refine_stop=12", "strategy.prune_stop=14",
        "strategy.prune_unseen_after=8"]


def test_dynamic_gscodec_run_writes_a_decodable_gsc_with_its_bitrates(tmp_path: Path, gscc_cli) -> None:
    write_n3dv(tmp_path / "n3dv")
    run = tmp_path / "run"
    args = ["train", tmp_path / "n3dv", "-o", run, "--compression", "gscodec", "--gof", "3"]
    for setting in TINY + ["init=random", "init_points=300"]:
        args += ["--set", setting]
    result = gscc_cli(*args)
    assert result.code == 0, result.err
    metrics = json.loads((run / "metrics.json").read_text())
    segments = [json.loads((run / f"seg0{i}" / "metrics.json").read_text()) for i in range(2)]
    for m in segments:
        assert m["compression"]["quantizer"] == "noise" and m["compression"]["mask"] == "motion"
        assert set(m["gsc"]["distributions"]) >= {"motion", "omega", "t_center", "t_scale"}
        assert set(m["gsc"]["learned"]) <= set(m["gsc"]["distributions"])
        assert m["gsc"]["mbps"] == pytest.approx(m["gsc"]["bytes"] * 8e-6 / m["duration_seconds"])
        assert m["fps"] and m["duration_seconds"] == pytest.approx(3 / m["fps"])  # the dataset's frame rate
        assert m["gsc"]["test"]["mean"]["psnr"] > 8
    seconds = 6 / segments[0]["fps"]
    assert metrics["duration_seconds"] == pytest.approx(seconds)
    assert metrics["raw"]["bytes"] == sum(m["raw"]["bytes"] for m in segments)
    assert metrics["raw"]["mbps"] == pytest.approx(metrics["raw"]["bytes"] * 8e-6 / seconds)
    assert metrics["gsc"]["bytes"] == (run / "scene.gsc").stat().st_size
    assert metrics["gsc"]["mbps"] == pytest.approx(metrics["gsc"]["bytes"] * 8e-6 / seconds)
    assert len(metrics["gsc"]["test"]["views"]) == len(metrics["test"]["views"])
    assert metrics["gsc"]["bytes"] < metrics["raw"]["bytes"]
    decoded = tmp_path / "decoded"
    assert gscc_cli("decode", run / "scene.gsc", "-o", decoded).code == 0
    assert len(list(decoded.glob("*.ply"))) == 2
    scene = decode_dynamic((run / "scene.gsc").read_bytes())
    assert [(s.start, s.end) for s in scene.segments] == [(0.0, 0.5), (0.5, 1.0)]
    for index, segment in enumerate(scene.segments):
        alone = decode_dynamic((run / f"seg0{index}" / "scene.gsc").read_bytes()).segments[0].splats
        assert segment.splats.count == alone.count
        np.testing.assert_array_equal(segment.splats.motion.motion, alone.motion.motion)


@pytest.mark.parametrize("ablation", ["quantizer=ste", "entropy_model=gaussian", "mask=none"])
def test_dynamic_gscodec_ablations(tmp_path: Path, ablation: str) -> None:
    config = build_config("cpu-fast", TINY + [ablation], compression="gscodec", dynamic=True)
    metrics = train_dynamic("synthetic", tmp_path / "run", config, load=load_moving).metrics
    compression = metrics["compression"]
    key, value = ablation.split("=")
    assert compression[key] == value
    assert ("mask_kept_fraction" in compression) == (value != "none")
    assert metrics["gsc"]["test"]["mean"]["psnr"] > 8
    assert set(metrics["gsc"]["distributions"]) >= {"motion", "t_center"}
    decoded = decode_dynamic((tmp_path / "run" / "scene.gsc").read_bytes())
    assert decoded.segments[0].splats.count == metrics["gsc"]["splat_count"]


def test_learned_distributions_code_the_motion_planes_losslessly() -> None:
    """The trained entropy model of a motion plane travels as ANS tables (format 1.2's
    learned coding, in a dynamic file) where the plane is at most 8 bits deep (``ans-table``;
    deeper planes keep image/ANS coding): the planes decode to the values an empirical
    coding gives, in fewer bytes when the distribution is peaked."""
    from gscc.train.dynamic_outputs import learned_planes

    model = dynamic_model("stg", 2000, 5)  # enough splats to pay for the tables
    with torch.no_grad():  # a peaked distribution: most splats in a few of the 256 bins
        model.params["t_scale"].normal_(-0.5, 0.05)
        model.params["t_scale"][:20].uniform_(-3.0, 2.0)
    config, compression = compression_for(model, "quantizer=noise", "entropy_model=factorized", "rate_lambda=0.01",
                                          "simulate=motion,omega,t_center,t_scale", "codec_coder=raw")
    optimizer = torch.optim.Adam(compression.entropy.parameters(), lr=0.2)
    for step in range(60):  # fit the models to the planes (their rate alone)
        compression.prepare(model.params, step).rate.backward()
        optimizer.step()
        optimizer.zero_grad()
    distributions = compression.distributions(model.params)
    assert set(distributions) == {"motion", "omega", "t_center", "t_scale"}
    scene = DynamicScene.single(model.export_dynamic(), fps=30.0, frame_count=50)
    codec = unsorted(config)
    assert codec.bits_for("t_scale") == 8 and codec.bits_for("motion") == 9
    learned, empirical = encode_dynamic(scene, codec, distributions), encode_dynamic(scene, codec)
    assert len(learned) < len(empirical) and learned_planes(learned) == ["t_scale"]
    a, b = decode_dynamic(learned).segments[0].splats.motion, decode_dynamic(empirical).segments[0].splats.motion
    for name in ("motion", "omega", "t_center", "t_scale"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.slow
def test_a_dynamic_gscodec_run_resumes_exactly(tmp_path: Path) -> None:
    """The motion mask's logits, the entropy models and the noise's random numbers come back
    from the checkpoint: a resumed run ends where an uninterrupted one does."""
    config = build_config("cpu-fast", TINY, compression="gscodec", dynamic=True)
    train_dynamic("synthetic", tmp_path / "straight", config, load=load_moving)
    train_dynamic("synthetic", tmp_path / "resumed", config, load=load_moving, stop_after=9)
    train_dynamic("synthetic", tmp_path / "resumed", None, load=load_moving, resume=True)
    a, b = (torch.load(tmp_path / run / "ckpt.pt", weights_only=True) for run in ("straight", "resumed"))
    assert "motion_mask" in a["params"] and a["params"].keys() == b["params"].keys()
    for name in a["params"]:
        assert torch.equal(a["params"][name], b["params"][name]), name
    for name, value in a["compression"]["entropy"].items():
        assert torch.equal(value, b["compression"]["entropy"][name]), name
    assert (tmp_path / "straight" / "scene.gsc").read_bytes() == (tmp_path / "resumed" / "scene.gsc").read_bytes()


def test_simulated_quaternions_keep_the_turn_of_omega() -> None:
    """Simulation renders unit quaternions; omega (simulated or not) is rescaled with them, so
    a splat turns over time as it was trained to (STG: normalise(q + omega dt))."""
    model = dynamic_model("stg", 30, 7)
    for simulate in ("quats", "quats,omega"):
        _, compression = compression_for(model, "quantizer=ste", f"simulate={simulate}", "codec_preset=high")
        values = compression.prepare(model.params, step=0).params
        for dt in (0.1, 0.5):
            want = torch.nn.functional.normalize(model.params["quats"] + model.params["omega"] * dt, dim=1)
            got = torch.nn.functional.normalize(values["quats"] + values["omega"] * dt, dim=1)
            same = (want * got).sum(dim=1).abs()  # q and -q are the same rotation
            assert float(same.detach().min()) > 1 - 1e-5, (simulate, dt)


def test_quantization_is_simulated_at_the_simulate_presets_bit_depths() -> None:
    """Dynamic GSCodec codes at the gscodec codec's bit depths but simulates at the default's;
    without ``simulate_preset`` the run's own codec is simulated."""
    model = dynamic_model("stg", 40, 5)
    _, own = compression_for(model, "quantizer=noise", "codec_preset=gscodec")
    _, finer = compression_for(model, "quantizer=noise", "codec_preset=gscodec", "simulate_preset=default")
    coarse, default = DYNAMIC_PRESETS["gscodec"], DYNAMIC_PRESETS["default"]
    assert own.bit_depth["motion"] == coarse.motion_bits and own.bit_depth["quats"] == coarse.static.rotation_bits
    assert finer.bit_depth["motion"] == default.motion_bits and finer.bit_depth["quats"] == default.static.rotation_bits
