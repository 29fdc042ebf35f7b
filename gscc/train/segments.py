"""Dynamic runs in groups of frames (GOF), optionally spread over processes.

``--gof N`` cuts the frame range START:END into segments of N frames (the last may be
shorter), each trained independently — its own dataset of its frames, its own model, the
run's seed — into ``RUN/segNN/`` (a single segment trains into ``RUN`` itself). A segment's
local time runs over [0, 1] of its own frames (the dataset's normalised time).

Segments are independent work. Under ``torchrun --nproc_per_node K gscc train ...``
(``WORLD_SIZE`` > 1 in the environment) the process group is initialised from the torchrun
environment (gloo on the CPU, NCCL with CUDA), rank r trains segments r, r + K, r + 2K, ...,
all ranks meet at a barrier and rank 0 writes the run-level outputs. Every segment's result
depends only on its frames, the config and the seed, so a parallel run gives the same
segments as one process training them one after another.

Run-level outputs (rank 0): ``scene.json`` — the whole scene as a
:class:`gscc.dynamic.DynamicScene`: frame range, fps and, per segment, its frames, its span
of global time ((a - START) / (END - START) to (b - START) / (END - START)) and its
``splats.ply`` (:func:`load_run_scene` reads it back). The dataset normalises a segment's
frame f to local time (f - a) / (b - a - 1); the spans are by frame count, so
``DynamicScene.at`` at global t = (f - START) / (END - START) shows frame f at local time
(f - a) / (b - a), less than one frame interval from the time it was trained at — and, with several segments,
``metrics.json`` with each segment's summary and the means over every test camera and
frame of all segments, ``scene.gsc``: the segments' own ``scene.gsc`` files joined into one
dynamic file of every segment (gscc.codec.dynamic_encoder.join_dynamic: the same bytes per
segment), the bitrates over the whole range (``raw`` and ``gsc``: total bytes of all
segments, total bits / total duration in ``mbps``; the decoded file's scores over every test
camera and frame in ``gsc.test``), and ``videos/CAMERA.mp4``, the segments' videos joined.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from rich.console import Console

from ..dynamic import DynamicScene, Segment
from ..errors import InputError
from .checkpoint import load_checkpoint
from .config import TrainConfig
from .dynamic import DynamicTrainer
from .evaluation import mean_scores
from .outputs import GSC_NAME, METRICS_NAME, PLY_NAME, write_json
from .trainer import CHECKPOINT_NAME, CONFIG_NAME, prepare_run_dir

SCENE_NAME = "scene.json"
Loader = Callable[[str | Path, Optional[tuple[int, int]], TrainConfig], object]


@dataclass
class DynamicRunResult:
    run_dir: Path
    segments: list[tuple[int, int]]
    trained: list[int]  # indices of the segments this process trained
    steps: dict[int, int] = field(default_factory=dict)  # steps completed per trained segment
    metrics: Optional[dict] = None  # the run-level metrics (rank 0, all segments finished)


def segment_ranges(start: int, end: int, gof: int) -> list[tuple[int, int]]:
    """Frame ranges [a, b) of the segments of START:END in groups of ``gof`` (0: one)."""
    if end <= start:
        raise InputError(f"empty frame range {start}:{end}")
    if gof <= 0 or gof >= end - start:
        return [(start, end)]
    return [(a, min(a + gof, end)) for a in range(start, end, gof)]


def segment_dir(run_dir: Path, index: int, count: int) -> Path:
    return Path(run_dir) if count == 1 else Path(run_dir) / f"seg{index:02d}"


def load_dataset_for(scene: str | Path, frames: Optional[tuple[int, int]], config: TrainConfig):
    """The dynamic dataset of ``frames`` at the config's resolution (gscc.data.dynamic)."""
    from ..data.dynamic import load_dynamic_dataset

    return load_dynamic_dataset(
        scene, frames=frames, downscale=config.downscale, resolution=config.resolution, seed=config.seed,
        max_views=config.max_views, init=config.init, init_every=config.init_every, init_points=config.init_points,
    )


# ---- torch.distributed ----------------------------------------------------------------------


class Workers:
    """This process's place among the torchrun workers (one process without torchrun)."""

    def __init__(self) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        self.rank = int(os.environ.get("RANK", "0") or 0)
        self.started = False
        if self.world > 1:
            import torch
            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
                self.started = True
            self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def mine(self, count: int) -> list[int]:
        return list(range(self.rank, count, self.world))

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.started:
            import torch.distributed as dist

            dist.destroy_process_group()


# ---- the run ----------------------------------------------------------------------------------


def train_dynamic(
    scene: str | Path,
    run_dir: str | Path,
    config: Optional[TrainConfig] = None,
    *,
    resume: bool = False,
    force: bool = False,
    stop_after: Optional[int] = None,
    console: Optional[Console] = None,
    load: Loader = load_dataset_for,
) -> DynamicRunResult:
    """Train the dynamic scene in ``scene`` into ``run_dir`` (see the module docstring).

    ``resume`` continues every unfinished segment from its checkpoint (segments without one
    start afresh) with the config saved in ``run_dir/config.json``; ``stop_after`` ends each
    segment after that many steps, with a checkpoint.
    """
    run_dir = Path(run_dir)
    workers = Workers()
    try:
        if resume:
            config = _resumed_config(run_dir, config)
        elif config is None:
            config = TrainConfig(representation="stg", strategy="stg")
        if not resume:
            prepare_run_dir(run_dir, resume=False, force=force)
        workers.barrier()  # every rank has checked the folder before any writes into it
        frames = config.frame_range()
        first = None
        if frames is None or frames[1] is None:  # the sequence's length decides the range
            first = load(scene, frames, config)
            frames = tuple(int(v) for v in first.frames)
        ranges = segment_ranges(frames[0], frames[1], config.gof)
        if workers.rank == 0 and not resume:
            write_json(run_dir / CONFIG_NAME, config.to_dict())
        result = DynamicRunResult(run_dir, ranges, workers.mine(len(ranges)))
        for index in result.trained:
            folder = segment_dir(run_dir, index, len(ranges))
            folder.mkdir(parents=True, exist_ok=True)
            if resume and (folder / METRICS_NAME).is_file():  # finished before
                continue
            dataset = first if first is not None and len(ranges) == 1 else load(scene, ranges[index], config)
            checkpoint = None
            if resume and (folder / CHECKPOINT_NAME).is_file():
                checkpoint = load_checkpoint(folder / CHECKPOINT_NAME)
            if console is not None and len(ranges) > 1:
                console.print(f"segment {index} (frames {ranges[index][0]}:{ranges[index][1]}) into {folder}")
            trainer = DynamicTrainer(config, dataset, folder, checkpoint=checkpoint, console=console, scene=str(scene))
            run = trainer.run(stop_after=stop_after)
            result.steps[index] = run.step
        workers.barrier()
        if workers.rank == 0 and _all_finished(run_dir, ranges):
            result.metrics = write_run_outputs(run_dir, ranges, config, scene)
        return result
    finally:
        workers.close()


def saved_run_config(run_dir: str | Path) -> TrainConfig:
    """The config of the dynamic run in ``run_dir`` (its config.json)."""
    path = Path(run_dir) / CONFIG_NAME
    if not path.is_file():
        raise InputError(f"{run_dir}: no {CONFIG_NAME} to resume from")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except ValueError as exc:
        raise InputError(f"{path}: not a readable run config ({exc})") from None


def _resumed_config(run_dir: Path, given: Optional[TrainConfig]) -> TrainConfig:
    saved = saved_run_config(run_dir)
    if given is not None and given != saved:
        raise InputError(f"{run_dir}: the settings differ from the run's ({', '.join(saved.differences(given))}); resume without them")
    return saved


def _all_finished(run_dir: Path, ranges: list[tuple[int, int]]) -> bool:
    return all((segment_dir(run_dir, i, len(ranges)) / METRICS_NAME).is_file() for i in range(len(ranges)))


def write_run_outputs(run_dir: Path, ranges: list[tuple[int, int]], config: TrainConfig, scene) -> dict:
    """scene.json and, with several segments, the run-level metrics.json."""
    start, end = ranges[0][0], ranges[-1][1]
    segments, views, metrics = [], [], []
    for index, (a, b) in enumerate(ranges):
        folder = segment_dir(run_dir, index, len(ranges))
        m = json.loads((folder / METRICS_NAME).read_text())
        metrics.append(m)
        segments.append({
            "frames": [a, b],
            "start": (a - start) / (end - start),
            "end": (b - start) / (end - start),
            "ply": str((folder / PLY_NAME).relative_to(run_dir)),
        })
        views.extend(m.get("test", {}).get("views", []))
    description = {"scene": str(scene), "frames": [start, end], "frame_count": end - start,
                   "fps": metrics[0].get("fps"), "segments": segments}
    write_json(run_dir / SCENE_NAME, description)
    if len(ranges) == 1:
        return metrics[0]
    summary = {
        "scene": str(scene),
        "representation": config.representation,
        "frames": [start, end],
        "gof": config.gof,
        "segments": [
            {"frames": s["frames"], "dir": str(Path(s["ply"]).parent), "splat_count": m.get("splat_count"),
             "parameter_count": m.get("parameter_count"), "iterations": m.get("iterations"),
             "training_seconds": m.get("training_seconds"), "test": m.get("test", {}).get("mean"),
             "raw_mbps": m.get("raw", {}).get("mbps"), "gsc_mbps": m.get("gsc", {}).get("mbps"),
             "gsc_test": (m.get("gsc", {}).get("test") or {}).get("mean")}
            for s, m in zip(segments, metrics)
        ],
        "splat_count": sum(m.get("splat_count", 0) for m in metrics),
        "parameter_count": sum(m.get("parameter_count", 0) for m in metrics),
        "training_seconds": sum(m.get("training_seconds", 0.0) for m in metrics),
        "test": {"views": views, "mean": mean_scores(views)},
    }
    summary.update(join_gsc(run_dir, ranges, metrics))
    summary["videos"] = join_videos(run_dir, ranges, metrics[0].get("fps") or 30.0)
    write_json(run_dir / METRICS_NAME, summary)
    return summary


def join_gsc(run_dir: Path, ranges: list[tuple[int, int]], metrics: list[dict]) -> dict:
    """Write the run's ``scene.gsc`` (every segment's, joined) and return the run-level
    bitrates: ``duration_seconds``, ``raw`` and ``gsc`` (total bits / total duration)."""
    from ..codec.dynamic_encoder import join_dynamic
    from ..info import mbps
    from ..io.atomic import write_bytes_atomically

    paths = [segment_dir(run_dir, i, len(ranges)) / GSC_NAME for i in range(len(ranges))]
    if not all(p.is_file() for p in paths) or not all("gsc" in m and "raw" in m for m in metrics):
        return {}  # segments finished by an earlier gscc, which wrote no scene.gsc
    start, end = ranges[0][0], ranges[-1][1]
    duration = sum(float(m["duration_seconds"]) for m in metrics)
    files = [p.read_bytes() for p in paths]
    spans = [((a - start) / (end - start), (b - start) / (end - start)) for a, b in ranges]
    data = join_dynamic(files, spans, fps=(end - start) / duration, frame_count=end - start)
    write_bytes_atomically(run_dir / GSC_NAME, data)
    raw = sum(int(m["raw"]["bytes"]) for m in metrics)
    gsc: dict = {"bytes": len(data), "mbps": mbps(len(data), duration),
                 "splat_count": sum(int(m["gsc"]["splat_count"]) for m in metrics)}
    views = [v for m in metrics for v in (m["gsc"].get("test") or {}).get("views", [])]
    if views:
        gsc["test"] = {"views": views, "mean": mean_scores(views)}
    return {"duration_seconds": duration, "raw": {"bytes": raw, "mbps": mbps(raw, duration)}, "gsc": gsc}


def join_videos(run_dir: Path, ranges: list[tuple[int, int]], fps: float) -> list[str]:
    """``videos/CAMERA.mp4`` over the whole range: each segment's video of that camera in turn."""
    from ..eval.video import read_mp4, write_mp4
    from .dynamic_outputs import VIDEOS_DIR

    folders = [segment_dir(run_dir, i, len(ranges)) / VIDEOS_DIR for i in range(len(ranges))]
    names = sorted(p.name for p in folders[0].glob("*.mp4")) if folders[0].is_dir() else []
    written = []
    for name in names:
        if not all((folder / name).is_file() for folder in folders):
            continue
        (run_dir / VIDEOS_DIR).mkdir(exist_ok=True)
        write_mp4(run_dir / VIDEOS_DIR / name, [image for folder in folders for image in read_mp4(folder / name)], fps)
        written.append(name)
    return written


def load_run_scene(run_dir: str | Path) -> DynamicScene:
    """The whole scene of a finished dynamic run (its scene.json and segment PLYs)."""
    from ..io import read_dynamic_ply

    run_dir = Path(run_dir)
    path = run_dir / SCENE_NAME if run_dir.is_dir() else run_dir
    try:
        description = json.loads(path.read_text())
        segments = [Segment(float(s["start"]), float(s["end"]), read_dynamic_ply(path.parent / s["ply"]))
                    for s in description["segments"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a readable dynamic run description ({exc})") from None
    return DynamicScene(segments, fps=description.get("fps"), frame_count=description.get("frame_count"))
