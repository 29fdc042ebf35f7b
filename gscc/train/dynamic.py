"""Training over time: the static :class:`.trainer.Trainer` fed (camera, time, image) samples.

A dynamic scene at time t is a static splat set, so the loop, the loss, the optimizers,
the strategies and the checkpoint are the static trainer's; this subclass changes only
what differs (see the hooks of :class:`.trainer.Trainer`):

- frames are the dataset's timed frames (:class:`gscc.data.dynamic.TimedFrame`: camera,
  normalised time, frame number, lazily decoded image, kept as uint8 by the dataset's
  cache; frames without ``image_uint8`` are decoded once and kept as uint8 here);
- the model is a dynamic representation (``stg``, ``motion-basis``) created from the
  dataset's points with their times, rendered at each frame's time;
- evaluation scores every test camera at every frame (periodic evaluations every
  ``eval_frame_stride``-th frame) with the near plane ``eval_near`` (default: the
  dataset's), and the run's outputs are :mod:`.dynamic_outputs`'s.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import torch

from .. import model as models
from ..model.motion_basis import knots_for_frames
from ..data import random_points
from ..codec.dynamic_config import DEFAULT_FPS
from ..errors import InputError
from ..eval.metrics import psnr, ssim
from .dynamic_outputs import export_dynamic_run, frame_scores
from .outputs import scene_renderer
from .trainer import Trainer


def frame_range_of(dataset) -> tuple[int, int]:
    start, end = dataset.frames
    return int(start), int(end)


class DynamicTrainer(Trainer):
    """One segment of a dynamic scene trained as a static run over timed frames."""

    def __init__(self, config, dataset, run_dir, **kwargs) -> None:
        if not models.is_dynamic(config.representation):
            raise InputError(
                f"the {config.representation} representation is static; a dynamic dataset needs stg or motion-basis"
            )
        self._images: dict[int, torch.Tensor] = {}
        self.final_renders: dict[int, np.ndarray] = {}
        super().__init__(config, dataset, run_dir, **kwargs)

    # ---- hooks of the static trainer -----------------------------------------------------

    def prepare_frames(self, frames: list) -> list:
        return list(frames)

    def dataset_scale(self, dataset) -> float:
        return float(dataset.scale)

    def model_config(self):
        base = self.config.model_config()
        if self.config.basis_knots == 0:
            start, end = frame_range_of(self.dataset)
            base = dataclasses.replace(base, basis_knots=knots_for_frames(end - start))
        return base

    def create_model(self, model_config) -> models.Representation:
        d, c = self.dataset, self.config
        if d.points is not None and len(d.points):
            points = np.asarray(d.points, np.float32)
            colors = np.asarray(d.colors if d.colors is not None else np.full((len(points), 3), 0.5), np.float32)
            times = d.point_times
            still = getattr(d, "point_static", None)
        else:
            points = random_points(d.bounds, c.init_points, c.seed)
            colors = np.random.default_rng(c.seed + 1).random((len(points), 3)).astype(np.float32)
            times = np.random.default_rng(c.seed + 2).random(len(points)).astype(np.float32)
            still = None
        return models.create(c.representation, points, colors, model_config, times=times, still=still)

    def target(self, frame) -> torch.Tensor:
        if hasattr(frame, "image_uint8"):  # the dataset keeps decoded frames as uint8
            pixels = torch.from_numpy(np.array(frame.image_uint8()))
        else:
            pixels = self._images.get(id(frame))
            if pixels is None:
                pixels = torch.round(frame.image().clamp(0.0, 1.0) * 255.0).to(torch.uint8)
                self._images[id(frame)] = pixels
        return pixels.to(self.device, torch.float32) / 255.0

    def render_frame(self, frame, step: int, params=None, **options):
        return super().render_frame(frame, step, params, time=float(frame.time), **options)

    @torch.no_grad()
    def score(self, render_fn, frames: list, *, final: bool = False, keep: Optional[bool] = None) -> dict:
        """PSNR/SSIM per test camera and frame (see :func:`.dynamic_outputs.frame_scores`);
        the final evaluation scores every frame and keeps its renders (uint8) for the
        videos (``keep``: whether to keep them, default ``final``)."""
        keep = final if keep is None else keep
        if not final:
            numbers = sorted({int(f.frame) for f in frames})
            kept = set(numbers[:: self.config.eval_frame_stride])
            frames = [f for f in frames if int(f.frame) in kept]
        rows = []
        for frame in frames:
            image = render_fn(frame).clamp(0.0, 1.0).float().cpu()
            target = self.target(frame).cpu()
            value = psnr(image, target)
            rows.append({"psnr": value if np.isfinite(value) else None, "ssim": ssim(image, target)})
            if keep:
                self.final_renders[id(frame)] = np.round(image.numpy() * 255.0).astype(np.uint8)
        return frame_scores(frames, rows)

    def summary(self) -> dict:
        summary = super().summary()
        summary["frames"] = list(frame_range_of(self.dataset))
        summary["eval_near"] = self.eval_near
        summary["fps"] = float(getattr(self.dataset, "fps", 0) or 0) or None
        return summary

    @property
    def scene_fps(self) -> float:
        """The frame rate of the segment's duration (bitrates): the dataset's, else 30."""
        return float(getattr(self.dataset, "fps", 0) or 0) or DEFAULT_FPS

    @torch.no_grad()
    def decoded_scores(self, decoded) -> Optional[dict]:
        """Scores of decoded dynamic splats (the run's scene.gsc) at every test frame, rendered
        as the file describes them with the evaluation's near plane."""
        if not self.test_frames:
            return None

        def fn(frame) -> torch.Tensor:
            static = decoded.at(float(frame.time))
            return scene_renderer(static, self.background, self.config.backend, self.device, self.eval_near)(frame)

        return self.score(fn, self.test_frames, final=True, keep=False)

    def finish(self) -> dict:
        """Write splats.ply, scene.splatv, scene.gsc, metrics.json, videos/ and renders/."""
        scores = None
        if self.test_frames:
            entry = self.evaluate(final=True)
            self.console.print(_line(entry))
            scores = entry["scores"]
        with torch.no_grad():
            final = self.compression.final_params(self.model.params)
            splats = self.model.export_dynamic(final)
            distributions = self.compression.distributions(self.model.params)
        summary = self.summary()
        summary["parameter_count"] = parameter_count(self.model)
        if self.compression.active:
            summary["compression"] = self.compression.summary(self.model.params, self.last_bits)
        start, end = frame_range_of(self.dataset)
        return export_dynamic_run(
            self.run_dir,
            splats,
            summary=summary,
            scores=scores,
            test_frames=self.test_frames,
            train_frames=self.train_frames,
            renders=self.final_renders,
            target=self.target,
            fps=self.config.video_fps or float(getattr(self.dataset, "fps", 0) or 30.0),
            render_count=self.config.test_renders,
            codec=self.config.dynamic_codec_config(),
            frame_count=end - start,
            scene_fps=self.scene_fps,
            distributions=distributions,
            score_decoded=self.decoded_scores,
        )

    def evaluate(self, *, final: bool = False) -> dict:
        scores = self.score(self.renderer(max(self.step - 1, 0)), self.test_frames, final=final)
        entry = {"step": self.step, "splat_count": self.model.count, **scores["mean"]}
        if final:
            entry["scores"] = scores
            self.history.append({k: v for k, v in entry.items() if k != "scores"})
        else:
            self.history.append(entry)
        return entry


def parameter_count(model: models.Representation) -> int:
    """Numbers the model holds: every per-splat entry and every shared weight."""
    per_splat = sum(int(p.numel()) for p in model.params.values())
    return per_splat + sum(int(np.asarray(a).size) for a in model.shared_state().values())


def _line(entry: dict) -> str:
    value = "n/a" if entry["psnr"] is None else f"{entry['psnr']:.2f} dB"
    return f"eval at step {entry['step']}: PSNR {value}, SSIM {entry['ssim']:.4f}, {entry['splat_count']:,} splats"


__all__ = ["DynamicTrainer", "parameter_count"]
