"""Training: short smoke runs on a few lego views at 40x40, exact resume, config overrides
and the `gscc train` command line.

Runs are tiny (a few thousand random points, tens of steps) so the file stays fast on a
2-core CPU; they check that the machinery works (the loss falls, outputs are complete and
consistent), not the quality a real run reaches.
"""

from __future__ import annotations

import json
from dataclasses import replace
import sys
import traceback

import numpy as np
import pytest
import torch
from rich.console import Console

from gscc import cli
from gscc.codec.decoder import decode
from gscc.codec.prune import keep_mask
from gscc.errors import InputError
from gscc.io import load_splats
from gscc.train.config import PRESETS, TrainConfig, build_config
from gscc.train.trainer import load_training_data, train

QUIET = Console(stderr=True, quiet=True)
SMALL = dict(resolution=40, max_views=6, init_points=1500, eval_every=0, save_every=0, test_renders=2, codec_sort="none")


def small_config(**overrides) -> TrainConfig:
    settings = {**SMALL, **overrides}
    assignments = [f"strategy.{k}={v}" for k, v in settings.pop("strategy_settings", {}).items()]
    return build_config("default", assignments, **settings)


@pytest.fixture(scope="module")
def dataset(lego):
    return load_training_data(lego, small_config())


# strategy settings that make the strategies act within a few tens of steps
ACTIVE = {
    "default": {"refine_start": 5, "refine_every": 10, "reset_every": 1000},
    "mcmc": {"refine_start": 5, "refine_every": 10},
}


@pytest.mark.parametrize(
    "representation,strategy", [("vanilla", "default"), ("vanilla", "mcmc"), ("features", "default"), ("features", "mcmc")]
)
def test_smoke_run_learns_and_writes_consistent_outputs(dataset, lego, tmp_path, representation, strategy):
    config = small_config(
        iterations=30,
        representation=representation,
        strategy=strategy,
        sh_degree_interval=10,
        strategy_settings=ACTIVE[strategy],
    )
    run = tmp_path / "run"
    result = train(lego, run, config, console=QUIET, dataset=dataset)

    k = 6
    assert len(result.losses) == 30 and all(np.isfinite(result.losses))
    assert np.mean(result.losses[-k:]) < np.mean(result.losses[:k]) - 0.02

    for name in ("config.json", "ckpt.pt", "splats.ply", "scene.gsc", "metrics.json"):
        assert (run / name).is_file(), name
    assert TrainConfig.from_dict(json.loads((run / "config.json").read_text())) == config

    splats = load_splats(run / "splats.ply")
    assert splats.sh_degree == 3  # vanilla trains degree 3; features bake degree 3
    decoded = decode((run / "scene.gsc").read_bytes())
    assert decoded.count == int(keep_mask(splats, config.codec_config().prune).sum())

    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["splat_count"] == splats.count
    assert metrics["iterations"] == 30 and metrics["training_seconds"] > 0
    assert metrics["gsc"]["bytes"] == (run / "scene.gsc").stat().st_size
    assert metrics["gsc"]["splat_count"] == decoded.count
    assert len(metrics["trained"]["views"]) == len(dataset.test)
    assert metrics["trained"]["mean"]["psnr"] > 8.0
    # quantisation costs little: the decoded scene (a feature model's rendered through its
    # MLP, as trained) scores close to the trained one
    assert abs(metrics["gsc"]["mean"]["psnr"] - metrics["trained"]["mean"]["psnr"]) < 1.0
    assert ("exported" in metrics) == (representation == "features")
    renders = sorted((run / "renders").iterdir())
    assert len(renders) == 2
    from PIL import Image

    with Image.open(renders[0]) as image:
        assert image.size == (2 * 40, 40)  # render | ground truth


def test_a_time_budget_ends_the_run_early_with_complete_outputs(dataset, lego, tmp_path):
    config = small_config(iterations=50, time_budget=1e-9)  # spent by the first step
    result = train(lego, tmp_path / "run", config, console=QUIET, dataset=dataset)
    assert result.step == 1 and result.metrics is not None
    assert result.metrics["stopped_by_time_budget"] and result.metrics["planned_iterations"] == 50
    assert (tmp_path / "run" / "scene.gsc").is_file() and (tmp_path / "run" / "metrics.json").is_file()
    again = small_config(iterations=50)
    full = train(lego, tmp_path / "full", replace(again, iterations=3), console=QUIET, dataset=dataset)
    assert not full.metrics["stopped_by_time_budget"] and full.metrics["iterations"] == 3


def test_strategies_change_the_splat_count(dataset, lego, tmp_path):
    config = small_config(iterations=12, strategy="default", strategy_settings={"refine_start": 2, "refine_every": 5, "grow_grad2d": 1e-6})
    result = train(lego, tmp_path / "run", config, console=QUIET, dataset=dataset, stop_after=12)
    assert result.metrics is not None and result.metrics["splat_count"] > 1500


@pytest.mark.parametrize("representation,strategy", [("vanilla", "default"), ("features", "mcmc")])
def test_resume_continues_bit_for_bit(dataset, lego, tmp_path, representation, strategy):
    settings = {"refine_start": 2, "refine_every": 3}
    if strategy == "default":
        settings["grow_grad2d"] = 1e-5  # so that splats are cloned and split before and after the break
    config = small_config(iterations=40, representation=representation, strategy=strategy, strategy_settings=settings)
    whole = train(lego, tmp_path / "whole", config, console=QUIET, dataset=dataset, stop_after=12)
    first = train(lego, tmp_path / "parts", config, console=QUIET, dataset=dataset, stop_after=7)
    assert first.step == 7 and first.metrics is None
    rest = train(lego, tmp_path / "parts", resume=True, console=QUIET, dataset=dataset, stop_after=12)
    assert rest.step == 12
    assert rest.losses == whole.losses  # every step's loss, bit for bit
    a = torch.load(tmp_path / "whole" / "ckpt.pt", weights_only=True)
    b = torch.load(tmp_path / "parts" / "ckpt.pt", weights_only=True)
    assert a["params"].keys() == b["params"].keys()
    for name in a["params"]:
        assert torch.equal(a["params"][name], b["params"][name]), name
    for name in a["shared"]:
        assert torch.equal(a["shared"][name], b["shared"][name]), name


def test_resume_refuses_other_settings(dataset, lego, tmp_path):
    config = small_config(iterations=10)
    train(lego, tmp_path / "run", config, console=QUIET, dataset=dataset, stop_after=2)
    with pytest.raises(InputError, match="differ"):
        train(lego, tmp_path / "run", small_config(iterations=11), resume=True, console=QUIET, dataset=dataset)
    with pytest.raises(InputError, match="not empty"):
        train(lego, tmp_path / "run", config, console=QUIET, dataset=dataset)
    with pytest.raises(InputError, match="no ckpt.pt"):
        train(lego, tmp_path / "other", resume=True, console=QUIET, dataset=dataset)


# ---- configuration ------------------------------------------------------------------------


def test_config_overrides_are_typed_and_checked():
    c = build_config(
        "cpu-fast",
        ["ssim_lambda=0.3", "background=black", "max_views=none", "strategy.cap_max=1234", "eval_every=2e3"],
        strategy="mcmc",
    )
    assert c.ssim_lambda == 0.3 and c.background == (0.0, 0.0, 0.0) and c.max_views is None
    assert c.eval_every == 2000 and isinstance(c.eval_every, int)
    assert c.strategy_fields()["cap_max"] == 1234 and c.make_strategy().cap_max == 1234
    assert c.resolution == PRESETS["cpu-fast"]["resolution"]
    assert (c.init_opacity, c.init_scale) == (0.5, 0.1)  # MCMC's initialisation
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert build_config("cpu-fast", downscale=2.0).resolution is None  # a downscale replaces the preset's width

    for bad, message in [
        (["nonsense=1"], "unknown setting 'nonsense'"),
        (["strategy.nonsense=1"], "unknown default strategy setting"),
        (["iterations=1.5"], "not a valid int"),
        (["iterations=0"], "iterations must be at least 1"),
        (["representation=voxels"], "unknown representation"),
        (["ssim_lambda"], "expected key=value"),
        (["background=purple"], "background"),
        (["downscale=2", "resolution=100"], "either downscale or resolution"),
    ]:
        with pytest.raises(InputError, match=message):
            build_config("default", bad)
    with pytest.raises(InputError, match="unknown training preset"):
        build_config("fastest")


def test_presets_build():
    for name in PRESETS:
        config = build_config(name)
        config.make_strategy()
    assert build_config("mcmc").strategy == "mcmc"
    assert build_config("default").iterations == 30_000


# ---- command line -------------------------------------------------------------------------


def run_cli(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["gscc", *map(str, args)])
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    capsys.readouterr()
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        code = 99
        print(traceback.format_exc(), file=sys.stderr)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_rejects_a_folder_that_is_not_a_dataset(monkeypatch, capsys, tmp_path):
    (tmp_path / "photos").mkdir()
    code, out, err = run_cli(monkeypatch, capsys, "train", tmp_path / "photos", "-o", tmp_path / "run")
    assert code == 1 and out == ""
    assert err.startswith("error: ") and "not a training dataset" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
    code, _, err = run_cli(monkeypatch, capsys, "train", tmp_path / "missing", "-o", tmp_path / "run")
    assert code == 1 and "no such folder" in err


def test_cli_trains_and_guards_the_run_folder(monkeypatch, capsys, lego, tmp_path):
    threads = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", str(threads))  # keep this process's torch threads
    run = tmp_path / "run"
    args = ["train", lego, "-o", run, "--iterations", "3", "--resolution", "40", "--representation", "features"]
    args += ["--set", "max_views=3", "--set", "init_points=300", "--set", "codec_sort=none", "--set", "test_renders=1"]
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "wrote" in out and (run / "scene.gsc").is_file()
    saved = json.loads((run / "config.json").read_text())
    assert saved["representation"] == "features" and saved["iterations"] == 3 and saved["max_views"] == 3

    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 1 and "not empty" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli(monkeypatch, capsys, "train", lego, "-o", run, "--resume", "--iterations", "5")
    assert code == 1 and "differ" in err and "iterations" in err
    code, out, err = run_cli(monkeypatch, capsys, "train", lego, "-o", run, "--resume")
    assert code == 0, err  # a finished run resumes to the same end: outputs rewritten
    assert torch.get_num_threads() == threads


def test_cli_defaults_suit_the_machine(monkeypatch, capsys, lego, tmp_path):
    """No --preset: cpu-fast without CUDA (the 3DGS schedule would take days on a CPU);
    no -o: runs/SCENE under the working folder."""
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)
    args = ["train", lego, "--iterations", "2", "--resolution", "40", "--set", "max_views=3"]
    args += ["--set", "init_points=200", "--set", "codec_sort=none", "--set", "test_renders=1"]
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    assert "preset cpu-fast" in err
    saved = json.loads((tmp_path / "runs" / "lego" / "config.json").read_text())
    assert saved["sh_degree_interval"] == PRESETS["cpu-fast"]["sh_degree_interval"] and saved["iterations"] == 2


# ---- representations ----------------------------------------------------------------------


def test_vanilla_initialisation_follows_3dgs():
    from gscc.model import ModelConfig, create
    from gscc.splats import SH_C0

    rng = np.random.default_rng(0)
    points = rng.random((200, 3)).astype(np.float32)
    colors = rng.random((200, 3)).astype(np.float32)
    model = create("vanilla", points, colors, ModelConfig(sh_degree=2))
    splats = model.export()
    assert splats.count == 200 and splats.sh_degree == 2 and not splats.shN.any()
    np.testing.assert_allclose(splats.sh0 * SH_C0 + 0.5, colors, atol=1e-6)
    np.testing.assert_allclose(1.0 / (1.0 + np.exp(-splats.opacities)), 0.1, rtol=1e-5)
    np.testing.assert_array_equal(splats.quats, np.tile([1.0, 0.0, 0.0, 0.0], (200, 1)))
    from scipy.spatial import cKDTree

    d, _ = cKDTree(points).query(points, k=4)
    np.testing.assert_allclose(np.exp(splats.scales[:, 0]), np.sqrt((d[:, 1:] ** 2).mean(axis=1)), rtol=1e-4)
    assert [model.sh_degree_at(s) for s in (0, 999, 1000, 2500, 9999)] == [0, 0, 1, 2, 2]


def test_feature_model_bakes_its_colours_into_sh():
    from gscc.model import ModelConfig, create, from_params
    from gscc.sh_basis import sphere_directions
    from gscc.render.sh import eval_sh_colors

    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    points = rng.random((300, 3)).astype(np.float32)
    model = create("features", points, rng.random((300, 3)).astype(np.float32), ModelConfig(feature_dim=6))
    with torch.no_grad():
        model.params["features"].normal_(0.0, 1.0)
    splats = model.export()
    assert splats.sh_degree == 3
    sh = torch.from_numpy(np.concatenate([splats.sh0[:, None], splats.shN], axis=1))
    means = torch.from_numpy(splats.means)
    errors = []
    for direction in torch.from_numpy(sphere_directions(25)).float():  # other directions than the fit's
        center = means.mean(dim=0) - 10.0 * direction  # a far camera looking along the direction
        dirs = means - center
        dirs = dirs / dirs.norm(dim=-1, keepdim=True)
        with torch.no_grad():
            mlp = model.decode(model.params["features"], dirs)
        errors.append((eval_sh_colors(sh, means, center, 3) - mlp).abs().mean())
    assert float(torch.stack(errors).mean()) < 0.01

    weights = model.shared_state()
    assert all(a.dtype == np.float32 for a in weights.values()) and "layers.0.weight" in weights
    tensors = {name: p.detach() for name, p in model.params.items()}
    again = from_params("features", tensors, weights, model.config)
    np.testing.assert_array_equal(again.export().shN, splats.shN)
    with pytest.raises(ValueError):
        from_params("features", tensors, {"layers.0.weight": weights["layers.0.weight"]}, model.config)


def test_pixel_directions_follow_the_camera():
    from gscc.cameras import Camera
    from gscc.model.features import pixel_directions

    w2c = np.eye(4)
    w2c[:3, :3] = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # camera z looks along world x
    camera = Camera(5, 3, 10.0, 10.0, 2.5, 1.5, w2c)
    dirs = pixel_directions(camera)
    assert dirs.shape == (3, 5, 3)
    np.testing.assert_allclose(dirs[1, 2].numpy(), [1.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(dirs.norm(dim=-1).numpy(), 1.0, atol=1e-6)
    assert dirs[1, 4, 1] > 0 and dirs[2, 2, 2] > 0  # right is world +y, down is world +z here


def test_a_decoded_feature_scene_renders_as_the_trained_model(dataset):
    """metrics.json's gsc score of a feature model renders the file's features through its
    MLP: a scene rebuilt from the exported FeatureSplats renders exactly like the model."""
    from gscc.model import ModelConfig, create
    from gscc.model.features import FeatureModel

    torch.manual_seed(0)
    rng = np.random.default_rng(3)
    points = (rng.random((400, 3)).astype(np.float32) - 0.5) * 2
    model = create("features", points, rng.random((400, 3)).astype(np.float32), ModelConfig(feature_dim=5, mlp_hidden=16))
    again = FeatureModel.from_scene(model.export_scene())
    assert (again.config.feature_dim, again.config.mlp_hidden, again.config.mlp_layers) == (5, 16, 2)
    camera = dataset.test[0].camera
    with torch.no_grad():
        a = model.render(camera, 0, background=(1.0, 1.0, 1.0)).image
        b = again.render(camera, 0, background=(1.0, 1.0, 1.0)).image
    assert torch.equal(a, b)


def test_cli_compression_presets_and_their_switches(monkeypatch, capsys, lego, tmp_path):
    """--compression picks a compression preset (its steps as fractions of the run);
    each module is then one --set away; the choices are the presets the library has."""
    from gscc.train.config import COMPRESSION_PRESETS

    assert {p.value for p in cli.CompressionPreset} == set(COMPRESSION_PRESETS)
    assert {p.value for p in cli.TrainPreset} == set(PRESETS)
    monkeypatch.setenv("OMP_NUM_THREADS", str(torch.get_num_threads()))
    run = tmp_path / "run"
    args = ["train", lego, "-o", run, "--iterations", "4", "--resolution", "40", "--compression", "gscodec"]
    args += ["--set", "max_views=3", "--set", "init_points=300", "--set", "codec_sort=none", "--set", "test_renders=1"]
    args += ["--set", "quantizer=ste", "--set", "mask.sparsity_weight=0.01"]
    code, out, err = run_cli(monkeypatch, capsys, *args)
    assert code == 0, err
    saved = json.loads((run / "config.json").read_text())
    assert saved["quantizer"] == "ste" and saved["entropy_model"] == "factorized" and saved["simulate_start"] == 2
    assert saved["mask_options"]["learnable"]["sparsity_weight"] == 0.01
    assert json.loads((run / "metrics.json").read_text())["compression"]["quantizer"] == "ste"
    code, out, err = run_cli(monkeypatch, capsys, "train", lego, "-o", tmp_path / "x", "--compression", "zip")
    assert code != 0 and not (tmp_path / "x").exists()
