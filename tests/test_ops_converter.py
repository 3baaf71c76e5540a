"""Operator kernels on models made by the TF converter, bit-exact with the tflite-micro interpreter.

One small CNN touches every supported operator the converter emits for Keras
layers: PAD, CONV_2D (some filterlets pruned), DEPTHWISE_CONV_2D, MAX_POOL_2D,
AVERAGE_POOL_2D, CONCATENATION, ADD, MEAN, RESHAPE, FULLY_CONNECTED and
SOFTMAX; converted once with int8 I/O and once with float32 I/O (which adds
QUANTIZE and DEQUANTIZE).  The whole lowered model runs on the host in one
chain and every intermediate tensor is compared with the interpreter's.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from dtmm.pack.lowering import SUPPORTED_OPS, lower_model, unsupported_ops
from dtmm.tflite.model import TfliteModel
from support.op_cases import Case, check_cases, random_inputs

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def _keras_cnn(seed: int, hw=(16, 16), cin=3):
    import keras
    from keras import layers as L

    rng = np.random.default_rng(seed)
    inp = keras.Input((*hw, cin), batch_size=1)
    x = L.ZeroPadding2D(((1, 1), (2, 0)))(inp)
    c1 = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    d1 = L.DepthwiseConv2D(3, padding="same", activation="relu6")(c1)
    m1 = L.MaxPooling2D(2)(d1)
    a1 = L.AveragePooling2D(2)(c1)
    cat = L.Concatenate()([m1, a1])
    c2 = L.Conv2D(16, 3, strides=2, padding="same")(cat)
    c3 = L.Conv2D(16, 1, strides=2, padding="same")(cat)
    add = L.ReLU()(L.Add()([c2, c3]))
    g = L.GlobalAveragePooling2D()(add)
    p = L.Flatten()(L.AveragePooling2D((add.shape[1], add.shape[2]))(add))
    f = L.Dense(10)(L.Concatenate()([g, p]))
    out = L.Softmax()(f)
    model = keras.Model(inp, out)
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        new = [rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in ws]
        if isinstance(layer, L.Conv2D) and not isinstance(layer, L.DepthwiseConv2D):
            kh, kw, ci, co = new[0].shape
            keep = rng.random((kh, kw, 1, co)) < 0.6  # prune whole filterlets
            keep[0, 0, 0, :] = True
            new[0] = new[0] * keep
        layer.set_weights(new)

    def representative():
        for _ in range(8):
            yield [rng.normal(scale=1.5, size=(1, *hw, cin)).astype(np.float32)]

    return model, representative


def _convert(tf, model, representative, io_type):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = io_type
    conv.inference_output_type = io_type
    return conv.convert()


@pytest.fixture(scope="module")
def converted(tf):
    model, rep = _keras_cnn(seed=3)
    return {
        "int8": _convert(tf, model, rep, tf.int8),
        "float32": _convert(tf, model, rep, tf.float32),
    }


EXPECTED = {
    "PAD", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D", "CONCATENATION",
    "ADD", "MEAN", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX",
}  # fmt: skip


@pytest.mark.parametrize("io", ["int8", "float32"])
def test_converter_cnn_bit_exact(converted, io, tmp_path):
    data = converted[io]
    model = TfliteModel(data, f"cnn-{io}")
    ops = {op.opcode for op in model.operators}
    assert EXPECTED <= ops, sorted(EXPECTED - ops)
    if io == "float32":
        assert {"QUANTIZE", "DEQUANTIZE"} <= ops
        assert model.tensors[model.inputs[0]].dtype == "FLOAT32"
    assert ops <= SUPPORTED_OPS and unsupported_ops(model) == []
    lowered = lower_model(model)
    assert sum(lo.flash_bytes for lo in lowered) > 0
    rng = np.random.default_rng(21)
    stats = check_cases([Case(f"cnn_{io}", data, random_inputs(model, rng, 4))], tmp_path)
    n_tensors, n_elements = stats[f"cnn_{io}"]
    assert n_tensors == len(model.operators)


def test_converter_cnn_in_place_plan(converted, tmp_path):
    """The same chain with in-place operators writing over their inputs gives the same outputs."""
    data = converted["int8"]
    model = TfliteModel(data, "cnn-int8")
    rng = np.random.default_rng(22)
    check_cases([Case("cnn_inplace", data, random_inputs(model, rng, 2), in_place=True)], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [5, 6, 7])
def test_converter_cnn_more_seeds(tf, seed, tmp_path):
    model, rep = _keras_cnn(seed=seed, hw=(12 + seed, 10 + seed), cin=seed % 3 + 1)
    data = _convert(tf, model, rep, tf.int8 if seed % 2 else tf.float32)
    m = TfliteModel(data, f"cnn{seed}")
    check_cases([Case(f"cnn{seed}", data, random_inputs(m, np.random.default_rng(seed), 4))], tmp_path)
