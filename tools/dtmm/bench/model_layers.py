"""The conv layers of a real int8 model and their input activations, for kernel benchmarks.

:func:`resnet8_layers` reads every CONV_2D of a model (MLPerf Tiny ResNet-8
by default in `dtmm bench kernels`); :func:`resnet8_activations` gives each
layer's real input for one image from the tflite-micro interpreter, and
:func:`random_activations` seeded random inputs when no image is at hand.
The kernel tests (tests/support/conv_cases.py) build their ResNet-8 cases
from the same functions.
"""
from __future__ import annotations

import io
import tarfile
from typing import Sequence

import numpy as np

from ..errors import DtmmError
from ..formats.fwcs import c_emit
from ..tflite.model import ConvLayer, TfliteModel, conv_layers


def resnet8_layers(model_path) -> tuple[TfliteModel, list[ConvLayer]]:
    model = TfliteModel.load(model_path)
    return model, conv_layers(model)


def cifar10_test_image(archive, member: str = "test/airplane/0000.jpg") -> np.ndarray | None:
    """One CIFAR-10 test image as uint8 [32, 32, 3] from the shared archive, or None if unavailable."""
    try:
        from PIL import Image

        with tarfile.open(archive, "r:gz") as tar:
            f = tar.extractfile(member)
            if f is None:
                return None
            img = np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"), dtype=np.uint8)
    except (OSError, KeyError, ImportError, tarfile.TarError):
        return None
    return img if img.shape == (32, 32, 3) else None


def resnet8_activations(model: TfliteModel, image: np.ndarray | None = None, seed: int = 0) -> dict[int, np.ndarray]:
    """Input tensor of every CONV_2D (by operator index) for one image, from the tflite-micro interpreter.

    `image` is uint8 RGB [32, 32, 3] (quantized with the model's input scale and
    zero point), or None for a seeded random int8 input.  Raises DtmmError when
    the tflite-micro runtime is missing.
    """
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DtmmError(f"the tflite-micro runtime is not available ({exc})") from None
    t_in = model.tensors[model.inputs[0]]
    if image is None:
        x = np.random.default_rng(seed).integers(-128, 128, size=t_in.shape, dtype=np.int8)
    else:
        scale, zp = t_in.scales[0], t_in.zero_points[0]
        q = np.round(image.astype(np.float64) / scale) + zp
        x = np.clip(q, -128, 127).astype(np.int8).reshape(t_in.shape)
    it = runtime.Interpreter.from_bytes(model.data, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    it.set_input(x, 0)
    it.invoke()
    acts = {}
    for layer in conv_layers(model):
        acts[layer.op_index] = np.asarray(it.GetTensor(layer.input_tensor, 0)["tensor_data"], dtype=np.int8)[0]
    return acts


def random_activations(layers: Sequence[ConvLayer], seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        L.op_index: rng.integers(-128, 128, size=(L.spec.in_h, L.spec.in_w, L.spec.cin), dtype=np.int8)
        for L in layers
    }


def short_layer_name(layer: ConvLayer) -> str:
    """'model/conv2d_3/Conv2D' -> 'conv2d_3'."""
    parts = [p for p in layer.name.split("/") if p.lower().startswith("conv2d")]
    return parts[0] if parts else c_emit.c_identifier(layer.name, prefix="")
