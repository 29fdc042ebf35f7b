"""Training progress on stderr: a rich bar on a terminal, a line now and then elsewhere."""

from __future__ import annotations

import time
from collections import deque
from typing import Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

LINES_PER_RUN = 20  # status lines printed over a run when stderr is not a terminal
SPEED_WINDOW = 50  # steps the it/s figure is averaged over


class TrainProgress:
    """Context manager; :meth:`update` after every step, :meth:`log` for messages."""

    def __init__(self, total: int, start: int, console: Optional[Console] = None) -> None:
        self.console = console or Console(stderr=True, markup=False, highlight=False)
        self.total, self.start = total, start
        self.live = self.console.is_terminal and not self.console.quiet
        self._times: deque = deque(maxlen=SPEED_WINDOW)
        self._every = max(1, total // LINES_PER_RUN)
        self._bar = Progress(
            TextColumn("train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            disable=not self.live,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = None

    def __enter__(self) -> "TrainProgress":
        self._bar.__enter__()
        self._task = self._bar.add_task("", total=self.total, completed=self.start, status="")
        return self

    def __exit__(self, *exc) -> None:
        self._bar.__exit__(*exc)

    def speed(self) -> float:
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)

    def update(self, step: int, loss: float, psnr: float, count: int) -> None:
        self._times.append(time.perf_counter())
        status = f"loss {loss:.4f}  PSNR {psnr:5.2f}  {count:,} splats  {self.speed():.2f} it/s"
        if self.live:
            self._bar.update(self._task, completed=step, status=status)
        elif step % self._every == 0 or step == self.total:
            self.console.print(f"step {step}/{self.total}: {status}")

    def log(self, message: str) -> None:
        self.console.print(message)
