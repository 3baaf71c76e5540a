"""The model readers against hostile .tflite files: a short structure-aware fuzz run (tests/fuzz/fuzz_tflite.py)
and, one by one, the defects the long runs found -- each edit below once gave a traceback, a hang-free but
wrong result, or an output for a model tflite-micro refuses; now `dtmm pack` says one line and writes nothing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dtmm.cli import main

FUZZ_DIR = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ_DIR))
import fuzz_tflite as ft  # noqa: E402
import tflite_mutator as tm  # noqa: E402

pytest.importorskip("tflite_micro.python.tflite_micro.runtime")


@pytest.fixture(scope="module")
def bases(shared_dir):
    return ft.base_models(shared_dir)


def test_short_fuzz_run_gives_one_line_or_a_correct_result(bases, tmp_path, shared_dir):
    result = ft.run_cases(1200, seed=20261204, workers=1, shared=shared_dir)
    assert not result["findings"], result["findings"][:5]
    c = result["counts"]
    assert c["pack refused"] > 300 and c.get("pack ok", 0) > 30, c  # both ends of the reader were reached
    families = {k.split(" / ")[0] for k in result["by_family"]}
    assert families == {"semantic", "structural"}
    check = ft.verify_changed(result["changed"], 12, tmp_path, seed=1)
    assert not check["findings"] and not check["refused_by_tflm"], check
    assert check["verified_bit_exact"] >= 8, check


def test_base_models_run_on_tflite_micro(bases):
    from dtmm.tflite.model import TfliteModel
    from support.op_cases import random_inputs

    for name, data in bases.items():
        assert ft.tflm_refusal(data, random_inputs(TfliteModel(data, name), np.random.default_rng(0), 1)) == "", name


def _edit(data: bytes, fn) -> bytes:
    m = tm.unpack(data)
    fn(m)
    return tm.pack(m)


def _ops(m):
    return m.subgraphs[0].operators


def _tensors(m):
    return m.subgraphs[0].tensors


def _op(m, opcode_name):
    from dtmm.tflite.model import _schema

    code = getattr(_schema().BuiltinOperator, opcode_name)
    index = next(i for i, oc in enumerate(m.operatorCodes) if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code)
    return next(op for op in _ops(m) if op.opcodeIndex == index)


def _set_options(m, opcode_name, name):
    from dtmm.tflite.model import _schema

    fb = _schema()
    op = _op(m, opcode_name)
    op.builtinOptions, op.builtinOptionsType = getattr(fb, name + "T")(), getattr(fb.BuiltinOptions, name)


def _corrupt_bytes(data: bytes, where: str) -> bytes:
    lay = tm.layout(data)
    buf = bytearray(data)
    pos = {"vector": lay.vector_lengths[len(lay.vector_lengths) // 2], "vtable": lay.soffsets[-1]}[where]
    buf[pos:pos + 4] = (0x7FFFFFF0).to_bytes(4, "little")
    return bytes(buf)


def _set(obj, **fields):
    for k, v in fields.items():
        setattr(obj, k, v)


CASES = [
    ("options of another op", "chain", lambda m: _set_options(m, "CONV_2D", "GatherOptions"),
     r"operator #1 \(CONV_2D\) carries GatherOptions, not Conv2DOptions"),
    ("too many inputs", "chain", lambda m: _set(_op(m, "RESHAPE"), inputs=[8, 10, 14]),
     r"\(RESHAPE\) takes 1 to 2 input tensors, has \[8, 10, 14\]"),
    ("no output", "chain", lambda m: _set(_op(m, "ADD"), outputs=[]), r"\(ADD\) has no output"),
    ("two outputs", "chain", lambda m: _set(_op(m, "ADD"), outputs=[7, 2]), r"\(ADD\) has 2 outputs, not 1"),
    ("1-D weights", "chain", lambda m: _set(_tensors(m)[11], shape=[640]), r"has 1-D weights, expected 2-D"),
    ("unknown tensor type", "chain", lambda m: _set(_tensors(m)[10], type=-1), r"has unknown type -1"),
    ("NaN scale", "conv", lambda m: _set(_tensors(m)[0].quantization, scale=[float("nan")]),
     r"quantization scale nan; scales must be positive"),
    ("denormal scale", "conv", lambda m: _set(_tensors(m)[3].quantization, scale=[1e-45]),
     r"quantization scale 1.4\d*e-45"),
    ("scales without zero points", "conv", lambda m: _set(_tensors(m)[1].quantization, zeroPoint=None),
     r"has 6 quantization scales but 0 zero points"),
    ("int8 zero point out of range", "chain", lambda m: _set(_tensors(m)[3].quantization, zeroPoint=[128]),
     r"INT8 with zero point 128 outside \[-128, 127\]"),
    ("per-channel scales along a wrong dimension", "chain",
     lambda m: _set(_tensors(m)[1].quantization, quantizedDimension=5), r"has 4 scales along dimension 5"),
    ("model output not a tensor", "conv", lambda m: _set(m.subgraphs[0], outputs=[99]),
     r"model output 99 is not a tensor"),
    ("missing operator code", "conv", lambda m: _set(_ops(m)[0], opcodeIndex=7), r"missing operator code 7"),
    ("ADD output of another shape", "chain", lambda m: _set(_tensors(m)[7], shape=[1, 8, 9, 4]),
     r"cannot make an output of shape \[1, 8, 9, 4\]"),
    ("conv batch differs", "conv", lambda m: _set(_tensors(m)[3], shape=[3, 4, 4, 6]),
     r"disagrees with the conv geometry"),
    ("depth multiplier 0", "chain", lambda m: _set(_op(m, "DEPTHWISE_CONV_2D").builtinOptions, depthMultiplier=0),
     r"depth_multiplier 0 disagrees"),
    ("SOFTMAX without options", "chain", lambda m: _set(_op(m, "SOFTMAX"), builtinOptions=None,
                                                         builtinOptionsType=0), r"missing SoftmaxOptions"),
    ("FC bias scale", "chain", lambda m: _set(_tensors(m)[12].quantization, scale=[0.5]),
     r"bias scale 0.5 is not input scale x weight scale"),
    ("PAD constant of many values", "io", lambda m: _set(_op(m, "PAD"), inputs=[1, 2, 2]),
     r"constant_values must be a constant int8 scalar"),
    ("zero pool stride", "chain", lambda m: _set(_op(m, "MAX_POOL_2D").builtinOptions, strideW=0),
     r"strides \(2, 0\) in \[1, 255\]"),
    ("huge depthwise dilation", "chain",
     lambda m: _set(_op(m, "DEPTHWISE_CONV_2D").builtinOptions, dilationWFactor=2**30),
     r"dilations \(1, 1073741824\) must be in \[1, 255\]"),
    ("bias type other than the options say", "conv",
     lambda m: _set(_op(m, "CONV_2D").builtinOptions, quantizedBiasType=7),
     r"options say the bias is INT16, it is INT32"),
    ("requantization scale 2^30", "conv", lambda m: _set(_tensors(m)[0].quantization, scale=[3e38]),
     r"requantization scale .* is 2\^30 or more"),
]


@pytest.mark.parametrize("label, base, edit, message", CASES, ids=[c[0] for c in CASES])
def test_bad_model_is_one_line_and_no_output(bases, tmp_path, label, base, edit, message):
    import re

    path = tmp_path / "bad.tflite"
    path.write_bytes(_edit(bases[base], edit))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["pack", str(path), "--out", str(out)])
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("dtmm: error: "), res.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()
    inspect = CliRunner().invoke(main, ["inspect", str(path)])
    assert inspect.exception is None or isinstance(inspect.exception, SystemExit), repr(inspect.exception)


@pytest.mark.parametrize("where", ["vector", "vtable"])
def test_corrupt_flatbuffer_is_named_before_anything_reads_it(bases, tmp_path, where):
    from dtmm.tflite.model import TfliteError, TfliteModel

    data = _corrupt_bytes(bases["chain"], where)
    with pytest.raises(TfliteError, match=r"truncated or corrupt TFLite flatbuffer: .* at byte \d+"):
        TfliteModel(data, "bad.tflite")
