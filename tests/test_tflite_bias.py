"""constant_bias: the one reader of conv/depthwise/FC biases refuses what it cannot run."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dtmm.pack.lowering.quant import LoweringError
from dtmm.tflite.model import TfliteError, constant_bias


def _model(data, dtype="INT32"):
    tensors = [SimpleNamespace(index=0, dtype="INT8"), SimpleNamespace(index=1, dtype="INT8"),
               SimpleNamespace(index=2, dtype=dtype)]  # fmt: skip
    return SimpleNamespace(tensors=tensors, tensor_data=lambda i: data if i == 2 else None)


def test_absent_bias_is_zeros():
    op = SimpleNamespace(inputs=[0, 1, -1])
    assert constant_bias(_model(None), op, 3, "op #0").tolist() == [0, 0, 0]
    assert constant_bias(_model(None), SimpleNamespace(inputs=[0, 1]), 2, "op #0").tolist() == [0, 0]


def test_constant_bias_is_read():
    op = SimpleNamespace(inputs=[0, 1, 2])
    got = constant_bias(_model(np.array([5, -7, 2**31 - 1], dtype=np.int32)), op, 3, "op #0")
    assert got.dtype == np.int64 and got.tolist() == [5, -7, 2**31 - 1]


def test_non_constant_bias_is_refused_not_zeroed():
    op = SimpleNamespace(inputs=[0, 1, 2])
    with pytest.raises(TfliteError, match="op #4: the bias must be a constant tensor"):
        constant_bias(_model(None), op, 3, "op #4")
    with pytest.raises(LoweringError, match="bias is INT64, only INT32"):
        constant_bias(_model(None, dtype="INT64"), op, 3, "op #4", LoweringError)
