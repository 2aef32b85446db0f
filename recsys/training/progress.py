"""Progress of a training run as plain lines, for when stderr is not a terminal.

A tqdm bar redraws one line with carriage returns: fine on a terminal, but in a log file, a
pipe, ``nohup`` or CI it is noise or, when disabled, nothing at all (a 25-minute run printed
nothing). ``ProgressLines`` prints whole lines instead: one after an epoch (its loss, the
validation metric and the time so far) at most every ``epoch_gap_s`` seconds, the first and
last epochs always, and a heartbeat within an epoch that runs longer than ``heartbeat_s``.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO


def format_seconds(seconds: float) -> str:
    """``59s``, ``12m05s``, ``3h02m``: short enough for a progress line."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressLines:
    """Periodic progress lines of one training run on ``stream``.

    Args:
        name: the model's name, the prefix of every line.
        epochs: the run's maximum number of epochs.
        stream: where lines go (default ``sys.stderr``), flushed after each.
        heartbeat_s: within an epoch, a line after this many seconds without one.
        epoch_gap_s: after an epoch, a line unless one was printed less than this many seconds ago.
        clock: seconds since an arbitrary origin (tests pass a fake one).
        start: the clock value the run started at (a resumed run passes its earlier start).
    """

    def __init__(self, name: str, epochs: int, stream: TextIO | None = None, *, heartbeat_s: float = 60.0,
                 epoch_gap_s: float = 10.0, clock: Callable[[], float] = time.perf_counter,
                 start: float | None = None) -> None:
        self.name, self.epochs = name, epochs
        self.stream = stream if stream is not None else sys.stderr
        self.heartbeat_s, self.epoch_gap_s, self.clock = heartbeat_s, epoch_gap_s, clock
        self.start = clock() if start is None else start
        self._last: float | None = None

    def _print(self, text: str) -> None:
        now = self.clock()
        print(f"train {self.name}: {text}, {format_seconds(now - self.start)} elapsed", file=self.stream, flush=True)
        self._last = now

    def note(self, text: str) -> None:
        """An unconditional line (a budget warning, a resume)."""
        self._print(text)

    def batch(self, epoch: int, batches: int, mean_loss: float) -> None:
        """After each batch: a heartbeat line when the epoch has run ``heartbeat_s`` without one."""
        now = self.clock()
        if now - (self._last if self._last is not None else self.start) >= self.heartbeat_s:
            self._print(f"epoch {epoch}/{self.epochs}, batch {batches}, loss {mean_loss:.4f}")

    def epoch(self, epoch: int, loss: float, metric: str, value: float | None, best: float, best_epoch: int,
              last: bool) -> None:
        """After each epoch: its line, unless a line was printed less than ``epoch_gap_s`` ago
        (the first and the ``last`` epoch always print)."""
        if not last and self._last is not None and epoch != 1 and self.clock() - self._last < self.epoch_gap_s:
            return
        valid = f", valid {metric} {value:.4f} (best {best:.4f} at epoch {best_epoch})" if value is not None else ""
        self._print(f"epoch {epoch}/{self.epochs}, loss {loss:.4f}{valid}")
