"""The demo's progress during `dtmm prune`: epochs done and an estimate of the fine-tuning left (demo/eta.py)."""
from __future__ import annotations

import io
import subprocess
import sys

from dtmm.demo.eta import FineTuneEta, fmt_duration
from dtmm.demo.run import _stream_filtered


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_estimate_follows_the_epoch_lines():
    clock = Clock()
    eta = FineTuneEta(4, clock=clock)
    assert "first of 4 fine-tuning epochs under way" in eta.status()
    assert not eta.feed("dtmm prune: fine-tuning the dense baseline (the teacher) for 2 epoch(s)\n")
    clock.t += 130
    assert eta.feed("dtmm prune: epoch 1/2: loss 0.51, train accuracy 0.81, validation accuracy 0.80 (120 s)\n")
    clock.t += 70
    assert eta.feed("dtmm prune: stage 1/2: epoch 1/1: loss 0.6, train accuracy 0.7, validation accuracy 0.7 (60 s)\n")
    status = eta.status()
    assert "2 of 4 fine-tuning epochs done" in status and "about 3 min of fine-tuning left" in status
    assert "(3 min so far)" in status
    eta.feed("epoch 2/2: x (90 s)\n")
    eta.feed("stage 2/2: epoch 1/1: x (90 s)\n")
    assert "all 4 fine-tuning epochs done" in eta.status() and "int8 export" in eta.status()


def test_no_fine_tuning_and_durations():
    assert "no fine-tuning" in FineTuneEta(0).status()
    assert [fmt_duration(s) for s in (5, 89, 90, 3000, 3600, 3900)] == ["5 s", "89 s", "2 min", "50 min", "1 h 00 min",
                                                                        "1 h 05 min"]


def test_stream_hands_each_line_to_the_estimate_and_drops_tensorflow_noise():
    script = ("import sys\n"
              "sys.stderr.write('dtmm prune: epoch 1/3: loss 1 (10 s)\\n')\n"
              "sys.stderr.write('dtmm prune: epoch 2/3: loss 1 (12 s)\\n')\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    sink, seen = io.StringIO(), []
    _stream_filtered(proc, sink, on_line=seen.append)
    proc.wait()
    assert len(seen) == 2 and sink.getvalue() == "".join(seen)
    eta = FineTuneEta(3)
    assert all(eta.feed(line) for line in seen) and "2 of 3 fine-tuning epochs done" in eta.status()
