"""MLPerf Tiny ResNet-8: every operator lowers, and the lowered chain is bit-exact on the host.

The whole model (CONV_2D x9, ADD x3, AVERAGE_POOL_2D, RESHAPE,
FULLY_CONNECTED, SOFTMAX) runs as one chain of lowered calls with a trivial
arena (one buffer per tensor) and every intermediate tensor is compared with
the tflite-micro interpreter's -- on the original model and on a
filterlet-pruned copy (half of the 3x3 filterlets), whose convs become
BITMAP blobs.
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from dtmm.pack.lowering import SUPPORTED_OPS, lower_model, unsupported_ops
from dtmm.tflite.model import TfliteModel
from support.op_cases import Case, check_cases, random_inputs

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

RESNET8_OPS = {
    "CONV_2D": 9, "ADD": 3, "AVERAGE_POOL_2D": 1, "RESHAPE": 1, "FULLY_CONNECTED": 1, "SOFTMAX": 1,
}  # fmt: skip


def test_resnet8_every_op_lowers(resnet8_tflite):
    model = TfliteModel.load(resnet8_tflite)
    assert Counter(op.opcode for op in model.operators) == Counter(RESNET8_OPS)
    assert unsupported_ops(model) == [] and set(RESNET8_OPS) <= SUPPORTED_OPS
    lowered = lower_model(model, prefix="resnet8_")
    assert [lo.op_index for lo in lowered] == list(range(len(model.operators)))
    weights = 0
    for lo, op in zip(lowered, model.operators):
        assert lo.op_name == op.opcode
        assert set(lo.outputs) == set(op.outputs)
        assert all(not model.buffer_span(model.tensors[t].buffer) for t in lo.inputs)  # activations only
        if op.opcode == "RESHAPE":
            assert lo.alias_of_input and lo.c_call == ""
        else:
            assert lo.c_call.startswith("status = dtmm_") and "{out0}" in lo.c_call
        if op.opcode == "CONV_2D":
            assert lo.scratch_bytes > 0 and "{scratch}" in lo.c_call and "{scratch_bytes}" in lo.c_init
        else:
            assert lo.scratch_bytes == 0
        for name in re.findall(r"^static const \w+ (\w+)", lo.c_decls, re.M):  # every name carries the prefix
            assert name.startswith(f"resnet8_op{op.index}_"), name
        weights += lo.flash_bytes
    # all int8 weights and int32 biases are in flash (plus headers/params)
    assert 75_000 < weights < 100_000


def _check(data: bytes, name: str, tmp_path, n: int):
    model = TfliteModel(data, name)
    rng = np.random.default_rng(8)
    stats = check_cases([Case(name, data, random_inputs(model, rng, n))], tmp_path)
    n_tensors, _ = stats[name]
    assert n_tensors == len(model.operators)


def test_resnet8_host_chain_bit_exact(resnet8_tflite, tmp_path):
    _check(resnet8_tflite.read_bytes(), "resnet8", tmp_path, n=3)


def test_resnet8_pruned_host_chain_bit_exact(resnet8_tflite, tmp_path):
    from dtmm.prune.magnitude import prune_filterlets

    pruned = prune_filterlets(TfliteModel.load(resnet8_tflite), 0.5)
    lowered = lower_model(TfliteModel(pruned))
    encodings = [lo.c_decls.split("FWCS v1 ")[1].split(":")[0] for lo in lowered if lo.op_name == "CONV_2D"]
    assert "BITMAP" in encodings, encodings
    _check(pruned, "resnet8_pruned", tmp_path, n=2)
