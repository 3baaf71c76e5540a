"""FULLY_CONNECTED and DEPTHWISE_CONV_2D on every kernel path, bit-exact with tflite-micro.

* host (portable C): many random single-op models through support.op_cases.check_cases;
* QEMU: the same kind of models packed with dtmm pack and run with run_model on qemu-m4, qemu-m7,
  qemu-m33 (Arm DSP paths) and qemu-m55 (Helium MVE paths), outputs compared with the tflite-micro
  interpreter bit for bit.  Shapes cover odd sizes (in_features not a multiple of 4/16, channel
  counts not a multiple of 4), depth multipliers 2-4, strides 1/2/3, same/valid padding, dilation,
  small maps (W <= 5, run transposed by the plane paths), per-tensor and per-channel quantization,
  all-zero FC rows / depthwise channels, small maps with many channels (3x3 to 7x7 maps, 11 to 45
  channels) and extreme quantization parameters (tiny/huge scales: left shifts and right shifts up
  to 31).  tests/firmware/ops_check adds thousands of random depthwise
  parameter sets per board, every path against the portable one.

Instruction counts of whole models using these ops: `dtmm bench models`.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from dtmm.targets.model_runner import run_model
from dtmm.tflite.interpreter import tflm_outputs
from dtmm.tflite.model import TfliteModel
from support.op_cases import Case, ModelBuilder, activation_code, check_cases, padding_code

ACTS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def _scale(rng, lo=0.004, hi=0.25) -> float:
    return float(np.float32(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def fc_model(rng, in_f, out_f, *, batch=1, per_channel=True, bias=True, act=0, zero_rows=0, extreme=False) -> bytes:
    b = ModelBuilder()
    sx, zx = _scale(rng), int(rng.integers(-128, 128))
    wlo, whi = (1e-5, 3.0) if extreme else (0.002, 0.05)
    sw = [_scale(rng, wlo, whi) for _ in range(out_f)] if per_channel else _scale(rng, wlo, whi)
    sy, zy = _scale(rng, 0.02, 0.5), int(rng.integers(-128, 128))
    x = b.tensor([batch, in_f], scale=sx, zero_point=zx)
    wd = rng.integers(-127, 128, size=(out_f, in_f))
    if zero_rows:
        wd[rng.choice(out_f, size=min(zero_rows, out_f), replace=False)] = 0
    w = b.tensor([out_f, in_f], scale=sw, zero_point=0, data=wd)
    inputs = [x, w]
    if bias:
        bs = np.float32(sx) * np.asarray(sw, dtype=np.float32)
        inputs.append(b.tensor([out_f], "INT32", scale=bs, zero_point=0, data=rng.integers(-3000, 3000, size=out_f)))
    else:
        inputs.append(-1)
    y = b.tensor([batch, out_f], scale=sy, zero_point=zy)
    b.op("FULLY_CONNECTED", inputs, [y], "FullyConnectedOptions", fusedActivationFunction=activation_code(ACTS[act]))
    return b.build([x], [y])


def dw_model(rng, hw, in_ch, *, mult=1, kernel=(3, 3), stride=(1, 1), dil=(1, 1), pad="same", batch=1,
             per_channel=True, act=0, zero_ch=0, extreme=False) -> bytes:  # fmt: skip
    b = ModelBuilder()
    out_ch = in_ch * mult
    kh, kw = kernel
    sx, zx = _scale(rng), int(rng.integers(-128, 128))
    wlo, whi = (1e-5, 3.0) if extreme else (0.002, 0.05)
    sw = [_scale(rng, wlo, whi) for _ in range(out_ch)] if per_channel else _scale(rng, wlo, whi)
    sy, zy = _scale(rng, 0.02, 0.5), int(rng.integers(-128, 128))
    same = pad == "same"
    eff_h, eff_w = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    oh = (hw[0] + stride[0] - 1) // stride[0] if same else (hw[0] - eff_h + stride[0]) // stride[0]
    ow = (hw[1] + stride[1] - 1) // stride[1] if same else (hw[1] - eff_w + stride[1]) // stride[1]
    x = b.tensor([batch, hw[0], hw[1], in_ch], scale=sx, zero_point=zx)
    wd = rng.integers(-127, 128, size=(1, kh, kw, out_ch))
    if zero_ch:
        wd[..., rng.choice(out_ch, size=min(zero_ch, out_ch), replace=False)] = 0
    w = b.tensor([1, kh, kw, out_ch], scale=sw, zero_point=0, quantized_dimension=3, data=wd)
    bs = np.float32(sx) * np.asarray(sw, dtype=np.float32)
    bt = b.tensor([out_ch], "INT32", scale=bs, zero_point=0, data=rng.integers(-5000, 5000, size=out_ch))
    y = b.tensor([batch, oh, ow, out_ch], scale=sy, zero_point=zy)
    b.op("DEPTHWISE_CONV_2D", [x, w, bt], [y], "DepthwiseConv2DOptions",
         padding=padding_code(pad), strideH=stride[0], strideW=stride[1], depthMultiplier=mult,
         dilationHFactor=dil[0], dilationWFactor=dil[1], fusedActivationFunction=activation_code(ACTS[act]))  # fmt: skip
    return b.build([x], [y])


# Random shapes: (in_f, out_f, kwargs)
FC_SHAPES = [
    (1, 1, {}), (3, 5, {"per_channel": False}), (15, 4, {"act": 1}), (16, 16, {}), (17, 7, {"bias": False}),
    (31, 9, {"zero_rows": 3}), (33, 2, {"act": 2}), (64, 12, {}), (64, 10, {"per_channel": False}),
    (100, 13, {"extreme": True}), (128, 8, {"act": 3}), (130, 6, {"batch": 3}), (255, 3, {"extreme": True}),
    (640, 20, {"zero_rows": 5}),
]
# (hw, in_ch, kwargs)
DW_SHAPES = [
    ((8, 8), 8, {}), ((9, 7), 5, {"stride": (2, 2)}), ((10, 9), 6, {"kernel": (5, 5), "stride": (1, 2), "pad": "valid"}),
    ((11, 12), 4, {"mult": 2, "dil": (2, 2)}), ((7, 8), 3, {"mult": 3, "kernel": (2, 3), "stride": (2, 1), "pad": "valid"}),
    ((6, 6), 1, {"mult": 4}), ((5, 9), 13, {"kernel": (1, 1), "pad": "valid"}), ((4, 4), 16, {"stride": (3, 3)}),
    ((12, 10), 7, {"kernel": (3, 5), "stride": (2, 2), "dil": (3, 1)}), ((6, 7), 6, {"per_channel": False, "act": 1}),
    ((7, 5), 20, {"zero_ch": 5, "act": 2}), ((9, 9), 19, {"stride": (2, 2), "extreme": True}),
    ((5, 13), 36, {"act": 3, "batch": 2}), ((6, 6), 10, {"mult": 2, "stride": (2, 2), "pad": "valid"}),
    ((3, 3), 9, {"kernel": (3, 3), "pad": "valid"}), ((2, 9), 4, {"kernel": (4, 4)}),
    # small maps (W <= 5: the plane paths run them transposed), depth multipliers 2 and 3, stride 2
    ((25, 5), 12, {"act": 1}), ((7, 4), 6, {"mult": 2, "stride": (2, 2)}), ((5, 3), 5, {"mult": 3, "pad": "valid"}),
    ((6, 5), 10, {"mult": 3, "stride": (2, 2)}), ((9, 2), 4, {"stride": (2, 1), "mult": 2}),
    ((4, 5), 7, {"mult": 2, "stride": (2, 2), "pad": "valid", "act": 2}),
    # small maps with many channels (channels on vector lanes, pixel by pixel): blocks of 16, 8 and
    # a predicated rest, strides 1 and 2, same/valid, left shifts
    ((3, 3), 37, {}), ((6, 6), 24, {"stride": (2, 2), "act": 1}), ((5, 7), 21, {"pad": "valid", "act": 2}),
    ((6, 6), 45, {"stride": (2, 2), "pad": "valid", "extreme": True}), ((7, 7), 11, {"stride": (2, 2)}),
    ((4, 4), 33, {"kernel": (5, 5), "batch": 2}),
]


# The QEMU tests build one firmware per model: a subset that still covers every case above.
FC_QEMU = [0, 1, 4, 5, 9, 11, 13]
DW_QEMU = [0, 1, 2, 3, 5, 8, 10, 11, 12, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]
# `make test` runs a few of them on one board per path (DSP: qemu-m4, MVE: qemu-m55): one firmware build
# per model and board is what these tests cost; `make test-all` runs the whole subset on all four boards.
FC_QEMU_QUICK = [4, 9, 13]
DW_QEMU_QUICK = [1, 3, 11, 16, 17, 22, 23, 25]
QEMU_RUNS = [
    ("qemu-m4", "quick"),
    ("qemu-m55", "quick"),
    *(pytest.param(board, "all", marks=pytest.mark.slow) for board in ("qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55")),
]


def _fc_models(seed, only=None):
    rng = np.random.default_rng(seed)
    models = [(f"fc{k}_{i}x{o}", fc_model(rng, i, o, **kw)) for k, (i, o, kw) in enumerate(FC_SHAPES)]
    return [m for k, m in enumerate(models) if only is None or k in only]


def _dw_models(seed, only=None):
    rng = np.random.default_rng(seed)
    models = [(f"dw{k}_{hw[0]}x{hw[1]}x{c}", dw_model(rng, hw, c, **kw)) for k, (hw, c, kw) in enumerate(DW_SHAPES)]
    return [m for k, m in enumerate(models) if only is None or k in only]


def _inputs(model_bytes: bytes, n: int, seed: int) -> np.ndarray:
    t = TfliteModel(model_bytes).tensors[TfliteModel(model_bytes).inputs[0]]
    return np.random.default_rng(seed).integers(-128, 128, size=(n, *t.shape)).astype(np.int8)


def test_fc_dw_host_bit_exact(tmp_path):
    pytest.importorskip("tflite_micro.python.tflite_micro.runtime")
    cases = []
    for name, m in _fc_models(11) + _dw_models(12):
        cases.append(Case(name, m, [[x] for x in _inputs(m, 2, len(cases))]))
    assert len(check_cases(cases, tmp_path)) == len(cases)


qemu = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
    reason="qemu-system-arm or arm-none-eabi-gcc not installed",
)


def _check_qemu(models, board, seed):
    for name, m in models:
        xs = _inputs(m, 2, seed)
        res = run_model(TfliteModel(m, name), board, xs, name=name)
        want = tflm_outputs(m, xs)
        for i, (g, w) in enumerate(zip(res.outputs, want)):
            w = np.asarray(w).reshape(-1)
            assert np.array_equal(g.view(np.uint8), w.view(np.uint8)), f"{name} on {board}, input {i}: {g} vs {w}"


@qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board, subset", QEMU_RUNS)
def test_fc_qemu_bit_exact(board, subset):
    _check_qemu(_fc_models(21, FC_QEMU if subset == "all" else FC_QEMU_QUICK), board, 1)


@qemu
@pytest.mark.qemu
@pytest.mark.parametrize("board, subset", QEMU_RUNS)
def test_dw_qemu_bit_exact(board, subset):
    _check_qemu(_dw_models(22, DW_QEMU if subset == "all" else DW_QEMU_QUICK), board, 2)
