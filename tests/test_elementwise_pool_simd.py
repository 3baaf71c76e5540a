"""ADD / AVERAGE_POOL_2D / MAX_POOL_2D / MEAN on their DSP (qemu-m4/m7/m33) and
Helium (qemu-m55) paths: single-op chains packed with `dtmm pack`, run on QEMU
by the model runner, outputs bit-identical to the tflite-micro interpreter.

Shapes are chosen to hit every branch of the SIMD paths: lengths that are not
multiples of 4/8/16, both broadcast directions and scalar operands, tables
(>= 512 elements) and no tables, in-place ADDs, every fused activation, and
extreme quantization (tiny/huge scale ratios, zero points at the ends).
The ops_check firmware also runs DEPTHWISE_CONV_2D and SOFTMAX rounds (their
model tests: tests/test_fc_dw_simd.py, tests/test_ops_synthetic.py).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from dtmm.targets.model_runner import run_model
from dtmm.targets.platformio import build
from dtmm.targets.qemu import run_firmware
from dtmm.tflite.model import TfliteModel
from support.add_cases import ACTS, add_chain, random_quant
from support.op_cases import ModelBuilder, activation_code, padding_code, tflm_tensors

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
        reason="qemu-system-arm or arm-none-eabi-gcc not installed",
    ),
]
pytest.importorskip("tflite_micro.python.tflite_micro.runtime")

BOARDS = ["qemu-m4", "qemu-m7", "qemu-m33", "qemu-m55"]
# packed models cost one firmware build per model and board: `make test` runs them on one board per path
# (DSP: qemu-m4, MVE: qemu-m55), `make test-all` on all four; ops_check (one build) runs everywhere.
MODEL_BOARDS = ["qemu-m4", "qemu-m55", *(pytest.param(b, marks=pytest.mark.slow) for b in ("qemu-m7", "qemu-m33"))]
OPS_CHECK = Path(__file__).resolve().parent / "firmware" / "ops_check"
OPS_CHECKED = ["add", "avg_pool", "max_pool", "mean", "depthwise", "softmax"]


def _check(model_bytes: bytes, board: str, xs: np.ndarray, name: str):
    model = TfliteModel(model_bytes, name)
    result = run_model(model, board, xs, name=name)
    out = model.outputs[0]
    want = [r[out] for r in tflm_tensors(model_bytes, [[x] for x in xs], [out])]  # with an arena large enough
    for i, (got, w) in enumerate(zip(result.outputs, want)):
        w = np.asarray(w).reshape(-1)
        bad = np.flatnonzero(got.view(np.uint8) != w.view(np.uint8))
        assert bad.size == 0, f"{name} on {board}, input {i}: {bad.size} elements differ, first at {bad[0]}"


def _inputs(rng, shape, n=3) -> np.ndarray:
    xs = rng.integers(-128, 128, size=(n, *shape)).astype(np.int8)
    xs[0].reshape(-1)[:8] = [-128, 127, -128, 127, 0, -1, 1, -128]  # the extremes
    return xs


# Below 512 elements (no tables, odd lengths) and above (tables).
ADD_SHAPES = [[1, 3, 5, 7], [1, 9, 7, 13]]


@pytest.mark.parametrize("board", MODEL_BOARDS)
def test_add_simd_bit_exact(board):
    for k, shape in enumerate(ADD_SHAPES):
        rng = np.random.default_rng(100 + k)
        _check(add_chain(10 + k, shape), board, _inputs(rng, shape), f"add_simd{k}")


@pytest.mark.parametrize("board", BOARDS)
def test_ops_check_firmware(board, tmp_path):
    """tests/firmware/ops_check: thousands of random parameter sets per op, every path vs the portable one."""
    elf = build(OPS_CHECK, board, build_dir=tmp_path / "build")
    result = run_firmware(elf, board, timeout=600)
    fails = [line for line in result.console.splitlines() if line.startswith("@ops FAIL")]
    assert not fails, f"{board}: {len(fails)} mismatches, e.g. {fails[:5]}"
    done = dict(re.findall(r"@ops done (\w+) rounds=\d+ failed=(\d+)", result.console))
    assert sorted(done) == sorted(OPS_CHECKED) and set(done.values()) == {"0"}, result.console[-2000:]
    assert result.exit_code == 0


def pool_model(seed: int, opcode: str, shape, filt, stride, pad: str, act: str) -> bytes:
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    s, z = random_quant(rng)
    same = pad == "same"
    oh = (shape[1] + stride[0] - 1) // stride[0] if same else (shape[1] - filt[0] + stride[0]) // stride[0]
    ow = (shape[2] + stride[1] - 1) // stride[1] if same else (shape[2] - filt[1] + stride[1]) // stride[1]
    x = b.tensor(shape, scale=s, zero_point=z)
    y = b.tensor([shape[0], oh, ow, shape[3]], scale=s, zero_point=z)
    b.op(opcode, [x], [y], "Pool2DOptions", padding=padding_code(pad), strideH=stride[0], strideW=stride[1],
         filterHeight=filt[0], filterWidth=filt[1], fusedActivationFunction=activation_code(act))  # fmt: skip
    return b.build([x], [y])


def mean_model(seed: int, shape, axes, keep: bool) -> bytes:
    rng = np.random.default_rng(seed)
    b = ModelBuilder()
    (sx, zx), (sy, zy) = random_quant(rng), random_quant(rng)
    out_shape = [1 if d in axes else n for d, n in enumerate(shape)] if keep else [
        n for d, n in enumerate(shape) if d not in axes]  # fmt: skip
    x = b.tensor(shape, scale=sx, zero_point=zx)
    ax = b.tensor([len(axes)], "INT32", data=np.array(axes, dtype=np.int32))
    y = b.tensor(out_shape, scale=sy, zero_point=zy)
    b.op("MEAN", [x, ax], [y], "ReducerOptions", keepDims=keep)
    return b.build([x], [y])


# (name, model): odd channel counts, padding, windows clipped at the borders, a DS-CNN-like global
# average pool, MEAN over H,W (ResNet-8's global pool shape).  Windows over more than 256 values
# (the int16 limit, portable fallback) and every other corner are in tests/firmware/ops_check.
POOL_MODELS = [
    ("avg_same", lambda: pool_model(1, "AVERAGE_POOL_2D", [2, 9, 11, 19], (3, 3), (2, 2), "same", "RELU6")),
    ("avg_dscnn", lambda: pool_model(2, "AVERAGE_POOL_2D", [1, 25, 5, 67], (25, 5), (25, 5), "valid", "NONE")),
    ("max_same", lambda: pool_model(4, "MAX_POOL_2D", [1, 10, 9, 35], (3, 2), (2, 1), "same", "RELU_N1_TO_1")),
    ("mean_hw", lambda: mean_model(6, [2, 5, 7, 13], [1, 2], False)),
    ("mean_hw_keep", lambda: mean_model(7, [1, 8, 8, 64], [1, 2], True)),
]


@pytest.mark.parametrize("board", MODEL_BOARDS)
def test_pool_mean_simd_bit_exact(board):
    for k, (name, make) in enumerate(POOL_MODELS):
        data = make()
        shape = TfliteModel(data, name).tensors[TfliteModel(data, name).inputs[0]].shape
        _check(data, board, _inputs(np.random.default_rng(200 + k), shape), f"pool_simd_{name}")
