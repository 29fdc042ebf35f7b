"""Dynamic training: time evaluation of the stg and motion-basis representations, gradients
through time, density control keeping dynamic attributes and optimizer state aligned, GOF
segments, resume, the run's outputs and torchrun (see gscc.model.stg, gscc.train.dynamic,
gscc.train.segments). The scene is tests/dynamic_scene.py's tiny moving splats."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dynamic_scene import load_moving, moving_dataset
from gscc.dynamic import DynamicSplats, MotionBasis, STGMotion
from gscc.model import ModelConfig, create
from gscc.model.dynamic import faded_logits
from gscc.train import optim
from gscc.train.config import build_config
from gscc.train.segments import load_run_scene, segment_ranges, train_dynamic
from gscc.train.strategy import MCMCStrategy, STGStrategy, ops

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROOT = Path(__file__).resolve().parents[1]


def stg_model(count=40, colour="sh", seed=0, degree=3):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    config = ModelConfig(colour=colour, motion_degree=degree, sh_degree=1)
    model = create("stg", rng.normal(0, 1, (count, 3)), rng.random((count, 3)), config, times=rng.random(count))
    with torch.no_grad():
        for name in ("motion", "omega", "quats", "opacities"):
            model.params[name].normal_()
        model.params["t_scale"].uniform_(-2.0, 1.0)
    return model


# ---- time evaluation ---------------------------------------------------------------------------


def test_stg_time_evaluation_is_the_known_polynomial_and_kernel() -> None:
    model = stg_model(count=3)
    a, b, c = torch.tensor([1.0, 0, 0]), torch.tensor([0, 2.0, 0]), torch.tensor([0, 0, -3.0])
    with torch.no_grad():
        model.params["motion"][:] = torch.cat([a, b, c])
        model.params["t_center"][:] = torch.tensor([0.2, 0.5, 0.9])
        model.params["t_scale"][:] = math.log(0.5)
        model.params["opacities"][:] = 0.0  # opacity 0.5 at rest
    static = model.at_time(model.params, 0.7)
    dt = torch.tensor([0.5, 0.2, -0.2])[:, None]
    expected = model.params["means"] + a * dt + b * dt**2 + c * dt**3
    torch.testing.assert_close(static["means"], expected)
    torch.testing.assert_close(torch.sigmoid(static["opacities"]), 0.5 * torch.exp(-(dt[:, 0] / 0.5) ** 2))
    torch.testing.assert_close(static["quats"], model.params["quats"] + model.params["omega"] * dt)


@pytest.mark.parametrize("representation", ["stg", "motion-basis"])
@pytest.mark.parametrize("colour", ["sh", "features"])
def test_torch_time_evaluation_equals_numpy(representation: str, colour: str) -> None:
    rng = np.random.default_rng(3)
    torch.manual_seed(3)
    config = ModelConfig(colour=colour, sh_degree=1, basis_count=4, basis_knots=7)
    model = create(representation, rng.normal(0, 1, (30, 3)), rng.random((30, 3)), config, times=rng.random(30))
    with torch.no_grad():
        for p in model.params.values():
            p.add_(torch.randn_like(p) * 0.3)
        if representation == "motion-basis":
            model.basis.basis.normal_()
    exported = model.export_dynamic()
    assert isinstance(exported.motion, STGMotion if representation == "stg" else MotionBasis)
    for t in (0.0, 0.33, 0.5, 1.0):
        torch_static = model.at_time(model.params, t)
        numpy_static = exported.at(t)
        np.testing.assert_allclose(torch_static["means"].detach().numpy(), numpy_static.means, rtol=1e-5, atol=1e-5)
        opacity = torch.sigmoid(torch_static["opacities"]).detach().numpy()
        np.testing.assert_allclose(opacity, 1 / (1 + np.exp(-numpy_static.opacities.astype(np.float64))), atol=1e-6)
        q, r = torch_static["quats"].detach().numpy(), numpy_static.quats
        unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
        np.testing.assert_allclose(unit(q), unit(r), atol=1e-5)


def test_faded_logits_are_finite_at_extreme_factors() -> None:
    logits = torch.tensor([-30.0, 0.0, 30.0], requires_grad=True)
    out = faded_logits(logits, torch.tensor([-400.0, 0.0, 0.0]))
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_gradients_flow_through_time_to_the_motion() -> None:
    """gradcheck (float64, the reference renderer) of a render at time t with respect to
    every motion entry of a tiny STG scene."""
    from gscc.cameras.orbit import orbit_cameras

    model = stg_model(count=4, degree=2)
    camera = orbit_cameras(np.zeros(3), 1.5, 1, width=8, height=6)[0]
    base = {name: p.detach().double() for name, p in model.params.items()}
    base["means"] = base["means"] * 0.3
    base["scales"] = torch.full_like(base["scales"], math.log(0.4))
    base["t_scale"] = torch.zeros_like(base["t_scale"])
    names = ("motion", "omega", "t_center", "t_scale")

    def image(*values):
        params = dict(base, **dict(zip(names, values)))
        return model.render(camera, 10, background=(0.0, 0.0, 0.0), backend="reference", params=params, time=0.6).image

    inputs = tuple(base[name].clone().requires_grad_(True) for name in names)
    assert torch.autograd.gradcheck(image, inputs, eps=1e-6, atol=1e-5)


# ---- density control ---------------------------------------------------------------------------


def tagged(model, id_entry: str = "omega"):
    """Adam per entry with state equal to the parameter; ``params[id_entry][:, 0]`` holds the
    splat's id. Returns the optimizers and the rows before any operation."""
    optimizers = optim.splat_optimizers(model.params, {n: 1e-3 for n in model.params})
    with torch.no_grad():
        model.params[id_entry][:, 0] = torch.arange(model.count, dtype=torch.float32)
    for name, opt in optimizers.items():
        p = model.params[name]
        opt.state[p] = {"step": torch.tensor(1.0), "exp_avg": p.detach().clone(), "exp_avg_sq": p.detach().clone()}
    return optimizers


def snapshot(model) -> dict:
    return {name: p.detach().clone() for name, p in model.params.items()}


def assert_aligned(model, optimizers, before: dict, id_entry: str = "omega") -> None:
    """Every row of every entry but those a split changes (means, scales) is the row of the
    splat it came from (by its id); Adam state rows are that splat's or zero (new rows)."""
    ids = model.params[id_entry][:, 0].long()
    for name, p in model.params.items():
        assert p.shape[0] == model.count
        if name not in ("means", "scales"):
            torch.testing.assert_close(p.detach(), before[name][ids], msg=name)
        state = optimizers[name].state[p]["exp_avg"]
        assert state.shape == p.shape
        rows = state.reshape(state.shape[0], -1)
        same = (rows == before[name][ids].reshape(rows.shape[0], -1)).all(dim=1)
        assert bool((same | (rows == 0).all(dim=1)).all()), name
    STGStrategy().check_sanity(model.params, optimizers)


def test_stg_strategy_keeps_dynamic_entries_and_optimizer_state_aligned() -> None:
    model = stg_model(count=40)
    optimizers = tagged(model)
    strategy = STGStrategy(refine_start=0, refine_every=1, grow_grad2d=0.5, prune_unseen_after=0, prune_opa=0.01)
    state = strategy.initialize_state(scene_scale=10.0)
    n = model.count
    state["grad2d"] = torch.linspace(0, 2, n)
    state["count"] = torch.ones(n)
    state["seen"] = (torch.arange(n) % 5 != 0).float()  # every fifth splat never drawn: pruned
    with torch.no_grad():
        model.params["t_center"][:3] = torch.tensor([5.0, 5.0, 5.0])  # far outside [0, 1]: faded out
        model.params["t_scale"][:3] = -3.0
        model.params["opacities"][3:] = 3.0
        model.params["scales"][:] = torch.linspace(-6, -2, n)[:, None]  # some cloned, some split
    before = snapshot(model)
    for name, opt in optimizers.items():  # the state as the parameters now are
        p = model.params[name]
        opt.state[p]["exp_avg"] = p.detach().clone()
    grown = strategy._grow(model.params, optimizers, state, step=10)
    assert grown[0] > 0 and grown[1] > 0
    assert_aligned(model, optimizers, before)
    count = model.count
    pruned = strategy._prune(model.params, optimizers, state, step=10)
    assert pruned > 0 and model.count == count - pruned
    assert_aligned(model, optimizers, before)
    centres = model.params["t_center"].detach()
    assert not bool((centres == 5.0).any())  # the faded-out splats were pruned, and never grew
    assert not bool((state["seen"] == 0).any())


def test_stg_strategy_keeps_basis_coefficients_and_optimizer_state_aligned() -> None:
    """Clones and split children of a motion-basis splat carry its coefficients (so they move
    as it did) with their optimizer rows; the shared basis is not per splat and is untouched."""
    rng = np.random.default_rng(1)
    torch.manual_seed(1)
    config = ModelConfig(sh_degree=1, basis_count=4, basis_knots=5)
    model = create("motion-basis", rng.normal(0, 1, (40, 3)), rng.random((40, 3)), config, times=rng.random(40))
    with torch.no_grad():
        model.params["coeffs"].normal_()
        model.params["opacities"][:] = torch.linspace(-7.0, 3.0, model.count)  # the faintest pruned
        model.params["scales"][:] = torch.linspace(-6, -2, model.count)[:, None]  # some cloned, some split
        model.basis.basis.normal_()
    optimizers = tagged(model, "coeffs")
    basis = model.basis.basis.detach().clone()
    strategy = STGStrategy(refine_start=0, refine_every=1, grow_grad2d=0.5, prune_unseen_after=0, prune_opa=0.01)
    state = strategy.initialize_state(scene_scale=10.0)
    n = model.count
    state.update(grad2d=torch.linspace(0, 2, n), count=torch.ones(n), seen=torch.ones(n))
    before = snapshot(model)
    cloned, split = strategy._grow(model.params, optimizers, state, step=10)
    assert cloned > 0 and split > 0
    assert_aligned(model, optimizers, before, "coeffs")
    assert strategy._prune(model.params, optimizers, state, step=10) > 0
    assert_aligned(model, optimizers, before, "coeffs")
    assert torch.equal(model.basis.basis.detach(), basis)
    exported = model.export_dynamic().motion  # the file's coefficients are the splats' rows
    np.testing.assert_array_equal(exported.coeffs, model.params["coeffs"].detach().numpy())


def test_stg_strategy_densifies_then_prunes() -> None:
    strategy = STGStrategy(refine_start=2, refine_stop=10, prune_stop=20)
    assert strategy.grows_at(9) and not strategy.grows_at(10) and strategy.last_step() == 20
    with pytest.raises(ValueError, match="prune_stop"):
        STGStrategy(refine_stop=10, prune_stop=5)


def test_mcmc_relocation_moves_dynamic_entries_with_the_splat() -> None:
    model = stg_model(count=30)
    optimizers = tagged(model)
    with torch.no_grad():
        model.params["opacities"][:10] = -20.0  # dead
    before = snapshot(model)
    strategy = MCMCStrategy(cap_max=40)
    state = strategy.initialize_state()
    strategy.relocate_dead(model.params, optimizers, state)
    strategy.grow(model.params, optimizers, state)
    assert model.count == 31
    ids = model.params["omega"][:, 0].long()
    for name in ("motion", "t_center", "t_scale", "sh0", "shN", "quats"):
        torch.testing.assert_close(model.params[name].detach(), before[name][ids], msg=name)
    assert bool((ids[:10] >= 10).all())  # dead splats now copy live ones


# ---- segments, training, outputs, resume ------------------------------------------------------


def test_gof_segments() -> None:
    assert segment_ranges(0, 50, 25) == [(0, 25), (25, 50)]
    assert segment_ranges(0, 50, 0) == [(0, 50)]
    assert segment_ranges(10, 65, 25) == [(10, 35), (35, 60), (60, 65)]
    assert segment_ranges(0, 20, 50) == [(0, 20)]


def tiny_config(*extra: str, **overrides):
    settings = [
        "iterations=16", "resolution=None", "eval_every=8", "save_every=8", "strategy.refine_start=3",
        "strategy.refine_every=4", "strategy.refine_stop=12", "strategy.prune_stop=14", "strategy.prune_unseen_after=8",
        *extra,
    ]
    return build_config("cpu-fast", settings, dynamic=True, **overrides)


def read_params(folder: Path) -> dict:
    return torch.load(folder / "ckpt.pt", weights_only=True)["params"]


def test_dynamic_run_writes_its_outputs(tmp_path: Path) -> None:
    from gscc.eval.video import read_mp4
    from gscc.io import read_dynamic_ply, read_splatv
    from gscc.io.splatv import read_splatv_cameras

    result = train_dynamic("synthetic", tmp_path / "run", tiny_config(), load=load_moving)
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    dataset = moving_dataset()
    assert len(metrics["test"]["views"]) == len(dataset.test)  # every test camera at every frame
    assert {v["frame"] for v in metrics["test"]["views"]} == set(range(6))
    assert metrics["test"]["mean"]["psnr"] > 10
    assert metrics["parameter_count"] > metrics["splat_count"] * 20
    ply = read_dynamic_ply(run / "splats.ply")
    assert ply.count == metrics["splat_count"] == result.metrics["splat_count"]
    splatv = read_splatv(run / "scene.splatv")
    np.testing.assert_allclose(splatv.motion.t_center, ply.motion.t_center, atol=1e-3)
    cameras = read_splatv_cameras(run / "scene.splatv")
    assert len(cameras) == 4 and cameras[0]["width"] == dataset.train[0].camera.width
    np.testing.assert_allclose(cameras[0]["position"], dataset.train[0].camera.center, atol=1e-6)
    videos = metrics["videos"]
    assert len(videos) == 1 and len(read_mp4(run / "videos" / videos[0])) == 6
    assert len(metrics["renders"]) == 3
    scene = load_run_scene(run)
    assert len(scene.segments) == 1 and scene.at(0.5).count == ply.count


def test_dynamic_run_resumes_exactly(tmp_path: Path) -> None:
    config = tiny_config()
    train_dynamic("synthetic", tmp_path / "straight", config, load=load_moving)
    train_dynamic("synthetic", tmp_path / "resumed", config, load=load_moving, stop_after=10)
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    train_dynamic("synthetic", tmp_path / "resumed", None, load=load_moving, resume=True)
    a, b = read_params(tmp_path / "straight"), read_params(tmp_path / "resumed")
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize(
    "representation,colour,strategy", [("stg", "features", "stg"), ("motion-basis", "sh", "stg"), ("stg", "sh", "mcmc")]
)
def test_other_dynamic_representations_train(tmp_path: Path, representation: str, colour: str, strategy: str) -> None:
    config = build_config(
        "cpu-fast", [f"colour={colour}", "iterations=8", "resolution=None", "strategy.refine_start=2", "strategy.refine_every=3"],
        dynamic=True, representation=representation, strategy=strategy,
    )
    result = train_dynamic("synthetic", tmp_path / "run", config, load=load_moving)
    assert result.metrics["test"]["mean"]["psnr"] > 8
    assert (tmp_path / "run" / "scene.splatv").exists() == (representation == "stg")


def test_motion_basis_moves_splats_on_the_position_schedule(tmp_path: Path) -> None:
    """A splat's place at t is rest + coeffs @ basis(t): the basis and the coefficients decay
    with the means (to means_lr_final), not as the colour decoder or not at all, so that
    the motion settles as the positions do instead of jittering to the last step."""
    from gscc.train.dynamic import DynamicTrainer

    config = build_config("cpu-fast", ["iterations=40", "resolution=None"], dynamic=True, representation="motion-basis")
    trainer = DynamicTrainer(config, moving_dataset(), tmp_path / "run")
    for step in range(3):
        trainer.train_step(step)
    fraction = config.means_lr_final ** (2 / config.iterations)
    optimizers = {**trainer.optimizers, **trainer.shared_optimizers}
    for name, opt in ((n, optimizers[n]) for n in ("means", "coeffs", "basis")):
        assert opt.param_groups[0]["lr"] == pytest.approx(trainer.lrs[name] * fraction, rel=1e-6), name


def test_motion_basis_knots_default_to_one_every_few_frames(tmp_path: Path) -> None:
    """With basis_knots=0 a segment's trajectories get a knot every KNOT_SPACING frames (both
    ends included), not one per frame: each knot is then trained by the views of several
    frames."""
    from gscc.model.motion_basis import KNOT_SPACING, knots_for_frames
    from gscc.train.dynamic import DynamicTrainer

    assert KNOT_SPACING == 5
    assert [knots_for_frames(f) for f in (1, 2, 5, 6, 7, 11, 50, 300)] == [1, 2, 2, 2, 3, 3, 11, 61]
    config = build_config("cpu-fast", ["iterations=4", "resolution=None"], dynamic=True, representation="motion-basis")
    trainer = DynamicTrainer(config, moving_dataset(total=12), tmp_path / "run")
    assert trainer.model.basis.basis.shape == (config.basis_count, 4, 3)
    given = build_config(
        "cpu-fast", ["iterations=4", "resolution=None", "basis_knots=12"], dynamic=True, representation="motion-basis"
    )
    assert DynamicTrainer(given, moving_dataset(total=12), tmp_path / "given").model.basis.basis.shape[1] == 12


def test_a_dynamic_representation_needs_a_dynamic_dataset(tmp_path: Path) -> None:
    from gscc.errors import InputError
    from gscc.train.trainer import train

    with pytest.raises(InputError, match="needs a dynamic dataset"):
        train("unused", tmp_path / "run", build_config("cpu-fast", [], representation="stg"))


TORCHRUN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from dynamic_scene import load_moving
from gscc.train.config import TrainConfig
import json
config = TrainConfig.from_dict(json.loads({config!r}))
train_dynamic = __import__("gscc.train.segments", fromlist=["train_dynamic"]).train_dynamic
train_dynamic("synthetic", sys.argv[1], config, load=load_moving)
"""


def test_gof_segments_under_torchrun_match_one_process(tmp_path: Path) -> None:
    """Two torchrun workers (gloo) train one segment each; the saved segments are bit for bit
    those of one process training both one after another."""
    config = tiny_config("iterations=6", "frames=0:6", "gof=3")
    sequential = train_dynamic("synthetic", tmp_path / "one", config, load=load_moving)
    assert sequential.trained == [0, 1]
    script = tmp_path / "worker.py"
    script.write_text(TORCHRUN_SCRIPT.format(tests=str(ROOT / "tests"), config=json.dumps(config.to_dict())))
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(script), str(tmp_path / "two")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for segment in ("seg00", "seg01"):
        a, b = read_params(tmp_path / "one" / segment), read_params(tmp_path / "two" / segment)
        for name in a:
            assert torch.equal(a[name], b[name]), (segment, name)
    summary = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert [s["frames"] for s in summary["segments"]] == [[0, 3], [3, 6]]
    assert len(summary["test"]["views"]) == 6 and summary["videos"] == ["orbit_0004.mp4"]
    scene = load_run_scene(tmp_path / "two")
    assert [(s.start, s.end) for s in scene.segments] == [(0.0, 0.5), (0.5, 1.0)]


# ---- real loaders end to end ---------------------------------------------------------------------


MUTANT = ROOT.parent / "shared" / "data" / "dynamic" / "dnerf-mutant"


def test_dnerf_mutant_trains_end_to_end(tmp_path: Path) -> None:
    if not (MUTANT / "transforms_train.json").is_file():
        pytest.skip(f"D-NeRF mutant not found at {MUTANT}")
    config = tiny_config("iterations=6", "resolution=40", "max_views=6", "init_points=300", "gof=0")
    result = train_dynamic(MUTANT, tmp_path / "run", config)
    metrics = result.metrics
    times = [v["time"] for v in metrics["test"]["views"]]
    assert metrics["test"]["mean"]["psnr"] > 8 and len(times) == 6 and len(set(times)) == 6
    assert metrics["resolution"] == [40, 40] and metrics["videos"] == ["test.mp4"]


def test_n3dv_layout_trains_end_to_end(tmp_path: Path) -> None:
    from dynamic_scene import write_n3dv

    write_n3dv(tmp_path / "n3dv")
    config = tiny_config("iterations=8", "init=random", "init_points=300")
    result = train_dynamic(tmp_path / "n3dv", tmp_path / "run", config)
    views = result.metrics["test"]["views"]
    assert {v["camera"] for v in views} == {"cam00"} and len(views) == 6
    assert result.metrics["test"]["mean"]["psnr"] > 10
