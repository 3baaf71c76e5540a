"""`dtmm prune MODEL.tflite`: post-training filterlet pruning of an int8 model alone (dtmm.prune.post_training)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main
from dtmm.prune.export import measured_bytes
from dtmm.tflite.model import TfliteModel, conv_layers

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An int8 tiny ResNet and an .npz of its synthetic images."""
    from dtmm.prune.export import to_int8_tflite
    from support.keras_models import randomize_batchnorm, synthetic_images, tiny_resnet

    d = tmp_path_factory.mktemp("tiny")
    m = tiny_resnet(width=8)
    randomize_batchnorm(m, seed=0)
    x, y = synthetic_images(96, seed=1)
    xt, yt = synthetic_images(48, seed=2)
    np.savez(d / "data.npz", x=x, y=y, x_test=xt, y_test=yt)
    (d / "tiny_int8.tflite").write_bytes(to_int8_tflite(m, x[:32]))
    return d


def _prune(args):
    res = CliRunner().invoke(main, ["prune", *map(str, args), "--quiet"])
    return res


def test_prune_tflite_without_data_meets_the_budget_and_says_no_accuracy(tiny, tmp_path):
    src = tiny / "tiny_int8.tflite"
    res = _prune([src, "--flash", "70%", "--out", tmp_path / "o"])
    assert res.exit_code == 0, res.output
    assert "accuracy not measured (no --data)" in res.stderr
    r = json.loads((tmp_path / "o" / "report.json").read_text())
    given = measured_bytes(src.read_bytes())["packed_bytes"]
    out = (tmp_path / "o" / "model_int8.tflite").read_bytes()
    assert r["budget_base_bytes"] == given and r["flash_budget_bytes"] == int(0.7 * given)
    assert r["packed_bytes"] == measured_bytes(out)["packed_bytes"] == r["planned_bytes"] <= r["flash_budget_bytes"]
    assert r["accuracy_dense_int8"] is None and "no --data" in r["accuracy_note"]
    assert r["wall_time_s"] >= 0  # recorded in the file, not only in the returned dict
    assert sorted(r["packed_sources"]["files"]) == ["model.c", "model.h", "model.json"]
    assert (tmp_path / "o" / "packed" / "model.c").is_file()
    # only conv filterlets changed: whole (o, kh, kw) rows zeroed, every other byte as given
    before, after = conv_layers(TfliteModel(src.read_bytes())), conv_layers(TfliteModel(out))
    removed = 0
    for a, b in zip(before, after):
        gone = np.any(a.weights != 0, axis=3) & ~np.any(b.weights != 0, axis=3)
        assert np.array_equal(np.where(gone[..., None], 0, a.weights), b.weights)
        assert np.array_equal(a.bias, b.bias)  # no data: no bias correction
        removed += int(gone.sum())
    assert removed == sum(L["filterlets_given"] - L["filterlets_kept"] for L in r["layers"]) > 0


def test_prune_tflite_with_data_measures_accuracy_and_corrects_biases(tiny, tmp_path):
    src = tiny / "tiny_int8.tflite"
    res = _prune([src, "--flash", "80%", "--data", tiny / "data.npz", "--calib-samples", "32", "--out", tmp_path / "o"])
    assert res.exit_code == 0, res.output
    r = json.loads((tmp_path / "o" / "report.json").read_text())
    assert r["test_samples_evaluated"] == 48 and r["calib_samples"] == 32 and r["bias_correction"]
    assert 0.0 <= r["accuracy_pruned_int8"] <= 1.0 and 0.0 <= r["accuracy_dense_int8"] <= 1.0
    assert "mean |input activation|" in r["importance"]
    out = TfliteModel((tmp_path / "o" / "model_int8.tflite").read_bytes())
    changed = [a.op_index for a, b in zip(conv_layers(TfliteModel(src.read_bytes())), conv_layers(out))
               if not np.array_equal(a.bias, b.bias)]
    assert changed  # some filter lost filterlets, its bias took their mean contribution
    assert "accuracy:" in (tmp_path / "o" / "report.md").read_text()


@pytest.mark.parametrize("extra, message", [
    (["--flash", "50%", "--sram", "10KB"], "--flash budget only"),
    (["--flash", "50%", "--method", "filter"], "--method filter needs a Keras model"),
    (["--flash", "1KB"], "below the smallest size post-training pruning reaches"),
    (["--latency", "50%", "--board", "qemu-m4"], "--flash budget only"),
])
def test_prune_tflite_refusals_are_one_line_and_write_nothing(tiny, tmp_path, extra, message):
    res = _prune([tiny / "tiny_int8.tflite", *extra, "--out", tmp_path / "o"])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and message in lines[-1] and lines[-1].startswith("dtmm: error: "), res.stderr
    assert not (tmp_path / "o" / "report.json").exists() and not (tmp_path / "o" / "model_int8.tflite").exists()


def test_keras_model_still_needs_data(tmp_path):
    res = _prune([tmp_path / "m.keras", "--flash", "50%", "--out", tmp_path / "o"])
    assert res.exit_code == 2 and "--data is required" in res.stderr
