"""Faults around the codec: a decode-only install, and the encode side's writes.

* `gscc decode` and `gscc info` work with the training/rendering extras absent (torch,
  Taichi, ... blocked from importing); a command that needs them says so in one line, and
  `gscc demo` then leaves no folder behind.
* An output is written through gscc.io.atomic: SIGKILL or SIGTERM during the write leaves
  the old file intact and at most a temporary file that the next write removes (SIGTERM:
  none); concurrent writes to one new path without --force: exactly one succeeds; a full
  disk is a one-line error naming the path, with no partial file.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from gscc.cli import FULL_EXTRA
from gscc.io import write_ply
from gscc.io.atomic import TERMINATED, write_atomically
from test_robustness import assert_one_line_error, gscc_cli  # noqa: F401  (a fixture)

ROOT = Path(__file__).resolve().parents[1]
VECTOR = ROOT / "conformance" / "vectors" / "features-mlp.gsc"

# Runs the gscc CLI with every module of the full extra made unimportable.
WITHOUT_EXTRAS = textwrap.dedent(
    """
    import sys
    BLOCKED = set(sys.argv[1].split(","))

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    import importlib.util
    _find_spec = importlib.util.find_spec
    importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] in BLOCKED else _find_spec(name, *a)
    sys.argv = ["gscc"] + sys.argv[2:]
    from gscc.cli import main
    main()
    """
)


def run_without_extras(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS, ",".join(FULL_EXTRA), *map(str, args)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def test_decode_and_info_work_without_the_full_extra(tmp_path: Path) -> None:
    decoded = run_without_extras("decode", VECTOR, "-o", tmp_path / "out.ply", cwd=tmp_path)
    assert decoded.returncode == 0, decoded.stderr
    assert (tmp_path / "out.ply").stat().st_size > 0
    for args in (["info", VECTOR], ["info", "--json", VECTOR]):
        shown = run_without_extras(*args, cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "features" in shown.stdout


@pytest.mark.parametrize("command, needs", [(["encode", "x.splat"], "torch"), (["demo", "-o", "demo"], "torch")])
def test_a_command_needing_the_full_extra_says_so_in_one_line(tmp_path: Path, command, needs) -> None:
    (tmp_path / "x.splat").write_bytes(bytes(64))
    done = run_without_extras(*command, cwd=tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines == [f"error: gscc {command[0]} needs {needs}: pip install 'gscc[full]'"], done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.splat"]  # no folder, no output


def test_the_base_install_needs_none_of_the_full_extra() -> None:
    """pyproject: the extras' modules are in `full`, not in the base dependencies."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["dependencies"]}
    assert not base & set(FULL_EXTRA)
    full = {d.split(">")[0].split("=")[0].split("<")[0].strip() for d in project["optional-dependencies"]["full"]}
    assert set(FULL_EXTRA) - {"torchvision"} <= full  # torchvision comes with torchmetrics' LPIPS


# ---------------------------------------------------------------------------- signals
WRITER = textwrap.dedent(
    """
    import sys, time
    from gscc.io.atomic import write_atomically

    def slow(handle):
        handle.write(b"new data")
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)

    write_atomically(sys.argv[1], slow)
    """
)


def start_writer(target: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert process.stdout.readline().strip() == "writing"
    return process


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_sigkill_during_a_write_leaves_the_old_file_and_the_next_write_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "scene.gsc"
    target.write_bytes(b"old data")
    process = start_writer(target)
    process.kill()
    process.wait()
    assert target.read_bytes() == b"old data"
    stale = temporaries(tmp_path)
    assert len(stale) == 1 and stale[0].startswith(f".scene.gsc.gscc-{process.pid}-")
    write_atomically(target, lambda handle: handle.write(b"newer"))
    assert target.read_bytes() == b"newer"
    assert temporaries(tmp_path) == []


def test_sigterm_during_a_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "scene.gsc"
    target.write_bytes(b"old data")
    process = start_writer(target)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == TERMINATED
    assert target.read_bytes() == b"old data"
    assert temporaries(tmp_path) == []


def test_a_live_writers_temporary_file_is_not_removed(tmp_path: Path) -> None:
    target = tmp_path / "scene.gsc"
    process = start_writer(target)
    try:
        write_atomically(tmp_path / "scene.gsc", lambda handle: handle.write(b"mine"))
        assert len(temporaries(tmp_path)) == 1  # the other writer's, still in use
    finally:
        process.kill()
        process.wait()


# ---------------------------------------------------------------------------- concurrency
RACER = textwrap.dedent(
    """
    import sys, time
    from gscc.io.atomic import write_atomically

    def slow(handle):
        handle.write(sys.argv[2].encode())
        time.sleep(float(sys.argv[3]) - time.time())  # all racers finish writing together

    try:
        write_atomically(sys.argv[1], slow, overwrite=False)
    except FileExistsError:
        sys.exit(3)
    """
)


def test_concurrent_writes_to_one_new_path_without_force_one_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "scene.gsc"
    finish = time.time() + 3.0
    racers = [
        subprocess.Popen([sys.executable, "-c", RACER, str(target), f"writer {i}", str(finish)],
                         env=dict(os.environ, PYTHONPATH=str(ROOT)))
        for i in range(4)
    ]
    codes = sorted(p.wait(timeout=60) for p in racers)
    assert codes == [0, 3, 3, 3]
    assert target.read_bytes().startswith(b"writer ")
    assert temporaries(tmp_path) == []


def test_encode_without_force_does_not_replace_a_file_made_during_the_encode(gscc_cli, tmp_path, monkeypatch) -> None:  # noqa: F811
    """The existence check before encoding is not the only guard: the final move fails too."""
    from gscc.codec import encoder

    target = tmp_path / "out.gsc"
    real = encoder.encode

    def encode_then_race(*args, **kwargs):
        data = real(*args, **kwargs)
        target.write_bytes(b"someone else's")
        return data

    monkeypatch.setattr(encoder, "encode", encode_then_race)
    source = tmp_path / "in.ply"
    write_ply(_splats(), source)
    line = assert_one_line_error(gscc_cli("encode", source, "-o", target, "--sort", "none"))
    assert line == f"error: {target}: exists; pass --force to overwrite it"
    assert target.read_bytes() == b"someone else's"
    assert temporaries(tmp_path) == []


# ---------------------------------------------------------------------------- disk full
def test_a_full_disk_is_a_one_line_error_naming_the_path(gscc_cli, tmp_path, monkeypatch) -> None:  # noqa: F811
    from gscc.io import atomic

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, "fsync", full)
    output = tmp_path / "out.ply"
    line = assert_one_line_error(gscc_cli("decode", VECTOR, "-o", output))
    assert line == f"error: {output}: No space left on device"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- non-finite input
def _splats():
    from conftest import synthetic_splats

    return synthetic_splats(count=64, sh_degree=1, seed=3)


def test_encode_drops_non_finite_input_splats_with_one_warning_line(gscc_cli, tmp_path) -> None:  # noqa: F811
    splats = _splats()
    splats.means[5, 1] = np.nan
    splats.scales[9, 0] = np.inf
    source = tmp_path / "in.ply"
    write_ply(splats, source)
    result = gscc_cli("encode", source, "-o", tmp_path / "out.gsc", "--sort", "none")
    assert result.code == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"warning: {source}: dropped 2 of 64 splats with non-finite values"]
    assert "62 kept" in result.stdout


@pytest.mark.slow
def test_a_plain_pip_install_decodes_and_names_the_extra_for_encode(tmp_path: Path) -> None:
    """`pip install gscc` in a fresh virtual environment (from the package index, so it
    needs the network): decode and info work, torch is absent, encode names the extra."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)],
                         capture_output=True, text=True, timeout=1800)
    if pip.returncode != 0 and "network" in (pip.stderr + pip.stdout).lower():
        pytest.skip("no package index reachable")
    assert pip.returncode == 0, pip.stderr
    gscc = venv / "bin" / "gscc"
    assert subprocess.run([str(venv / "bin" / "python"), "-c", "import torch"], capture_output=True).returncode != 0
    decoded = subprocess.run([str(gscc), "decode", str(VECTOR), "-o", str(tmp_path / "out.ply")],
                             capture_output=True, text=True, timeout=300)
    assert decoded.returncode == 0, decoded.stderr
    shown = subprocess.run([str(gscc), "info", "--json", str(VECTOR)], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0 and '"features"' in shown.stdout
    (tmp_path / "x.splat").write_bytes(bytes(64))
    encoded = subprocess.run([str(gscc), "encode", str(tmp_path / "x.splat")], capture_output=True, text=True,
                             cwd=tmp_path, timeout=300, env=dict(os.environ, NO_COLOR="1", COLUMNS="200"))
    assert encoded.returncode == 1
    assert encoded.stderr.strip() == "error: gscc encode needs torch: pip install 'gscc[full]'"
