"""The dtmm.pack.lowering interface the packer codes against: fields, placeholders, names, refusals."""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from dtmm.errors import DtmmError
from dtmm.pack.lowering import SUPPORTED_OPS, LoweredOp, LoweringError, lower_op, unsupported_ops
from dtmm.tflite.model import TfliteModel
from support.op_cases import ModelBuilder


def test_lowered_op_fields_are_the_documented_ones():
    names = [f.name for f in dataclasses.fields(LoweredOp)]
    assert names == [
        "op_index", "op_name", "inputs", "outputs", "c_decls", "c_call", "scratch_bytes", "flash_bytes",
        "in_place_ok", "alias_of_input", "c_init", "scratch_expr", "conv_variants", "add_variants", "conv_storage",
        "conv_plan",
    ]  # fmt: skip
    assert issubclass(LoweringError, DtmmError)
    assert SUPPORTED_OPS == {
        "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN",
        "RESHAPE", "SOFTMAX", "CONCATENATION", "PAD", "PADV2", "QUANTIZE", "DEQUANTIZE", "CUSTOM:DTMM_CONV_2D",
        "SUB", "MUL", "RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH",
        "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "STRIDED_SLICE", "RESIZE_NEAREST_NEIGHBOR",
    }  # fmt: skip


def _concat_with_constant():
    b = ModelBuilder()
    x = b.tensor([1, 2, 3], scale=0.1, zero_point=0)
    k = b.tensor([1, 2, 1], scale=0.1, zero_point=0, data=np.array([[[5], [-7]]], np.int8))
    y = b.tensor([1, 2, 4], scale=0.1, zero_point=0)
    b.op("CONCATENATION", [k, x], [y], "ConcatenationOptions", axis=2, fusedActivationFunction=0)
    return TfliteModel(b.build([x], [y]), "concat.tflite"), x, y


def test_constants_are_folded_and_placeholders_follow_inputs():
    model, x, y = _concat_with_constant()
    lo = lower_op(model, model.operators[0], "net_op0_")
    assert lo.inputs == (x,) and lo.outputs == (y,)
    assert re.search(r"static const int8_t net_op0_const0\[2\] __attribute__\(\(aligned\(16\)\)\)", lo.c_decls)
    assert set(re.findall(r"\{(in\d+|out\d+|scratch)\}", lo.c_call)) == {"in0", "out0"}
    call = lo.render_call({"in0": "((int8_t *)&a[0])", "out0": "((int8_t *)&a[16])", "scratch": "NULL"})
    # literal C braces survive; only the placeholders change
    assert "{net_op0_const0, ((int8_t *)&a[0])}" in call and "status = dtmm_concatenation_s8(" in call
    assert "{in" not in call and call.count("{") == call.count("}")
    for name in re.findall(r"^static const [\w ]+? (\w+)(?:\[|\s=)", lo.c_decls, re.M):
        assert name.startswith("net_op0_")
    assert lo.flash_bytes > 0 and lo.scratch_bytes == 0 and lo.c_init == ""


def test_bad_prefix_and_unknown_ops():
    model, _, _ = _concat_with_constant()
    with pytest.raises(LoweringError, match="prefix"):
        lower_op(model, model.operators[0], "1bad prefix")
    b = ModelBuilder()
    x = b.tensor([1, 4], scale=0.1, zero_point=0)
    t = b.tensor([1, 4], scale=0.1, zero_point=0)
    y = b.tensor([1, 4], scale=0.1, zero_point=0)
    b.op("EXP", [x], [t])
    b.op("LOG", [t], [y])
    b.op("EXP", [y], [t])
    m = TfliteModel(b.build([x], [t]), "m.tflite")
    assert unsupported_ops(m) == ["EXP", "LOG"]
    with pytest.raises(LoweringError, match=r"m.tflite: operator #1 LOG is not supported"):
        lower_op(m, m.operators[1], "p_")
