"""The Cortex-M0 board (qemu-m0: QEMU microbit, nRF51822, ARMv6-M, 16 KiB RAM), end to end.

ARMv6-M has no DSP instructions and no unaligned word access, so every kernel
runs its portable path compiled for Thumb-1. A small model with every operator
the packer emits (convs 3x3 / 1x1 / 3x1 with pruned filterlets, depthwise with
a depth multiplier, ADD, both pools, MEAN, FULLY_CONNECTED, SOFTMAX) runs
bit-exact with the tflite-micro interpreter in each conv storage, and a model
that needs more RAM than the board has is refused in one line before any
build. The conv kernels' random cases run on this board in test_conv_qemu.py.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed"),
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="arm-none-eabi-gcc not installed"),
]
pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

BOARD = "qemu-m0"


def _every_op_model(seed: int) -> bytes:
    """int8 model with every operator kind the packer lowers; some conv filterlets are zero (pruned)."""
    import keras

    from dtmm.tflite.convert import keras_to_int8_tflite

    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = keras.Input((12, 10, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu")(x)
    y = L.Conv2D(8, 1)(y)
    x = L.Add()([x, y])
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(12, (3, 1), strides=(1, 2), padding="same", activation="relu")(x)
    x = L.AveragePooling2D(2, padding="same")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10)(x)
    out = L.Softmax()(x)
    model = keras.Model(inp, out)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.Conv2D) and not isinstance(layer, L.DepthwiseConv2D):
            w, b = layer.get_weights()
            kept = rng.random(w.shape[:2] + (1, w.shape[3])) < 0.6  # filterlet masks (kh, kw, 1, cout)
            layer.set_weights([w * kept, b])
    samples = [rng.normal(size=(1, 12, 10, 3)).astype(np.float32) for _ in range(16)]
    return keras_to_int8_tflite(model, samples)


@pytest.fixture(scope="module")
def every_op(tmp_path_factory):
    d = tmp_path_factory.mktemp("m0")
    model = d / "every_op.tflite"
    model.write_bytes(_every_op_model(3))
    xs = np.random.default_rng(4).integers(-128, 128, size=(2, 1, 12, 10, 3), dtype=np.int8)
    xs[0].reshape(-1)[:4] = [-128, 127, -128, 127]
    np.save(d / "inputs.npy", xs)
    return model, d / "inputs.npy", xs


@pytest.mark.parametrize("storage", ["fwcs", "smallest"])
def test_every_op_bit_exact_on_m0(every_op, storage):
    from dtmm.tflite.interpreter import tflm_outputs
    from dtmm.tflite.model import TfliteModel

    model, inputs, xs = every_op
    ops = {op.opcode for op in TfliteModel(model.read_bytes(), "every_op").operators}
    assert ops >= {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MAX_POOL_2D", "AVERAGE_POOL_2D", "MEAN",
                   "FULLY_CONNECTED", "SOFTMAX"}, ops  # fmt: skip
    result = CliRunner().invoke(main, ["run-model", str(model), "--board", BOARD, "--inputs", str(inputs),
                                       "--profile", "--json", "--conv-storage", storage])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["board"] == BOARD and report["conv_path"] == "c"
    want = tflm_outputs(model.read_bytes(), xs)
    assert len(report["outputs"]) == len(xs)
    for got, w in zip(report["outputs"], want):
        assert np.array_equal(np.asarray(got).reshape(-1), np.asarray(w).reshape(-1))
    # every operator is measured, and the operators add up to no more than the inference
    n_ops = len(TfliteModel(model.read_bytes(), "every_op").operators)
    for total, per_op in zip(report["instructions_per_inference"], report["profile"]):
        assert len(per_op) == n_ops and all(n > 0 for n in per_op.values())
        assert sum(per_op.values()) <= total


def test_model_too_large_for_m0_is_refused_in_one_line(tmp_path):
    import keras

    from dtmm.tflite.convert import keras_to_int8_tflite

    keras.utils.set_random_seed(0)
    inp = keras.Input((48, 48, 3))
    model = keras.Model(inp, keras.layers.Conv2D(16, 3, padding="same")(inp))
    data = keras_to_int8_tflite(model, [np.zeros((1, 48, 48, 3), np.float32)])
    (tmp_path / "big.tflite").write_bytes(data)
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 48, 48, 3), np.int8))
    result = CliRunner().invoke(main, ["run-model", str(tmp_path / "big.tflite"), "--board", BOARD,
                                       "--inputs", str(tmp_path / "x.npy")])  # fmt: skip
    assert result.exit_code != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("dtmm: error:")]
    assert len(errors) == 1 and "does not fit qemu-m0" in errors[0] and "16384" in errors[0], result.stderr
    assert not list(tmp_path.glob("**/*.elf"))


def test_cycle_estimate_on_m0_traces_every_instruction(every_op, tmp_path):
    """--cycles fails unless the trace holds exactly the measured instructions; the M0 table prices them
    (2-cycle loads and stores, 3-cycle taken branches: more cycles than instructions)."""
    model, _, xs = every_op
    np.save(tmp_path / "one.npy", xs[:1])
    result = CliRunner().invoke(main, ["run-model", str(model), "--board", BOARD, "--inputs",
                                       str(tmp_path / "one.npy"), "--cycles", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "Cortex-M0 TRM" in report["estimated_cycles_source"]
    ratio = report["estimated_cycles_per_inference"][0] / report["instructions_per_inference"][0]
    assert 1.1 < ratio < 2.5, ratio
