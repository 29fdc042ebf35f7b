"""A dynamic scene over time: segments (groups of frames), each a dynamic splat set that is
evaluated in its own local time.

Global time t runs over [0, 1] across the whole scene. Segment i covers [start_i, end_i);
the last covers its end too. Inside a segment, local time is (t - start) / (end - start),
so a segment trained on its own frames keeps its own [0, 1] time axis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .splats import DynamicSplats, StaticSplats


@dataclass
class Segment:
    start: float
    end: float
    splats: DynamicSplats

    def __post_init__(self) -> None:
        if not 0.0 <= self.start < self.end <= 1.0:
            raise ValueError(f"segment span [{self.start}, {self.end}] is not an increasing span within [0, 1]")

    def local(self, t: float) -> float:
        return (t - self.start) / (self.end - self.start)


@dataclass
class DynamicScene:
    segments: list[Segment]
    fps: Optional[float] = None  # frames per second of the source video
    frame_count: Optional[int] = None  # frames the scene spans
    extra: dict = field(default_factory=dict)  # informative metadata (e.g. cameras)

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a dynamic scene needs at least one segment")
        spans = [(s.start, s.end) for s in self.segments]
        if spans[0][0] != 0.0 or spans[-1][1] != 1.0:
            raise ValueError("segments must cover time 0 to 1")
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start != end:
                raise ValueError("segments must follow one another without gaps or overlaps")

    @staticmethod
    def single(splats: DynamicSplats, fps: Optional[float] = None, frame_count: Optional[int] = None) -> "DynamicScene":
        return DynamicScene([Segment(0.0, 1.0, splats)], fps=fps, frame_count=frame_count)

    @property
    def duration(self) -> Optional[float]:
        """Seconds the scene lasts (frame_count / fps), when both are known."""
        if self.fps and self.frame_count:
            return self.frame_count / self.fps
        return None

    @property
    def count(self) -> int:
        return sum(s.splats.count for s in self.segments)

    def segment_at(self, t: float) -> tuple[Segment, float]:
        """The segment showing global time ``t`` (clamped to [0, 1]) and the local time in it."""
        t = min(max(float(t), 0.0), 1.0)
        for segment in self.segments:
            if t < segment.end:
                return segment, segment.local(t)
        last = self.segments[-1]
        return last, last.local(t)

    def at(self, t: float) -> StaticSplats:
        segment, local = self.segment_at(t)
        return segment.splats.at(local)
