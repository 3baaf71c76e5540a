"""Keras -> full-integer int8 .tflite with TensorFlow's converter (what MLPerf Tiny's models are).

The Keras model is wrapped with a batch-1 input and converted with a
representative dataset, builtin int8 ops only and int8 input and output.
The pruner's export (``dtmm.prune.export``) and the generated benchmark and
calibration models all go through :func:`keras_to_int8_tflite`.
"""
from __future__ import annotations

import contextlib
import warnings
from typing import Sequence

import numpy as np

from ..errors import DtmmError
from ..tf_startup import quiet_fds


class ConversionError(DtmmError):
    """The TFLite converter failed; the message is its last line."""


def keras_to_int8_tflite(model, samples: Sequence[np.ndarray], *, quiet: bool = True) -> bytes:
    """Full-integer int8 .tflite (int8 in/out, batch 1) calibrated on `samples` (float32, batch 1 each)."""
    import keras
    import tensorflow as tf

    shape = tuple(model.inputs[0].shape[1:])
    inp = keras.Input(batch_shape=(1, *shape))
    wrapper = keras.Model(inp, model(inp))

    def representative():
        for r in samples:
            yield [np.asarray(r, dtype=np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(wrapper)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    try:
        with quiet_fds() if quiet else contextlib.nullcontext(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "statistics for quantized inputs ... not specified": expected
            return bytes(conv.convert())
    except Exception as exc:  # the converter raises many types; one line is what the user needs
        msg = str(exc).strip().splitlines()
        raise ConversionError(f"int8 conversion failed: {type(exc).__name__}: {msg[-1] if msg else ''}") from None
