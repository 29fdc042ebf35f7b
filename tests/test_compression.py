"""Compression in the training loop: the quantization simulators work on the encoder's
grid, the compression presets resolve to the run's length, and a run with simulation,
an entropy model and a mask trains, resumes bit for bit and writes a decodable file."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from rich.console import Console

from gscc.codec.attributes import ATTRIBUTES
from gscc.codec.decoder import decode
from gscc.codec.quantize import fit_quantizer, forward_transform, quantize
from gscc.errors import InputError
from gscc.train.compression import Compression, position_context
from gscc.train.config import COMPRESSION_PRESETS, build_config
from gscc.train.simulation import QUANTIZERS, from_coded, symbol_grid, to_coded
from gscc.train.trainer import load_training_data, train

QUIET = Console(stderr=True, quiet=True)
SMALL = dict(resolution=40, max_views=6, init_points=1500, eval_every=0, save_every=0, test_renders=1, codec_sort="none")
TRANSFORM = {a.name: a.transform for a in ATTRIBUTES}


def random_params(n: int = 300, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "means": torch.randn(n, 3, generator=g) * 2,
        "scales": torch.randn(n, 3, generator=g) - 4,
        "quats": torch.randn(n, 4, generator=g),
        "opacities": torch.randn(n, generator=g) * 3,
        "sh0": torch.randn(n, 1, 3, generator=g),
        "shN": torch.randn(n, 15, 3, generator=g) * 0.1,
    }


# ---- the simulators ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["means", "scales", "opacities", "sh0", "shN"])
def test_the_simulated_grid_is_the_encoders(name):
    """Rounding on the simulation's grid gives the encoder's integers for the same values."""
    p = random_params()[name]
    y = to_coded(name, p)
    encoder_y = forward_transform(TRANSFORM[name], p.double().numpy().reshape(len(p), -1))
    np.testing.assert_allclose(y.double().numpy(), encoder_y, rtol=1e-5, atol=1e-6)
    grid = symbol_grid(y.double(), 8)
    q = torch.round(grid.to_symbols(y.double())).numpy()
    expected = quantize(encoder_y, fit_quantizer(encoder_y, 8))
    assert np.mean(q == expected) > 0.999  # float32 inputs: only ties may round apart


@pytest.mark.parametrize("name", ["means", "scales", "quats", "opacities", "sh0", "shN"])
def test_coded_values_map_back_onto_the_parameter(name):
    p = random_params()[name]
    back = from_coded(name, to_coded(name, p), p)
    assert back.shape == p.shape
    if name == "quats":  # normalised: the same rotation
        np.testing.assert_allclose(back.numpy(), (p / p.norm(dim=1, keepdim=True)).numpy(), atol=1e-6)
    else:
        np.testing.assert_allclose(back.numpy(), p.numpy(), rtol=1e-4, atol=1e-5)


def test_noise_stays_within_half_a_bin_and_passes_gradients():
    y = torch.randn(1000, 3, requires_grad=True)
    grid = symbol_grid(y, 6)
    noisy = QUANTIZERS["noise"]()(y, grid)
    offset = (noisy - y).detach() / grid.step
    assert offset.abs().max() <= 0.5 and offset.std() > 0.2  # uniform on (-1/2, 1/2): std 0.29
    noisy.sum().backward()
    assert torch.equal(y.grad, torch.ones_like(y))
    assert not torch.equal(noisy, y)


def test_straight_through_rounding_lands_on_the_grid_with_identity_gradient():
    y = torch.randn(500, 2, requires_grad=True)
    grid = symbol_grid(y, 5)
    rounded = QUANTIZERS["ste"]()(y, grid)
    u = grid.to_symbols(rounded.detach())
    np.testing.assert_allclose(u.numpy(), np.round(u.numpy()), atol=1e-4)
    assert u.min() >= -1e-4 and u.max() <= 31 + 1e-4
    (rounded * 3).sum().backward()
    assert torch.equal(y.grad, torch.full_like(y, 3.0))


def test_simulators_never_change_their_input():
    y = torch.randn(100, 3)
    before = y.clone()
    for cls in QUANTIZERS.values():
        cls()(y, symbol_grid(y, 8))
    assert torch.equal(y, before)


def test_a_constant_channel_has_a_zero_step_and_stays_put():
    y = torch.stack([torch.full((50,), 2.0), torch.linspace(0, 1, 50)], dim=1)
    grid = symbol_grid(y, 8)
    assert grid.step[0] == 0
    for cls in QUANTIZERS.values():
        out = cls()(y, grid)
        assert torch.equal(out[:, 0], y[:, 0])
    assert torch.equal(grid.to_symbols(y)[:, 0], torch.zeros(50))


def test_the_position_context_spans_the_unit_cube():
    c = position_context(random_params()["means"])
    assert c.min() == 0 and c.max() == 1
    assert torch.allclose(c.min(dim=0).values, torch.zeros(3)) and torch.allclose(c.max(dim=0).values, torch.ones(3))


# ---- configuration ---------------------------------------------------------------------------


def test_compression_presets_resolve_their_steps_to_the_run_length():
    c = build_config("cpu-fast", compression="gscodec")
    assert c.strategy == "mcmc" and c.quantizer == "noise" and c.entropy_model == "factorized" and c.mask == "learnable"
    assert c.simulate_start == c.entropy_start == c.iterations // 2
    mask = c.mask_options["learnable"]
    assert mask["start_step"] == c.iterations // 2 and mask["hard_step"] == round(0.9 * c.iterations)
    short = build_config("cpu-fast", ["iterations=1000"], compression="gscodec")
    assert short.simulate_start == 500 and short.mask_options["learnable"]["end_step"] == 900
    assert build_config("cpu-fast", compression="gsplat-png").codec_preset == "gsplat-png"
    assert build_config("cpu-fast", compression="none") == build_config("cpu-fast")
    assert set(COMPRESSION_PRESETS) == {"none", "gsplat-png", "gscodec"}


def test_every_ablation_is_one_setting():
    base = ["iterations=100"]
    for setting, field, value in [
        ("quantizer=ste", "quantizer", "ste"),
        ("entropy_model=gaussian", "entropy_model", "gaussian"),
        ("mask=gradient", "mask", "gradient"),
        ("codec_bits=6", "codec_bits", 6),
        ("codec_prune=0", "codec_prune", 0.0),
        ("learned_coding=false", "learned_coding", False),
        ("codec_coder=png", "codec_coder", "png"),
    ]:
        c = build_config("cpu-fast", base + [setting], compression="gscodec")
        assert getattr(c, field) == value, setting
    six = build_config("cpu-fast", base + ["codec_bits=6"], compression="gscodec").codec_config()
    assert (six.scale_bits, six.color_bits, six.position_bits) == (6, 6, 16)
    assert build_config("cpu-fast", base + ["codec_prune=0"], compression="gscodec").codec_config().prune.opacity_threshold == 0


def test_mask_settings_are_typed_and_checked():
    c = build_config("cpu-fast", ["mask=learnable", "mask.target_ratio=0.4", "mask.hard_step=none"])
    assert c.mask_options["learnable"]["target_ratio"] == 0.4 and c.mask_options["learnable"]["hard_step"] is None
    for bad, message in [
        (["mask.lr=0.1"], "no mask is chosen"),
        (["mask=learnable", "mask.nonsense=1"], "unknown learnable mask setting"),
        (["mask=learnable", "mask.init_keep=2"], "init_keep"),
        (["mask=bogus"], "unknown mask"),
        (["quantizer=round"], "unknown quantizer"),
        (["entropy_model=laplace"], "unknown entropy model"),
        (["simulate=scales,colours"], "unknown attribute"),
        (["rate_lambda=0.1"], "needs an entropy_model"),
        (["rate_lambda=-1", "entropy_model=factorized"], "rate_lambda"),
        (["codec_bits=9"], "codec_bits"),
        (["codec_coder=zip"], "unknown codec coder"),
    ]:
        with pytest.raises(InputError, match=message):
            build_config("cpu-fast", bad)


def test_a_mask_needs_the_attribute_it_masks():
    with pytest.raises(InputError, match="lacks"):
        build_config("default", ["mask=learnable"], representation="features", **SMALL)
    config = build_config("default", ["mask=learnable", "mask.attribute=features"], representation="features", **SMALL)
    assert config.mask_options["learnable"]["attribute"] == "features"


# ---- runs ---------------------------------------------------------------------------------


def compressed_config(**overrides):
    settings = {**SMALL, "iterations": 30, "sh_degree_interval": 5, **overrides}
    assignments = ["mask.start_step=5", "mask.end_step=20", "mask.hard_step=20", "strategy.refine_start=5", "strategy.refine_every=10"]
    return build_config("default", assignments, compression="gscodec", **settings)


@pytest.fixture(scope="module")
def dataset(lego):
    return load_training_data(lego, compressed_config())


def test_rate_term_lowers_the_estimated_bits(dataset):
    """Minimising the rate alone (the entropy model and the values) lowers the bits."""
    config = build_config("default", compression="gscodec", mask="none", simulate_start=0, entropy_start=0, rate_lambda=1.0)
    params = torch.nn.ParameterDict({k: torch.nn.Parameter(v) for k, v in random_params(400).items()})

    class Model:
        name = "vanilla"

    Model.params = params
    comp = Compression(config, Model, torch.device("cpu"))
    opt = torch.optim.Adam(params.parameters(), lr=1e-2)
    first = None
    for step in range(60):
        prepared = comp.prepare(params, step)
        prepared.rate.backward()
        opt.step()
        opt.zero_grad()
        comp.step_optimizers()
        first = first if first is not None else dict(prepared.bits)
    assert set(prepared.bits) == {"scales", "quats", "opacities", "sh0"}
    assert sum(prepared.bits.values()) < sum(first.values()) - 1.0


def test_a_gscodec_run_trains_and_writes_a_decodable_file(dataset, lego, tmp_path):
    config = compressed_config()
    result = train(lego, tmp_path / "run", config, console=QUIET, dataset=dataset)
    assert all(np.isfinite(result.losses))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    summary = metrics["compression"]
    assert summary["quantizer"] == "noise" and summary["entropy_model"] == "factorized"
    assert set(summary["rate_bits"]) == {"scales", "quats", "opacities", "sh0"}
    assert 0.0 <= summary["mask_kept_fraction"] <= 1.0
    decoded = decode((tmp_path / "run" / "scene.gsc").read_bytes())
    assert decoded.count == metrics["gsc"]["splat_count"]
    # splats whose SH the mask switched off are exported without it
    ckpt = torch.load(tmp_path / "run" / "ckpt.pt", weights_only=True)
    logits = ckpt["params"]["sh_mask"]
    assert logits.std() > 0 and not torch.allclose(logits, torch.full_like(logits, math.log(9.0)))  # trained from init
    off = logits <= 0
    from gscc.io import load_splats

    splats = load_splats(tmp_path / "run" / "splats.ply")
    assert np.all(splats.shN[off.numpy()] == 0)
    assert off.float().mean() == pytest.approx(1.0 - summary["mask_kept_fraction"])


def test_a_compressed_run_resumes_bit_for_bit(dataset, lego, tmp_path):
    config = compressed_config(iterations=24, simulate_start=4, entropy_start=4)
    whole = train(lego, tmp_path / "whole", config, console=QUIET, dataset=dataset, stop_after=14)
    train(lego, tmp_path / "parts", config, console=QUIET, dataset=dataset, stop_after=8)
    rest = train(lego, tmp_path / "parts", resume=True, console=QUIET, dataset=dataset, stop_after=14)
    assert rest.losses == whole.losses
    a = torch.load(tmp_path / "whole" / "ckpt.pt", weights_only=True)
    b = torch.load(tmp_path / "parts" / "ckpt.pt", weights_only=True)
    for name in a["compression"]["entropy"]:
        assert torch.equal(a["compression"]["entropy"][name], b["compression"]["entropy"][name]), name
    assert torch.equal(a["params"]["sh_mask"], b["params"]["sh_mask"])


@pytest.mark.parametrize("entropy_model,coding", [("factorized", "ans-table"), ("gaussian", "ans-context")])
def test_trained_entropy_models_become_the_encoders_sources(entropy_model, coding):
    """Each trained model is handed to the encoder as a source of its kind; coding with it
    is lossless (the decoded values equal those of the empirical coding)."""
    from gscc.codec.encoder import encode
    from gscc.splats import SplatSet

    config = build_config("default", compression="gscodec", mask="none", entropy_model=entropy_model, codec_sort="none")
    params = torch.nn.ParameterDict({k: torch.nn.Parameter(v) for k, v in random_params(600).items()})

    class Model:
        name = "vanilla"

    Model.params = params
    comp = Compression(config, Model, torch.device("cpu"))
    sources = comp.distributions(params)
    # quaternions are coded as smallest three components, not the normalised ones simulated
    assert set(sources) == {"scales", "opacities", "sh0"}
    assert {getattr(s, "coding", None) for s in sources.values()} == {coding}
    p = {k: v.detach().numpy() for k, v in params.items()}
    splats = SplatSet(means=p["means"], scales=p["scales"], quats=p["quats"], opacities=p["opacities"],
                      sh0=p["sh0"][:, 0], shN=p["shN"])
    codec = config.codec_config()
    learned, plain = decode(encode(splats, codec, distributions=sources)), decode(encode(splats, codec))
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        np.testing.assert_array_equal(getattr(learned, name), getattr(plain, name), err_msg=name)
    off = build_config("default", compression="gscodec", mask="none", entropy_model=entropy_model, learned_coding=False)
    assert Compression(off, Model, torch.device("cpu")).distributions(params) == {}


@pytest.mark.parametrize("mask", ["learnable", "gradient"])
def test_mask_tensors_are_trained_exactly_when_they_have_a_learning_rate(dataset, lego, tmp_path, mask):
    from gscc.train.trainer import Trainer

    config = compressed_config(mask=mask) if mask == "learnable" else build_config(
        "default", ["mask=gradient", "mask.start_step=2", "mask.interval=2"], compression="gscodec",
        **{**SMALL, "iterations": 6})
    trainer = Trainer(config, dataset, tmp_path, console=QUIET)
    for name, (_, lr) in trainer.compression.mask_params(trainer.model.params).items():
        assert trainer.model.params[name].requires_grad == (lr > 0), name
    trainer.run(stop_after=3)
    again = Trainer(config, dataset, tmp_path, checkpoint=trainer.checkpoint(), console=QUIET)
    for name, (_, lr) in again.compression.mask_params(again.model.params).items():
        assert again.model.params[name].requires_grad == (lr > 0), name
