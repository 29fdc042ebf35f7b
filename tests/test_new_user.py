"""What a new user meets first: ./dev from another folder, output names that say what
they hold, helpful errors for the wrong kind of file, and progress while encoding."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from conftest import fast_config
from gscc import cli
from gscc.codec.encoder import encode_tracked
from gscc.io import write_ply
from test_robustness import assert_one_line_error, gscc_cli, snapshot  # noqa: F401  (gscc_cli: fixture)

REPO = Path(__file__).resolve().parents[1]


# --- ./dev -----------------------------------------------------------------------------

@pytest.fixture
def fake_checkout(tmp_path: Path) -> Path:
    """A copy of the repository's ./dev whose .venv is installed already and whose `gscc`
    prints the folder it runs in and its arguments."""
    repo = tmp_path / "repo"
    (repo / ".venv" / "bin").mkdir(parents=True)
    for name in ("dev", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy2(REPO / name, repo / name)
    digest = hashlib.sha256((REPO / "requirements-dev.txt").read_bytes() + (REPO / "pyproject.toml").read_bytes())
    (repo / ".venv" / f".installed-{digest.hexdigest()[:16]}").touch()
    gscc = repo / ".venv" / "bin" / "gscc"
    gscc.write_text('#!/bin/sh\npwd\necho "$@"\n')
    gscc.chmod(0o755)
    return repo


@pytest.mark.parametrize("command", ["gscc", "demo"])
def test_dev_runs_gscc_in_the_folder_it_is_called_from(fake_checkout: Path, tmp_path: Path, command: str) -> None:
    here = tmp_path / "gscc-demo"
    here.mkdir()
    done = subprocess.run(
        ["bash", "../repo/dev", command, "info", "sample.gsc"], cwd=here, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    folder, arguments = done.stdout.splitlines()
    assert Path(folder).resolve() == here.resolve()
    assert arguments == ("info sample.gsc" if command == "gscc" else "demo info sample.gsc")


# --- output names ------------------------------------------------------------------------

@pytest.fixture
def small_ply(small_splats, tmp_path) -> Path:
    path = tmp_path / "scene.ply"
    write_ply(small_splats.subset(np.arange(200)), path)
    return path


@pytest.mark.parametrize("name", ["x.ply", "x.txt", "x"])
def test_encode_refuses_an_output_not_named_gsc(gscc_cli, small_ply, tmp_path, name) -> None:
    before = snapshot(tmp_path)
    line = assert_one_line_error(gscc_cli("encode", small_ply, "-o", tmp_path / name, "--sort", "none"))
    assert name in line and ".gsc" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["x.txt", "x.gsc", "x"])
def test_decode_refuses_an_output_not_named_ply(gscc_cli, small_gsc_path, tmp_path, name) -> None:
    before = snapshot(tmp_path)
    line = assert_one_line_error(gscc_cli("decode", small_gsc_path, "-o", tmp_path / name))
    assert name in line and ".ply" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_an_output_that_is_a_directory_says_so_at_once(gscc_cli, small_gsc_path, small_ply, tmp_path, force) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    for args in (["decode", small_gsc_path], ["encode", small_ply, "--sort", "none"]):
        line = assert_one_line_error(gscc_cli(*args, "-o", folder, *force))
        assert "is a directory" in line and "--force" not in line
    assert folder.is_dir() and not any(folder.iterdir())


# --- the wrong kind of input ---------------------------------------------------------------

@pytest.mark.parametrize("command", ["info", "decode"])
def test_info_and_decode_of_a_ply_name_it_and_point_to_encode(gscc_cli, small_ply, command) -> None:
    line = assert_one_line_error(gscc_cli(command, small_ply))
    assert str(small_ply) in line and "PLY" in line and "gscc encode" in line


def test_info_of_a_splat_file_points_to_encode(gscc_cli, tmp_path) -> None:
    path = tmp_path / "scene.splat"
    path.write_bytes(bytes(64))
    line = assert_one_line_error(gscc_cli("info", path))
    assert str(path) in line and "gscc encode" in line


def test_info_of_some_other_file_names_it(gscc_cli, tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    line = assert_one_line_error(gscc_cli("info", path))
    assert str(path) in line and "not a .gsc file" in line


# --- progress --------------------------------------------------------------------------------

def test_encoder_reports_sorting_and_every_attribute(small_splats) -> None:
    stages: list[str] = []
    splats = small_splats.subset(np.arange(500))
    encode_tracked(splats, fast_config().with_overrides(sort="plas"), progress=stages.append)
    assert stages[0].startswith("sorting ") and stages[0].endswith("splats (plas)")
    assert [s for s in stages if s.startswith("coding")] == [
        "coding means", "coding scales", "coding quats", "coding opacities", "coding sh0"
    ]


def test_encode_progress_is_a_status_line_on_a_terminal_only(monkeypatch) -> None:
    monkeypatch.setattr(cli, "errors", Console(file=io.StringIO(), force_terminal=True))
    with cli._EncodeProgress() as progress:
        progress("coding means")
        assert progress._status is not None and progress._status.status == "encoding: coding means"
    monkeypatch.setattr(cli, "errors", Console(file=io.StringIO(), force_terminal=False))
    with cli._EncodeProgress() as progress:
        progress("coding means")
        assert progress._status is None


def test_piped_encode_prints_no_progress(gscc_cli, small_ply, tmp_path) -> None:
    result = gscc_cli("encode", small_ply, "-o", tmp_path / "out.gsc")
    assert result.code == 0, result.stderr
    assert "encoding" not in result.stderr and "sorting" not in result.stderr


# --- training -------------------------------------------------------------------------------

def test_training_names_the_held_out_views_and_renders_all_of_legos() -> None:
    from types import SimpleNamespace

    from gscc.train.config import TrainConfig
    from gscc.train.trainer import held_out_line

    views = [SimpleNamespace(name=f"train/r_{i}.png") for i in range(100)]
    lego = SimpleNamespace(train=[v for i, v in enumerate(views) if i % 8], test=views[::8])
    line = held_out_line(lego, TrainConfig().test_renders)
    assert line.startswith("87 training views; 13 held out for evaluation (train/r_0.png, train/r_8.png,")
    assert "13 of them rendered" in line
    assert "none held out" in held_out_line(SimpleNamespace(train=views, test=[]), 3)


def test_runs_folder_is_ignored_by_git() -> None:
    assert "runs/" in (REPO / ".gitignore").read_text().splitlines()
