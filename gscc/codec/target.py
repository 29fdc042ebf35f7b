"""Constant-quality encoding: the bit depth of every attribute chosen so that renders of
the decoded scene reach a target PSNR against renders of the input, at the fewest bytes
(a video encoder's constant-quality mode, for splats).

The quality of a file is measured by a :class:`QualityProbe`: a few orbit cameras around
the input (small images, the Taichi CPU rasterizer), the input rendered once as the
reference, and the PSNR of the decoded scene's renders pooled over all views
(``10 log10(1 / mean squared error)``, pixels in [0, 1]).

The search (:func:`encode_for_psnr`) sorts once and then, treating the render error of the
attributes as additive (each attribute's coarser quantization adds its own squared
error):

1. measures the file at the base settings (the most bits the config's ranges allow: the
   first of ``BIT_LEVELS``) and, for every attribute, files with only that attribute
   coarser -- their bytes and extra squared error -- at the depths a binary search for
   the coarsest acceptable depth visits;
2. picks the combination of bit depths with the fewest bytes whose summed extra error
   stays within what the target allows (all combinations are tried: a few thousand sums);
3. encodes that combination and checks it with the probe; if it misses the target (the
   errors are not exactly additive), the allowance shrinks and step 2 runs again;
4. refines the combination it keeps with measured files alone: each field one level
   coarser, the others as they are; of the files still within the target the smallest
   is kept, and the same is tried again from there (a field whose coarser level missed
   the target is not tried again), until no coarser level fits or saves bytes;
5. with pruning (below): trades a bit depth one level coarser for less pruning, each
   field in turn, and refines again from the smallest file that trade finds within the
   target, until no trade saves bytes (the additive estimate cannot see such swaps);
6. with precision classes (gscc.codec.refinement, gscc.codec.sensitivity; format 1.6):
   splats that renders hardly see get coarser steps. From the point kept, from the same
   point one bit depth finer in every field, and from that with each field in turn back
   where it was, a bisection finds the most the classes may add -- their predicted extra
   error, a fraction of what the target leaves -- with the measured file still within the
   target (a few trials per start, then more on the best); the smallest file of all is
   kept, and refined again (step 4, the classes' predicted error held).

Besides the bit depths the search has one more field, ``prune``: the fraction of the
splats (``PRUNE_LEVELS``) pruned by contribution, least estimated render error first,
that error summed over many views from all around the scene
(gscc.codec.static_contribution; rendered once, on the first pruned trial). A trained
capture has splats that renders hardly see -- faint, tiny or behind others -- and
dropping them buys more bytes per dB than coarser attributes do (bench/README.md,
"Pruning in the quality search"). Each pruned fraction is sorted once and its grid kept
for the trials at that fraction. Its error is measured at every fraction up to the first
beyond the allowance, on the input without the dropped splats (a render alone: pruning's
error adds to the quantization's), its bytes by one encode at the largest fraction within
(the others in proportion); they enter the same allocation and refinement. A fraction
is only tried while its error alone stays within the allowance on the probe and within
``PRUNE_CHECK_SHARE`` of it on ``PRUNE_CHECK_VIEWS``, views neither the probe nor the
ranking sees: on a scene some of whose splats only a few directions see (the mesh teapot:
dropping 5 % costs 76.6 dB on the probe, 62.5 dB on other views) pruning stays small.

The result records the achieved PSNR in the file's informative ``encoder`` map
(``quality``: spec/container.md), which ``gscc info`` shows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field

import numpy as np

from ..container import pack, unpack
from ..splats import FeatureSplats, SplatSet
from .config import EncodeConfig
from .decoder import decode_scene
from .encoder import Encoded, encode_tracked
from .prune import keep_mask

__all__ = ["QualityProbe", "TargetResult", "encode_for_psnr", "BIT_LEVELS", "PRUNE_LEVELS"]

# The bit depths the search tries per config field, best first (EncodeConfig's ranges).
BIT_LEVELS: dict[str, tuple[int, ...]] = {
    "position_bits": (16, 15, 14, 13, 12, 11, 10, 9, 8),
    "scale_bits": (8, 7, 6, 5, 4),
    "rotation_bits": (8, 7, 6, 5, 4),
    "opacity_bits": (8, 7, 6, 5, 4),
    "color_bits": (8, 7, 6, 5, 4),
    "sh_bits": (8, 7, 6, 5, 4),
}
PROBE_VIEWS = 4
PROBE_SIZE = (256, 192)
PROBE_BACKEND = "taichi"
# fractions of the splats pruning by contribution drops (least estimated render error
# first, summed over many views: gscc.codec.static_contribution), weakest first
PRUNE = "prune"
PRUNE_LEVELS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3)
# precision classes (step 6): the predicted extra error they may add, as a fraction of what
# the target leaves the point they start from; a bisection over its logarithm
CLASSES = "classes"
CLASS_RANGE = (0.05, 4.0)  # predictions run about 2-5x low on plant (bench/README.md)
CLASS_TRIALS = 8  # on the best start; each start is screened with the first CLASS_SCREEN
CLASS_SCREEN = 5
LEVELS: dict[str, tuple[float, ...]] = {**BIT_LEVELS, PRUNE: PRUNE_LEVELS}
SHRINK = 0.6  # the error allowance after a combination missed the target
MAX_ROUNDS = 6
# views the pruned input is also checked on, none of them the probe's or the ranking's
# (gscc.codec.static_contribution.VIEWS): pruning that costs more than this share of the
# allowance there is not tried (a scene whose splats are seen from few directions)
PRUNE_CHECK_VIEWS = ("orbit:6,elevation=0,azimuth=10", "orbit:6,elevation=30,azimuth=5",
                     "orbit:5,elevation=-30,azimuth=20", "orbit:5,elevation=55,azimuth=40")
PRUNE_CHECK_SHARE = 0.25
TRADE_STEPS = 3  # pruned-fraction levels a trade (step 5) steps back at most


def pooled_psnr(squared_error: float) -> float:
    return math.inf if squared_error <= 0 else -10.0 * math.log10(squared_error)


class QualityProbe:
    """Renders of the input from a few orbit cameras, and the PSNR of other scenes
    against them (pooled over views)."""

    def __init__(
        self,
        reference: SplatSet | FeatureSplats,
        views: int = PROBE_VIEWS,
        size: tuple[int, int] = PROBE_SIZE,
        backend: str = PROBE_BACKEND,
        specs: tuple[str, ...] | None = None,
    ) -> None:
        """``specs``: orbit camera specs (gscc.cameras) to render from instead of
        ``orbit:{views}`` (e.g. views a file is judged on besides the probe's)."""
        from .static_contribution import view_cameras

        self.size, self.backend = size, backend
        self.cameras = view_cameras(reference, specs or (f"orbit:{views}",), size)
        self.views = len(self.cameras)
        self.reference = self._render(reference)

    def _render(self, scene: SplatSet | FeatureSplats) -> list[np.ndarray]:
        from ..eval.render_views import Renderer

        renderer = Renderer(scene, backend=self.backend)
        return [renderer.render(camera)[0].astype(np.float64) for camera in self.cameras]

    def squared_error(self, scene: SplatSet | FeatureSplats) -> float:
        """Mean squared pixel error of ``scene``'s renders against the reference's."""
        return pooled_error(self._render(scene), self.reference)

    def psnr(self, scene: SplatSet | FeatureSplats) -> float:
        return pooled_psnr(self.squared_error(scene))

    def record(self) -> dict:
        """How the quality was measured, for the file's ``encoder`` map."""
        return {"views": self.views, "width": self.size[0], "height": self.size[1], "cameras": "orbit"}


@dataclass(frozen=True)
class TargetResult:
    encoded: Encoded  # its data records the quality in the encoder map
    config: EncodeConfig
    psnr: float  # achieved (pooled over the probe's views)
    reached: bool  # False: even the base settings stay below the target
    prune: float = 0.0  # the fraction of splats pruning by contribution dropped (PRUNE_LEVELS)


@dataclass(frozen=True)
class Point:
    """One setting of the search's fields: the config's bit depths, the fraction of
    splats pruned by contribution (field ``PRUNE``) and the predicted extra squared error
    precision classes may add (0: none; gscc.codec.sensitivity)."""

    config: EncodeConfig
    prune: float = 0.0
    classes: float = 0.0

    def level(self, field: str) -> float:
        return self.prune if field == PRUNE else getattr(self.config, field)

    def at(self, **levels: float) -> "Point":
        """This point with the given fields at the given levels."""
        bits = {f: int(v) for f, v in levels.items() if f not in (PRUNE, CLASSES)}
        return Point(replace(self.config, **bits) if bits else self.config, levels.get(PRUNE, self.prune),
                     levels.get(CLASSES, self.classes))


@dataclass
class _Trial:
    point: Point
    encoded: Encoded
    error: float

    @property
    def config(self) -> EncodeConfig:
        return self.point.config


def fields_for(splats: SplatSet | FeatureSplats, prune: bool = False) -> list[str]:
    """The fields that matter for this scene: its bit depths, and with ``prune`` the
    fraction pruned by contribution."""
    fields = ["position_bits", "scale_bits", "rotation_bits", "opacity_bits", "color_bits"]
    if isinstance(splats, SplatSet) and splats.shN.shape[1] > 0:
        fields.append("sh_bits")
    if prune and splats.count > 1:
        fields.append(PRUNE)
    return fields


def allocate(
    base_bytes: int, costs: dict[str, dict[float, tuple[int, float]]], allowance: float
) -> dict[str, float]:
    """The level per field with the fewest estimated bytes whose summed extra squared
    error stays within ``allowance``. ``costs[field][level] = (bytes change, extra error)``
    relative to the base (each field's first level)."""
    fields = list(costs)
    options = [list(costs[f].items()) for f in fields]
    best, best_bytes = {f: next(iter(costs[f])) for f in fields}, base_bytes
    for combo in itertools.product(*options):
        error = sum(max(0.0, extra) for _, (_, extra) in combo)
        size = base_bytes + sum(delta for _, (delta, _) in combo)
        if error <= allowance and size < best_bytes:
            best, best_bytes = {f: level for f, (level, _) in zip(fields, combo)}, size
    return best


def measure_field(
    field: str,
    trial: Callable[[Point], _Trial],
    base: _Trial,
    allowance: float,
    report: Callable[[str], None],
) -> dict[float, tuple[int, float]]:
    """(bytes change, extra squared error) of coarser levels of one field, the others at
    the base: a binary search for the coarsest level whose extra error alone stays within
    ``allowance`` (the error grows as the levels go on), measuring only the levels it visits."""
    levels = LEVELS[field]
    costs = {levels[0]: (0, 0.0)}
    low, high = 0, len(levels) - 1  # levels[low] is within the allowance; find the last one
    while low < high:
        middle = (low + high + 1) // 2
        level = levels[middle]
        report(f"measuring {field.replace('_', ' ')} = {level:g}")
        t = trial(base.point.at(**{field: level}))
        costs[level] = (len(t.encoded.data) - len(base.encoded.data), t.error - base.error)
        if costs[level][1] <= allowance:
            low = middle
        else:
            high = middle - 1
    return costs


def measure_pruning(
    splats: SplatSet | FeatureSplats,
    dropped: Callable[[float], np.ndarray | None],
    trial: Callable[[Point], _Trial],
    base: _Trial,
    probe: QualityProbe,
    check: QualityProbe,
    allowance: float,
    report: Callable[[str], None],
) -> dict[float, tuple[int, float]]:
    """(bytes change, extra squared error) of every pruned fraction whose error alone stays
    within ``allowance`` on the probe and within ``PRUNE_CHECK_SHARE`` of it on ``check``'s
    views (the search stops at the first beyond). Each fraction's error is measured on the
    input's splats without those it drops (a render, no encode: pruning's error adds to the
    quantization's), so the allocation sees every level; the bytes are one encode's, at the
    largest fraction within, taken in proportion for the others."""
    errors = {PRUNE_LEVELS[0]: 0.0}
    for fraction in PRUNE_LEVELS[1:]:
        report(f"measuring prune = {fraction:g}")
        kept = splats.subset(np.flatnonzero(~dropped(fraction)))
        error = probe.squared_error(kept)
        if error > allowance or check.squared_error(kept) > PRUNE_CHECK_SHARE * allowance:
            break
        errors[fraction] = error
    within = list(errors)
    largest = within[-1]
    saved = 0 if largest == 0 else len(trial(base.point.at(**{PRUNE: largest})).encoded.data) - len(base.encoded.data)
    return {f: (0 if largest == 0 else round(saved * f / largest), errors[f]) for f in within}


def encode_for_psnr(
    splats: SplatSet | FeatureSplats,
    config: EncodeConfig,
    target_psnr: float,
    probe: QualityProbe | None = None,
    progress: Callable[[str], None] | None = None,
    prune: bool = True,
    classes: bool = True,
) -> TargetResult:
    """Encode ``splats`` with ``config``'s settings but the bit depths (and, with
    ``prune``, the fraction of splats pruned by contribution; with ``classes``, precision
    classes: format 1.6) chosen to reach ``target_psnr`` (dB, renders of the decoded file
    against renders of ``splats``) at the fewest bytes; see the module docs."""
    if not math.isfinite(target_psnr) or target_psnr <= 0:
        raise ValueError(f"target PSNR must be a positive number of dB, got {target_psnr}")
    report = progress or (lambda stage: None)
    report("rendering the input")
    probe = probe or QualityProbe(splats)
    fields = fields_for(splats, prune)
    base_point = Point(replace(config, precision="fixed", **{f: BIT_LEVELS[f][0] for f in fields if f != PRUNE}))
    first = encode_tracked(splats, base_point.config, progress=report)
    grids = {0.0: first.grid}  # one sort per pruned fraction
    order: list[np.ndarray] = []  # pruning by contribution's order over the input (computed once)

    def dropped(fraction: float) -> np.ndarray | None:
        if fraction <= 0:
            return None
        if not order:
            from .static_contribution import pruning_order

            report("measuring what each splat adds to renders")
            candidates = np.flatnonzero(keep_mask(splats, config.prune))
            order.append(candidates[pruning_order(splats.subset(candidates), probe.size)])
        mask = np.zeros(splats.count, bool)
        mask[order[0][: min(len(order[0]) - 1, round(fraction * len(order[0])))]] = True
        return mask

    measured: dict[Point, _Trial] = {}
    planner: list = []  # the precision classes' planner (sensitivities rendered once)

    def planned(point: Point):
        if point.classes <= 0:
            return None
        from .sensitivity import ClassPlanner, coded_bits

        if not planner:
            report("measuring how much renders care about each splat")
            planner.append(ClassPlanner(splats, config, probe.size))
        uniform = trial(replace(point, classes=0.0))  # what each attribute costs at these depths
        return planner[0].plan(point.config, point.classes, coded_bits(uniform.encoded.data))

    def trial(point: Point) -> _Trial:
        if point not in measured:
            if point == base_point:
                encoded = first
            else:
                if point.prune not in grids:
                    report(f"sorting without {point.prune:.0%} of the splats")
                encoded = encode_tracked(splats, point.config, grid=grids.get(point.prune), drop=dropped(point.prune),
                                         classes=planned(point))
                grids.setdefault(point.prune, encoded.grid)
            measured[point] = _Trial(point, encoded, probe.squared_error(decode_scene(encoded.data)))
        return measured[point]

    report("measuring the base settings")
    base = trial(base_point)
    target_error = 10.0 ** (-target_psnr / 10.0)
    if base.error > target_error:  # even the most bits miss: keep them
        return _finish(base, probe, target_psnr, reached=False)
    allowance = target_error - base.error
    costs = {field: measure_field(field, trial, base, allowance, report) for field in fields if field != PRUNE}
    field_levels = dict(LEVELS)
    if PRUNE in fields:
        report("rendering the input from the pruning check's views")
        check = QualityProbe(splats, size=probe.size, backend=probe.backend, specs=PRUNE_CHECK_VIEWS)
        costs[PRUNE] = measure_pruning(splats, dropped, trial, base, probe, check, allowance, report)
        field_levels[PRUNE] = tuple(costs[PRUNE])  # no trial prunes more than the check allowed
    chosen = base
    for _ in range(MAX_ROUNDS):
        levels = allocate(len(base.encoded.data), costs, allowance)
        report("checking " + ", ".join(f"{f.replace('_bits', '')} {v:g}" for f, v in levels.items()))
        candidate = trial(base_point.at(**levels))
        if candidate.error <= target_error:
            chosen = candidate
            break
        allowance *= SHRINK
    search = Search(fields, trial, target_error, report, field_levels)
    chosen = refine(chosen, search)
    while PRUNE in fields and (traded := trade(chosen, search)) is not None:
        chosen = refine(traded, search)
    if classes and isinstance(splats, SplatSet) and splats.count > 1:
        chosen = with_classes(chosen, search)
        if chosen.point.classes > 0:  # the classes' error held, each field coarser again
            chosen = refine(chosen, search)
    return _finish(chosen, probe, target_psnr, reached=True)


@dataclass(frozen=True)
class Search:
    """What the refinement and trade steps share: the fields searched, how a point is
    measured, the squared error a file may have, progress, and each field's levels."""

    fields: list[str]
    trial: Callable[[Point], _Trial]
    target_error: float
    report: Callable[[str], None] = lambda stage: None
    levels_of: dict[str, tuple[float, ...]] = dataclass_field(default_factory=lambda: dict(LEVELS))


def refine(chosen: _Trial, search: Search) -> _Trial:
    """Step 4 of the search (module docs): one level coarser per field (its levels in
    ``search.levels_of``) while the measured file stays within ``search.target_error`` and
    gets smaller."""
    fields, trial, target_error, report, levels_of = (
        search.fields, search.trial, search.target_error, search.report, search.levels_of)
    open_fields = list(fields)
    while True:
        best = None
        for field in list(open_fields):
            levels = levels_of[field]
            index = levels.index(chosen.point.level(field))
            if index + 1 >= len(levels):
                open_fields.remove(field)
                continue
            report(f"refining: {field.replace('_', ' ')} = {levels[index + 1]:g}")
            candidate = trial(chosen.point.at(**{field: levels[index + 1]}))
            if candidate.error > target_error:
                open_fields.remove(field)
            elif best is None or len(candidate.encoded.data) < len(best.encoded.data):
                best = candidate
        if best is None or len(best.encoded.data) >= len(chosen.encoded.data):
            return chosen
        chosen = best


def trade(chosen: _Trial, search: Search) -> _Trial | None:
    """Step 5 of the search (module docs): a bit depth one level coarser for less pruning.
    For each bit-depth field, that field one level coarser with the pruned fraction
    stepped back one level at a time (at most ``TRADE_STEPS``) until the measured file is
    within ``search.target_error``; the smallest such file if it is smaller than
    ``chosen``, else None."""
    fields, trial, target_error, report, levels_of = (
        search.fields, search.trial, search.target_error, search.report, search.levels_of)
    index = PRUNE_LEVELS.index(chosen.point.prune)
    best = None
    for field in fields:
        levels = levels_of[field]
        coarser = levels.index(chosen.point.level(field)) + 1
        if field == PRUNE or coarser >= len(levels):
            continue
        for back in range(index - 1, max(-1, index - 1 - TRADE_STEPS), -1):
            report(f"trading: {field.replace('_', ' ')} = {levels[coarser]:g}, prune = {PRUNE_LEVELS[back]:g}")
            candidate = trial(chosen.point.at(**{field: levels[coarser], PRUNE: PRUNE_LEVELS[back]}))
            if len(candidate.encoded.data) >= len(chosen.encoded.data):
                break  # pruning less only adds bytes
            if candidate.error <= target_error:
                if best is None or len(candidate.encoded.data) < len(best.encoded.data):
                    best = candidate
                break
    return best


def class_starts(point: Point, fields: list[str]) -> list[Point]:
    """Where precision classes start from (step 6): ``point``, the same with every
    bit-depth field one level finer, and that with each field in turn back at ``point``'s
    level (the classes take most of the error where the finer depths put it, but not in
    every field alike: on plant 13/8/7/8/7 with classes is 2 % smaller than 13/8/8/8/7)."""
    finer = {}
    for field in fields:
        if field in BIT_LEVELS:
            index = BIT_LEVELS[field].index(point.level(field))
            if index > 0:
                finer[field] = BIT_LEVELS[field][index - 1]
    all_finer = point.at(**finer)
    backs = [all_finer.at(**{field: point.level(field)}) for field in finer]
    return list(dict.fromkeys([point, all_finer, *backs]))


@dataclass
class _Bisection:
    """A bisection over the logarithm of the classes' share of the room a start leaves."""

    start: Point
    room: float
    low: float = math.log(CLASS_RANGE[0])
    high: float = math.log(CLASS_RANGE[1])
    best: _Trial | None = None

    def step(self, search: Search) -> None:
        middle = (self.low + self.high) / 2
        search.report(f"precision classes: {math.exp(middle):.2f} of the room")
        candidate = search.trial(self.start.at(**{CLASSES: self.room * math.exp(middle)}))
        if candidate.error <= search.target_error:
            self.low = middle
            if self.best is None or len(candidate.encoded.data) < len(self.best.encoded.data):
                self.best = candidate
        else:
            self.high = middle


def with_classes(chosen: _Trial, search: Search) -> _Trial:
    """Step 6 of the search (module docs): precision classes from each of
    :func:`class_starts`, with the largest predicted extra error (a bisection over
    ``CLASS_RANGE`` times what the target leaves that start) whose measured file stays
    within the target: ``CLASS_SCREEN`` trials per start, then the rest of
    ``CLASS_TRIALS`` on the start with the smallest file; that file, or ``chosen`` when
    it is smaller."""
    runs = []
    for start in class_starts(chosen.point, search.fields):
        room = search.target_error - search.trial(start).error
        if room > 0:
            runs.append(_Bisection(start, room))
            for _ in range(CLASS_SCREEN):
                runs[-1].step(search)
    found = [run for run in runs if run.best is not None]
    if not found:
        return chosen
    leader = min(found, key=lambda run: len(run.best.encoded.data))
    for _ in range(CLASS_TRIALS - CLASS_SCREEN):
        leader.step(search)
    return leader.best if len(leader.best.encoded.data) < len(chosen.encoded.data) else chosen


def with_quality(data: bytes, target_psnr: float, psnr: float, probe_record: dict) -> bytes:
    """``data`` (a `.gsc` file) with the quality an encode to ``target_psnr`` reached
    recorded in its encoder map (informative: spec/container.md)."""
    container = unpack(data)
    container.header["encoder"]["quality"] = {
        "target_psnr": float(target_psnr),
        "psnr": float(psnr) if math.isfinite(psnr) else None,  # None: renders identical
        **probe_record,
    }
    return pack(container)


def pooled_error(images: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """Mean squared pixel error of ``images`` against ``reference``, pooled over views."""
    return float(np.mean([np.mean((a - b) ** 2) for a, b in zip(images, reference)]))


def _finish(chosen: _Trial, probe: QualityProbe, target_psnr: float, reached: bool) -> TargetResult:
    """The chosen file with its quality (and any pruning by contribution) recorded in the
    encoder map."""
    psnr = pooled_psnr(chosen.error)
    record = probe.record()
    if chosen.point.prune > 0:
        record["pruned_by_contribution"] = chosen.point.prune
    if chosen.point.classes > 0:
        record["precision_classes"] = chosen.point.classes
    encoded = replace(chosen.encoded, data=with_quality(chosen.encoded.data, target_psnr, psnr, record))
    return TargetResult(encoded, chosen.config, psnr, reached, chosen.point.prune)
