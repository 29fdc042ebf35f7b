"""Densification strategies: splat surgery keeps parameters, optimizer and strategy state
aligned; the 3DGS and MCMC strategies grow, prune and relocate as specified."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gscc.render.projection import covariance_3d
from gscc.train.strategy import (
    STRATEGIES,
    DefaultStrategy,
    MCMCStrategy,
    STGStrategy,
    Strategy,
    StrategyError,
    make_strategy,
)
from gscc.train.strategy import ops

LOG_1_6 = math.log(1.6)


def make_params(n: int, seed: int = 0, opacity_logits: torch.Tensor | None = None):
    """Vanilla 3DGS parameters plus an arbitrary per-splat "mask" entry, one Adam each, after
    one optimizer step so that every Adam moment is non-zero."""
    g = torch.Generator().manual_seed(seed)
    params = torch.nn.ParameterDict(
        {
            "means": torch.randn(n, 3, generator=g),
            "scales": math.log(0.05) + 0.3 * torch.randn(n, 3, generator=g),
            "quats": torch.randn(n, 4, generator=g),
            "opacities": torch.randn(n, generator=g) if opacity_logits is None else opacity_logits.clone(),
            "sh0": torch.randn(n, 1, 3, generator=g),
            "shN": 0.1 * torch.randn(n, 15, 3, generator=g),
            "mask": torch.randn(n, generator=g),
        }
    )
    optimizers = {
        name: torch.optim.Adam([p], lr=1e-3 * (i + 1), eps=1e-15) for i, (name, p) in enumerate(params.items())
    }
    adam_step(params, optimizers, seed + 1)
    return params, optimizers


def adam_step(params, optimizers, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for name, p in params.items():
        p.grad = torch.randn(p.shape, generator=g)
    for opt in optimizers.values():
        opt.step()
        opt.zero_grad(set_to_none=True)


def snapshot(params, optimizers):
    out = {}
    for name, p in params.items():
        st = optimizers[name].state[p]
        out[name] = (p.detach().clone(), st["exp_avg"].clone(), st["exp_avg_sq"].clone())
    return out


def moments(optimizers, params, name):
    st = optimizers[name].state[params[name]]
    return st["exp_avg"], st["exp_avg_sq"]


def assert_aligned(params, optimizers, n: int) -> None:
    """Every entry has n rows, its optimizer holds it and its moments match; a step works."""
    Strategy().check_sanity(params, optimizers)
    for name, p in params.items():
        assert p.shape[0] == n, name
        m1, m2 = moments(optimizers, params, name)
        assert m1.shape == p.shape and m2.shape == p.shape, name
    before = {name: p.detach().clone() for name, p in params.items()}
    adam_step(params, optimizers, 123)
    for name, p in params.items():
        assert torch.isfinite(p).all(), name
        assert not torch.equal(p.detach(), before[name]), f"{name} did not move in the optimizer step"


# --- ops ----------------------------------------------------------------------------------


def test_duplicate_appends_copies_with_zero_moments():
    params, optimizers = make_params(10)
    old = snapshot(params, optimizers)
    state = {"grad2d": torch.arange(10.0), "scene_scale": 2.0}
    mask = torch.zeros(10, dtype=torch.bool)
    mask[[1, 4, 7]] = True
    assert ops.duplicate(params, optimizers, state, mask) == 3
    for name, (p, m1, m2) in old.items():
        new = params[name].detach()
        assert torch.equal(new[:10], p), name
        assert torch.equal(new[10:], p[[1, 4, 7]]), name
        a, b = moments(optimizers, params, name)
        assert torch.equal(a[:10], m1) and torch.equal(b[:10], m2), name
        assert not a[10:].any() and not b[10:].any(), name
    assert torch.equal(state["grad2d"], torch.tensor([0.0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 4, 7]))
    assert state["scene_scale"] == 2.0
    assert_aligned(params, optimizers, 13)


def test_remove_keeps_the_rest_in_order():
    params, optimizers = make_params(10)
    old = snapshot(params, optimizers)
    state = {"count": torch.arange(10.0)}
    mask = torch.zeros(10, dtype=torch.bool)
    mask[[0, 5, 9]] = True
    keep = [1, 2, 3, 4, 6, 7, 8]
    assert ops.remove(params, optimizers, state, mask) == 3
    for name, (p, m1, m2) in old.items():
        assert torch.equal(params[name].detach(), p[keep]), name
        a, b = moments(optimizers, params, name)
        assert torch.equal(a, m1[keep]) and torch.equal(b, m2[keep]), name
    assert torch.equal(state["count"], torch.tensor([1.0, 2, 3, 4, 6, 7, 8]))
    assert_aligned(params, optimizers, 7)


def test_split_children_shrink_and_copy_the_rest():
    params, optimizers = make_params(8)
    old = snapshot(params, optimizers)
    state = {"grad2d": torch.arange(8.0)}
    mask = torch.zeros(8, dtype=torch.bool)
    mask[[2, 5]] = True
    rest = [0, 1, 3, 4, 6, 7]
    assert ops.split(params, optimizers, state, mask, generator=torch.Generator().manual_seed(0)) == 2
    assert params["means"].shape[0] == 8 - 2 + 4
    parents = [2, 5, 2, 5]  # child 0 of each parent, then child 1
    for name, (p, m1, m2) in old.items():
        new = params[name].detach()
        assert torch.equal(new[:6], p[rest]), name
        a, b = moments(optimizers, params, name)
        assert torch.equal(a[:6], m1[rest]) and torch.equal(b[:6], m2[rest]), name
        assert not a[6:].any() and not b[6:].any(), name
        if name == "scales":
            torch.testing.assert_close(new[6:], p[parents] - LOG_1_6)
        elif name == "means":
            assert not torch.equal(new[6:], p[parents])
            assert not torch.equal(new[6], new[8])  # the two children of one parent differ
        else:
            assert torch.equal(new[6:], p[parents]), name
    assert torch.equal(state["grad2d"], torch.tensor([0.0, 1, 3, 4, 6, 7, 2, 5, 2, 5]))
    assert_aligned(params, optimizers, 10)


def test_split_children_are_samples_of_the_parent_gaussian():
    n = 4000
    params, optimizers = make_params(n)
    with torch.no_grad():
        params["means"][:] = torch.tensor([1.0, -2.0, 0.5])
        params["scales"][:] = torch.log(torch.tensor([0.3, 0.1, 0.05]))
        params["quats"][:] = torch.tensor([0.9, 0.3, -0.2, 0.4])
    cov = covariance_3d(params["quats"][:1].detach(), torch.tensor([[0.3, 0.1, 0.05]]))[0]
    ops.split(params, optimizers, None, torch.ones(n, dtype=torch.bool), generator=torch.Generator().manual_seed(1))
    offsets = params["means"].detach() - torch.tensor([1.0, -2.0, 0.5])
    assert offsets.shape == (2 * n, 3)
    assert offsets.mean(0).abs().max() < 0.02
    emp = offsets.T @ offsets / (2 * n)
    torch.testing.assert_close(emp, cov, atol=0.004, rtol=0.05)
    assert_aligned(params, optimizers, 2 * n)


def test_split_revised_opacity_composites_to_the_parent():
    params, optimizers = make_params(5)
    before = torch.sigmoid(params["opacities"].detach().clone())
    ops.split(params, optimizers, None, torch.ones(5, dtype=torch.bool), revised_opacity=True)
    child = torch.sigmoid(params["opacities"].detach())
    torch.testing.assert_close(1 - (1 - child[:5]) ** 2, before, atol=1e-5, rtol=0)
    torch.testing.assert_close(child[:5], child[5:])


def test_reset_opacities_clamps_and_zeros_their_moments_only():
    logits = torch.linspace(-8.0, 3.0, 50)
    params, optimizers = make_params(50, opacity_logits=logits)
    old = snapshot(params, optimizers)
    ops.reset_opacities(params, optimizers, {}, 0.01)
    o = torch.sigmoid(params["opacities"].detach())
    assert (o <= 0.01 + 1e-6).all()
    low = torch.sigmoid(old["opacities"][0]) < 0.01
    assert low.any()
    torch.testing.assert_close(o[low], torch.sigmoid(old["opacities"][0])[low])
    a, b = moments(optimizers, params, "opacities")
    assert not a.any() and not b.any()
    for name in ("means", "mask", "shN"):
        assert torch.equal(moments(optimizers, params, name)[0], old[name][1])
    assert_aligned(params, optimizers, 50)


def test_mask_must_be_bool_of_the_splat_count():
    params, optimizers = make_params(4)
    with pytest.raises(ValueError):
        ops.remove(params, optimizers, None, torch.tensor([0, 1]))
    with pytest.raises(ValueError):
        ops.duplicate(params, optimizers, None, torch.ones(5, dtype=torch.bool))
    with pytest.raises(ValueError):  # a state tensor that is not per-splat
        ops.remove(params, optimizers, {"x": torch.zeros(3)}, torch.tensor([True, False, False, False]))


def test_sample_proportional_follows_the_weights_and_skips_zeros():
    w = torch.tensor([0.0, 1.0, 3.0, 0.0, 6.0])
    idx = ops.sample_proportional(w, 20000, torch.Generator().manual_seed(0))
    freq = torch.bincount(idx, minlength=5).double() / 20000
    assert freq[0] == 0 and freq[3] == 0
    torch.testing.assert_close(freq, w.double() / 10, atol=0.015, rtol=0)
    with pytest.raises(ValueError):
        ops.sample_proportional(torch.zeros(3), 2)


# --- the MCMC relocation rule ---------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 5, 12, 40, 300])
def test_relocation_copies_composite_to_the_old_opacity(n):
    o = torch.tensor([0.02, 0.3, 0.5, 0.9, 0.999], dtype=torch.float64)
    s = torch.rand(5, 3, dtype=torch.float64) + 0.1
    o_new, s_new = ops.relocation_opacity_scale(o, s, torch.full((5,), n))
    torch.testing.assert_close(1 - (1 - o_new) ** n, o, atol=1e-9, rtol=0)
    ratio = s_new / s  # one factor for all three axes
    torch.testing.assert_close(ratio, ratio[:, :1].expand(-1, 3))
    if n == 1:
        torch.testing.assert_close(o_new, o)
        torch.testing.assert_close(s_new, s)
    else:
        assert (o_new < o).all() and (ratio < 1).all()
    if n <= 40:  # the paper's double sum, literally
        for i in range(5):
            on = float(o_new[i])
            denom = sum(
                math.comb(a - 1, k) * (-1) ** k * on ** (k + 1) / math.sqrt(k + 1)
                for a in range(1, n + 1)
                for k in range(a)
            )
            assert float(ratio[i, 0]) == pytest.approx(float(o[i]) / denom, rel=1e-6)


@pytest.mark.parametrize("o,n", [(0.3, 2), (0.8, 3), (0.95, 6), (0.6, 25)])
def test_relocation_scale_preserves_the_line_integral_of_opacity(o, n):
    """The scale rule: n copies' composited opacity 1-(1-o' g')^n integrates along a line
    through the centre to the same value as the old o g."""
    sigma = 0.7
    o_new, s_new = ops.relocation_opacity_scale(
        torch.tensor([o], dtype=torch.float64), torch.full((1, 3), sigma, dtype=torch.float64), torch.tensor([n])
    )
    x = np.linspace(-12, 12, 200001)
    s2 = float(s_new[0, 0])
    composite = 1 - (1 - float(o_new[0]) * np.exp(-0.5 * x**2 / s2**2)) ** n
    lhs = np.trapezoid(composite, x)
    rhs = o * sigma * math.sqrt(2 * math.pi)
    assert lhs == pytest.approx(rhs, rel=1e-6)


def _groups_by_mean(means: torch.Tensor) -> dict:
    groups: dict = {}
    for i, row in enumerate(means.tolist()):
        groups.setdefault(tuple(row), []).append(i)
    return groups


def test_relocate_moves_every_dead_splat_onto_live_ones():
    n = 60
    g = torch.Generator().manual_seed(3)
    logits = torch.empty(n).uniform_(0.0, 3.0, generator=g)
    dead = torch.zeros(n, dtype=torch.bool)
    dead[::4] = True
    logits[dead] = -9.0
    params, optimizers = make_params(n, opacity_logits=logits)
    old = snapshot(params, optimizers)
    state = {"grad2d": torch.rand(n) + 1.0}
    moved = ops.relocate(params, optimizers, state, dead, generator=torch.Generator().manual_seed(4))
    assert moved == int(dead.sum())
    o = torch.sigmoid(params["opacities"].detach())
    assert (o > 0.005).all()
    old_o = torch.sigmoid(old["opacities"][0])
    old_means = {tuple(r): i for i, r in enumerate(old["means"][0].tolist())}
    touched = set(torch.nonzero(dead).flatten().tolist())
    for key, rows in _groups_by_mean(params["means"].detach()).items():
        src = old_means[key]  # every splat sits on the position of an old splat ...
        assert not dead[src]  # ... and never on a dead one
        k = len(rows)
        if k == 1:
            assert rows == [src]
            continue
        touched.add(src)
        assert src in rows
        # the k copies composite to the source's old opacity, scales shrink by the rule
        o_new, s_new = ops.relocation_opacity_scale(old_o[[src]], old["scales"][0][[src]].exp(), torch.tensor([k]))
        for r in rows:
            assert float(o[r]) == pytest.approx(float(o_new[0]), rel=1e-5)
            torch.testing.assert_close(params["scales"].detach()[r].exp(), s_new[0])
            for name in ("quats", "sh0", "shN", "mask"):
                assert torch.equal(params[name].detach()[r], old[name][0][src]), name
        torch.testing.assert_close(1 - torch.prod(1 - o[rows]), old_o[src], atol=1e-5, rtol=0)
    touched = torch.tensor(sorted(touched))
    untouched = torch.ones(n, dtype=torch.bool)
    untouched[touched] = False
    for name in params:
        a, b = moments(optimizers, params, name)
        assert not a[touched].any() and not b[touched].any(), name
        assert torch.equal(a[untouched], old[name][1][untouched]), name
    assert not state["grad2d"][touched].any() and (state["grad2d"][untouched] >= 1).all()
    assert_aligned(params, optimizers, n)


def test_add_new_appends_copies_of_sampled_splats():
    n, extra = 40, 15
    params, optimizers = make_params(n)
    old = snapshot(params, optimizers)
    state = {"count": torch.ones(n)}
    assert ops.add_new(params, optimizers, state, extra, generator=torch.Generator().manual_seed(5)) == extra
    assert params["means"].shape[0] == n + extra
    o = torch.sigmoid(params["opacities"].detach())
    old_o = torch.sigmoid(old["opacities"][0])
    old_means = {tuple(r): i for i, r in enumerate(old["means"][0].tolist())}
    for key, rows in _groups_by_mean(params["means"].detach()).items():
        src = old_means[key]
        assert rows[0] == src and all(r >= n for r in rows[1:])
        torch.testing.assert_close(1 - torch.prod(1 - o[rows]), old_o[src], atol=1e-5, rtol=0)
    a, b = moments(optimizers, params, "means")
    assert not a[n:].any() and not b[n:].any()
    assert torch.equal(state["count"], torch.cat([torch.ones(n), torch.zeros(extra)]))
    assert_aligned(params, optimizers, n + extra)


def test_inject_noise_moves_transparent_splats_along_their_covariance():
    n = 6000
    params, _ = make_params(n)
    with torch.no_grad():
        params["opacities"][: n // 2] = -8.0  # transparent: the gate is ~1
        params["opacities"][n // 2 :] = 3.0  # opaque: the gate is ~0
        params["scales"][:] = torch.log(torch.tensor([0.2, 0.05, 0.1]))
        params["quats"][:] = torch.tensor([0.8, -0.1, 0.5, 0.3])
    before = params["means"].detach().clone()
    lr, noise_lr = 1e-3, 5e3
    ops.inject_noise(params, lr, noise_lr=noise_lr, generator=torch.Generator().manual_seed(2))
    delta = params["means"].detach() - before
    assert delta[n // 2 :].abs().max() < 1e-12
    cov = covariance_3d(params["quats"][:1].detach(), torch.tensor([[0.2, 0.05, 0.1]]))[0]
    gate = float(ops.noise_gate(torch.sigmoid(torch.tensor(-8.0))))
    expected = (noise_lr * lr * gate) ** 2 * cov @ cov
    d = delta[: n // 2]
    torch.testing.assert_close(d.T @ d / d.shape[0], expected, atol=0.1 * float(expected.abs().max()), rtol=0.1)
    same = params["means"].detach().clone()
    ops.inject_noise(params, 0.0)
    assert torch.equal(params["means"].detach(), same)


# --- check_sanity and the registry ------------------------------------------------------------


@pytest.mark.parametrize("cls", [DefaultStrategy, MCMCStrategy])
def test_check_sanity_catches_broken_conventions(cls):
    strategy = cls()
    params, optimizers = make_params(5)
    strategy.check_sanity(params, optimizers)

    missing_opt = dict(optimizers)
    del missing_opt["mask"]
    with pytest.raises(StrategyError, match="no optimizer"):
        strategy.check_sanity(params, missing_opt)

    params2, optimizers2 = make_params(5)
    params2["mask"] = torch.nn.Parameter(torch.zeros(4))
    with pytest.raises(StrategyError, match="rows"):
        strategy.check_sanity(params2, optimizers2)

    params3, optimizers3 = make_params(5)
    params3["mask"] = torch.nn.Parameter(torch.zeros(5))  # the optimizer still holds the old one
    with pytest.raises(StrategyError, match="stale"):
        strategy.check_sanity(params3, optimizers3)

    params4, optimizers4 = make_params(5)
    del params4["quats"], optimizers4["quats"]
    with pytest.raises(StrategyError, match="quats"):
        strategy.check_sanity(params4, optimizers4)

    params5, optimizers5 = make_params(5)
    optimizers5["extra"] = torch.optim.Adam([torch.nn.Parameter(torch.zeros(5))])
    with pytest.raises(StrategyError, match="extra"):
        strategy.check_sanity(params5, optimizers5)


def test_registry_and_overrides():
    assert STRATEGIES == {"default": DefaultStrategy, "mcmc": MCMCStrategy, "stg": STGStrategy}
    s = make_strategy("default", refine_every=50, cap_max=1000)
    assert isinstance(s, DefaultStrategy) and s.refine_every == 50 and s.cap_max == 1000 and s.grow_grad2d == 0.0002
    m = make_strategy("mcmc", cap_max=10)
    assert m.cap_max == 10 and m.noise_lr == 5e5 and m.opacity_reg == 0.01 and m.scale_reg == 0.01
    with pytest.raises(ValueError):
        make_strategy("nope")
    with pytest.raises(TypeError):
        make_strategy("mcmc", not_a_field=1)


# --- the default (3DGS) strategy --------------------------------------------------------------


def fake_info(grads: torch.Tensor, radii: torch.Tensor, width: int = 100, height: int = 50) -> dict:
    means2d = torch.zeros(grads.shape, requires_grad=True)
    means2d.grad = grads.clone()
    return {"means2d": means2d, "radii": radii, "width": width, "height": height, "n_cameras": 1}


def still_info(n: int) -> dict:
    """Every splat visible, no gradient."""
    return fake_info(torch.zeros(n, 2), torch.ones(n, dtype=torch.int32))


def test_default_accumulates_normalised_gradients_of_visible_splats():
    params, optimizers = make_params(4)
    strategy = DefaultStrategy(refine_start=100)
    state = strategy.initialize_state(scene_scale=1.0)
    grads = torch.tensor([[1e-4, 0.0], [0.0, 2e-4], [3e-4, 4e-4], [1.0, 1.0]])
    radii = torch.tensor([3, 2, 5, 0], dtype=torch.int32)
    for step in (1, 2):
        strategy.step_post_backward(params, optimizers, state, step, fake_info(grads, radii))
    expected = torch.tensor([1e-4 * 50, 2e-4 * 25, math.hypot(3e-4 * 50, 4e-4 * 25), 0.0]) * 2
    torch.testing.assert_close(state["grad2d"], expected.float())
    assert torch.equal(state["count"], torch.tensor([2.0, 2.0, 2.0, 0.0]))
    with pytest.raises(StrategyError, match="step_pre_backward"):
        info = fake_info(grads, radii)
        info["means2d"].grad = None
        strategy.step_post_backward(params, optimizers, state, 3, info)


def _toy_scene():
    """Four splats in front of a 32x32 camera: 0 small, 1 large, 2 transparent, 3 behind."""
    from gscc.cameras.camera import Camera
    from gscc.cameras.orbit import look_at

    w2c = look_at(np.array([0.0, 0.0, -3.0]), np.zeros(3), np.array([0.0, -1.0, 0.0]))
    camera = Camera.from_fov(32, 32, math.radians(60), w2c)
    means = torch.tensor([[-0.4, 0.2, 0.0], [0.3, -0.2, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, -6.0]])
    scales = torch.log(torch.tensor([[0.005] * 3, [0.2, 0.15, 0.1], [0.1] * 3, [0.005] * 3]))
    opacities = torch.logit(torch.tensor([0.8, 0.7, 0.001, 0.6]))
    params = torch.nn.ParameterDict(
        {
            "means": means,
            "scales": scales,
            "quats": torch.tensor([[1.0, 0, 0, 0], [0.9, 0.1, 0.2, 0.3], [1.0, 0, 0, 0], [1.0, 0, 0, 0]]),
            "opacities": opacities,
            "sh0": torch.full((4, 1, 3), 0.5),
            "mask": torch.zeros(4),
        }
    )
    optimizers = {
        name: torch.optim.Adam([p], lr=lr, eps=1e-15)
        for (name, p), lr in zip(params.items(), [1e-3, 5e-3, 1e-3, 5e-2, 2.5e-3, 1e-2])
    }
    return params, optimizers, camera


def _render_step(params, camera):
    from gscc.render import Gaussians, render

    g = Gaussians(
        means=params["means"],
        quats=params["quats"],
        scales=torch.exp(params["scales"]),
        opacities=torch.sigmoid(params["opacities"]),
        colors=params["sh0"],
    )
    out = render(g, camera, backend="taichi", background=[0.0, 0.0, 0.0])
    info = {"means2d": out.means2d, "radii": out.radii, "width": camera.width, "height": camera.height, "n_cameras": 1}
    loss = (out.image - 1.0).square().mean() + 0.0 * params["mask"].sum()
    return info, loss


def test_default_strategy_clones_splits_and_prunes_on_a_rendered_toy_scene():
    torch.manual_seed(0)
    params, optimizers, camera = _toy_scene()
    strategy = DefaultStrategy(refine_start=0, refine_every=3, grow_grad2d=1e-6, reset_every=1000)
    strategy.check_sanity(params, optimizers)
    state = strategy.initialize_state(scene_scale=1.0)
    for step in range(1, 4):
        info, loss = _render_step(params, camera)
        strategy.step_pre_backward(params, optimizers, state, step, info)
        loss.backward()
        for opt in optimizers.values():  # the trainer's order: optimizers, then the strategy
            opt.step()
            opt.zero_grad(set_to_none=True)
        if step == 3:  # before the refinement: the two visible splats have gradients
            assert info["radii"].tolist()[2:] == [0, 0]
            snap = {name: p.detach().clone() for name, p in params.items()}
        strategy.step_post_backward(params, optimizers, state, step, info)
        if step == 2:
            assert (state["grad2d"][:2] > 1e-6).all() and not state["grad2d"][2:].any()
            assert state["count"].tolist() == [2.0, 2.0, 0.0, 0.0]
    # 0 cloned (+1), 1 split (+1 net), 2 pruned (-1): 4 -> 5, laid out as
    # kept [0, 3 (behind the camera, never visible: untouched)], the clone of 0, the children of 1
    strategy.check_sanity(params, optimizers)
    got = {name: p.detach() for name, p in params.items()}
    assert got["means"].shape[0] == 5
    for name in params:
        assert torch.equal(got[name][[0, 1, 2]], snap[name][[0, 3, 0]]), name
        if name not in ("means", "scales"):
            assert torch.equal(got[name][[3, 4]], snap[name][[1, 1]]), name
    torch.testing.assert_close(got["scales"][3:], snap["scales"][[1, 1]] - LOG_1_6)
    assert not torch.equal(got["means"][3], got["means"][4])
    assert ((got["means"][3:] - snap["means"][1]).norm(dim=-1) < 1.5).all()  # within a few sigma
    assert (torch.sigmoid(got["opacities"]) > strategy.prune_opa).all()  # 2 is gone
    # accumulators restart after a refinement; new rows have zero moments, kept rows keep theirs
    assert not state["grad2d"].any() and not state["count"].any() and state["grad2d"].shape == (5,)
    a, b = moments(optimizers, params, "means")
    assert not a[2:].any() and not b[2:].any() and a[0].any()
    for step in range(4, 6):
        info, loss = _render_step(params, camera)
        strategy.step_pre_backward(params, optimizers, state, step, info)
        loss.backward()
        for opt in optimizers.values():
            opt.step()
            opt.zero_grad(set_to_none=True)
        strategy.step_post_backward(params, optimizers, state, step, info)
    assert state["count"].shape == (5,) and state["count"][[0, 2, 3, 4]].min() >= 1


def test_default_strategy_opacity_reset_and_size_pruning():
    params, optimizers = make_params(20)
    with torch.no_grad():
        params["opacities"][:] = 2.0
        params["scales"][:] = math.log(0.05)
        params["scales"][0] = math.log(0.5)  # too large once past the first reset
    strategy = DefaultStrategy(refine_start=0, refine_every=10, reset_every=10, grow_grad2d=1.0)
    state = strategy.initialize_state(scene_scale=1.0)
    info = fake_info(torch.zeros(20, 2), torch.ones(20, dtype=torch.int32))
    strategy.step_post_backward(params, optimizers, state, 10, info)  # refine (not past a reset), then reset
    assert params["means"].shape[0] == 20
    assert (torch.sigmoid(params["opacities"].detach()) <= 0.01 + 1e-6).all()
    assert not moments(optimizers, params, "opacities")[0].any()
    with torch.no_grad():
        params["opacities"][:] = 2.0
    strategy.step_post_backward(params, optimizers, state, 20, still_info(20))
    assert params["means"].shape[0] == 19  # the large splat is pruned after the first reset
    # at or after refine_stop nothing happens
    late = DefaultStrategy(refine_stop=100, reset_every=100)
    before = params["opacities"].detach().clone()
    late.step_post_backward(params, optimizers, late.initialize_state(), 100, still_info(19))
    assert torch.equal(params["opacities"].detach(), before)


def test_default_strategy_cap_max_keeps_the_highest_gradients():
    params, optimizers = make_params(10)
    with torch.no_grad():
        params["scales"][:] = math.log(0.001)  # all small: candidates are clones
        params["opacities"][:] = 2.0
    strategy = DefaultStrategy(refine_start=0, refine_every=1, grow_grad2d=1e-4, cap_max=13)
    state = strategy.initialize_state()
    grads = torch.zeros(10, 2)
    grads[:, 0] = torch.tensor([9, 1, 8, 2, 7, 0, 6, 0, 5, 0]) * 1e-4  # x 50 after normalisation
    strategy.step_post_backward(params, optimizers, state, 1, fake_info(grads, torch.ones(10, dtype=torch.int32)))
    assert params["means"].shape[0] == 13
    means = params["means"].detach()
    assert torch.equal(means[10:], means[[0, 2, 4]])  # the three largest gradients cloned
    info = fake_info(torch.ones(13, 2), torch.ones(13, dtype=torch.int32))
    strategy.step_post_backward(params, optimizers, state, 2, info)
    assert params["means"].shape[0] == 13


# --- the MCMC strategy ------------------------------------------------------------------------


def test_mcmc_relocates_all_dead_grows_5_percent_and_respects_cap():
    n = 200
    g = torch.Generator().manual_seed(7)
    logits = torch.empty(n).uniform_(0.0, 3.0, generator=g)
    logits[:30] = -10.0  # dead
    params, optimizers = make_params(n, opacity_logits=logits)
    strategy = MCMCStrategy(refine_start=0, refine_every=10, cap_max=215)
    strategy.check_sanity(params, optimizers)
    state = strategy.initialize_state(scene_scale=1.0)
    info: dict = {}
    torch.manual_seed(0)

    strategy.step_post_backward(params, optimizers, state, 5, info, lr=1e-4)  # not a refine step
    assert params["means"].shape[0] == n

    counts = [n]
    for step in (10, 20, 30, 40):
        strategy.step_post_backward(params, optimizers, state, step, info, lr=1e-4)
        strategy.check_sanity(params, optimizers)
        counts.append(params["means"].shape[0])
        if step == 10:
            assert (torch.sigmoid(params["opacities"].detach()) > strategy.min_opacity).all()
        adam_step(params, optimizers, step)
    assert counts == [200, 210, 215, 215, 215]
    for a, b in zip(counts, counts[1:]):
        assert b <= math.floor(1.05 * a)
    assert_aligned(params, optimizers, 215)
    with pytest.raises(ValueError, match="lr"):
        strategy.step_post_backward(params, optimizers, state, 41, info)


def test_mcmc_noise_is_applied_every_step_and_only_to_transparent_splats():
    n = 50
    logits = torch.full((n,), 4.0)
    logits[:10] = -6.0  # transparent but above min_opacity=0.001
    params, optimizers = make_params(n, opacity_logits=logits)
    strategy = MCMCStrategy(refine_start=1000, min_opacity=0.001)
    state = strategy.initialize_state()
    before = params["means"].detach().clone()
    strategy.step_post_backward(params, optimizers, state, 3, {}, lr=1e-3)
    moved = (params["means"].detach() - before).norm(dim=-1)
    assert (moved[:10] > 0).all()
    assert (moved[10:] < 1e-3 * moved[:10].min()).all()
    assert params["means"].shape[0] == n
