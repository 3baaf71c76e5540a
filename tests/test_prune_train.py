"""Masked fine-tuning: pruned filterlets stay exactly zero through every optimizer step, also under
MirroredStrategy on two logical CPUs (in a subprocess: logical devices must exist before TF starts)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dtmm.prune import train  # noqa: E402
from support.keras_models import synthetic_images, tiny_resnet  # noqa: E402


def _masks(model, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name in ("b1_conv1", "b2_conv2"):
        k = model.get_layer(name).kernel
        kh, kw, cin, cout = k.shape
        keep = rng.random((cout, kh, kw)) < 0.5
        m = np.broadcast_to(np.transpose(keep, (1, 2, 0))[:, :, None, :], k.shape).astype(np.float32)
        model.get_layer(name).kernel.assign(np.asarray(k) * m)
        out[name] = m
    return out


def test_masks_hold_through_every_step_and_best_checkpoint_is_by_validation():
    model = tiny_resnet()
    masks = _masks(model)
    x, y = synthetic_images(96, seed=5)
    xv, yv = synthetic_images(24, seed=6)
    res = train.fine_tune(model, masks, x, y, xv, yv, epochs=2, batch_size=16, learning_rate=1e-2, seed=0,
                          augment="flip-crop", progress=False, check_every_step=True)  # fmt: skip
    assert [h["epoch"] for h in res.history] == [0, 1, 2]  # the starting weights are a candidate too
    best = max(res.history, key=lambda h: h["val_accuracy"])
    assert res.best_val_accuracy == best["val_accuracy"]
    assert res.best_epoch == min(h["epoch"] for h in res.history if h["val_accuracy"] == best["val_accuracy"])
    assert train.evaluate_keras(res.model, xv, yv) == pytest.approx(res.best_val_accuracy)
    for name, m in masks.items():
        k = np.asarray(res.model.get_layer(name).kernel)
        assert not k[m == 0].any()
        assert k[m == 1].all()  # kept weights did train (nonzero)
    assert res.history[-1]["train_accuracy"] > 0.4  # it learns the synthetic task


def test_augment_batch_shapes_and_determinism():
    x, _ = synthetic_images(5, seed=1)
    a = train.augment_batch(x, np.random.default_rng(0))
    b = train.augment_batch(x, np.random.default_rng(0))
    assert a.shape == x.shape and a.dtype == x.dtype and np.array_equal(a, b)


MIRRORED = textwrap.dedent(
    """
    import json, numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from dtmm.prune import train
    from support.keras_models import synthetic_images, tiny_resnet
    model = tiny_resnet()
    rng = np.random.default_rng(0)
    k = model.get_layer("b1_conv1").kernel
    keep = rng.random((k.shape[3], 3, 3)) < 0.5
    mask = np.broadcast_to(np.transpose(keep, (1, 2, 0))[:, :, None, :], k.shape).astype(np.float32)
    k.assign(np.asarray(k) * mask)
    strategy = train.pick_strategy("auto")
    x, y = synthetic_images(64, seed=5)
    res = train.fine_tune(model, {"b1_conv1": mask}, x, y, x[:16], y[:16], epochs=1, batch_size=16,
                          strategy=strategy, progress=False, check_every_step=True)
    w = np.asarray(res.model.get_layer("b1_conv1").kernel)
    print(json.dumps({"replicas": res.replicas, "strategy": res.strategy,
                      "nonzero_pruned": int(np.count_nonzero(w[mask == 0])),
                      "changed": bool(np.any(w != np.asarray(k)))}))
    """
)


def test_mirrored_strategy_two_logical_cpus():
    tests_dir = str(Path(__file__).resolve().parent)  # the script imports support.keras_models
    pythonpath = os.pathsep.join(p for p in (tests_dir, os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONPATH=pythonpath)
    r = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2 and out["strategy"] == "MirroredStrategy"
    assert out["nonzero_pruned"] == 0
