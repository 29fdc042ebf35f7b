"""Adaptive masks (gscc.train.mask): the registry and settings, the learnable mask's
schedule, loss and straight-through binarisation, the gradient mask's rule, export, and
mask entries staying matched to their splats through the real densification strategies."""

from __future__ import annotations

import math

import pytest
import torch

from gscc.train import optim
from gscc.train.mask import MASKS, GradientShMask, LearnableMotionMask, LearnableShMask, NoMask, make_mask
from gscc.train.strategy import DefaultStrategy, MCMCStrategy, Strategy

K = 15  # SH degree 3


def vanilla_params(n: int, seed: int = 0) -> torch.nn.ParameterDict:
    """Vanilla parameters; every splat carries its id in sh0[:, 0, 0] (ops copy it verbatim)."""
    g = torch.Generator().manual_seed(seed)
    sh0 = torch.randn(n, 1, 3, generator=g)
    sh0[:, 0, 0] = torch.arange(n, dtype=torch.float32)
    return torch.nn.ParameterDict(
        {
            "means": torch.randn(n, 3, generator=g),
            "scales": math.log(0.05) + 0.3 * torch.randn(n, 3, generator=g),
            "quats": torch.randn(n, 4, generator=g),
            "opacities": torch.randn(n, generator=g),
            "sh0": sh0,
            "shN": 0.1 * torch.randn(n, K, 3, generator=g) + 0.05,
        }
    )


def ids(params) -> torch.Tensor:
    return params["sh0"].detach()[:, 0, 0].round().long()


def add_mask_entries(params, mask) -> dict[str, float]:
    """What the trainer does with init_params: add every entry (a buffer when its learning
    rate is 0.0) and return the learning rates."""
    lrs = {name: 1e-3 * (i + 1) for i, name in enumerate(params)}
    for name, (tensor, lr) in mask.init_params(params).items():
        params[name] = torch.nn.Parameter(tensor, requires_grad=lr > 0)
        lrs[name] = lr
    return lrs


def trainer_optimizers(params, lrs, buffer_optimizers: bool = False):
    """One Adam per trained entry (optim.adam, as the trainer); buffers get none unless asked."""
    return {
        name: optim.adam([p], lrs[name], name)
        for name, p in params.items()
        if p.requires_grad or buffer_optimizers
    }


def adam_step(params, optimizers, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    for p in params.values():
        if p.requires_grad:
            p.grad = torch.randn(p.shape, generator=g)
    for opt in optimizers.values():
        opt.step()
        opt.zero_grad(set_to_none=True)


def snapshot(params) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in params.items()}


# --- registry and settings ----------------------------------------------------------------


def test_registry_lookup_and_overrides():
    assert MASKS == {"none": NoMask, "learnable": LearnableShMask, "gradient": GradientShMask,
                     "motion": LearnableMotionMask}
    for name, cls in MASKS.items():
        assert cls.name == name
    m = make_mask("learnable", sparsity_weight=0.1, target_ratio=0.5)
    assert isinstance(m, LearnableShMask) and m.sparsity_weight == 0.1 and m.target_ratio == 0.5
    assert m.temperature_start == 1.0 and m.temperature_end == 0.05 and m.attribute == "shN"
    assert make_mask("gradient", quantile=0.3).quantile == 0.3
    with pytest.raises(ValueError, match=r"unknown mask 'nope'; choose from none, learnable, gradient"):
        make_mask("nope")
    with pytest.raises(TypeError):
        make_mask("gradient", not_a_field=1)


@pytest.mark.parametrize(
    "cls,settings,message",
    [
        (LearnableShMask, {"init_keep": 1.0}, "init_keep"),
        (LearnableShMask, {"init_keep": 0.0}, "init_keep"),
        (LearnableShMask, {"lr": 0.0}, "lr"),
        (LearnableShMask, {"temperature_end": 0.0}, "temperature"),
        (LearnableShMask, {"temperature_start": 0.1, "temperature_end": 0.5}, "temperature"),
        (LearnableShMask, {"start_step": 10, "end_step": 5}, "start_step"),
        (LearnableShMask, {"start_step": -1}, "start_step"),
        (LearnableShMask, {"start_step": 100, "hard_step": 50}, "hard_step"),
        (LearnableShMask, {"sparsity_weight": -1.0}, "sparsity_weight"),
        (LearnableShMask, {"ratio_weight": -1.0}, "ratio_weight"),
        (LearnableShMask, {"target_ratio": 0.0}, "target_ratio"),
        (LearnableShMask, {"target_ratio": 1.5}, "target_ratio"),
        (LearnableShMask, {"attribute": "means"}, "geometry"),
        (LearnableShMask, {"attribute": ""}, "attribute"),
        (GradientShMask, {"interval": 0}, "interval"),
        (GradientShMask, {"start_step": -5}, "start_step"),
        (GradientShMask, {"start_step": 10, "stop_step": 5}, "stop_step"),
        (GradientShMask, {"quantile": 0.0}, "quantile"),
        (GradientShMask, {"quantile": 1.0}, "quantile"),
        (GradientShMask, {"threshold": -1.0}, "threshold"),
        (GradientShMask, {"attribute": "opacities"}, "geometry"),
    ],
)
def test_settings_are_validated(cls, settings, message):
    with pytest.raises(ValueError, match=message):
        cls(**settings)


def test_valid_edge_settings_are_accepted():
    LearnableShMask(target_ratio=1.0, hard_step=None, temperature_start=0.5, temperature_end=0.5)
    LearnableShMask(start_step=7, end_step=7, hard_step=7)
    GradientShMask(stop_step=None, threshold=0.0)
    GradientShMask(attribute="features", start_step=0, stop_step=0)


def test_none_mask_does_nothing():
    params = vanilla_params(5)
    before = snapshot(params)
    mask = make_mask("none")
    assert mask.init_params(params) == {}
    assert mask.apply(params, 10_000) == {}
    assert mask.loss(params, 10_000) is None
    mask.after_backward(params, 10_000)
    assert mask.finalize(params) == {} and mask.kept_fraction(params) == 1.0
    assert list(params) == list(before) and all(torch.equal(params[k], v) for k, v in before.items())


# --- the learnable mask --------------------------------------------------------------------


def test_temperature_anneals_geometrically_between_start_and_end():
    mask = LearnableShMask(temperature_start=1.0, temperature_end=0.04, start_step=100, end_step=300)
    assert mask.temperature(0) == 1.0 and mask.temperature(100) == 1.0
    assert mask.temperature(200) == pytest.approx(0.2)  # the geometric mean, half way
    assert mask.temperature(150) == pytest.approx(0.04**0.25)
    assert mask.temperature(300) == pytest.approx(0.04) and mask.temperature(10_000) == pytest.approx(0.04)
    values = [mask.temperature(s) for s in range(100, 301, 10)]
    assert all(a > b for a, b in zip(values, values[1:]))
    instant = LearnableShMask(temperature_start=2.0, temperature_end=0.1, start_step=50, end_step=50)
    assert instant.temperature(49) == 2.0 and instant.temperature(50) == pytest.approx(0.1)


def test_learnable_init_params_start_at_init_keep_without_touching_params():
    params = vanilla_params(6)
    mask = LearnableShMask(init_keep=0.8, temperature_start=0.5, lr=0.02, start_step=0)
    before = list(params)
    entries = mask.init_params(params)
    assert list(params) == before
    assert set(entries) == {"sh_mask"}
    logit, lr = entries["sh_mask"]
    assert lr == 0.02 and logit.shape == (6,) and logit.dtype == torch.float32
    add_mask_entries(params, mask)
    torch.testing.assert_close(mask.probabilities(params, 0), torch.full((6,), 0.8))
    features = {"means": torch.zeros(3, 3), "features": torch.zeros(3, 8)}
    assert set(LearnableShMask(attribute="features").init_params(features)) == {"features_mask"}
    with pytest.raises(ValueError, match="no 'shN'"):
        LearnableShMask().init_params(features)
    with pytest.raises(ValueError, match="init_params first"):
        LearnableShMask(start_step=0).apply(vanilla_params(3), 5)


@pytest.mark.parametrize("mask", [LearnableShMask(start_step=10, end_step=20, hard_step=15), GradientShMask(start_step=10)])
def test_apply_is_empty_before_start_and_never_mutates_params(mask):
    params = vanilla_params(8)
    add_mask_entries(params, mask)
    with torch.no_grad():  # some splats masked off, some on
        if isinstance(mask, LearnableShMask):
            params["sh_mask"][:4] = -1.0
        else:
            params["sh_keep"][:4] = 0.0
    before = snapshot(params)
    objects = {name: p for name, p in params.items()}
    assert mask.apply(params, 9) == {}
    for step in (10, 12, 15, 30):
        out = mask.apply(params, step)
        assert set(out) == {"shN"} and out["shN"].shape == (8, K, 3)
        assert not torch.equal(out["shN"], params["shN"])
        assert all(torch.equal(params[k], v) for k, v in before.items())
        assert all(params[k] is p for k, p in objects.items())


def test_apply_scales_every_coefficient_of_a_splat_by_its_mask_value():
    params = vanilla_params(5)
    mask = LearnableShMask(start_step=0, end_step=100, hard_step=None)
    add_mask_entries(params, mask)
    with torch.no_grad():
        params["sh_mask"].copy_(torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0]))
    m = torch.sigmoid(params["sh_mask"].detach() / mask.temperature(50))
    out = mask.apply(params, 50)["shN"]
    torch.testing.assert_close(out, params["shN"].detach() * m[:, None, None])


def test_straight_through_forward_is_binary_and_backward_is_the_soft_gradient():
    params = vanilla_params(6)
    mask = LearnableShMask(start_step=0, end_step=100, hard_step=50)
    add_mask_entries(params, mask)
    with torch.no_grad():
        params["sh_mask"].copy_(torch.tensor([-0.3, -0.01, 0.01, 0.2, 0.7, -0.9]))
    on = torch.tensor([0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    soft = mask.apply(params, 49)["shN"]
    assert not torch.equal(soft, params["shN"].detach() * on[:, None, None])  # before hard_step: soft
    m = mask.mask(params, 60)
    assert torch.equal(m.detach(), on)  # exactly 0/1, not just close
    out = mask.apply(params, 60)["shN"]
    assert torch.equal(out.detach(), params["shN"].detach() * on[:, None, None])
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1))
    (out * weights).sum().backward()
    grad = params["sh_mask"].grad
    assert grad is not None and (grad != 0).all()  # the off splats learn too
    # it is the gradient of the soft mask
    tau = mask.temperature(60)
    p = torch.sigmoid(params["sh_mask"].detach() / tau)
    expected = (params["shN"].detach() * weights).sum(dim=(1, 2)) * p * (1 - p) / tau
    torch.testing.assert_close(grad, expected)


def _train_logits(mask: LearnableShMask, params, objective, steps: int, lr: float) -> list[float]:
    """Adam on the logits only; returns mean(m) before and after every step."""
    opt = torch.optim.Adam([params["sh_mask"]], lr=lr)
    means = [float(mask.probabilities(params, 0).detach().mean())]
    for _ in range(steps):
        loss = mask.loss(params, 0)
        if objective is not None:
            loss = loss + objective(mask.apply(params, 0)["shN"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        means.append(float(mask.probabilities(params, 0).detach().mean()))
    return means


def test_sparsity_loss_pushes_the_mean_mask_down():
    params = vanilla_params(32)
    mask = LearnableShMask(start_step=0, end_step=0, temperature_start=1.0, temperature_end=1.0, hard_step=None,
                           sparsity_weight=0.1)
    add_mask_entries(params, mask)
    means = _train_logits(mask, params, None, steps=20, lr=0.05)
    assert means[0] == pytest.approx(0.9)
    assert all(b < a for a, b in zip(means, means[1:]))
    assert means[-1] < 0.8
    assert LearnableShMask(sparsity_weight=0.0).loss(params, 10**6) is None  # no term, no loss
    assert mask.loss(params, 0).requires_grad


def test_with_a_data_term_the_mask_switches_off_only_the_sh_that_is_not_needed():
    """The objective wants splats 0..15 to keep their SH and 16..31 to have none: sparsity
    plus the data term lower mean(m) by turning off the second half only."""
    params = vanilla_params(32)
    params["shN"].requires_grad_(False)
    target = params["shN"].detach().clone()
    target[16:] = 0.0
    mask = LearnableShMask(start_step=0, end_step=0, temperature_start=1.0, temperature_end=1.0, hard_step=None,
                           sparsity_weight=1e-3)
    add_mask_entries(params, mask)
    means = _train_logits(mask, params, lambda shn: 100.0 * (shn - target).square().mean(), steps=150, lr=0.05)
    assert means[-1] < means[0] - 0.3
    m = mask.probabilities(params, 0).detach()
    assert (m[:16] > 0.85).all() and (m[16:] < 0.2).all()
    assert mask.keep(params).tolist() == [True] * 16 + [False] * 16


@pytest.mark.parametrize("target_ratio", [0.3, 0.97])
def test_target_ratio_term_pulls_the_mean_mask_to_the_target(target_ratio):
    params = vanilla_params(64)
    mask = LearnableShMask(start_step=0, end_step=0, temperature_start=1.0, temperature_end=1.0, hard_step=None,
                           sparsity_weight=0.0, target_ratio=target_ratio, ratio_weight=1.0)
    add_mask_entries(params, mask)
    assert float(mask.loss(params, 0).detach()) == pytest.approx((0.9 - target_ratio) ** 2, rel=1e-5)
    means = _train_logits(mask, params, None, steps=300, lr=0.05)
    assert abs(means[0] - target_ratio) > 0.05
    assert means[-1] == pytest.approx(target_ratio, abs=0.02)


def test_learnable_loss_is_none_before_start_and_finalize_zeroes_exactly_the_off_splats():
    params = vanilla_params(7)
    mask = LearnableShMask(start_step=100, end_step=200, hard_step=150)
    add_mask_entries(params, mask)
    assert mask.loss(params, 99) is None and mask.apply(params, 99) == {}
    with torch.no_grad():
        params["sh_mask"].copy_(torch.tensor([1.0, -1.0, 0.3, 0.0, -0.2, 5.0, -5.0]))
    before = snapshot(params)
    out = mask.finalize(params)
    shn = before["shN"]
    on = [0, 2, 5]
    assert set(out) == {"shN"} and not out["shN"].requires_grad
    assert torch.equal(out["shN"][on], shn[on])
    assert not out["shN"][[1, 3, 4, 6]].any()
    assert mask.kept_fraction(params) == pytest.approx(3 / 7)
    assert all(torch.equal(params[k], v) for k, v in before.items())


# --- the gradient mask ---------------------------------------------------------------------


def _backward_with_weights(mask: GradientShMask, params, step: int, weights: torch.Tensor) -> None:
    """A loss whose gradient w.r.t. splat i's (masked) SH is weights[i] for every coefficient."""
    params["shN"].grad = None
    shn = mask.apply(params, step).get("shN", params["shN"])
    (shn * weights[:, None, None]).sum().backward()
    mask.after_backward(params, step)


def test_gradient_statistic_is_the_mean_abs_gradient_over_the_steps_with_one():
    params = vanilla_params(4)
    mask = GradientShMask(start_step=100, interval=100)
    add_mask_entries(params, mask)
    assert {n: params[n].requires_grad for n in ("sh_keep", "sh_grad_accum", "sh_grad_count")} == dict.fromkeys(
        ("sh_keep", "sh_grad_accum", "sh_grad_count"), False
    )
    _backward_with_weights(mask, params, 1, torch.tensor([1.0, -2.0, 0.0, 4.0]))
    _backward_with_weights(mask, params, 2, torch.tensor([3.0, 0.0, 0.0, -2.0]))
    assert params["sh_grad_count"].tolist() == [2.0, 1.0, 0.0, 2.0]
    torch.testing.assert_close(mask.statistic(params), torch.tensor([2.0, 2.0, 0.0, 3.0]))
    assert mask.keep(params).all()  # not a mask step yet


def test_gradient_mask_masks_exactly_the_low_gradient_splats_at_a_mask_step():
    params = vanilla_params(9)
    mask = GradientShMask(start_step=10, interval=10, stop_step=30, quantile=0.25)
    add_mask_entries(params, mask)
    weights = torch.tensor([5.0, 0.1, 3.0, 0.2, 4.0, 0.3, 2.0, 1.0, 0.0])  # splat 8 never gets a gradient
    for step in range(5, 10):
        _backward_with_weights(mask, params, step, weights)
    assert mask.keep(params).all()
    _backward_with_weights(mask, params, 10, weights)  # the mask step
    # floor(0.25 * 8 splats with a statistic) = 2 masked: the two smallest; 8 has no evidence
    assert mask.keep(params).tolist() == [True, False, True, False, True, True, True, True, True]
    assert not params["sh_grad_accum"].any() and not params["sh_grad_count"].any()
    # masked splats' SH get no gradient from then on, and stay masked
    _backward_with_weights(mask, params, 11, weights)
    assert params["shN"].grad[[1, 3]].abs().sum() == 0 and params["sh_grad_count"][[1, 3]].tolist() == [0.0, 0.0]
    torch.testing.assert_close(mask.apply(params, 11)["shN"][[1, 3]], torch.zeros(2, K, 3))
    for step in range(12, 21):
        _backward_with_weights(mask, params, step, weights)
    # step 20: a quarter of the 6 kept splats with a statistic (floor 1.5 = 1): splat 5 (0.3)
    assert (~mask.keep(params)).nonzero().flatten().tolist() == [1, 3, 5]


def test_gradient_mask_with_an_absolute_threshold_and_its_stop_step():
    params = vanilla_params(6)
    mask = GradientShMask(start_step=2, interval=2, stop_step=4, threshold=1.5)
    add_mask_entries(params, mask)
    weights = torch.tensor([1.0, 2.0, 1.4, 1.6, -1.0, -3.0])
    for step in range(3):
        _backward_with_weights(mask, params, step, weights)
    assert mask.keep(params).tolist() == [False, True, False, True, False, True]
    for step in range(3, 7):
        _backward_with_weights(mask, params, step, 0.1 * torch.ones(6))
    assert mask.keep(params).tolist() == [False, False, False, False, False, False]  # step 4: all below
    # after stop_step nothing accumulates and nothing changes
    assert not params["sh_grad_count"].any()
    with torch.no_grad():
        params["sh_keep"].fill_(1.0)
    for step in range(5, 9):
        _backward_with_weights(mask, params, step, 0.1 * torch.ones(6))
    assert mask.keep(params).all() and not params["sh_grad_count"].any()


def test_gradient_finalize_zeroes_exactly_the_masked_splats():
    params = vanilla_params(5)
    mask = GradientShMask()
    add_mask_entries(params, mask)
    assert mask.kept_fraction(params) == 1.0
    assert torch.equal(mask.finalize(params)["shN"], params["shN"].detach())
    with torch.no_grad():
        params["sh_keep"][[0, 3]] = 0.0
    out = mask.finalize(params)["shN"]
    assert not out[[0, 3]].any() and torch.equal(out[[1, 2, 4]], params["shN"].detach()[[1, 2, 4]])
    assert mask.kept_fraction(params) == pytest.approx(0.6)


# --- alignment through densification -----------------------------------------------------------


def id_values(mask, name: str, i: torch.Tensor) -> torch.Tensor:
    """The value every mask entry is given for splat id i (distinct per id and per entry)."""
    i = i.float()
    return {
        "sh_mask": i - 5.5,
        "sh_keep": (i.long() % 3 != 0).float(),
        "sh_grad_accum": 0.5 * i,
        "sh_grad_count": i + 1.0,
    }[name]


def prepared(mask, n: int, buffer_optimizers: bool, seed: int = 0):
    params = vanilla_params(n, seed)
    lrs = add_mask_entries(params, mask)
    names = list(mask.init_params(params))
    optimizers = trainer_optimizers(params, lrs, buffer_optimizers)
    adam_step(params, optimizers, seed + 1)  # every trained row gets non-zero moments
    with torch.no_grad():  # after the step, which moved the trained entries
        params["sh0"][:, 0, 0] = torch.arange(n, dtype=torch.float32)
        for name in names:
            params[name].copy_(id_values(mask, name, ids(params)))
    old_moments = {
        name: opt.state[params[name]]["exp_avg"].clone() for name, opt in optimizers.items() if params[name].requires_grad
    }
    return params, optimizers, names, old_moments


def assert_matched(params, optimizers, mask, names, old_moments) -> None:
    """Every mask entry row holds its splat's values; trained rows have either their splat's
    old moments or zero ones (a new or moved row), the same rows for every entry."""
    Strategy().check_sanity(params, optimizers)
    n = params["means"].shape[0]
    row_ids = ids(params)
    for name in names:
        assert params[name].shape == (n,), name
        assert torch.equal(params[name].detach(), id_values(mask, name, row_ids)), name
    fresh = None
    for name, old in old_moments.items():
        m = optimizers[name].state[params[name]]["exp_avg"]
        assert m.shape == params[name].shape, name
        zero = (m.reshape(n, -1) == 0).all(dim=1)
        fresh = zero if fresh is None else fresh
        assert torch.equal(zero, fresh), f"{name}: new rows differ from those of the other entries"
        assert torch.equal(m[~zero], old[row_ids[~zero]]), name
    assert fresh.any() and not fresh.all()
    adam_step(params, optimizers, 99)  # a further step works on every trained entry
    Strategy().check_sanity(params, optimizers)


def fake_info(grads: torch.Tensor) -> dict:
    means2d = torch.zeros(grads.shape, requires_grad=True)
    means2d.grad = grads.clone()
    radii = torch.ones(grads.shape[0], dtype=torch.int32)
    return {"means2d": means2d, "radii": radii, "width": 100, "height": 100, "n_cameras": 1}


MASK_FACTORIES = [lambda: LearnableShMask(), lambda: GradientShMask()]


@pytest.mark.parametrize("buffer_optimizers", [False, True])
@pytest.mark.parametrize("make", MASK_FACTORIES, ids=["learnable", "gradient"])
def test_mask_entries_follow_their_splats_through_default_densification(make, buffer_optimizers):
    n = 12
    mask = make()
    params, optimizers, names, old_moments = prepared(mask, n, buffer_optimizers)
    with torch.no_grad():
        params["opacities"][:] = 2.0
        params["opacities"][[2, 9]] = -8.0  # pruned
        params["scales"][:6] = math.log(0.001)  # small: cloned
        params["scales"][6:] = math.log(0.5)  # large: split
    grads = torch.zeros(n, 2)
    grads[[0, 3, 4, 7, 10], 0] = 1e-3  # above grow_grad2d: clones of 0, 3, 4; splits of 7, 10
    strategy = DefaultStrategy(refine_start=0, refine_every=1, reset_every=1000)
    strategy.step_post_backward(params, optimizers, strategy.initialize_state(), 1, fake_info(grads))
    assert params["means"].shape[0] == n + 3 + 2 - 2
    assert sorted(ids(params).tolist()) == sorted([0, 1, 3, 4, 5, 6, 8, 11] + [0, 3, 4] + [7, 7, 10, 10])
    assert_matched(params, optimizers, mask, names, old_moments)


@pytest.mark.parametrize("buffer_optimizers", [False, True])
@pytest.mark.parametrize("make", MASK_FACTORIES, ids=["learnable", "gradient"])
def test_mask_entries_follow_their_splats_through_mcmc_relocation_and_growth(make, buffer_optimizers):
    n = 20
    mask = make()
    params, optimizers, names, old_moments = prepared(mask, n, buffer_optimizers, seed=3)
    with torch.no_grad():
        params["opacities"][:] = 1.0
        params["opacities"][[1, 5, 6, 13]] = -10.0  # dead: relocated
    strategy = MCMCStrategy(refine_start=0, refine_every=1, cap_max=25, grow_rate=0.5)
    torch.manual_seed(0)
    strategy.step_post_backward(params, optimizers, strategy.initialize_state(), 1, {}, lr=1e-4)
    assert params["means"].shape[0] == 25
    assert not set(ids(params).tolist()) & {1, 5, 6, 13}  # every dead splat took a live one's values
    assert_matched(params, optimizers, mask, names, old_moments)


@pytest.mark.parametrize("make", MASK_FACTORIES, ids=["learnable", "gradient"])
def test_a_training_loop_with_mask_hooks_and_densification_stays_aligned(make):
    """The trainer's order of calls, with a synthetic loss on the masked SH, through mask
    steps and refinements of the default strategy."""
    n = 16
    mask = {
        "learnable": LearnableShMask(start_step=2, end_step=8, hard_step=6, sparsity_weight=0.01),
        "gradient": GradientShMask(start_step=3, interval=3, stop_step=9, quantile=0.3),
    }[make().name]
    params = vanilla_params(n)
    optimizers = trainer_optimizers(params, add_mask_entries(params, mask))
    if "sh_mask" in params:  # logits on both sides of 0, so that export keeps some and not others
        with torch.no_grad():
            params["sh_mask"].uniform_(-1.0, 1.0, generator=torch.Generator().manual_seed(6))
    strategy = DefaultStrategy(refine_start=0, refine_every=4, grow_grad2d=5e-4, reset_every=1000)
    state = strategy.initialize_state()
    g = torch.Generator().manual_seed(5)
    for step in range(12):
        count = params["means"].shape[0]
        shn = mask.apply(params, step).get("shN", params["shN"])
        loss = (shn - 0.2).square().mean() + params["means"].square().mean() + params["sh0"].square().mean()
        extra = mask.loss(params, step)
        if extra is not None:
            loss = loss + extra
        loss.backward()
        mask.after_backward(params, step)
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        info = fake_info(torch.rand(count, 2, generator=g) * 1e-3)
        strategy.step_post_backward(params, optimizers, state, step, info)
        strategy.check_sanity(params, optimizers)
        for name in mask.init_params(params):
            assert params[name].shape == (params["means"].shape[0],)
    assert params["means"].shape[0] > n  # densification happened
    assert 0.0 < mask.kept_fraction(params) < 1.0
    out = mask.finalize(params)["shN"]
    keep = mask.keep(params)
    assert not out[~keep].any() and torch.equal(out[keep], params["shN"].detach()[keep])
