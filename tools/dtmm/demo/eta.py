"""How much of `dtmm prune`'s fine-tuning is left, read from the epoch lines it prints.

The pruner logs one line per fine-tuning epoch ("dtmm prune: [stage k/n: ]epoch e/E: ... (S s)"), for the
dense baseline's fine-tune first when it has one, then for the pruned model's stages.  Fine-tuning is
almost all of a prune's time, and its epochs take about the same time each, so the mean epoch so far
times the epochs left is an honest estimate; the int8 export and tflite-micro evaluation that follow
are named, not timed.
"""
from __future__ import annotations

import re
import time

EPOCH_LINE = re.compile(r"epoch (\d+)/(\d+): .*\((\d+(?:\.\d+)?) s\)\s*$")


def fmt_duration(seconds: float) -> str:
    """'45 s', '3 min', '1 h 05 min'."""
    s = max(0, int(round(seconds)))
    if s < 90:
        return f"{s} s"
    m = (s + 30) // 60
    return f"{m} min" if m < 60 else f"{m // 60} h {m % 60:02d} min"


class FineTuneEta:
    """Counts finished epochs against `total_epochs` (every fine-tune the prune runs) and estimates the rest."""

    def __init__(self, total_epochs: int, clock=time.monotonic):
        self.total = max(0, int(total_epochs))
        self.clock = clock
        self.started = clock()
        self.epoch_seconds: list[float] = []

    def feed(self, line: str) -> bool:
        """Take one line of the pruner's output; True when it finished an epoch."""
        m = EPOCH_LINE.search(line)
        if m is None:
            return False
        self.epoch_seconds.append(float(m.group(3)))
        return True

    @property
    def done(self) -> int:
        return len(self.epoch_seconds)

    def status(self) -> str:
        elapsed = fmt_duration(self.clock() - self.started)
        tail = "then the int8 export and the tflite-micro evaluation"
        if self.total == 0:
            return f"dtmm prune: no fine-tuning in this recipe; {tail} ({elapsed} so far)"
        if not self.epoch_seconds:
            return f"dtmm prune: first of {self.total} fine-tuning epochs under way ({elapsed} so far)"
        left = max(0, self.total - self.done)
        if left == 0:
            return f"dtmm prune: all {self.total} fine-tuning epochs done; {tail} ({elapsed} so far)"
        mean = sum(self.epoch_seconds) / len(self.epoch_seconds)
        return (f"dtmm prune: {self.done} of {self.total} fine-tuning epochs done, about "
                f"{fmt_duration(left * mean)} of fine-tuning left, {tail} ({elapsed} so far)")  # fmt: skip
