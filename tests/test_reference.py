"""Reference networks: ResNet-12's layout and parameter count from its definition, and
`dtmm train-reference` end to end on a tiny 32x32 subset (outputs, report, int8 model readable by
tflite-micro), plus its one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

keras = pytest.importorskip("keras")
from click.testing import CliRunner  # noqa: E402

from dtmm.cli import main  # noqa: E402
from dtmm.cli.train_reference import REFERENCE_NETWORKS  # noqa: E402
from dtmm.reference import BUILDERS, resnet12  # noqa: E402
from dtmm.reference import networks as R  # noqa: E402
from support.keras_models import synthetic_images  # noqa: E402


def _expected_parameters(widths, classes, cin=3):
    """Conv kernels (no bias) + BatchNorm (4 per channel) + dense, counted from the block definition."""
    total = 0
    for ch in widths:
        total += 9 * cin * ch + 2 * 9 * ch * ch + cin * ch  # three 3x3 convs and the 1x1 shortcut
        total += 4 * 4 * ch  # four BatchNorms (gamma, beta, mean, variance)
        cin = ch
    return total + cin * classes + classes


def test_resnet12_layout_and_parameter_count():
    m = resnet12()
    assert tuple(m.input_shape[1:]) == (32, 32, 3) and tuple(m.output_shape[1:]) == (10,)
    convs = [l for l in m.layers if isinstance(l, keras.layers.Conv2D)]
    assert sum(l.kernel_size == (3, 3) for l in convs) == 12  # the "12"
    shortcuts = [l for l in convs if l.kernel_size == (1, 1)]
    assert [l.strides for l in shortcuts] == [(1, 1), (2, 2), (2, 2), (2, 2)]
    assert [l.filters for l in shortcuts] == list(R.WIDTHS)
    assert m.get_layer("stage4_out").output.shape[1:3] == (4, 4)  # 32 -> 16 -> 8 -> 4 pixels
    assert m.count_params() == _expected_parameters(R.WIDTHS, 10) == 2_008_010
    out = m(np.zeros((2, 32, 32, 3), np.float32)).numpy()
    assert out.shape == (2, 10) and np.isfinite(out).all()


def test_builder_is_deterministic_and_cli_lists_every_builder():
    a, b = resnet12(seed=3), resnet12(seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(a.get_weights(), b.get_weights()))
    assert not np.array_equal(resnet12(seed=4).get_weights()[0], a.get_weights()[0])
    assert set(REFERENCE_NETWORKS) == set(BUILDERS)


def test_train_reference_on_a_tiny_subset(tmp_path):
    x, y = synthetic_images(120, size=32, classes=3, seed=1)
    xt, yt = synthetic_images(30, size=32, classes=3, seed=2)
    data = tmp_path / "tiny.npz"
    np.savez(data, x_train=x, y_train=y, x_test=xt, y_test=yt)
    out = tmp_path / "run"
    r = CliRunner().invoke(main, ["train-reference", "resnet12", "--data", str(data), "--epochs", "1",
                                  "--train-limit", "64", "--batch-size", "16", "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    assert rep["network"] == "resnet12" and rep["train_samples"] == 64 and rep["test_samples_evaluated"] == 30
    assert 0.0 <= rep["accuracy_int8"] <= 1.0 and 0.0 <= rep["accuracy_float"] <= 1.0
    assert rep["seconds_per_epoch"] > 0 and [h["epoch"] for h in rep["history"]] == [0, 1]
    assert rep["recipe"]["epochs"] == 1 and rep["recipe"]["augment"] == "flip-crop"
    assert rep["parameters"] == _expected_parameters(R.WIDTHS, 3)
    assert "float" in (out / "report.md").read_text()
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes((out / "model_int8.tflite").read_bytes(), arena_size=4 << 20)
    interp.set_input(np.zeros((1, 32, 32, 3), np.int8), 0)
    interp.invoke()
    assert interp.get_output(0).shape[-1] == 3
    loaded = keras.models.load_model(out / "model.keras", compile=False)
    assert loaded.count_params() == rep["parameters"]


@pytest.mark.parametrize("args, needle", [
    (["resnet99"], "resnet99"),
    (["resnet12", "--epochs", "0"], "--epochs"),
])  # fmt: skip
def test_errors(tmp_path, args, needle):
    r = CliRunner().invoke(main, ["train-reference", *args, "--data", str(tmp_path / "none.npz"),
                                  "--out", str(tmp_path / "o")])  # fmt: skip
    assert r.exit_code == 2 and needle in r.output


def test_missing_data_is_one_line(tmp_path):
    r = CliRunner().invoke(main, ["train-reference", "resnet12", "--data", str(tmp_path / "none.npz"),
                                  "--out", str(tmp_path / "o")])  # fmt: skip
    assert r.exit_code == 2 and "none.npz" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "o").exists()
