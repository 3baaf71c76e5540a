"""Regression: `dtmm prune` must not crash in TensorFlow's oneDNN kernels.

With TF 2.21 and oneDNN on, computing Taylor importance of a small residual
model on 16x16 inputs segfaults (exit 139); dtmm switches oneDNN off by
default (tools/dtmm/__init__.py).
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest


def test_prune_small_residual_16x16_does_not_crash(tmp_path):
    pytest.importorskip("tensorflow")
    from support.keras_models import synthetic_images, tiny_resnet

    x, y = synthetic_images(120, size=16, classes=3, seed=1)
    xt, yt = synthetic_images(30, size=16, classes=3, seed=2)
    np.savez(tmp_path / "data.npz", x=x, y=y, x_test=xt, y_test=yt)
    tiny_resnet(input_shape=(16, 16, 3), classes=3, width=8, seed=0).save(tmp_path / "tiny.keras")

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    proc = subprocess.run(
        [sys.executable, "-m", "dtmm.cli", "prune", str(tmp_path / "tiny.keras"), "--data", str(tmp_path / "data.npz"),
         "--flash", "60%", "--epochs", "1", "--out", str(tmp_path / "out")],
        env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "out" / "report.json").is_file()
