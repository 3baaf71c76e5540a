"""Real models through `dtmm pack` + the real kernels on QEMU, bit-exact with tflite-micro.

* MLPerf Tiny ResNet-8, dense and with 50% of its 3x3 filterlets zeroed
  (dtmm.prune.magnitude.prune_filterlets), on qemu-m4 (DSP path) and qemu-m55
  (Helium path), 10 seeded random int8 inputs each, plus 10 CIFAR-10 test
  images when the shared archive is present;
* small converter-made models that together use every supported operator,
  with int8 and float I/O.

Outputs must be bit-identical to the tflite-micro Python interpreter.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from dtmm.pack import pack_model
from dtmm.prune.magnitude import prune_filterlets
from dtmm.targets.model_runner import run_model
from dtmm.tflite.interpreter import tflm_min_arena, tflm_outputs
from dtmm.tflite.model import TfliteModel

lowering = pytest.importorskip("dtmm.pack.lowering", reason="the operator lowering (dtmm.pack.lowering) is not available")

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="qemu-system-arm or arm-none-eabi-gcc not installed",
    ),
]

N_INPUTS = 10
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    want = np.asarray(want).reshape(-1)
    return got.dtype == want.dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8))


def _random_inputs(model: TfliteModel, n: int, seed: int) -> np.ndarray:
    t = model.tensors[model.inputs[0]]
    rng = np.random.default_rng(seed)
    if t.dtype == "INT8":
        return rng.integers(-128, 128, size=(n, *t.shape)).astype(np.int8)
    return rng.normal(scale=1.5, size=(n, *t.shape)).astype(np.float32)


def _check_bit_exact(model_bytes: bytes, source: str, board: str, xs: np.ndarray, name: str):
    model = TfliteModel(model_bytes, source)
    result = run_model(model, board, xs, name=name)
    want = tflm_outputs(model_bytes, xs)
    bad = [i for i, (g, w) in enumerate(zip(result.outputs, want)) if not _same(g, w)]
    assert not bad, f"{source} on {board}: inputs {bad} differ, e.g. {result.outputs[bad[0]]} vs {want[bad[0]]}"
    assert len(result.instructions) == len(xs) and min(result.instructions) > 0
    return result


# ---- ResNet-8 ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resnet8_variants(resnet8_tflite):
    dense = resnet8_tflite.read_bytes()
    return {"dense": dense, "pruned50": prune_filterlets(dense, 0.5)}


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55"])
@pytest.mark.parametrize("variant", ["dense", "pruned50"])
def test_resnet8_bit_exact_with_tflm(resnet8_variants, variant, board):
    data = resnet8_variants[variant]
    xs = _random_inputs(TfliteModel(data), N_INPUTS, seed=7)
    result = _check_bit_exact(data, f"resnet8_{variant}.tflite", board, xs, f"resnet8_{variant}")
    assert result.conv_path == ("mve" if board == "qemu-m55" else "dsp")


def cifar10_images(archive, members) -> list | None:
    """uint8 [32, 32, 3] images read in one pass over the archive, or None when unavailable."""
    import io
    import tarfile

    try:
        from PIL import Image
    except ImportError:
        return None
    found = {}
    with tarfile.open(archive, "r:gz") as tar:
        for info in tar:
            if info.name in members:
                f = tar.extractfile(info)
                found[info.name] = np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"), dtype=np.uint8)
                if len(found) == len(members):
                    break
    images = [found.get(m) for m in members]
    return images if all(i is not None and i.shape == (32, 32, 3) for i in images) else None


def test_resnet8_cifar10_images_bit_exact(resnet8_variants, cifar10_archive):
    images = cifar10_images(cifar10_archive, [f"test/{c}/0000.jpg" for c in CIFAR_CLASSES])
    if images is None:
        pytest.skip("CIFAR-10 images could not be read (Pillow missing or archive layout changed)")
    model = TfliteModel(resnet8_variants["dense"])
    t = model.tensors[model.inputs[0]]
    q = np.round(np.stack(images).astype(np.float64) / t.scales[0]) + t.zero_points[0]
    xs = np.clip(q, -128, 127).astype(np.int8).reshape(len(images), *t.shape)
    result = _check_bit_exact(resnet8_variants["pruned50"], "resnet8_pruned50.tflite", "qemu-m4", xs, "r8img")
    # the dense model classifies most of these correctly; so should the pruned one often enough to be sane
    assert len({int(np.argmax(o)) for o in result.outputs}) > 1


def test_resnet8_plan_and_sizes(resnet8_variants):
    dense = resnet8_variants["dense"]
    packed = pack_model(TfliteModel(dense, "resnet8.tflite"), "resnet8")
    assert packed.arena_bytes == packed.summary["arena_lower_bound"]
    assert packed.arena_bytes <= tflm_min_arena(dense)
    assert packed.flash_bytes < len(dense)
    pruned = pack_model(TfliteModel(resnet8_variants["pruned50"], "p.tflite"), "resnet8")
    # same tensors; only the conv scratch reservations may differ with the encoding
    assert pruned.arena_bytes == pruned.summary["arena_lower_bound"]
    assert pruned.arena_bytes <= tflm_min_arena(resnet8_variants["pruned50"])
    assert pruned.flash_bytes < 0.65 * packed.flash_bytes


# ---- every supported operator ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def converted_models():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")
    import keras

    def convert(model, shape, seed, float_io=False):
        rng = np.random.default_rng(seed)

        def representative():
            for _ in range(8):
                yield [rng.normal(scale=1.5, size=(1, *shape)).astype(np.float32)]

        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if not float_io:
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
        return conv.convert()

    L = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((12, 12, 3), batch_size=1)
    y = L.ZeroPadding2D(1)(x)  # PAD
    y = L.Conv2D(8, 3, strides=2, activation="relu")(y)
    y = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu6")(y)
    y = L.MaxPooling2D(2)(y)
    a = L.Conv2D(8, 1)(y)
    b = L.AveragePooling2D(3, strides=1, padding="same")(y)
    y = L.Concatenate()([a, b])
    y = L.Add()([y, L.Conv2D(24, 1)(y)])
    y = L.GlobalAveragePooling2D()(y)  # MEAN
    y = L.Softmax()(L.Dense(10)(y))
    convnet = convert(keras.Model(x, y), (12, 12, 3), 0)

    keras.utils.set_random_seed(1)
    x = keras.Input((6, 6, 4), batch_size=1)
    y = L.Conv2D(6, 3, activation="relu")(x)
    y = L.Lambda(lambda t: tf.pad(t, [[0, 0], [1, 0], [0, 2], [0, 0]], constant_values=0.7))(y)  # PADV2
    y = L.Lambda(lambda t: t + tf.constant(np.linspace(-1, 1, 6, dtype=np.float32)))(y)  # broadcast ADD
    y = L.Dense(5)(L.Flatten()(y))  # RESHAPE, FULLY_CONNECTED
    floatnet = convert(keras.Model(x, y), (6, 6, 4), 1, float_io=True)  # QUANTIZE ... DEQUANTIZE

    keras.utils.set_random_seed(2)
    x = keras.Input((8, 8, 4), batch_size=1)
    a = L.Conv2D(8, 3, padding="same")(x)
    b = L.Conv2D(8, 1)(x)
    y = L.Subtract()([L.Multiply()([a, b]), a])  # MUL, SUB
    y = L.LeakyReLU(negative_slope=0.1)(y)  # LEAKY_RELU
    y = L.ReLU()(L.Concatenate()([y, b]))  # RELU (nothing to fuse it into)
    y = L.Activation("hard_swish")(L.Conv2D(8, 1)(y))  # HARD_SWISH
    y = L.ReLU(max_value=6.0)(L.Concatenate()([y, a]))  # RELU6
    y = L.Activation("tanh")(y)  # TANH
    y = L.Activation("sigmoid")(L.Dense(6)(L.Flatten()(y)))  # LOGISTIC
    actnet = convert(keras.Model(x, y), (8, 8, 4), 2)
    models = {"convnet": convnet, "floatnet": floatnet, "actnet": actnet}
    # the ops engineer's chain of every operator (adds int8 -> int8 QUANTIZE), when available
    try:
        from test_ops_chain import all_ops_model
    except ImportError:
        all_ops_model = None
    if all_ops_model is not None:
        models["all_ops"] = all_ops_model()
    return models


def test_generated_models_cover_every_supported_op(converted_models):
    used = {op.opcode for data in converted_models.values() for op in TfliteModel(data).operators}
    # dtmm convert's custom op runs end to end in tests/test_tflm_convert.py (tflite-micro cannot run it)
    missing = set(lowering.SUPPORTED_OPS) - used - {"CUSTOM:DTMM_CONV_2D"}
    assert not missing, f"no end-to-end model uses {sorted(missing)}"


@pytest.mark.parametrize("board", ["qemu-m4", "qemu-m55", pytest.param("qemu-m3", marks=pytest.mark.slow)])
@pytest.mark.parametrize("name", ["convnet", "floatnet", "actnet", "all_ops"])
def test_generated_models_bit_exact_with_tflm(converted_models, name, board):
    if name not in converted_models:
        pytest.skip(f"{name} model not available")
    data = converted_models[name]
    xs = _random_inputs(TfliteModel(data), N_INPUTS, seed=3)
    _check_bit_exact(data, f"{name}.tflite", board, xs, name)
    packed = pack_model(TfliteModel(data, f"{name}.tflite"), name)
    assert packed.arena_bytes <= tflm_min_arena(data)
