"""ResNet-8 (MLPerf Tiny) pruned to half its weight bytes on a CIFAR-10 subset: slow, needs ../shared."""
from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from dtmm.formats import fwcs  # noqa: E402
from dtmm.prune.data import load_dataset  # noqa: E402
from dtmm.prune.pipeline import PruneOptions, run_prune  # noqa: E402
from dtmm.tflite.model import TfliteModel, conv_layers  # noqa: E402


@pytest.mark.slow
def test_resnet8_half_budget_on_cifar10_subset(resnet8_h5, cifar10_archive, tmp_path):
    ds = load_dataset(cifar10_archive, cache_dir=tmp_path / "cache")
    rng = np.random.default_rng(0)
    tr = rng.permutation(len(ds.y_train))[:4000]
    te = rng.permutation(len(ds.y_test))[:500]
    np.savez(tmp_path / "cifar_subset.npz", x=ds.x_train[tr], y=ds.y_train[tr], x_test=ds.x_test[te],
             y_test=ds.y_test[te], classes=np.array(ds.classes))  # fmt: skip
    opts = PruneOptions(model=resnet8_h5, data=tmp_path / "cifar_subset.npz", flash="50%", out=tmp_path / "out",
                        epochs=1, calib_samples=256, augment="flip-crop", progress=False)  # fmt: skip
    rep = run_prune(opts, log=lambda m: None)
    assert rep["dense_bytes"] == 82_152 and rep["flash_budget_bytes"] == 41_076
    assert rep["packed_bytes"] <= rep["planned_bytes"] <= 41_076
    assert rep["accuracy_dense_int8"] > 0.65  # ~75% on the full JPEG test set
    assert rep["accuracy_pruned_int8"] > 0.45
    check = rep["int8"]["filterlet_check"]
    assert check and all(v["violations"] == 0 for v in check.values())
    assert rep["int8"]["input_scale"] == 1.0 and rep["int8"]["input_zero_point"] == -128
    tm = TfliteModel.load(tmp_path / "out" / "model_int8.tflite")
    assert sum(int(fwcs.keep_mask(c.weights).sum()) for c in conv_layers(tm)) < 2256  # filterlets were removed
    assert json.loads((tmp_path / "out" / "report.json").read_text())["packed_bytes"] == rep["packed_bytes"]
