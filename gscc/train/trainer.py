"""The training loop: posed images in, trained splats (and their .gsc) out.

:func:`train` is the entry point (``gscc train`` calls it). One step (0-based ``step``):

1. the training view: views are visited in a new seeded random order every epoch;
2. learning rates: ``means`` and whatever else places splats in space (the
   representation's ``position_entries``: a motion basis and its coefficients) follow the
   position schedule, a feature model's decoder its own (:mod:`.optim`), functions of the
   step alone;
3. render with the dataset background; the strategy's ``step_pre_backward``;
4. loss ``(1 - λ)·L1 + λ·(1 - SSIM)``, plus, when the strategy names them (MCMC), the
   opacity and scale L1 regularisers ``opacity_reg·mean(σ(o)) + scale_reg·mean(exp(s))``;
5. backward, every optimizer steps, then the strategy's ``step_post_backward`` (with the
   means learning rate), after the optimizers as in gsplat's trainer, so that the step's
   update is never lost to a densification that replaces the parameters.

With a ``time_budget`` the run ends (and finishes, writing its outputs) at the first step
boundary where the optimisation steps have taken that many seconds, even short of
``iterations`` (the learning-rate schedules stay those of ``iterations``); the wall clock
makes such a run's length, unlike everything else, not reproducible.

Every ``eval_every`` steps the held-out views are scored; every ``save_every`` steps (and at
the end) ``ckpt.pt`` is written, from which ``resume=True`` continues bit for bit (same views,
same random numbers, same optimizer states). A finished run writes the outputs of
:mod:`.outputs`.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from rich.console import Console

from .. import model as models
from ..data import SceneDataset, load_dataset, random_points
from ..errors import InputError
from ..eval.metrics import ssim_tensor
from ..render.backends import RasterSettings
from . import optim
from .checkpoint import load_checkpoint, rng_states, save_checkpoint, set_rng_states
from .compression import Compression
from .config import TrainConfig
from .evaluation import score_views
from .outputs import export_run, write_json
from .progress import TrainProgress

DEFAULT_NEAR = RasterSettings.near
CHECKPOINT_NAME = "ckpt.pt"
CONFIG_NAME = "config.json"
VIEW_ORDER_SALT = 0x9E3779B1  # decorrelates the per-epoch view orders from the seed itself


@dataclass
class TrainResult:
    run_dir: Path
    step: int  # steps completed
    losses: list[float]  # loss of every completed step
    metrics: Optional[dict] = None  # metrics.json when the run finished
    history: list[dict] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def load_training_data(scene: str | Path, config: TrainConfig) -> SceneDataset:
    return load_dataset(
        scene,
        downscale=config.downscale,
        resolution=config.resolution,
        background=config.background,
        test_every=config.test_every,
        max_views=config.max_views,
    )


def initial_points(dataset: SceneDataset, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The dataset's points and colours, or ``init_points`` random ones in its bounds with
    random colours (3DGS's initialisation for scenes without points)."""
    if dataset.points is not None and len(dataset.points):
        colors = dataset.point_colors
        if colors is None:
            colors = np.full((len(dataset.points), 3), 0.5, dtype=np.float32)
        return np.asarray(dataset.points, np.float32), np.asarray(colors, np.float32)
    points = random_points(dataset.bounds, config.init_points, config.seed)
    colors = np.random.default_rng(config.seed + 1).random((len(points), 3)).astype(np.float32)
    return points, colors


class Trainer:
    """One training run over a dataset; fresh, or restored from a checkpoint dict."""

    def __init__(
        self,
        config: TrainConfig,
        dataset: SceneDataset,
        run_dir: Path,
        *,
        checkpoint: Optional[dict] = None,
        console: Optional[Console] = None,
        scene: str = "",
    ) -> None:
        if not dataset.train:
            raise InputError("the dataset has no training views")
        self.config = config
        self.dataset = dataset
        self.run_dir = Path(run_dir)
        self.scene = scene
        self.console = console or Console(stderr=True, markup=False, highlight=False)
        self.device = torch.device("cuda" if torch.cuda.is_available() and config.backend != "taichi" else "cpu")
        self.background = torch.tensor(dataset.background, dtype=torch.float32, device=self.device)
        self.train_frames = self.prepare_frames(dataset.train)
        self.test_frames = self.prepare_frames(dataset.test)
        self.scene_scale = self.dataset_scale(dataset)
        self.strategy = config.make_strategy()
        self.lrs = config.learning_rates(self.scene_scale)
        self._order: tuple[int, torch.Tensor] = (-1, torch.empty(0))

        seed_everything(config.seed)
        model_config = self.model_config()
        if checkpoint is None:
            self.model = self.create_model(model_config)
        else:
            tensors = {name: t for name, t in checkpoint["params"].items()}
            shared = {name: t.numpy() for name, t in checkpoint["shared"].items()}
            self.model = models.from_params(config.representation, tensors, shared, model_config)
        self.model.params.to(self.device)
        for module in self._modules():
            module.to(self.device)
        self.compression = Compression(config, self.model, self.device)
        mask_params = self.compression.mask_params(self.model.params)
        for name, (tensor, lr) in mask_params.items():  # trained when given a learning rate
            if checkpoint is None:
                self.model.params[name] = torch.nn.Parameter(tensor.detach().clone().to(self.device), requires_grad=lr > 0)
            else:  # the checkpoint holds the mask's tensors
                self.model.params[name].requires_grad_(lr > 0)
        lrs = {**self.lrs, **{name: lr for name, (_, lr) in mask_params.items()}}
        self.optimizers = optim.splat_optimizers(self.model.params, self.model.learning_rates(lrs))
        self.shared_optimizers = optim.shared_optimizers(
            self.model.shared_parameters(), self.model.shared_learning_rates(self.lrs)
        )
        self.strategy.check_sanity(self.model.params, self.optimizers)
        self.state = self.strategy.initialize_state(scene_scale=self.scene_scale)
        self.step = 0
        self.last_bits: dict[str, float] = {}  # the rate term's mean bits per attribute, last step
        self.losses: list[float] = []
        self.history: list[dict] = []
        self.train_seconds = 0.0
        self.elapsed_seconds = 0.0
        if checkpoint is not None:
            self._restore(checkpoint)

    # ---- state ----------------------------------------------------------------------

    def _modules(self) -> list[torch.nn.Module]:
        return self.model.shared_modules()

    # ---- what a dynamic trainer changes (see gscc.train.dynamic) ---------------------------

    def prepare_frames(self, frames: list) -> list:
        """The frames as the loop uses them (static: images moved to the device)."""
        return [_to_device(f, self.device) for f in frames]

    def model_config(self):
        return self.config.model_config()

    def dataset_scale(self, dataset) -> float:
        return float(dataset.scene_scale)

    def create_model(self, model_config) -> models.Representation:
        points, colors = initial_points(self.dataset, self.config)
        return models.create(self.config.representation, points, colors, model_config)

    def target(self, frame) -> torch.Tensor:
        """The (H, W, 3) image a frame's render is compared with."""
        return frame.image

    def render_frame(self, frame, step: int, params=None, **options):
        """The model's render of a frame (options: e.g. the near plane)."""
        return self.model.render(frame.camera, step, background=self.background, backend=self.config.backend, params=params, **options)

    def score(self, render_fn, frames: list, *, final: bool = False) -> dict:
        return score_views(render_fn, frames)

    def _restore(self, ckpt: dict) -> None:
        for name, opt in self.optimizers.items():
            opt.load_state_dict(ckpt["optimizers"][name])
        for name, opt in self.shared_optimizers.items():
            opt.load_state_dict(ckpt["shared_optimizers"][name])
        self.state = {k: (v.to(self.device) if isinstance(v, torch.Tensor) else v) for k, v in ckpt["strategy_state"].items()}
        self.step = int(ckpt["step"])
        self.losses = [float(v) for v in ckpt["losses"]]
        self.history = list(ckpt["history"])
        self.train_seconds = float(ckpt["train_seconds"])
        self.elapsed_seconds = float(ckpt["elapsed_seconds"])
        if "compression" in ckpt:
            self.compression.load_state_dict(ckpt["compression"])
        set_rng_states(ckpt["rng"])

    def checkpoint(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "config": self.config.to_dict(),
            "representation": self.model.name,
            "params": {name: p.detach().cpu().clone() for name, p in self.model.params.items()},
            "shared": {name: torch.from_numpy(a) for name, a in self.model.shared_state().items()},
            "optimizers": {name: opt.state_dict() for name, opt in self.optimizers.items()},
            "shared_optimizers": {name: opt.state_dict() for name, opt in self.shared_optimizers.items()},
            "strategy_state": {
                k: (v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v) for k, v in self.state.items()
            },
            "compression": self.compression.state_dict(),
            "rng": rng_states(),
            "losses": list(self.losses),
            "history": list(self.history),
            "train_seconds": self.train_seconds,
            "elapsed_seconds": self.elapsed_seconds,
        }

    def save(self) -> None:
        save_checkpoint(self.run_dir / CHECKPOINT_NAME, self.checkpoint())

    # ---- one step -------------------------------------------------------------------

    def view_index(self, step: int) -> int:
        """The training view of ``step``: a fresh seeded permutation of the views per epoch."""
        n = len(self.train_frames)
        epoch = step // n
        if self._order[0] != epoch:
            generator = torch.Generator().manual_seed((self.config.seed * VIEW_ORDER_SALT + epoch) % (1 << 63))
            self._order = (epoch, torch.randperm(n, generator=generator))
        return int(self._order[1][step % n])

    def means_lr(self, step: int) -> float:
        c = self.config
        return optim.exponential_lr(self.lrs["means"], c.means_lr_final, step, c.iterations)

    def regularisation(self) -> Optional[torch.Tensor]:
        """The MCMC opacity and scale L1 terms (when the strategy has such coefficients)."""
        opacity_reg = float(getattr(self.strategy, "opacity_reg", 0.0) or 0.0)
        scale_reg = float(getattr(self.strategy, "scale_reg", 0.0) or 0.0)
        terms = []
        if opacity_reg > 0:
            terms.append(opacity_reg * torch.sigmoid(self.model.params["opacities"]).mean())
        if scale_reg > 0:
            terms.append(scale_reg * torch.exp(self.model.params["scales"]).mean())
        return sum(terms) if terms else None

    def train_step(self, step: int) -> tuple[float, float]:
        """One optimisation step; returns (loss, PSNR of the training render)."""
        c = self.config
        frame = self.train_frames[self.view_index(step)]
        means_lr = self.means_lr(step)
        for name in self.model.position_entries:
            opt = self.optimizers.get(name) or self.shared_optimizers[name]
            optim.set_lr(opt, optim.exponential_lr(self.lrs[name], c.means_lr_final, step, c.iterations))
        for name, opt in self.shared_optimizers.items():
            if name not in self.model.position_entries:
                optim.set_lr(opt, optim.exponential_lr(self.lrs[name], c.mlp_lr_final, step, c.iterations))

        prepared = self.compression.prepare(self.model.params, step)
        out = self.render_frame(frame, step, prepared.params)
        info = {
            "means2d": out.means2d,
            "radii": out.radii,
            "width": frame.camera.width,
            "height": frame.camera.height,
            "n_cameras": 1,
        }
        self.strategy.step_pre_backward(self.model.params, self.optimizers, self.state, step, info)
        image, target = out.image, self.target(frame)
        l1 = (image - target).abs().mean()
        loss = (1.0 - c.ssim_lambda) * l1
        if c.ssim_lambda > 0:
            loss = loss + c.ssim_lambda * (1.0 - ssim_tensor(image, target))
        for term in (self.regularisation(), prepared.rate, self.compression.loss(self.model.params, step)):
            if term is not None:
                loss = loss + term
        loss.backward()
        self.compression.after_backward(self.model.params, step)
        for opt in list(self.optimizers.values()) + list(self.shared_optimizers.values()):
            opt.step()
            opt.zero_grad(set_to_none=True)
        self.compression.step_optimizers()
        self.last_bits = prepared.bits
        self.strategy.step_post_backward(self.model.params, self.optimizers, self.state, step, info, lr=means_lr)
        with torch.no_grad():
            mse = float(((image.detach() - target) ** 2).mean())
        return float(loss.detach()), -10.0 * math.log10(max(mse, 1e-12))

    # ---- the run --------------------------------------------------------------------

    @property
    def eval_near(self) -> float:
        """The near plane of evaluation renders: ``eval_near``, else the dataset's (a dynamic
        dataset's ``near``), else the renderer's default."""
        if self.config.eval_near is not None:
            return float(self.config.eval_near)
        return float(getattr(self.dataset, "near", None) or DEFAULT_NEAR)

    def renderer(self, step: int, params=None):
        """Renders of the model at ``step``: masks applied, no quantization noise."""
        if params is None:
            params = self.compression.prepare(self.model.params, step, training=False).params
        near = self.eval_near

        def fn(frame) -> torch.Tensor:
            return self.render_frame(frame, step, params, near=near).image

        return fn

    def evaluate(self, *, final: bool = False) -> dict:
        scores = self.score(self.renderer(max(self.step - 1, 0)), self.test_frames, final=final)
        entry = {"step": self.step, "splat_count": self.model.count, **scores["mean"]}
        if self.last_bits:
            entry["rate_bits"] = dict(self.last_bits)
        self.history.append(entry)
        return entry

    def run(self, stop_after: Optional[int] = None) -> TrainResult:
        """Train up to ``config.iterations`` steps (or until ``stop_after`` steps are done,
        leaving a checkpoint to resume from); a finished run writes its outputs."""
        c = self.config
        end = c.iterations if stop_after is None else min(c.iterations, stop_after)
        if self.step == 0:
            self.console.print(held_out_line(self.dataset, c.test_renders))
        with TrainProgress(c.iterations, self.step, self.console) as progress:
            while self.step < end and not self.out_of_time():
                started = time.perf_counter()
                loss, psnr = self.train_step(self.step)
                self.train_seconds += time.perf_counter() - started
                self.losses.append(loss)
                self.step += 1
                progress.update(self.step, loss, psnr, self.model.count)
                if not math.isfinite(loss):
                    self.save()
                    raise InputError(f"training diverged at step {self.step} (loss {loss}); lower the learning rates")
                if c.eval_every and self.step % c.eval_every == 0 and self.step < c.iterations and self.test_frames:
                    entry = self.evaluate()
                    progress.log(_eval_line(entry))
                if c.save_every and self.step % c.save_every == 0 and self.step < end:
                    self.save()
                self.elapsed_seconds += time.perf_counter() - started
        self.save()
        result = TrainResult(self.run_dir, self.step, list(self.losses), history=self.history)
        if self.step >= c.iterations or self.out_of_time():
            result.metrics = self.finish()
            result.history = self.history
        return result

    def out_of_time(self) -> bool:
        budget = self.config.time_budget
        return budget > 0 and self.train_seconds >= budget

    def summary(self) -> dict:
        """What metrics.json says about the run besides the scores."""
        c = self.config
        return {
            "scene": self.scene,
            "representation": c.representation,
            "strategy": c.strategy,
            "iterations": self.step,
            "planned_iterations": c.iterations,
            "stopped_by_time_budget": self.step < c.iterations,
            "training_seconds": round(self.train_seconds, 3),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
            "train_views": len(self.train_frames),
            "test_views": len(self.test_frames),
            "resolution": [self.train_frames[0].camera.width, self.train_frames[0].camera.height],
            "history": self.history,
        }

    def finish(self) -> dict:
        """Write splats.ply, scene.gsc, renders/ and metrics.json."""
        c = self.config
        last = max(self.step - 1, 0)
        if self.test_frames:
            entry = self.evaluate()
            self.console.print(_eval_line(entry))
        summary = self.summary()
        if self.compression.active:
            summary["compression"] = self.compression.summary(self.model.params, self.last_bits)
        with torch.no_grad():
            final = self.compression.final_params(self.model.params)
            scene = self.model.export_scene(final)
            distributions = self.compression.distributions(self.model.params)
        return export_run(
            self.run_dir,
            scene,
            trained=self.renderer(last, final),
            distributions=distributions,
            frames=self.test_frames,
            background=self.background,
            backend=c.backend,
            device=self.device,
            codec=c.codec_config(),
            render_count=c.test_renders,
            summary=summary,
        )


def _eval_line(entry: dict) -> str:
    psnr = "n/a" if entry["psnr"] is None else f"{entry['psnr']:.2f} dB"
    return f"eval at step {entry['step']}: PSNR {psnr}, SSIM {entry['ssim']:.4f}, {entry['splat_count']:,} splats"


def _to_device(frame, device: torch.device):
    from ..data import Frame

    return Frame(frame.camera, frame.image.to(device=device, dtype=torch.float32), frame.name)


def prepare_run_dir(run_dir: Path, *, resume: bool, force: bool) -> None:
    """Refuse a non-empty run folder unless resuming or forced; create it when missing."""
    if run_dir.exists() and not run_dir.is_dir():
        raise InputError(f"{run_dir}: exists and is not a folder")
    if resume:
        if not (run_dir / CHECKPOINT_NAME).is_file():
            raise InputError(f"{run_dir}: no {CHECKPOINT_NAME} to resume from")
        return
    if run_dir.is_dir() and any(run_dir.iterdir()) and not force:
        raise InputError(f"{run_dir}: folder is not empty; pass --force to train into it or --resume to continue")
    run_dir.mkdir(parents=True, exist_ok=True)


def saved_config(run_dir: str | Path) -> TrainConfig:
    """The config of the run whose checkpoint is in ``run_dir``."""
    return TrainConfig.from_dict(load_checkpoint(Path(run_dir) / CHECKPOINT_NAME)["config"])


def train(
    scene: str | Path,
    run_dir: str | Path,
    config: Optional[TrainConfig] = None,
    *,
    resume: bool = False,
    force: bool = False,
    stop_after: Optional[int] = None,
    console: Optional[Console] = None,
    dataset: Optional[SceneDataset] = None,
) -> TrainResult:
    """Train on the dataset in ``scene`` into the folder ``run_dir``.

    Fresh runs need an empty (or missing) folder unless ``force``; ``resume`` continues from
    ``run_dir/ckpt.pt`` with the config saved there (a ``config`` given as well must equal
    it). ``stop_after`` ends the run after that many steps, with a checkpoint (as if it had
    been interrupted). ``dataset`` skips loading when the caller already has it (it must
    match the config).
    """
    run_dir = Path(run_dir)
    prepare_run_dir(run_dir, resume=resume, force=force)
    checkpoint = None
    if resume:
        checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME)
        saved = TrainConfig.from_dict(checkpoint["config"])
        if config is not None and config != saved:
            changed = ", ".join(saved.differences(config))
            raise InputError(f"{run_dir}: the settings differ from the checkpoint's ({changed}); resume without them")
        config = saved
    elif config is None:
        config = TrainConfig()
    if models.is_dynamic(config.representation):
        raise InputError(f"the {config.representation} representation needs a dynamic dataset (multi-view video)")
    if dataset is None:
        dataset = load_training_data(scene, config)
    if not resume:
        write_json(run_dir / CONFIG_NAME, config.to_dict())
    trainer = Trainer(config, dataset, run_dir, checkpoint=checkpoint, console=console, scene=str(scene))
    return trainer.run(stop_after=stop_after)


def held_out_line(dataset: SceneDataset, renders: int) -> str:
    """Which views are trained on and which are held out, by their names in the dataset."""
    test = [frame.name for frame in dataset.test]
    if not test:
        return f"{len(dataset.train)} training views, none held out (no evaluation)"
    shown = ", ".join(test[:4]) + (", ..." if len(test) > 4 else "")
    written = min(renders, len(test))
    return (
        f"{len(dataset.train)} training views; {len(test)} held out for evaluation ({shown}), "
        f"{written} of them rendered to renders/ (test_renders={renders})"
    )


# the settings that only decide how a trained scene is encoded
CODEC_FIELDS = ("codec_preset", "codec_sort", "codec_bits", "codec_prune", "codec_coder", "codec_sh", "learned_coding")


def reencode(
    run_dir: str | Path,
    output: str | Path,
    assignments: list[str],
    *,
    scene: Optional[str | Path] = None,
    force: bool = False,
    console: Optional[Console] = None,
    dataset: Optional[SceneDataset] = None,
) -> dict:
    """Write the outputs of the finished run in ``run_dir`` again into ``output``, encoded
    with other codec settings (``key=value`` for the CODEC_FIELDS only: the trained splats
    and entropy models are the run's). Returns the new metrics."""
    run_dir, output = Path(run_dir), Path(output)
    checkpoint = load_checkpoint(run_dir / CHECKPOINT_NAME)
    saved = TrainConfig.from_dict(checkpoint["config"])
    if int(checkpoint["step"]) < saved.iterations and not saved.time_budget:
        raise InputError(f"{run_dir}: the run has not finished ({checkpoint['step']} of {saved.iterations} steps)")
    from .config import build_config

    config = build_config(None, assignments, base=saved)
    other = [name for name in saved.differences(config) if name not in CODEC_FIELDS]
    if other:
        raise InputError(f"re-encoding changes only codec settings ({', '.join(CODEC_FIELDS)}), not {', '.join(other)}")
    if output.resolve() == run_dir.resolve():
        raise InputError(f"{output}: re-encode into another folder than the run's")
    prepare_run_dir(output, resume=False, force=force)
    if dataset is None:
        dataset = load_training_data(scene if scene is not None else _run_scene(run_dir), config)
    write_json(output / CONFIG_NAME, config.to_dict())
    trainer = Trainer(config, dataset, output, checkpoint=checkpoint, console=console, scene=str(scene or ""))
    return trainer.finish()


def _run_scene(run_dir: Path) -> str:
    import json

    metrics = run_dir / "metrics.json"
    if metrics.is_file():
        scene = json.loads(metrics.read_text()).get("scene")
        if scene:
            return scene
    raise InputError(f"{run_dir}: no metrics.json naming the scene; give the scene folder")
