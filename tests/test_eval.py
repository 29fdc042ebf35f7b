"""Evaluation: image metrics, render jobs and comparisons at the library level.

Renders here use the reference backend (the executable specification) on small synthetic
scenes, so the tests are quick and independent of the fast backends.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import fast_config, synthetic_splats
from gscc.cameras import Camera, View, load_cameras
from gscc.errors import FormatError, InputError
from gscc.eval import lpips, lpips_availability, psnr, psnr_tensor, ssim, ssim_tensor
from gscc.eval.compare import Comparison, ViewScore, compare_splats, compare_to_images, load_ground_truth
from gscc.eval.render_views import (
    Renderer,
    check_output_folder,
    colorize_depth,
    load_splat_file,
    parse_background,
    render_to_folder,
    to_uint8,
)


def images(seed: int = 0, shape=(40, 48, 3)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # smooth-ish content: a gradient with texture, in [0, 1]
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 0.5 + 0.3 * np.sin(x[..., None] / 5.0 + np.arange(shape[2])) * np.cos(y[..., None] / 7.0)
    return np.clip(base + 0.05 * rng.normal(size=shape), 0, 1)


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------
def test_psnr_matches_hand_computation() -> None:
    a = images(0)
    b = np.clip(a + np.random.default_rng(1).normal(scale=0.03, size=a.shape), 0, 1)
    mse = np.mean((a - b) ** 2)
    assert psnr(a, b) == pytest.approx(10 * math.log10(1.0 / mse), rel=1e-6)  # torchmetrics: float32 ln(10)
    assert psnr(torch.from_numpy(a), torch.from_numpy(b).float()) == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)
    assert psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1)) == pytest.approx(20.0)
    assert psnr(a, a) == math.inf


def ssim_scipy(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM written independently with scipy: 11-tap Gaussian σ 1.5, mirrored borders."""
    from scipy.ndimage import correlate1d

    taps = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
    taps /= taps.sum()

    def blur(x: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(x, taps, axis=0, mode="mirror"), taps, axis=1, mode="mirror")

    c1, c2 = 0.01**2, 0.03**2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def test_ssim_identity_noise_and_independent_values() -> None:
    a = images(0)
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    previous = 1.0
    for sigma in (0.02, 0.05, 0.1, 0.2):
        noisy = np.clip(a + np.random.default_rng(2).normal(scale=sigma, size=a.shape), 0, 1)
        value = ssim(a, noisy)
        assert value < previous
        previous = value
        pytest.importorskip("scipy")
        assert value == pytest.approx(ssim_scipy(a, noisy), abs=1e-9)
    # constant images: SSIM reduces to the luminance term (2ab + C1) / (a² + b² + C1)
    assert ssim(np.full((16, 16, 3), 0.2), np.full((16, 16, 3), 0.6)) == pytest.approx(
        (2 * 0.2 * 0.6 + 1e-4) / (0.2**2 + 0.6**2 + 1e-4), rel=1e-9
    )


def test_metric_input_checks() -> None:
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(ValueError, match="at least 11"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
    with pytest.raises(ValueError, match="floating point"):
        psnr(np.zeros((8, 8, 3), dtype=np.uint8), np.zeros((8, 8, 3), dtype=np.uint8))


def test_ssim_tensor_is_a_training_loss() -> None:
    target = torch.from_numpy(images(3)).float()
    x = torch.full_like(target, 0.5, requires_grad=True)
    optimizer = torch.optim.Adam([x], lr=0.05)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = 1.0 - ssim_tensor(x, target)
        loss.backward()
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    batch = torch.stack([target, target.flip(0)])
    assert float(ssim_tensor(batch, batch)) == pytest.approx(1.0, abs=1e-6)
    assert float(psnr_tensor(batch[:1], batch[:1] * 0.5)) < 20


def test_lpips_reports_unavailability_instead_of_a_value() -> None:
    a, b = images(0), images(1)
    available, reason = lpips_availability()
    if importlib.util.find_spec("torchvision") is None:
        assert not available and "torchvision" in reason
    if available:
        assert reason == ""
        assert lpips(a, a) == pytest.approx(0.0, abs=1e-6)
        assert lpips(a, b) > 0.0
    else:
        assert reason
        assert lpips(a, b) is None
    assert lpips_availability("nonsense")[0] is False


# ---------------------------------------------------------------------------------------------
# Render jobs
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scene():
    splats = synthetic_splats(300, sh_degree=1, seed=4)
    cameras = load_cameras("orbit:3", splats=splats, width=32, height=24)
    return splats, cameras


def test_load_splat_file_reads_gsc_without_torch_and_reports_bad_files(tmp_path: Path, scene) -> None:
    import subprocess
    import sys

    from gscc.codec.encoder import encode

    splats, _ = scene
    path = tmp_path / "scene.gsc"
    path.write_bytes(encode(splats, fast_config()))
    code = (
        "import sys; from gscc.eval.render_views import load_splat_file; "
        f"s = load_splat_file({str(path)!r}); assert s.count == {splats.count}; "
        "assert 'torch' not in sys.modules, 'decoding imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    (tmp_path / "bad.gsc").write_bytes(b"not a gsc file at all")
    with pytest.raises(FormatError, match="bad.gsc"):
        load_splat_file(tmp_path / "bad.gsc")
    with pytest.raises(InputError, match="no such file"):
        load_splat_file(tmp_path / "missing.gsc")
    (tmp_path / "scene.obj").write_text("v 0 0 0")
    with pytest.raises(InputError, match="unknown splat format"):
        load_splat_file(tmp_path / "scene.obj")


def test_parse_background() -> None:
    assert parse_background("white") == (1.0, 1.0, 1.0)
    assert parse_background("Black") == (0.0, 0.0, 0.0)
    assert parse_background("0.5,0.25,1") == (0.5, 0.25, 1.0)
    assert parse_background("255,0,51") == (1.0, 0.0, 0.2)
    for bad in ("blue", "1,2", "0.5,x,1", "300,0,0", "-0.1,0,0", "2.5,0,0"):
        with pytest.raises(InputError, match="background"):
            parse_background(bad)


def test_colorize_depth() -> None:
    depth = np.array([[1.0, 2.0, 3.0], [0.0, 2.0, 3.0]])
    alpha = np.array([[1.0, 1.0, 1.0], [0.0, 0.5, 0.25]])
    rgb = colorize_depth(depth, alpha)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    assert (rgb[1, 0] == 0).all()  # background black
    from matplotlib import colormaps

    turbo = colormaps["turbo"]
    assert np.array_equal(rgb[0, 0], to_uint8(np.array(turbo(0.0)[:3])))  # nearest
    assert np.array_equal(rgb[0, 2], to_uint8(np.array(turbo(1.0)[:3])))  # farthest
    assert np.array_equal(rgb[1, 1], to_uint8(np.array(turbo(0.5)[:3]) * 0.5))  # half covered
    assert (colorize_depth(np.zeros((2, 2)), np.zeros((2, 2))) == 0).all()


def test_render_to_folder_writes_whole_pngs(tmp_path: Path, scene) -> None:
    splats, cameras = scene
    out = tmp_path / "renders"
    seen = []
    written = render_to_folder(
        splats, cameras, out, backend="reference", depth=True, background=(1.0, 1.0, 1.0),
        progress=lambda done, total: seen.append((done, total)),
    )
    names = ["0000.png", "0000_depth.png", "0001.png", "0001_depth.png", "0002.png", "0002_depth.png"]
    assert [p.name for p in written] == names
    assert sorted(p.name for p in out.iterdir()) == names  # no temporary files left
    assert seen == [(1, 3), (2, 3), (3, 3)]
    image, alpha, _ = Renderer(splats, backend="reference", background=(1.0, 1.0, 1.0)).render(cameras[1])
    png = np.asarray(Image.open(out / "0001.png"))
    assert png.shape == (24, 32, 3) and png.dtype == np.uint8
    assert np.array_equal(png, to_uint8(image))
    assert (png[alpha < 1e-4] == 255).all()  # white background where nothing is drawn
    depth_png = np.asarray(Image.open(out / "0001_depth.png"))
    assert (depth_png[alpha < 1e-4] == 0).all() and depth_png[alpha > 0.5].max() > 0
    # a non-empty folder needs force; a file in the way is refused
    with pytest.raises(InputError, match="not empty"):
        render_to_folder(splats, cameras, out, backend="reference")
    render_to_folder(splats, cameras[:1], out, backend="reference", force=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        check_output_folder(tmp_path / "file", force=True)
    with pytest.raises(InputError, match="no such folder"):
        check_output_folder(tmp_path / "missing" / "out", force=False)


# ---------------------------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------------------------
def test_compare_splats(scene) -> None:
    splats, cameras = scene
    same = compare_splats(splats, splats, cameras, backend="reference")
    assert [v.psnr for v in same.views] == [math.inf] * 3
    assert all(v.ssim == pytest.approx(1.0) for v in same.views)
    assert same.mean()["psnr"] == math.inf
    summary = same.to_json()
    assert summary["mean"]["psnr"] is None and len(summary["psnr_infinite"]) == 3
    assert summary["lpips"]["available"] == lpips_availability()[0]

    moved = synthetic_splats(300, sh_degree=1, seed=4)
    moved.sh0 += 0.05
    other = compare_splats(splats, moved, cameras, backend="reference")
    first = Renderer(splats, backend="reference").render(cameras[0])[0]
    second = Renderer(moved, backend="reference").render(cameras[0])[0]
    assert other.views[0].psnr == pytest.approx(psnr(first, second))
    assert math.isfinite(other.mean()["psnr"]) and other.mean()["ssim"] < 1.0


def test_ground_truth_compositing_and_resizing(tmp_path: Path) -> None:
    rgba = np.zeros((20, 40, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[:, :20, 3] = 255  # left half opaque red, right half transparent
    rgba[:, 20:, 3] = 0
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    camera = Camera(40, 20, 30.0, 30.0, 20.0, 10.0, np.eye(4))
    truth = load_ground_truth(tmp_path / "a.png", camera, (1.0, 1.0, 1.0))
    assert np.allclose(truth[:, :20], [1, 0, 0]) and np.allclose(truth[:, 20:], [1, 1, 1])
    small = load_ground_truth(tmp_path / "a.png", camera.scaled(0.5), (0.0, 0.0, 0.0))
    assert small.shape == (10, 20, 3)
    assert np.allclose(small[:, :9], [1, 0, 0], atol=1e-6) and np.allclose(small[:, 11:], 0, atol=1e-6)
    with pytest.raises(InputError, match="aspect"):
        load_ground_truth(tmp_path / "a.png", Camera(40, 40, 30.0, 30.0, 20.0, 20.0, np.eye(4)), (0, 0, 0))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(InputError, match="not a readable image"):
        load_ground_truth(tmp_path / "bad.png", camera, (0, 0, 0))


def test_compare_to_images(tmp_path: Path, scene) -> None:
    """A dataset whose images are the scene's own renders scores perfectly; a changed one does not."""
    splats, cameras = scene
    render_to_folder(splats, cameras, tmp_path / "gt", backend="reference", background=(1.0, 1.0, 1.0))
    views = [View(c, tmp_path / "gt" / f"{i:04d}.png") for i, c in enumerate(cameras)]
    report = compare_to_images(splats, views, backend="reference", background=(1.0, 1.0, 1.0))
    assert report.reference == "images" and len(report.views) == 3
    # the PNGs are the renders rounded to 8 bits: error at most half a level
    assert all(v.psnr > 20 * math.log10(2 * 255) for v in report.views)
    assert all(v.ssim > 0.999 for v in report.views)
    black = compare_to_images(splats, views, backend="reference", background=(0.0, 0.0, 0.0))
    assert black.mean()["psnr"] < report.mean()["psnr"] - 10
    missing = [View(cameras[0], tmp_path / "nothere.png")]
    with pytest.raises(InputError, match="no such image"):
        compare_to_images(splats, missing, backend="reference")
    with pytest.raises(InputError, match="no image"):
        compare_to_images(splats, [View(cameras[0])], backend="reference")


def test_comparison_json_uses_null_for_infinity() -> None:
    report = Comparison("splats", "reference", [ViewScore("a", math.inf, 1.0, None), ViewScore("b", 30.0, 0.9, None)],
                        lpips_reason="no weights")
    summary = report.to_json()
    assert summary["views"][0]["psnr"] is None and summary["views"][1]["psnr"] == 30.0
    assert summary["mean"] == {"psnr": None, "ssim": pytest.approx(0.95), "lpips": None}
    assert summary["lpips"] == {"available": False, "reason": "no weights"}


def test_an_mlp_coloured_gsc_renders_through_its_mlp(tmp_path: Path) -> None:
    """`gscc render`/`eval` of a format-1.1 file show the scene as the feature model renders
    it (features blended per pixel, then the MLP), which baked SH only approximate."""
    from gscc.codec.encoder import encode
    from gscc.model.features import FeatureModel
    from gscc.splats import FeatureSplats
    from gscc.synthetic import random_feature_splats

    scene = random_feature_splats(300, seed=4)
    path = tmp_path / "mlp.gsc"
    path.write_bytes(encode(scene, fast_config()))
    loaded = load_splat_file(path)
    assert isinstance(loaded, FeatureSplats) and loaded.count == 300
    camera = load_cameras("orbit:2", splats=loaded, width=32, height=24)[1]
    image, alpha, depth = Renderer(loaded, backend="reference", background=(1.0, 1.0, 1.0)).render(camera, depth=True)
    with torch.no_grad():
        expected = FeatureModel.from_scene(loaded).render(camera, 0, background=(1.0, 1.0, 1.0), backend="reference").image
    np.testing.assert_array_equal(image, expected.clamp(0, 1).float().numpy())
    assert depth is not None and depth.shape == (24, 32) and alpha.max() > 0.1
    baked, _, _ = Renderer(loaded.baked(), backend="reference", background=(1.0, 1.0, 1.0)).render(camera)
    assert not np.array_equal(image, baked)
