"""The numpy reference run from packed FWCS blobs must match the tflite-micro interpreter bit for bit.

(a) random single-CONV_2D int8 models made by the TF converter, with filterlets
zeroed in the Keras kernel; (b) every CONV_2D of MLPerf Tiny ResNet-8 with
filterlets zeroed in the .tflite bytes, compared on the interpreter's own
intermediate tensors (kPreserveAllTensors keeps them readable).
"""
from __future__ import annotations

import os
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dtmm.formats import fwcs
from dtmm.formats.fwcs import reference
from dtmm.prune.magnitude import magnitude_keep_mask, prune_filterlets
from dtmm.tflite.model import TfliteModel, activation_range, conv_layers, quantize_multiplier, replace_conv_weights

runtime = pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
pytestmark = pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning")

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


# --------------------------------------------------------------------------- fixed-point arithmetic


def _mbqm_scalar(x: int, m: int, shift: int) -> int:
    """Plain-int transcription of TFLite's double-rounding MultiplyByQuantizedMultiplier."""
    left, right = max(shift, 0), max(-shift, 0)
    a = ((x << left) + 2**31) % 2**32 - 2**31  # int32 wrap
    if a == I32_MIN and m == I32_MIN:
        high = I32_MAX
    else:
        ab = a * m
        s = ab + (2**30 if ab >= 0 else 1 - 2**30)
        high = abs(s) // 2**31 * (1 if s >= 0 else -1)
    mask = (1 << right) - 1
    rem = high & mask
    threshold = (mask >> 1) + (1 if high < 0 else 0)
    return (high >> right) + (1 if rem > threshold else 0)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(I32_MIN, I32_MAX),
    st.one_of(st.integers(2**30, I32_MAX), st.just(0), st.just(I32_MIN)),
    st.integers(-31, 30),
)
def test_multiply_by_quantized_multiplier_matches_scalar_transcription(x, m, shift):
    got = reference.multiply_by_quantized_multiplier(np.array([x]), np.array([m]), np.array([shift]))
    assert int(got[0]) == _mbqm_scalar(x, m, shift)


def test_rounding_divide_by_pot_rounds_half_away_from_zero():
    x = np.array([5, -5, 6, -6, 7, -7, 4, -4])
    assert reference.rounding_divide_by_pot(x, np.full(8, 2)).tolist() == [1, -1, 2, -2, 2, -2, 1, -1]


def test_saturating_high_mul_overflow_case():
    got = reference.saturating_rounding_doubling_high_mul(np.array([I32_MIN]), np.array([I32_MIN]))
    assert int(got[0]) == I32_MAX


@pytest.mark.parametrize(
    "real, expected",
    [
        (0.0, (0, 0)),
        (0.5, (2**30, 0)),
        (1.0, (2**30, 1)),
        (0.75, (3 * 2**29, 0)),
        (1 - 2**-33, (2**30, 1)),  # q*2^31 rounds up to 2^31: halve and bump the exponent
        (2.0**-40, (0, 0)),  # exponent below -31 flushes to zero
        (2.0**40, (2**31 - 1, 30)),  # exponent above 30 saturates
        (0.1, (1717986918, -3)),
        (0.5 + 2**-32, (2**30 + 1, 0)),  # exact half: std::round goes away from zero, not to even
    ],
)
def test_quantize_multiplier(real, expected):
    assert quantize_multiplier(real) == expected


def test_resnet8_requant_uses_double_precision_scales(resnet8_tflite):
    """TFLite multiplies the float32 scales as doubles; float32 arithmetic would change some multipliers."""
    model = TfliteModel.load(resnet8_tflite)
    differs = 0
    for layer in conv_layers(model):
        sx = model.tensors[layer.input_tensor].scales[0]
        sy = model.tensors[layer.output_tensor].scales[0]
        for o, sw in enumerate(model.tensors[layer.filter_tensor].scales):
            assert (layer.multiplier[o], layer.shift[o]) == quantize_multiplier(sx * sw / sy)
            single = float(np.float32(sx) * np.float32(sw) / np.float32(sy))
            differs += quantize_multiplier(single) != quantize_multiplier(sx * sw / sy)
    assert differs > 0, "no channel distinguishes double from float32 scale arithmetic"


def test_activation_range_follows_output_quantization():
    assert activation_range("NONE", 0.1, 5) == (-128, 127)
    assert activation_range("RELU", 0.1, 5) == (5, 127)
    assert activation_range("RELU6", 0.1, -10) == (-10, 50)
    assert activation_range("RELU6", 0.01, -128) == (-128, 127)  # 6/0.01 saturates
    assert activation_range("RELU_N1_TO_1", 0.25, 0) == (-4, 4)


# --------------------------------------------------------------------------- helpers


def _interpreter(model_bytes: bytes, preserve: bool = False):
    cfgs = runtime.InterpreterConfig
    cfg = cfgs.kPreserveAllTensors if preserve else cfgs.kAllocationRecording
    return runtime.Interpreter.from_bytes(model_bytes, intrepreter_config=cfg)


def _check_all_encodings(layer, x: np.ndarray, expected: np.ndarray) -> str:
    """Reference output from every encoding of the layer equals `expected`; returns the auto choice."""
    for enc in ("auto", "dense", "bitmap", "list"):
        blob = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec, enc)
        got = reference.conv2d(blob, x)
        assert got.dtype == np.int8 and got.shape == expected.shape
        mismatch = np.argwhere(got != expected)
        assert mismatch.size == 0, f"{layer.name} [{enc}]: {len(mismatch)} mismatches, first at {mismatch[0]}"
    return fwcs.decode(fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec)).encoding


# --------------------------------------------------------------------------- (a) converter-made single convs

# (cin, cout, kernel, stride, padding, dilation, activation, (H, W))
CONFIGS = [
    (3, 8, (3, 3), 1, "same", 1, "relu", (10, 9)),
    (5, 7, (3, 3), 2, "valid", 1, "relu6", (11, 12)),
    (1, 4, (5, 5), 1, "same", 1, None, (8, 8)),
    (16, 16, (1, 1), 1, "valid", 1, None, (6, 7)),
    (7, 6, (3, 3), 1, "same", 2, "relu", (9, 10)),
    (4, 9, (5, 5), 2, "same", 1, "relu6", (13, 11)),
    (9, 5, (3, 2), 1, "valid", 2, None, (10, 9)),
    (2, 3, (1, 1), 2, "same", 1, "relu", (7, 8)),
]


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("tensorflow")


def _convert_single_conv(tf, cin, cout, kernel, stride, padding, dilation, act, hw, seed):
    """An int8 CONV_2D-only model with ~half the filterlets zeroed before conversion; returns (bytes, keep)."""
    import keras

    rng = np.random.default_rng(seed)
    kh, kw = kernel
    inp = keras.Input((*hw, cin), batch_size=1)
    conv = keras.layers.Conv2D(
        cout, kernel, strides=stride, padding=padding, dilation_rate=dilation, activation=act
    )
    model = keras.Model(inp, conv(inp))
    keep = rng.random((cout, kh, kw)) < 0.5
    if kh * kw == 1:
        keep[:] = True
        keep[rng.integers(cout)] = False  # a 1x1 filterlet is a whole filter: drop one filter
    keep[np.arange(cout), 0, 0] |= ~keep.reshape(cout, -1).any(axis=1)  # other filters keep >= 1 filterlet
    kernel_hwio = rng.normal(size=(kh, kw, cin, cout)).astype(np.float32)
    kernel_hwio *= keep.transpose(1, 2, 0)[:, :, None, :]
    conv.set_weights([kernel_hwio, rng.normal(scale=0.5, size=cout).astype(np.float32)])

    def representative():
        for _ in range(6):
            yield [rng.normal(scale=2.0, size=(1, *hw, cin)).astype(np.float32)]

    conv_ = tf.lite.TFLiteConverter.from_keras_model(model)
    conv_.optimizations = [tf.lite.Optimize.DEFAULT]
    conv_.representative_dataset = representative
    conv_.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv_.inference_input_type = tf.int8
    conv_.inference_output_type = tf.int8
    return conv_.convert(), keep


def _cfg_id(c) -> str:
    return "cin{}-cout{}-k{}x{}-s{}-{}-d{}-{}".format(c[0], c[1], *c[2], *c[3:7])


@pytest.mark.parametrize("cfg", CONFIGS, ids=_cfg_id)
def test_converter_single_conv_bit_exact(tf, cfg):
    model_bytes, keep = _convert_single_conv(tf, *cfg, seed=CONFIGS.index(cfg))
    model = TfliteModel(model_bytes)
    assert [op.opcode for op in model.operators] == ["CONV_2D"], "converter produced extra ops"
    (layer,) = conv_layers(model)
    cin, cout, kernel, stride, padding, dilation, act, hw = cfg
    assert layer.spec.weight_shape == (cout, *kernel, cin)
    assert (layer.spec.stride_h, layer.spec.dilation_h, layer.spec.padding) == (stride, dilation, padding)
    np.testing.assert_array_equal(fwcs.keep_mask(layer.weights), keep)  # zeros survived quantization

    it = _interpreter(model_bytes)
    rng = np.random.default_rng(100 + CONFIGS.index(cfg))
    xs = rng.integers(-128, 128, size=(2, *hw, cin), dtype=np.int8)
    expected = []
    for x in xs:
        it.set_input(x[None], 0)
        it.invoke()
        expected.append(it.get_output(0))
    expected = np.concatenate(expected)
    assert len(np.unique(expected)) > 2, "degenerate output would make the comparison meaningless"
    _check_all_encodings(layer, xs, expected)  # batch N=2 in one reference call


# --------------------------------------------------------------------------- (b) ResNet-8


def _random_masks(layers, seed):
    """Per-layer random keep masks of varied density, plus an all-zero filter and an unpruned layer."""
    rng = np.random.default_rng(seed)
    masks = {}
    for k, layer in enumerate(layers):
        s = layer.spec
        density = [0.5, 0.2, 0.8, 0.35, 0.65, 1.0, 0.1, 0.5, 0.9][k % 9]
        keep = rng.random((s.cout, s.kh, s.kw)) < density
        if k == 1:
            keep[3] = False  # a filter with nothing left: output is bias-only
        masks[layer.op_index] = keep
    return masks


@pytest.mark.parametrize("pruning", ["random", "magnitude-3x3-50"])
def test_resnet8_every_conv_bit_exact(resnet8_tflite, pruning):
    original = TfliteModel.load(resnet8_tflite)
    layers = conv_layers(original)
    assert len(layers) == 9
    if pruning == "random":
        masks = _random_masks(layers, seed=7)
        new = {L.op_index: np.where(masks[L.op_index][..., None], L.weights, 0).astype(np.int8) for L in layers}
        pruned_bytes = replace_conv_weights(original, new)
    else:
        pruned_bytes = prune_filterlets(original, 0.5)
        masks = {
            L.op_index: magnitude_keep_mask(L.weights, 0.5 if L.spec.kh == 3 else 0.0)
            for L in layers
        }
    assert len(pruned_bytes) == len(original.data)
    pruned = TfliteModel(pruned_bytes, "pruned")
    pruned_layers = conv_layers(pruned)
    by_op = {L.op_index: L for L in layers}
    for L in pruned_layers:  # the zeros landed exactly where requested, nowhere else
        expected_keep = masks[L.op_index] & fwcs.keep_mask(by_op[L.op_index].weights)
        np.testing.assert_array_equal(fwcs.keep_mask(L.weights), expected_keep, err_msg=L.name)
        np.testing.assert_array_equal(L.weights[expected_keep], by_op[L.op_index].weights[expected_keep])

    rng = np.random.default_rng(3)
    encodings = set()
    elapsed = 0.0
    for trial in range(2):
        it = _interpreter(pruned_bytes, preserve=True)
        x = rng.integers(-128, 128, size=(1, 32, 32, 3), dtype=np.int8)
        it.set_input(x, 0)
        it.invoke()
        for L in pruned_layers:
            xin = it.GetTensor(L.input_tensor, 0)["tensor_data"]
            want = it.GetTensor(L.output_tensor, 0)["tensor_data"]
            if trial == 0:
                encodings.add(_check_all_encodings(L, xin, want))
            else:
                blob = fwcs.encode(L.weights, L.bias, L.multiplier, L.shift, L.spec)
                t0 = time.perf_counter()
                got = reference.conv2d(blob, xin)
                elapsed += time.perf_counter() - t0
                np.testing.assert_array_equal(got, want, err_msg=L.name)
    assert "bitmap" in encodings
    assert elapsed < 1.0, f"reference took {elapsed:.2f} s for the 9 ResNet-8 convs"

    # The pruning really changed the network (so the golden model is not the original one).
    it0, it1 = _interpreter(original.data), _interpreter(pruned_bytes)
    for it in (it0, it1):
        it.set_input(x, 0)
        it.invoke()
    assert not np.array_equal(it0.get_output(0), it1.get_output(0))


def test_resnet8_batch_matches_per_image(resnet8_tflite):
    layer = conv_layers(TfliteModel.load(resnet8_tflite))[3]  # stride-2 3x3
    blob = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec)
    xs = np.random.default_rng(0).integers(-128, 128, size=(3, 32, 32, 16), dtype=np.int8)
    batch = reference.conv2d(blob, xs)
    for n in range(3):
        np.testing.assert_array_equal(batch[n], reference.conv2d(blob, xs[n : n + 1])[0])


def test_reference_rejects_wrong_input_shape(resnet8_tflite):
    layer = conv_layers(TfliteModel.load(resnet8_tflite))[0]
    blob = fwcs.encode(layer.weights, layer.bias, layer.multiplier, layer.shift, layer.spec)
    with pytest.raises(fwcs.FwcsError, match=r"input must be int8 \[N, 32, 32, 3\]"):
        reference.conv2d(blob, np.zeros((1, 32, 32, 4), np.int8))
